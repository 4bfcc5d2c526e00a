/**
 * Decoding a batch: the envelope, then each event, refusing the whole batch at the first bad event (named
 * by index and field) before anything is written.
 */
import type { HookEvent } from "@sextant/runtime"
import { Either, ParseResult, Schema } from "effect"
import * as Wire from "./wire.js"

const firstIssue = (error: ParseResult.ParseError): { readonly path: string; readonly message: string } => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return { path: issue === undefined ? "" : issue.path.map(String).join("."), message: issue?.message ?? "invalid" }
}

/** The batch's events, or the refusal naming what is wrong. */
export const decodeBatch = (
  body: unknown,
  maxEvents: number
): Either.Either<ReadonlyArray<HookEvent.HookEvent>, Wire.Refusal> => {
  const envelope = Schema.decodeUnknownEither(Wire.Envelope)(body)
  if (Either.isLeft(envelope)) {
    const { message, path } = firstIssue(envelope.left)
    const field = path === "" ? "body" : path
    return Either.left({ error: "InvalidBatch", field, message: `${field}: ${message}` })
  }
  const raw = envelope.right.events
  if (raw.length > maxEvents) {
    return Either.left({
      error: "TooLarge",
      field: "events",
      message: `events: at most ${maxEvents} events per batch (got ${raw.length}); split the batch`
    })
  }
  const events: Array<HookEvent.HookEvent> = []
  for (let index = 0; index < raw.length; index++) {
    const decoded = Wire.decodeEvent(raw[index])
    if (Either.isLeft(decoded)) {
      const { message, path } = firstIssue(decoded.left)
      const field = path === "" ? `events.${index}` : `events.${index}.${path}`
      return Either.left({ error: "InvalidBatch", index, field, message: `${field}: ${message}` })
    }
    if (decoded.right._tag === "RunPaused" && decoded.right.state !== undefined) {
      const field = `events.${index}.state`
      return Either.left({
        error: "InvalidBatch",
        index,
        field,
        message: `${field}: a paused run's execution state is never ingested; drop it`
      })
    }
    events.push(decoded.right)
  }
  return Either.right(events)
}
