import { Args, Command, Options } from "@effect/cli"
import { Database, SqlRecorder } from "@sextant/recorder"
import { HookEvent, Recorder } from "@sextant/runtime"
import { RunStore, type Views } from "@sextant/store"
import { Effect, Either, Layer, ParseResult, Schema } from "effect"
import { existsSync } from "node:fs"
import { open, stat } from "node:fs/promises"
import { resolve as resolvePath } from "node:path"
import { CliError } from "../../Errors.js"
import { json, shared } from "../context.js"
import * as f from "../format.js"
import * as output from "../output.js"
import { header, node } from "./read.js"

/**
 * A line of a `JsonlFileNotifier` file (format version 1): `{"v":1,"type":"<event_type>","event":{…}}`, the
 * event as the runtime's Schema encodes it, or `type: "alert"`. Decoded here with the runtime's `HookEvent`
 * schema, so the CLI does not load the notifiers (and their OpenTelemetry peer).
 */
const Line = Schema.Struct({ v: Schema.Literal(1), type: Schema.String, event: Schema.Unknown })
const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(Line))
const decodeEvent = Schema.decodeUnknownEither(HookEvent.HookEvent)

type Parsed =
  | { readonly _tag: "event"; readonly event: HookEvent.HookEvent }
  | { readonly _tag: "alert"; readonly text: string }
  | { readonly _tag: "bad"; readonly message: string }

const parse = (text: string): Parsed => {
  const line = decodeLine(text)
  if (Either.isLeft(line)) {
    return { _tag: "bad", message: `not a JsonlFileNotifier line (version 1): ${firstLine(line.left)}` }
  }
  if (line.right.type === "alert") return { _tag: "alert", text: f.brief(line.right.event, 160) }
  const event = decodeEvent(line.right.event)
  return Either.isLeft(event)
    ? { _tag: "bad", message: `not a hook event: ${firstLine(event.left)}` }
    : { _tag: "event", event: event.right }
}

const firstLine = (e: ParseResult.ParseError) => ParseResult.TreeFormatter.formatErrorSync(e).split("\n")[0] ?? ""

/** Whether a node can still change (a call in flight): follow mode prints it once it has settled. */
const open_ = (n: Views.TimelineNode) => (n._tag === "llmCall" || n._tag === "toolCall") && n.status === "running"

/** The events recorded into a private in-memory database, so the timeline is built exactly as `show` builds it. */
const memory = RunStore.layer.pipe(
  Layer.provideMerge(SqlRecorder.layer()),
  Layer.provideMerge(Database.layerFromUrl("sqlite::memory:"))
)

/** `sextant view FILE.jsonl [-f]`. */
export const view = Command.make("view", {
  verbose: shared.verbose,
  json,
  follow: Options.boolean("follow").pipe(
    Options.withAlias("f"),
    Options.withDescription("keep reading as the file grows (Ctrl-C stops)")
  ),
  interval: Options.integer("interval").pipe(
    Options.withDescription("with -f, how often to look for new lines, in ms"),
    Options.withDefault(200)
  ),
  file: Args.text({ name: "file" }).pipe(Args.withDescription("a file written by JsonlFileNotifier"))
}, (o) =>
  Effect.gen(function*() {
    const file = resolvePath(o.file)
    if (o.interval < 10 || o.interval > 60_000) {
      return yield* new CliError({ message: `--interval must be from 10 to 60000 ms, got ${o.interval}`, exitCode: 2 })
    }
    if (!existsSync(file) && !o.follow) {
      return yield* new CliError({
        message: `no file at ${file}: pass the path JsonlFileNotifier writes to (-f waits for it)`,
        exitCode: 2
      })
    }
    const recorder = yield* Recorder
    const store = yield* RunStore
    /** Runs in order of first appearance, and how many timeline nodes of each are printed (follow mode). */
    const runs = new Map<string, number>()
    let lineNo = 0
    let offset = 0
    let rest = ""
    let current: string | undefined

    const ingest = (text: string) =>
      Effect.gen(function*() {
        const touched = new Set<string>()
        if (text === "") return touched
        for (const raw of text.split("\n")) {
          lineNo++
          if (raw.trim() === "") continue
          const parsed = parse(raw)
          if (parsed._tag === "bad") {
            yield* output.err(`sextant: ${file} line ${lineNo}: ${parsed.message} (skipped)`)
            continue
          }
          if (parsed._tag === "alert") {
            if (!o.json) yield* output.out(`${f.style.yellow(`alert ${parsed.text}`)}\n`)
            continue
          }
          const event = parsed.event
          const ok = yield* recorder.record(event).pipe(
            Effect.as(true),
            Effect.catchAll((e) =>
              Effect.as(
                output.err(`sextant: ${file} line ${lineNo}: ${e.message} (skipped)`),
                false
              )
            )
          )
          if (!ok) continue
          if (!runs.has(event.runId)) runs.set(event.runId, 0)
          touched.add(event.runId)
        }
        return touched
      })

    /** Reads the bytes appended since the last read; returns the complete lines (a partial last line waits). */
    const readNew = Effect.promise(async () => {
      const size = await stat(file).then((s) => s.size, () => -1)
      if (size < 0) return ""
      if (size < offset) {
        // Truncated or replaced: start again from its beginning.
        offset = 0
        rest = ""
      }
      if (size === offset) return ""
      const handle = await open(file, "r")
      try {
        const buffer = Buffer.alloc(size - offset)
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset)
        offset += bytesRead
        const text = rest + buffer.subarray(0, bytesRead).toString("utf8")
        const end = text.lastIndexOf("\n")
        rest = end === -1 ? text : text.slice(end + 1)
        return end === -1 ? "" : text.slice(0, end)
      } finally {
        await handle.close()
      }
    })

    const timelineOf = (runId: string) =>
      Effect.all([store.getRun(runId), store.getTimeline(runId)]).pipe(
        Effect.mapError((e) => new CliError({ message: `cannot build the timeline of ${runId}: ${e.message}` }))
      )

    /** Prints the nodes of a run not printed yet (in follow mode stopping at a call still in flight). */
    const printNew = (runId: string, hold: boolean) =>
      Effect.gen(function*() {
        const [run, timeline] = yield* timelineOf(runId)
        const printed = runs.get(runId) ?? 0
        let upTo = timeline.nodes.length
        if (hold) {
          const inFlight = timeline.nodes.findIndex((n, i) => i >= printed && open_(n))
          if (inFlight !== -1) upTo = inFlight
        }
        if (upTo <= printed && printed > 0) return
        const lines: Array<string> = []
        // A run still going gets a one-line header (its totals are not known yet; its end node says how it went).
        if (printed === 0) {
          lines.push(
            ...(current === undefined ? [] : [""]),
            ...(run.finishedAt === null && hold
              ? [
                `${f.style.bold(`run ${run.id}`)}  agent ${run.agentName}  tenant ${run.tenantId ?? "-"}  input ${
                  f.brief(run.input, 100)
                }`
              ]
              : header(run)),
            ""
          )
        } else if (current !== runId) lines.push("", f.style.dim(`run ${runId}`))
        lines.push(...timeline.nodes.slice(printed, upTo).map((n) => node(n, false)))
        current = runId
        runs.set(runId, upTo)
        yield* output.out(`${lines.join("\n")}\n`)
      })

    const first = yield* readNew
    const touched = yield* ingest(o.follow || rest === "" ? first : first === "" ? rest : `${first}\n${rest}`)
    if (o.json && !o.follow) {
      const all = yield* Effect.forEach([...runs.keys()], (id) =>
        Effect.map(timelineOf(id), ([run, timeline]) => ({ run, timeline })))
      return yield* output.json({ file, runs: all })
    }
    if (o.json) {
      // Follow mode with --json: one line per run as its timeline changes.
      const emit = (ids: Iterable<string>) =>
        Effect.forEach([...ids], (id) =>
          Effect.flatMap(
            timelineOf(id),
            ([run, timeline]) =>
              output.out(`${JSON.stringify({ run, timeline })}\n`)
          ), { discard: true })
      yield* emit(touched)
      yield* output.err(`following ${file} (Ctrl-C stops)`)
      while (true) {
        yield* Effect.sleep(o.interval)
        yield* emit(yield* ingest(yield* readNew))
      }
    }
    for (const id of runs.keys()) yield* printNew(id, o.follow)
    if (!o.follow) {
      if (runs.size === 0) yield* output.err(`no runs in ${file}`)
      return
    }
    yield* output.err(existsSync(file) ? `following ${file} (Ctrl-C stops)` : `waiting for ${file} (Ctrl-C stops)`)
    while (true) {
      yield* Effect.sleep(o.interval)
      for (const id of yield* ingest(yield* readNew)) yield* printNew(id, true)
    }
  }).pipe(
    Effect.provide(memory),
    Effect.mapError((e) => e instanceof CliError ? e : new CliError({ message: e.message }))
  )).pipe(
    Command.withDescription(
      "Render a JsonlFileNotifier file as runs with their timelines (as `show` does); -f follows it as it grows. " +
        "Example: sextant view ./logs/events.jsonl -f"
    )
  )
