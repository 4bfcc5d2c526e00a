import { describe, expect, it } from "@effect/vitest"
import { Agent, Notifier, Notifiers, Recorder, ScriptedModel } from "@sextant/runtime"
import { Effect, Layer } from "effect"
import { ConsoleNotifier } from "../src/index.js"
import { context, ev, timeTool, weatherTool } from "./fixtures.js"

const capture = (isTTY = false, columns?: number) => {
  const chunks: Array<string> = []
  const output = { write: (s: string) => void chunks.push(s), isTTY, ...(columns === undefined ? {} : { columns }) }
  return { output, text: () => chunks.join(""), chunks }
}

const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  {
    toolCalls: [
      { id: "p1", name: "get_weather", arguments: { city: "Lisbon" } },
      { id: "p2", name: "get_time", arguments: { tz: "Mars/Olympus" } }
    ],
    usage: { inputTokens: 1200, outputTokens: 30, cacheReadTokens: 800, costUsd: 0.0021 }
  },
  {
    text: "It is 21 °C in Lisbon.",
    usage: { inputTokens: 1300, outputTokens: 12, cacheReadTokens: 1100, costUsd: 0.0011 }
  }
]

const scriptedRun = (notifiers: ReadonlyArray<Notifier.Notifier>, runId = "01JCONSOLE0000000000ABC123") =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name: "weather", instructions: "", tools: [weatherTool, timeTool] })
    return yield* agent.run("What's the weather in Lisbon?", { runId })
  }).pipe(Effect.provide(Layer.mergeAll(ScriptedModel.layer(script), Recorder.memory, Notifiers.layer(notifiers))))

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[\d+m/g

describe("ConsoleNotifier", () => {
  it.live("a scripted run: header, steps, tool lines with args and durations, tokens with cache, summary", () =>
    Effect.gen(function*() {
      const out = capture()
      yield* scriptedRun([ConsoleNotifier.make({ output: out.output, env: {} })])
      const text = out.text()
      const lines = text.trimEnd().split("\n")
      expect(text).not.toMatch(ANSI)
      for (const line of lines) expect(line.startsWith("[ABC123] ")).toBe(true)
      expect(lines[0]).toBe("[ABC123] ▶ run 01JCONSOLE0000000000ABC123 · agent weather · model scripted (scripted)")
      expect(text).toContain("input: What's the weather in Lisbon?")
      expect(text).toContain("── step 1 ")
      expect(text).toContain("── step 2 ")
      expect(text).toMatch(/◆ scripted \d+ ms · 1,200 in \(800 cached\) \/ 30 out · \$0\.0021 · tool_calls/)
      expect(text).toContain("→ get_weather({\"city\":\"Lisbon\"})")
      expect(text).toMatch(/✓ get_weather \d+ ms → \{"city":"Lisbon","tempC":21\}/)
      expect(text).toMatch(/✗ get_time \d+ ms: .*unknown timezone Mars\/Olympus/)
      expect(text).toContain("“It is 21 °C in Lisbon.”")
      expect(lines.at(-2)).toMatch(/^\[ABC123\] ■ success · 2 iterations · \d+ ms$/)
      expect(lines.at(-1)).toBe("[ABC123]   tokens 2,500 in (1,900 cached) / 42 out · cache 76% · $0.0032")
    }))

  it.live("colour on a TTY, none with NO_COLOR, and the summary reports notifier losses when there are any", () =>
    Effect.gen(function*() {
      const tty = capture(true)
      const broken = Notifier.make({
        name: "broken",
        onEvent: () => {
          throw new Error("bug")
        }
      })
      yield* scriptedRun([broken, ConsoleNotifier.make({ output: tty.output, env: {} })])
      const coloured = tty.text()
      expect(coloured).toMatch(ANSI)
      const plain = coloured.replace(ANSI, "")
      expect(plain).toContain("▶ run 01JCONSOLE0000000000ABC123")
      expect(plain).toMatch(/notifiers: broken \d+ failed/)

      const noColor = capture(true)
      yield* scriptedRun([ConsoleNotifier.make({ output: noColor.output, env: { NO_COLOR: "1" } })])
      expect(noColor.text()).not.toMatch(ANSI)
      expect(noColor.text()).not.toContain("notifiers:")
    }))

  it.effect("width-aware; concurrent runs keep their own prefix; governance events and failures have lines", () =>
    Effect.gen(function*() {
      const out = capture(false, 60)
      const console = ConsoleNotifier.make({ output: out.output, env: {} })
      const a = "01JAAAAAAAAAAAAAAAAAAAA111"
      const b = "01JBBBBBBBBBBBBBBBBBBBB222"
      const events = [
        ev.runStarted(a, 0, 1000),
        ev.runStarted(b, 0, 1000),
        ev.policyDenied(a, 1, 1001),
        ev.approvalRequested(b, 1, 1001),
        ev.budgetThreshold(a, 2, 1002),
        ev.budgetExceeded(b, 2, 1002),
        ev.guardrailBlocked(a, 3, 1003),
        ev.guardrailDetected(b, 3, 1003),
        ev.approvalDecided(b, 4, 1004, false),
        ev.paused(b, 5, 1005),
        ev.failed(a, 4, 2500)
      ]
      for (const e of events) yield* console.handle(e, context())
      const lines = out.text().trimEnd().split("\n")
      for (const line of lines) {
        expect(line.length).toBeLessThanOrEqual(60)
        expect(line).toMatch(/^\[(AAA111|BBB222)\] /)
      }
      const of = (id: string) => lines.filter((l) => l.startsWith(`[${id}]`)).join("\n")
      expect(of("AAA111")).toContain("⛔ denied rm_rf: denied by policy")
      expect(of("AAA111")).toContain("$ budget 75% of tokens: 750 / 1,000")
      expect(of("AAA111")).toContain("◈ guardrail blocked pii (input)")
      expect(of("AAA111")).toContain("■ error (model) · 2 iterations · 1.50 s")
      expect(of("AAA111")).toContain("tokens 120 in / 30 out · $0.0042")
      expect(of("AAA111")).toContain("ModelError: upstream exploded")
      expect(of("BBB222")).toContain("⏸ approval requested: deploy(")
      expect(of("BBB222")).toContain("$ budget exceeded (cost): $1.25 / $1.00 → stop")
      expect(of("BBB222")).toContain("◈ guardrail secrets (output) found API_KEY×1")
      expect(of("BBB222")).toContain("✗ rejected: not today")
      expect(of("BBB222")).toContain("⏸ paused waiting_approval · 1 pending: deploy")
      // A long line is cut with an ellipsis at the width.
      expect(lines.some((l) => l.length === 60 && l.endsWith("…"))).toBe(true)
    }))
})
