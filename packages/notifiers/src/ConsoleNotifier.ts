/**
 * A readable live view of runs in a terminal: a header per run, a line per step, model call, tool call and
 * governance event, errors, and a closing summary with notifier losses when there were any. Every line starts
 * with a short run id, and each event's lines are written in one `write`, so concurrent runs stay legible.
 */
import { type HookEvent, Lifecycle, Notifier } from "@sextant/runtime"
import { Effect } from "effect"
import { isAlert } from "./Alert.js"
import { isDetectorSignal } from "./DetectorSignal.js"
import { type Paint, type Palette, palette, shouldColor } from "./internal/ansi.js"
import { checkCommon, checkNumber } from "./internal/config.js"
import { RunTable } from "./internal/runs.js"
import { formatCount, formatDuration, formatUsage, formatUsd, jsonText, shorten, shortRunId } from "./internal/text.js"
import type { CommonOptions, NotifierEvent } from "./NotifierEvent.js"

/** Where the console writes: `process.stdout` by default, any writable with `write(string)` in tests. */
export interface ConsoleOutput {
  readonly write: (chunk: string) => unknown
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
}

/** Options of `ConsoleNotifier.make`. */
export interface ConsoleOptions extends CommonOptions {
  /** Default `process.stdout`. */
  readonly output?: ConsoleOutput | undefined
  /** Force colour on or off; by default on only when the output is a TTY and `NO_COLOR` is unset. */
  readonly color?: boolean | undefined
  /** Line width; by default the terminal's columns, else 100. Longer lines are cut with `…`. */
  readonly width?: number | undefined
  /** Print the model's text after each call (default true). */
  readonly showText?: boolean | undefined
  /** Environment read for `NO_COLOR` (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

/** A piece of a line and how to paint it. */
type Segment = readonly [text: string, paint?: Paint]

/** Cuts segments to `width` visible characters, then paints them (so colour codes never count or get cut). */
type NotifierStats = Notifier.NotifierStats

const render = (segments: ReadonlyArray<Segment>, width: number): string => {
  let left = width
  let out = ""
  for (const [text, paint] of segments) {
    if (left <= 0) break
    const piece = text.length <= left ? text : `${text.slice(0, Math.max(0, left - 1))}…`
    left -= piece.length
    out += paint === undefined ? piece : paint(piece)
  }
  return out
}

interface RunView {
  startedAt?: number
}

/** Formats events as lines (exported for reuse by hosts that print elsewhere). */
export const makeFormatter = (options: {
  readonly color: boolean
  /** Read per event, so a resized terminal is followed. */
  readonly width: () => number
  readonly showText: boolean
}) => {
  const p: Palette = palette(options.color)
  const runs = new RunTable<RunView>(() => ({}))
  let width = 100
  let argWidth = 50

  const statsLine = (stats: ReadonlyArray<NotifierStats>): ReadonlyArray<Segment> | undefined => {
    const parts = stats.flatMap((s) => {
      const lost = [
        s.failed > 0 ? `${s.failed} failed` : "",
        s.timedOut > 0 ? `${s.timedOut} timed out` : "",
        s.dropped > 0 ? `${s.dropped} dropped` : ""
      ].filter((x) => x !== "")
      return lost.length === 0 ? [] : [`${s.name} ${lost.join(", ")}`]
    })
    return parts.length === 0 ? undefined : [["  notifiers: ", p.dim], [parts.join(" · "), p.yellow]]
  }

  /** The end-of-run figures: iterations and wall time on the status line, then a tokens line. */
  const summary = (
    run: RunView | undefined,
    event: { readonly timestamp: number; readonly iterations: number; readonly usage: HookEvent.Usage }
  ): { readonly status: Segment; readonly tokens: ReadonlyArray<Segment> } => {
    const u = event.usage
    const wall = run?.startedAt === undefined ? "" : ` · ${formatDuration(event.timestamp - run.startedAt)}`
    const figures = [`${formatUsage(u)}`]
    if (u.cacheReadTokens !== undefined && u.inputTokens > 0) {
      figures.push(`cache ${Math.round((u.cacheReadTokens / u.inputTokens) * 100)}%`)
    }
    if (u.costUsd !== undefined) figures.push(formatUsd(u.costUsd))
    return {
      status: [` · ${event.iterations} iteration${event.iterations === 1 ? "" : "s"}${wall}`, p.dim],
      tokens: [["  tokens ", p.dim], [figures.join(" · ")]]
    }
  }

  /** The lines of one event (without the run-id prefix). */
  const lines = (event: NotifierEvent, stats: ReadonlyArray<NotifierStats>): Array<ReadonlyArray<Segment>> => {
    if (isAlert(event)) {
      const paint = event.severity === "critical" ? p.red : event.severity === "warning" ? p.yellow : p.cyan
      return [[["  ⚠ alert ", paint], [`[${event.severity}] ${event.title}`, p.bold], [`: ${event.message}`]]]
    }
    if (isDetectorSignal(event)) {
      const paint = event.severity === "CRITICAL" || event.severity === "HIGH" ? p.red : p.yellow
      return [[["  ⚑ signal ", paint], [`[${event.severity}] ${event.signalType}`, p.bold], [
        `: ${event.explanation.what}`
      ]]]
    }
    const run = runs.peek(event.runId)
    switch (event._tag) {
      case "RunStarted": {
        const view = runs.get(event.runId)
        view.startedAt = event.timestamp
        const provider = event.provider === undefined ? "" : ` (${event.provider})`
        const model = event.model === undefined ? "" : ` · model ${event.model}${provider}`
        return [
          [["▶ run ", p.bold], [event.runId, p.bold], [` · agent ${event.agentName}${model}`, p.cyan]],
          [["  input: ", p.dim], [shorten(event.input, width)]]
        ]
      }
      case "RunResumed": {
        const view = runs.get(event.runId)
        view.startedAt = event.timestamp
        return [[["▶ resumed ", p.bold], [event.runId, p.bold], [
          ` · agent ${event.agentName} · from ${event.resumedFrom}`,
          p.cyan
        ]]]
      }
      case "LlmCallStarted":
        return [[[`── step ${event.iteration} `, p.blue], [`(${event.messageCount} messages)`, p.dim]]]
      case "LlmCallCompleted": {
        const model = event.responseModel ?? event.model
        const out: Array<ReadonlyArray<Segment>> = [[
          ["  ◆ ", p.magenta],
          [`${model} `],
          [
            `${formatDuration(event.durationMs)} · ${
              event.usage === undefined ? "no usage reported" : formatUsage(event.usage)
            }`,
            p.dim
          ],
          [event.usage?.costUsd === undefined ? "" : ` · ${formatUsd(event.usage.costUsd)}`, p.dim],
          [` · ${event.finishReason}`, p.dim]
        ]]
        if (options.showText && event.text.trim() !== "") {
          out.push([["    “", p.dim], [shorten(event.text, width)], ["”", p.dim]])
        }
        return out
      }
      case "LlmCallFailed":
        return [[["  ✗ model failed ", p.red], [`after ${formatDuration(event.durationMs)}: `, p.dim], [
          `${event.error.tag}: ${event.error.message}`,
          p.red
        ]]]
      case "OutputInvalid":
        return [[["  ✗ output invalid ", p.yellow], [`(${event.schema.name}, attempt ${event.attempt}): `, p.dim], [
          event.error,
          p.yellow
        ]]]
      case "HistorySummarized":
        return [[["  ≡ history summarised ", p.dim], [
          `(${event.droppedMessages} earlier messages of thread ${event.threadId}, ${event.keptMessages} kept)`,
          p.dim
        ]]]
      case "MemoryAccessed":
        return [[["  ▤ memory ", p.dim], [`${event.operation} `, p.dim], [event.key, p.bold]]]
      case "CustomEvent":
        return [[["  • ", p.dim], [event.name, p.bold]]]
      case "ProviderRetry": {
        const status = event.statusCode === undefined ? "" : ` (HTTP ${event.statusCode})`
        const wait = event.retryAfterMs === undefined ? "" : `, retry after ${formatDuration(event.retryAfterMs)}`
        return [[["  ↻ ", p.yellow], [`${event.provider} retry #${event.attempt}${status}${wait}: `, p.yellow], [
          event.reason,
          p.dim
        ]]]
      }
      case "ToolCallStarted": {
        const args = shorten(jsonText(event.arguments), argWidth)
        return [[["  → ", p.cyan], [event.toolName, p.bold], [`(${args})`, p.dim], [
          event.target === "client" ? " [client]" : "",
          p.dim
        ]]]
      }
      case "ToolCallCompleted": {
        if (event.success) {
          return [[["  ✓ ", p.green], [event.toolName, p.bold], [` ${formatDuration(event.durationMs)} → `, p.dim], [
            shorten(jsonText(event.result), argWidth),
            p.dim
          ]]]
        }
        return [[["  ✗ ", p.red], [event.toolName, p.bold], [` ${formatDuration(event.durationMs)}: `, p.dim], [
          event.error ?? jsonText(event.result),
          p.red
        ]]]
      }
      case "PolicyDenied":
        return [[["  ⛔ denied ", p.red], [event.toolName, p.bold], [`: ${event.reason}`]]]
      case "ApprovalRequested":
        return [[["  ⏸ approval requested: ", p.yellow], [event.toolName, p.bold], [
          `(${shorten(jsonText(event.arguments), argWidth)})`,
          p.dim
        ]]]
      case "ApprovalDecided":
        return [[
          event.approved ? ["  ✔ approved", p.green] : ["  ✗ rejected", p.red],
          [event.reason === undefined ? "" : `: ${event.reason}`]
        ]]
      case "BudgetThreshold":
        return [[["  $ budget ", p.yellow], [`${Math.round(event.fraction * 100)}% of ${event.kind}: `], [
          `${budget(event.kind, event.used)} / ${budget(event.kind, event.limit)}`,
          p.dim
        ]]]
      case "BudgetExceeded":
        return [[["  $ budget exceeded ", p.red], [`(${event.kind}): `], [
          `${budget(event.kind, event.used)} / ${budget(event.kind, event.limit)} → ${event.action}`,
          p.dim
        ]]]
      case "GuardrailDetected":
        return [[["  ◈ guardrail ", p.yellow], [
          `${event.guardrail} (${event.direction}) found ${entities(event.entities)}`
        ], [
          ` → ${event.action}`,
          p.dim
        ]]]
      case "GuardrailRedacted":
        return [[["  ◈ guardrail ", p.yellow], [
          `${event.guardrail} (${event.direction}) redacted ${entities(event.entities)}`
        ]]]
      case "GuardrailBlocked":
        return [[["  ◈ guardrail blocked ", p.red], [`${event.guardrail} (${event.direction}): ${event.reason}`], [
          ` [${entities(event.entities)}]`,
          p.dim
        ]]]
      case "RunPaused": {
        const pending = event.pendingCalls.map((c) => c.name).join(", ")
        return [[["⏸ paused ", p.yellow], [event.status], [
          ` · ${event.pendingCalls.length} pending${pending === "" ? "" : `: ${pending}`}`,
          p.dim
        ]]]
      }
      case "RunCompleted": {
        const paint = event.status === "success" ? p.green : p.yellow
        const { status, tokens } = summary(run, event)
        return withStats([[["■ ", paint], [event.status, (t) => paint(p.bold(t))], status], tokens], stats)
      }
      case "RunFailed": {
        const { status, tokens } = summary(run, event)
        return withStats([
          [["■ ", p.red], ["error", (t) => p.red(p.bold(t))], [` (${event.failureReason})`, p.red], status],
          [["  "], [`${event.error.tag}: ${event.error.message}`, p.red]],
          tokens
        ], stats)
      }
      case "RunCancelled": {
        const { status, tokens } = summary(run, event)
        return withStats([[["■ ", p.yellow], ["cancelled", p.bold], [`: ${event.reason}`], status], tokens], stats)
      }
      case "RunInterrupted":
      case "RunAbandoned":
        return [[["■ ", p.red], [event._tag === "RunInterrupted" ? "interrupted" : "abandoned", p.bold], [
          ` by the sweep (was ${event.previousStatus}, ${event.failureReason})`,
          p.dim
        ]]]
      case "StreamEnded":
        return [[["  ≋ stream ", p.dim], [event.toolName, p.bold], [
          ` ${event.chunkCount} chunk${event.chunkCount === 1 ? "" : "s"} · ${event.bytes} B` +
          (event.timeToFirstChunkMs === undefined ? "" : ` · first after ${Math.round(event.timeToFirstChunkMs)}ms`),
          p.dim
        ]]]
      case "MessageAppended":
      case "TextDelta":
      case "ToolArgumentsDelta":
      case "StreamStarted":
      case "StreamChunk":
        return []
    }
  }

  const withStats = (out: Array<ReadonlyArray<Segment>>, stats: ReadonlyArray<NotifierStats>) => {
    const line = statsLine(stats)
    if (line !== undefined) out.push(line)
    return out
  }

  return {
    /** The text to write for an event (with a trailing newline), or `""`. */
    format: (event: NotifierEvent, stats: ReadonlyArray<NotifierStats> = []): string => {
      width = Math.max(40, Math.floor(options.width()))
      argWidth = Math.max(20, Math.floor(width / 2))
      const body = lines(event, stats)
      if (Lifecycle.isTerminalEvent(event)) runs.delete(event.runId)
      if (body.length === 0) return ""
      const prefix: Segment = [`[${shortRunId(event.runId)}] `, p.dim]
      return body.map((segments) => render([prefix, ...segments], width)).join("\n") + "\n"
    }
  }
}

const budget = (kind: "tokens" | "cost", n: number) => (kind === "cost" ? formatUsd(n) : formatCount(n))
const entities = (list: ReadonlyArray<{ readonly type: string; readonly count: number }>) =>
  list.map((e) => `${e.type}×${e.count}`).join(", ") || "nothing"

/**
 * A notifier printing a live view of every run to a terminal (or any `output`). Throws a
 * `NotifierConfigError` naming the setting when a dispatcher option or `width` is invalid.
 */
export const make = (options: ConsoleOptions = {}): Notifier.Notifier => {
  checkCommon("ConsoleNotifier", options)
  if (options.width !== undefined) checkNumber("ConsoleNotifier", "width", options.width, 1, { integer: true })
  const output: ConsoleOutput = options.output ?? process.stdout
  const color = options.color ?? shouldColor(output.isTTY, options.env ?? process.env)
  const formatter = makeFormatter({
    color,
    width: () => options.width ?? output.columns ?? 100,
    showText: options.showText ?? true
  })
  return Notifier.make({
    name: options.name ?? "console",
    capacity: options.capacity,
    strategy: options.strategy,
    timeout: options.timeout,
    onEvent: (event: NotifierEvent, context) => {
      const write = (text: string) => {
        if (text !== "") output.write(text)
      }
      // Only a run's end needs the statistics (an Effect); every other event is formatted synchronously.
      if (!Lifecycle.isTerminalEvent(event)) return write(formatter.format(event))
      return Effect.map(context.stats, (stats) => write(formatter.format(event, stats)))
    }
  })
}
