/**
 * Appends one JSON line per event to a file. The line format (`JsonlLine`, version 1) is
 * `{"v":1,"type":"<event_type>","event":{…}}` where `type` is the recorded `event_type` (`run.started`,
 * `tool.completed`, …), `alert` or `detector.signal`, and `event` is the hook event (or `Alert`, `DetectorSignal`) exactly as the runtime's Schema
 * encodes it. `read` decodes a file back, naming the line of any bad entry.
 */
import { HookEvent, Notifier, StreamEvent } from "@sextant/runtime"
import { Effect, Either, ParseResult, Schema } from "effect"
import { appendFile, mkdir, readFile } from "node:fs/promises"
import { dirname } from "node:path"
import { Alert } from "./Alert.js"
import { DetectorSignal } from "./DetectorSignal.js"
import { checkCommon, invalid } from "./internal/config.js"
import { type CommonOptions, type EventFilter, isOwnEvent, type NotifierEvent } from "./NotifierEvent.js"
import { recordedAndAlerts, typeOf } from "./WebhookNotifier.js"

/** The version of the line format written by this package. */
export const LINE_VERSION = 1

/** One line of the file. */
export const JsonlLine = Schema.Struct({
  v: Schema.Literal(LINE_VERSION),
  type: Schema.String,
  event: Schema.Union(HookEvent.HookEvent, Alert, DetectorSignal)
}).annotations({ identifier: "JsonlLine" })
/** One line of the file. */
export type JsonlLine = typeof JsonlLine.Type

/** A line of a JSONL file that is not valid JSON or not a `JsonlLine`. */
export class JsonlReadError extends Schema.TaggedError<JsonlReadError>()("JsonlReadError", {
  path: Schema.String,
  /** 1-based line number; 0 when the file itself could not be read. */
  line: Schema.Int,
  message: Schema.String
}) {}

/** Options of `JsonlFileNotifier.make`. */
export interface JsonlOptions extends CommonOptions {
  /** The file to append to (created, with its directory, on first write). */
  readonly path: string
  /** Which events to write (default: every recorded event and alert; deltas are not written). */
  readonly filter?: EventFilter | undefined
}

const encodeLine = Schema.encodeSync(Schema.parseJson(JsonlLine))
const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(JsonlLine))

/**
 * A notifier appending each selected event to `path` as one JSON line. Throws a `NotifierConfigError` naming
 * the setting when `path` is empty or a dispatcher option is invalid.
 */
export const make = (options: JsonlOptions): Notifier.Notifier => {
  checkCommon("JsonlFileNotifier", options)
  if (typeof options.path !== "string" || options.path.trim() === "") {
    invalid("JsonlFileNotifier", "path", "must be a non-empty file path")
  }
  const filter = options.filter ?? recordedAndAlerts
  let ready: Promise<unknown> | undefined
  return Notifier.make({
    name: options.name ?? "jsonl",
    capacity: options.capacity,
    strategy: options.strategy,
    timeout: options.timeout,
    onEvent: (event: NotifierEvent) => {
      if (!filter(event) || (!isOwnEvent(event) && StreamEvent.isDelta(event))) return
      const line = encodeLine({ v: LINE_VERSION, type: typeOf(event), event: event as JsonlLine["event"] })
      ready ??= mkdir(dirname(options.path), { recursive: true }).catch((e) => {
        ready = undefined
        throw e
      })
      // One append per line (O_APPEND): concurrent writers never tear a line.
      return Effect.tryPromise({ try: () => ready!.then(() => appendFile(options.path, `${line}\n`)), catch: (e) => e })
    }
  })
}

/** Decodes one line of the format. */
export const parseLine = (text: string): Either.Either<JsonlLine, string> =>
  Either.mapLeft(decodeLine(text), (e) => ParseResult.TreeFormatter.formatErrorSync(e))

/** Reads a file written by this notifier back as decoded lines, failing on the first bad line. */
export const read = (path: string): Effect.Effect<ReadonlyArray<JsonlLine>, JsonlReadError> =>
  Effect.gen(function*() {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) => new JsonlReadError({ path, line: 0, message: String((e as Error).message ?? e) })
    })
    const out: Array<JsonlLine> = []
    const lines = text.split("\n")
    for (const [i, raw] of lines.entries()) {
      if (raw.trim() === "") continue
      const parsed = parseLine(raw)
      if (Either.isLeft(parsed)) return yield* new JsonlReadError({ path, line: i + 1, message: parsed.left })
      out.push(parsed.right)
    }
    return out
  })
