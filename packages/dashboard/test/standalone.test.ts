/**
 * The dashboard served standalone (`Dashboard.serve`, mounted at `/`) over Postgres: the same app, found
 * from `/`, listing the runs and opening one; no token configured, so no prompt.
 */
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Dashboard } from "../src/index.js"
import { freshDatabase, launch, recorderOf, screenshot, seed, type Seeded } from "./support.js"

describe("the dashboard served standalone at / over Postgres", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let recorder: ReturnType<typeof recorderOf>
  let seeded: Seeded
  let running: Dashboard.DashboardServer
  let browser: Awaited<ReturnType<typeof launch>>
  let page: Page

  beforeAll(async () => {
    db = await freshDatabase("postgres")
    recorder = recorderOf(db.url)
    seeded = await recorder.runPromise(seed())
    running = await Dashboard.serve({ databaseUrl: db.url, port: 0 })
    browser = await launch()
    page = await browser.context.newPage()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await running?.close()
    await recorder?.dispose()
    await db?.drop()
  })

  it("redirects / to the app, lists the runs and opens a run's timeline", async () => {
    await page.goto(new URL("/", running.url).toString())
    await page.waitForURL(running.url)
    const rows = page.locator("tr[data-run-id]")
    await rows.first().waitFor()
    expect(await page.locator("form.modal").count()).toBe(0)
    expect(await rows.count()).toBe(9)
    expect(await page.locator(".mount").textContent()).toBe("/")
    await page.locator(`tr[data-run-id="${seeded.resumed}"]`).click()
    await page.locator("ol.timeline").waitFor()
    const types = await page.locator("ol.timeline li[data-node-type]").evaluateAll((els) =>
      els.map((e) => e.getAttribute("data-node-type"))
    )
    expect(types).toEqual(["segment", "llmCall", "pause", "segment", "toolCall", "llmCall", "end"])
    await screenshot(page, "standalone-run")
    // A deep link served by the standalone server is the same view.
    await page.reload()
    await page.locator("li[data-node-type=pause]").waitFor()
    await page.goto(new URL("usage?by=tenant", running.url).toString())
    await page.locator("table.usage tbody tr").first().waitFor()
    const expected = (await running.store.usage({ groupBy: ["tenant"] })).items
    expect(await page.locator("table.usage tbody tr").count()).toBe(expected.length)
  })
})
