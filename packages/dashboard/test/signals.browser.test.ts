/**
 * Failure signals and conversations in the dashboard, in Chromium, over a SQLite database where the real
 * detectors (`Detectors.layer`, beside the agent loop and the SqlRecorder) evaluated the recorded runs: a run
 * that loops on one tool shows TOOL_LOOP explained on its page; the signals page filters by type, severity
 * and agent and explains a signal on click; a three-turn thread reads as a conversation linking each turn to
 * its run.
 */
import { Detectors } from "@sextant/detectors"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, Notifiers, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { browse, type Browsing, freshDatabase, screenshot, type Served } from "./support.js"

const search = Tool.make("search", {
  description: "Searches",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => ({ hits: [q] })
})
const pay = Tool.make("pay", {
  description: "Pays",
  parameters: Schema.Struct({ amount: Schema.Number }),
  handler: () => Effect.fail("card declined")
})

const usage = { inputTokens: 100, outputTokens: 5, costUsd: 0.001 }
const loop = (tool: string, n: number, args: object): ReadonlyArray<ScriptedModel.ScriptStep> => [
  ...Array.from({ length: n }, () => ({ toolCalls: [{ name: tool, arguments: args as never }], usage })),
  { text: "done", usage }
]

/** Runs an agent with the detectors' notifier; resolves once the evaluation it triggered has finished. */
const run = (
  name: string,
  script: ReadonlyArray<ScriptedModel.ScriptStep>,
  input: string,
  options: Agent.RunOptions = {}
) =>
  Effect.gen(function*() {
    const detectors = yield* Detectors
    const agent = yield* Agent.make({ name, instructions: "", tools: [search, pay] })
    const result = yield* agent.run(input, { tenantId: "acme", ...options }).pipe(
      Effect.provide(Layer.merge(ScriptedModel.layer(script), Notifiers.layer([detectors.notifier])))
    )
    yield* detectors.idle
    return result.runId
  })

/** The recorder with the detectors beside it (TOOL_LOOP and RETRY_STORM live, every other type in shadow). */
const detection = (url: string) =>
  ManagedRuntime.make(
    Detectors.layer({ live: ["TOOL_LOOP", "RETRY_STORM"] }).pipe(
      Layer.provideMerge(SqlRecorder.layerFromUrl(url)),
      Layer.orDie
    )
  )

describe("signals and threads in the dashboard (Express at /api/sextant, SQLite)", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let runtime: ReturnType<typeof detection>
  let session: Browsing
  let served: Served
  let page: Page
  let looper: string
  let payer: string
  const turns: Array<string> = []

  const open = (path: string) => page.goto(new URL(path, served.ui).toString())
  const rowTypes = () =>
    page.locator("table.signals tbody tr[data-signal-type]").evaluateAll((els) =>
      els.map((e) => e.getAttribute("data-signal-type"))
    )

  beforeAll(async () => {
    db = await freshDatabase("sqlite")
    runtime = detection(db.url)
    looper = await runtime.runPromise(run("looper", loop("search", 5, { q: "same" }), "find it"))
    payer = await runtime.runPromise(run("payer", loop("pay", 3, { amount: 5 }), "pay it"))
    for (const [input, answer] of [["Hi, I am Ada.", "Hello Ada."], ["Who am I?", "You are Ada."], ["Bye.", "Bye!"]]) {
      turns.push(await runtime.runPromise(run("chat", [{ text: answer!, usage }], input!, { threadId: "conv-ada" })))
    }
    session = await browse(db.url)
    ;({ served, page } = session)
    await page.locator("tr[data-run-id]").first().waitFor()
  }, 120_000)
  afterAll(async () => {
    await session?.close()
    await runtime?.dispose()
    await db?.drop()
  })

  it("the run page shows the run's signals with their explanation, linked to the events they point at", async () => {
    await open(`runs/${looper}`)
    const panel = page.locator("section.run-signals")
    await panel.waitFor()
    const card = panel.locator("article[data-signal-type=\"TOOL_LOOP\"]")
    expect(await card.locator(".signal-title").textContent()).toBe("Tool loop")
    expect(await card.locator("[data-severity]").getAttribute("data-severity")).toBe("HIGH")
    expect(await card.locator(".signal-what").textContent()).toMatch(/called 'search' 5 times/)
    expect(await card.locator(".signal-why").textContent()).toMatch(/cost \$0\.00[45]/)
    expect(await card.locator(".signal-fixes li").count()).toBeGreaterThanOrEqual(1)
    await screenshot(page, "run-signals")
    // The link selects the first event the signal points at in the timeline.
    await card.locator("a[data-signal-link]").click()
    await page.waitForURL(/node=\d+/)
    await page.locator("ol.timeline li.selected").waitFor()
    // A clean run has no signals panel.
    await open(`runs/${turns[0]}`)
    await page.locator("ol.timeline").waitFor()
    expect(await page.locator("section.run-signals").count()).toBe(0)
  })

  it("the signals page lists live signals, filters by type, severity and agent, and explains one on click", async () => {
    await open("signals")
    await page.locator("table.signals").waitFor()
    expect((await rowTypes()).sort()).toEqual(["RETRY_STORM", "TOOL_LOOP"])
    // Every catalogue type is offered (the API's allow-list).
    expect(await page.locator("select[name=type] option").count()).toBe(16)
    await page.selectOption("select[name=type]", "RETRY_STORM")
    await page.waitForURL(/type=RETRY_STORM/)
    await page.waitForFunction(() => document.querySelectorAll("table.signals tbody tr").length === 1)
    expect(await rowTypes()).toEqual(["RETRY_STORM"])
    await page.selectOption("select[name=type]", "")
    await page.selectOption("select[name=severity]", "HIGH")
    await page.waitForURL(/severity=HIGH/)
    await page.waitForFunction(() =>
      [...document.querySelectorAll("table.signals tbody tr")].every((r) =>
        r.querySelector("[data-severity]")?.getAttribute("data-severity") === "HIGH"
      )
    )
    await page.selectOption("select[name=severity]", "")
    await page.locator("input[name=agent]").fill("payer")
    await page.locator("input[name=agent]").press("Tab")
    await page.waitForURL(/agent=payer/)
    await page.waitForFunction(() => document.querySelectorAll("table.signals tbody tr").length === 1)
    expect(await rowTypes()).toEqual(["RETRY_STORM"])
    // Shadow ones on request: the payer's FIRST_STEP_FAILURE is recorded but not live.
    await page.locator("input[name=shadow]").check()
    await page.waitForURL(/shadow=include/)
    await page.waitForFunction(() => document.querySelectorAll("table.signals tbody tr").length > 1)
    expect(await rowTypes()).toContain("FIRST_STEP_FAILURE")
    // A click shows the explanation beside the list, and keeps it in the URL.
    await page.locator("table.signals tr[data-signal-type=\"RETRY_STORM\"]").click()
    await page.waitForURL(/signal=/)
    const card = page.locator("aside article[data-signal-type=\"RETRY_STORM\"]")
    await card.waitFor()
    expect(await card.locator(".signal-title").textContent()).toBe("Retry storm")
    expect(await card.locator(".signal-fixes li").count()).toBeGreaterThanOrEqual(1)
    expect(await card.locator("a[data-signal-link]").getAttribute("href")).toContain(`runs/${payer}`)
    await screenshot(page, "signals")
    await page.reload()
    await page.locator("aside article[data-signal-type=\"RETRY_STORM\"]").waitFor()
  })

  it("a thread reads as a conversation, each turn linking to its run; the run page links back", async () => {
    await open("threads")
    const row = page.locator("tr[data-thread-id=\"conv-ada\"]")
    await row.waitFor()
    expect(await row.locator("[data-col=\"runs\"]").textContent()).toBe("3")
    await row.locator("a").click()
    await page.waitForURL(/threads\/conv-ada/)
    const turnItems = page.locator("ol.conversation > li.turn")
    await turnItems.first().waitFor()
    expect(await turnItems.evaluateAll((els) => els.map((e) => e.getAttribute("data-run-id")))).toEqual(turns)
    const second = turnItems.nth(1)
    expect(await second.locator("li.msg[data-role=\"user\"]").allTextContents()).toEqual([
      expect.stringContaining("Who am I?")
    ])
    expect(await second.locator("li.msg[data-role=\"assistant\"]").allTextContents()).toEqual([
      expect.stringContaining("You are Ada.")
    ])
    expect(await page.getByTestId("thread-totals").textContent()).toContain("3 turns")
    await screenshot(page, "thread")
    await second.locator(`a[data-turn-link="${turns[1]}"]`).click()
    await page.waitForURL(new RegExp(`runs/${turns[1]}`))
    const back = page.locator("a[data-thread-link=\"conv-ada\"]")
    await back.waitFor()
    await back.click()
    await page.waitForURL(/threads\/conv-ada/)
    await page.locator("ol.conversation").waitFor()
  })
})
