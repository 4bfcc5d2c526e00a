/**
 * The dashboard in Chromium, mounted at `/api/sextant` in Express behind a bearer token, over a SQLite
 * database seeded with real recorded runs. One browser for the file; one signed-in page reused by the tests.
 */
import { Effect, Fiber } from "effect"
import { readFileSync } from "node:fs"
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  BIG_RESULT,
  browse,
  type Browsing,
  freshDatabase,
  recorderOf,
  recordRun,
  screenshot,
  SECRET_EMAIL,
  seed,
  type Seeded,
  type Served,
  startGatedRun,
  TOKEN
} from "./support.js"

const EXTRA = 52

describe("the dashboard in a browser (Express at /api/sextant, SQLite)", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let recorder: ReturnType<typeof recorderOf>
  let seeded: Seeded
  let session: Browsing
  let served: Served
  let context: BrowserContext
  let page: Page
  let seededCount = EXTRA + 9
  const total = () => seededCount

  const rows = () => page.locator("table.runs tbody tr[data-run-id]")
  const rowOf = (id: string) => page.locator(`tr[data-run-id="${id}"]`)
  const open = async (path: string) => {
    await page.goto(new URL(path, served.ui).toString())
  }
  const nodeTypes = () =>
    page.locator("ol.timeline li[data-node-type]").evaluateAll((els) =>
      els.map((e) => e.getAttribute("data-node-type"))
    )

  beforeAll(async () => {
    db = await freshDatabase("sqlite")
    recorder = recorderOf(db.url)
    seeded = await recorder.runPromise(seed(EXTRA))
    session = await browse(db.url)
    ;({ served, context, page } = session)
    await rows().first().waitFor()
  }, 120_000)
  afterAll(async () => {
    await session?.close()
    await recorder?.dispose()
    await db?.drop()
  })

  it("asks for the token on a 401, says when one is refused, then works with it", async () => {
    const fresh = await context.newPage()
    try {
      await fresh.goto(served.ui)
      const prompt = fresh.locator("form.modal")
      await prompt.waitFor()
      expect(await prompt.textContent()).toContain("A valid bearer token is required.")
      await screenshot(fresh, "token-prompt")
      await fresh.locator("input[name=token]").fill("wrong")
      await fresh.locator("form.modal button[type=submit]").click()
      await fresh.locator("form.modal", { hasText: "not accepted" }).waitFor()
      await fresh.locator("input[name=token]").fill(TOKEN)
      await fresh.locator("form.modal button[type=submit]").click()
      await fresh.locator("tr[data-run-id]").first().waitFor()
      expect(await fresh.evaluate(() => sessionStorage.getItem("sextant.token"))).toBe(TOKEN)
      // A reload reuses the tab's token: no prompt.
      await fresh.reload()
      await fresh.locator("tr[data-run-id]").first().waitFor()
      expect(await fresh.locator("form.modal").count()).toBe(0)
    } finally {
      await fresh.close()
    }
  })

  it("lists the runs newest first with their columns, children nested under their parent", async () => {
    await open("./")
    await rows().first().waitFor()
    expect(await page.getByTestId("run-count").textContent()).toBe(`50 of ${total()} runs`)
    const weather = rowOf(seeded.weather)
    const cells = await weather.locator("td").allTextContents()
    expect(cells[0]).toBe("success")
    expect(cells[1]).toContain("weather")
    expect(cells[2]).toBe("weather-model")
    expect(cells[3]).toBe("acme")
    expect(cells[4]).toBe("2")
    expect(cells[5]).toBe("151")
    expect(cells[6]).toBe("$0.002")
    // The created time is in the viewer's zone (America/New_York here), with the UTC value on hover.
    const time = weather.locator("td time").first()
    const iso = await time.getAttribute("datetime")
    expect(await time.getAttribute("title")).toBe(`${iso!.replace("T", " ").replace("Z", "")} UTC`)
    const ids = await rows().evaluateAll((els) =>
      els.map((e) => [e.getAttribute("data-run-id"), e.getAttribute("data-depth")])
    )
    const at = (id: string) => ids.findIndex(([i]) => i === id)
    expect(at(seeded.child)).toBe(at(seeded.parent) + 1)
    expect(at(seeded.grandchild)).toBe(at(seeded.child) + 1)
    expect(ids[at(seeded.child)]![1]).toBe("1")
    expect(ids[at(seeded.grandchild)]![1]).toBe("2")
    expect(await rowOf(seeded.resumed).locator("td").nth(8).textContent()).toBe("1")
    await screenshot(page, "runs")
  })

  it("shows the waiting runs with how long each has waited", async () => {
    const strip = page.locator("section.waiting")
    await strip.waitFor()
    expect(await strip.textContent()).toContain("1 waiting")
    const link = strip.locator(`a[data-waiting="${seeded.waiting}"]`)
    expect(await link.textContent()).toContain("confirm_payment")
    const first = await link.locator(".wait-time").textContent()
    await page.waitForFunction(
      ([id, before]) => document.querySelector(`a[data-waiting="${id}"] .wait-time`)?.textContent !== before,
      [seeded.waiting, first] as const
    )
  })

  it("filters by status, agent and search, keeps the filters in the URL, and the back button restores them", async () => {
    await open("./")
    await rows().first().waitFor()
    await page.selectOption("select[name=status]", "error")
    await page.waitForURL(/status=error/)
    await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 1)
    expect(await rows().first().getAttribute("data-run-id")).toBe(seeded.failed)
    await page.selectOption("select[name=status]", "")
    await page.locator("input[name=agent]").fill("checkout")
    await page.locator("input[name=agent]").press("Tab")
    await page.waitForURL(/agent=checkout/)
    await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 2)
    await page.locator("#run-search").fill(seeded.waiting.slice(0, 16).toLowerCase())
    await page.waitForURL(/q=/)
    await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 1)
    expect(await rows().first().getAttribute("data-run-id")).toBe(seeded.waiting)
    await page.goBack()
    await page.waitForFunction(() => !location.search.includes("agent=") || !location.search.includes("q="))
    await page.goBack()
    await page.waitForURL((url) => url.search.includes("status=error"))
    await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 1)
    expect(await page.locator("select[name=status]").inputValue()).toBe("error")
    // A filtered list is a link too.
    await page.reload()
    await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 1)
    expect(await rows().first().getAttribute("data-run-id")).toBe(seeded.failed)
  })

  it("shows new runs without a reload, and stops polling while the tab is hidden", async () => {
    await open("./")
    await rows().first().waitFor()
    const id = await recordRun(recorder, "latecomer")
    await rowOf(id).waitFor()
    expect(await rows().first().getAttribute("data-run-id")).toBe(id)
    const polls: Array<string> = []
    const listener = (r: { url: () => string }) => void (r.url().includes("/run-rows") && polls.push(r.url()))
    page.on("request", listener)
    const setVisibility = (state: "hidden" | "visible") =>
      page.evaluate((s) => {
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => s })
        document.dispatchEvent(new Event("visibilitychange"))
      }, state)
    await setVisibility("hidden")
    polls.length = 0
    // More than one poll interval (5 s) passes with no request while hidden...
    await page.waitForTimeout(6000)
    expect(polls).toEqual([])
    // ...and coming back refreshes at once.
    const refreshed = page.waitForRequest((r) => r.url().includes("/run-rows"))
    await setVisibility("visible")
    await refreshed
    page.off("request", listener)
    seededCount += 1
  })

  it("filters by tenant and by a range of days in the viewer's zone", async () => {
    await open("./?tenant=globex")
    await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 2)
    const tenants = await page.locator("tr[data-run-id] td:nth-child(4)").allTextContents()
    expect(new Set(tenants)).toEqual(new Set(["globex"]))
    const today = await page.evaluate(() => {
      const d = new Date()
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`
    })
    await page.locator("input[name=from]").fill(today)
    await page.waitForURL(new RegExp(`from=${today}`))
    await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 2)
    await open(`./?tenant=globex&to=2000-01-01`)
    await page.locator("p.empty", { hasText: "No runs match." }).waitFor()
    expect(await rows().count()).toBe(0)
  })

  it("loads more runs with the keyset cursor", async () => {
    await open("./")
    await rows().first().waitFor()
    const before = await rows().evaluateAll((els) => els.map((e) => e.getAttribute("data-run-id")))
    expect(before).toHaveLength(50)
    await page.getByRole("button", { name: "Load more" }).click()
    await page.waitForFunction((n) => document.querySelectorAll("tr[data-run-id]").length === n, total())
    const after = await rows().evaluateAll((els) => els.map((e) => e.getAttribute("data-run-id")))
    expect(after.slice(0, 50)).toEqual(before)
    expect(new Set(after).size).toBe(total())
    expect(await page.getByTestId("run-count").textContent()).toBe(`${total()} of ${total()} runs`)
    expect(await page.getByRole("button", { name: "Load more" }).count()).toBe(0)
  })

  it("moves through the runs with the keyboard and opens one with Enter", async () => {
    await open("./")
    await rows().first().waitFor()
    await rows().first().focus()
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("j")
    await page.keyboard.press("k")
    const focused = await page.evaluate(() => document.activeElement?.getAttribute("data-run-id"))
    expect(focused).toBe(await rows().nth(1).getAttribute("data-run-id"))
    await page.keyboard.press("Enter")
    await page.waitForURL(new RegExp(`/ui/runs/${focused}$`))
    await page.locator("ol.timeline").waitFor()
    await page.goBack()
    await rows().first().waitFor()
    await page.keyboard.press("/")
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("run-search")
  })

  it("opens a run's timeline with its nodes in order; the inspector switches between its three views", async () => {
    await open("./")
    await rowOf(seeded.weather).click()
    await page.waitForURL(new RegExp(`/runs/${seeded.weather}$`))
    await page.locator("ol.timeline").waitFor()
    expect(await nodeTypes()).toEqual(["segment", "llmCall", "toolCall", "llmCall", "end"])
    const header = await page.locator(".run-header").textContent()
    expect(header).toContain("weather")
    expect(header).toContain("It is 21 °C and clear in Lisbon.")
    expect(header).toContain("130 in / 21 out")
    await page.locator("li[data-node-type=llmCall] button").first().click()
    const inspector = page.locator("section.inspector")
    await inspector.locator(".chat").first().waitFor()
    expect(await inspector.textContent()).toContain("Question for weather?")
    await inspector.locator("button[data-view=raw]").click()
    await page.waitForURL(/view=raw/)
    await inspector.locator("[data-active-view=raw] pre", { hasText: "semanticRequest" }).waitFor()
    await inspector.locator("button[data-view=evidence]").click()
    await inspector.locator("h4", { hasText: "Provider request" }).waitFor()
    const evidence = await inspector.locator(".evidence").textContent()
    expect(evidence).toContain("\"model\": \"weather-model\"")
    expect(evidence).toContain("\"responseId\": \"scripted_1\"")
    await page.locator("li[data-node-type=toolCall] button").click()
    await inspector.locator("button[data-view=formatted]").click()
    await inspector.locator("h4", { hasText: "Result" }).waitFor()
    expect(await inspector.textContent()).toContain("\"tempC\": 21")
    await page.locator("li[data-node-type=llmCall] button").first().click()
    await inspector.locator(".chat").first().waitFor()
    await screenshot(page, "run")
  })

  it("loads a large payload only when its node is opened, and shows it capped", async () => {
    const loaded: Array<string> = []
    const listener = (r: { url: () => string }) => void (r.url().includes("/tool-calls") && loaded.push(r.url()))
    page.on("request", listener)
    try {
      await open(`runs/${seeded.bulk}`)
      const tool = page.locator("li[data-node-type=toolCall]")
      await tool.waitFor()
      // The timeline carries a 2,000-character preview, not the payload.
      expect((await tool.locator(".preview").textContent())!.length).toBeLessThanOrEqual(200)
      expect(loaded).toEqual([])
      await tool.locator("button").click()
      const more = page.locator("section.inspector .json-more").first()
      await more.waitFor()
      expect(loaded).toHaveLength(1)
      expect(await more.textContent()).toContain("Showing 20.0 K of")
      const shown = await page.locator("section.inspector .json pre").evaluateAll((els) =>
        Math.max(...els.map((e) => e.textContent!.length))
      )
      expect(shown).toBeLessThanOrEqual(20_000)
      await more.getByRole("button", { name: "Show more" }).click()
      await page.locator("section.inspector .json-more", { hasText: "Showing 80.0 K" }).waitFor()
      expect(BIG_RESULT).toBeGreaterThan(80_000)
      // The chart has one bar per iteration.
      expect(await page.locator("figure.chart g[data-category]").count()).toBe(2)
    } finally {
      page.off("request", listener)
    }
  })

  it("shows a paused-then-resumed run's pause segment with its wait time and what was submitted", async () => {
    await open(`runs/${seeded.resumed}`)
    await page.locator("ol.timeline").waitFor()
    expect(await nodeTypes()).toEqual(["segment", "llmCall", "pause", "segment", "toolCall", "llmCall", "end"])
    const pause = page.locator("li[data-node-type=pause]")
    const text = await pause.textContent()
    expect(text).toContain("waiting client tool")
    expect(text).toMatch(/waited 1\.\d s/)
    expect(text).toContain("submitted")
    expect(text).toContain("confirmed")
    await pause.locator("button").click()
    await page.locator("section.inspector h4", { hasText: "Submitted" }).waitFor()
    expect(await page.locator("section.inspector").textContent()).toContain("\"amount\": 12")
    await screenshot(page, "run-paused")
  })

  it("shows the delegation tree with the children and the subtree totals RunStore returns", async () => {
    await open(`runs/${seeded.parent}`)
    const tree = page.locator("section.delegation")
    await tree.waitFor()
    expect(await tree.locator(`[data-tree-run="${seeded.child}"]`).count()).toBe(1)
    expect(await tree.locator(`[data-tree-run="${seeded.grandchild}"]`).count()).toBe(1)
    const expected = await served.store.getRunTree(seeded.parent)
    expect(await tree.locator(".subtree").textContent()).toContain(`${expected.subtreeTotals.runCount} runs`)
    expect(expected.subtreeTotals.runCount).toBe(3)
    await tree.locator(`[data-tree-run="${seeded.grandchild}"] > a`).click()
    await page.waitForURL(new RegExp(`/runs/${seeded.grandchild}$`))
    await page.locator(".delegation .breadcrumb", { hasText: "planner" }).waitFor()
    await screenshot(page, "run-delegation")
  })

  it("shows usage by agent as a chart and a table with the sums RunStore returns, and downloads them as CSV", async () => {
    await open("usage?by=agent")
    const table = page.locator("table.usage")
    await table.waitFor()
    const expected = (await served.store.usage({ groupBy: ["agent"] })).items
    expect(await table.locator("tbody tr").count()).toBe(expected.length)
    for (const g of expected) {
      const row = table.locator(`tr[data-group="${g.agentName}"]`)
      expect(await row.locator("[data-col=input]").textContent()).toBe(g.inputTokens.toLocaleString("en-US"))
      expect(await row.locator("[data-col=output]").textContent()).toBe(g.outputTokens.toLocaleString("en-US"))
      expect(await row.locator("[data-col=runs]").textContent()).toBe(String(g.runCount))
    }
    expect(await page.locator("figure.chart g[data-category]").count()).toBe(expected.length)
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download CSV" }).click()
    ])
    const csv = readFileSync((await download.path())!, "utf8").trim().split("\r\n")
    expect(csv[0]).toBe(
      "agent,input tokens,output tokens,cache read tokens,reasoning tokens,cost usd,runs,model calls,unpriced calls"
    )
    const weather = expected.find((g) => g.agentName === "weather")!
    expect(csv).toContain(
      `weather,${weather.inputTokens},${weather.outputTokens},${weather.cacheReadTokens},${weather.reasoningTokens},${weather.costUsd},${weather.runCount},${weather.modelCallCount},${weather.unpricedCallCount}`
    )
    await page.locator("input[name=by-day]").check()
    await page.waitForURL(/by=agent&by=day|by=day/)
    await table.locator("th", { hasText: "day" }).waitFor()
    await screenshot(page, "usage")
  })

  it("follows a run in progress: nodes appear live, and the page stops at the terminal event", async () => {
    const live = await startGatedRun(recorder)
    try {
      await open(`runs/${live.runId}`)
      await page.locator("li[data-node-type=toolCall]", { hasText: "running" }).waitFor()
      expect(await page.locator(".live-dot").count()).toBe(1)
      await screenshot(page, "run-live")
      await recorder.runPromise(live.release)
      await page.locator("li[data-node-type=end]").waitFor()
      expect(await nodeTypes()).toEqual(["segment", "llmCall", "toolCall", "llmCall", "end"])
      await page.locator(".live-dot").waitFor({ state: "detached" })
      expect(await page.locator(".run-header .badge").first().textContent()).toBe("success")
    } finally {
      await recorder.runPromise(Effect.flatMap(live.release, () => Fiber.await(live.fiber)))
    }
  })

  it("reloads a deep link to the same run, node and view", async () => {
    const timeline = await served.store.getTimeline(seeded.weather)
    const tool = timeline.nodes.find((n) => n._tag === "toolCall")!
    await open(`runs/${seeded.weather}?node=${tool.sequenceIndex}&view=raw`)
    const raw = page.locator("section.inspector [data-active-view=raw] pre", { hasText: "get_weather" })
    await raw.waitFor()
    await page.reload()
    await raw.waitFor()
    expect(await page.locator("section.inspector button[data-view=raw]").getAttribute("aria-selected")).toBe("true")
    expect(await page.locator(`li[data-seq="${tool.sequenceIndex}"]`).getAttribute("class")).toContain("selected")
  })

  it("never shows what a guardrail redacted, and shows the guardrail as a governance node", async () => {
    await open(`runs/${seeded.guarded}`)
    await page.locator("li[data-node-type=governance]").first().waitFor()
    const governance = await page.locator("li[data-node-type=governance]").allTextContents()
    expect(governance.some((t) => t.includes("PII"))).toBe(true)
    for (const view of ["formatted", "raw", "evidence"]) {
      await page.locator("li[data-node-type=llmCall] button").first().click()
      await page.locator(`section.inspector button[data-view=${view}]`).click()
      await page.locator(`section.inspector [data-active-view=${view}] pre`).first().waitFor()
      expect(await page.content()).not.toContain(SECRET_EMAIL)
    }
    expect(await page.locator("body").innerText()).not.toContain(SECRET_EMAIL)
  })

  it("shows the API reference from the router's /docs", async () => {
    await open("api")
    const frame = page.frameLocator("iframe.docs")
    await frame.locator("body", { hasText: "Sextant read API" }).waitFor({ timeout: 30_000 })
    await screenshot(page, "api")
  })

  it("is usable at 390 px wide and in dark mode", async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      await open("./")
      await rows().first().waitFor()
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      expect(overflow).toBeLessThanOrEqual(0)
      await screenshot(page, "runs-390")
      await open(`runs/${seeded.weather}`)
      await page.locator("ol.timeline").waitFor()
      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0)
      await screenshot(page, "run-390")
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 })
    }
    await page.locator("button.theme").click()
    await page.locator("button.theme", { hasText: "light" }).waitFor()
    await page.locator("button.theme").click()
    await page.locator("button.theme", { hasText: "dark" }).waitFor()
    await page.waitForFunction(() => document.documentElement.dataset.theme === "dark")
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    expect(background).toBe("rgb(17, 20, 24)")
    await screenshot(page, "run-dark")
    await open("./")
    await rows().first().waitFor()
    await screenshot(page, "runs-dark")
    // The choice survives a reload (local storage); "auto" follows the system again.
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark")
    await page.locator("button.theme").click()
    await page.waitForFunction(() => document.documentElement.dataset.theme === undefined)
  })
})
