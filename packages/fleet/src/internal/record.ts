/**
 * Reading a run's recorded events back as hook events: `run_events` rows decoded with the recorder's table
 * codecs, each event rebuilt from its data and its stamped columns, then decoded with the `HookEvent` Schema.
 * `llm.completed` rows do not keep the request (it lives in `llm_interactions`): it comes back as `null`,
 * which recovery never reads.
 */
import type { SqlClient } from "@effect/sql"
import { Encryption, Tables } from "@sextant/recorder"
import { HookEvent } from "@sextant/runtime"
import { Effect, Either, Option, Schema } from "effect"
import { FleetError } from "../Errors.js"

const decodeEvents = Schema.decodeUnknownEither(Schema.Array(HookEvent.HookEvent))

/** The run's recorded events after sequence index `after` (default: all of them), in sequence order. */
export const readEvents = (
  sql: SqlClient.SqlClient,
  runId: string,
  after = -1
): Effect.Effect<ReadonlyArray<HookEvent.HookEvent>, FleetError> =>
  Effect.gen(function*() {
    const rows = yield* sql`SELECT * FROM run_events WHERE agent_run_id = ${
      Tables.escapeText(runId)
    } AND sequence_index > ${after} ORDER BY sequence_index`
    // Sealed event data (an `Encryption` key ring on the recorder) opens with the key ring in context.
    const ring = Option.getOrUndefined(yield* Encryption.current)
    const open = Either.try({ try: () => Tables.openSealed(ring, rows), catch: (e) => (e as Error).message })
    if (Either.isLeft(open)) return yield* new FleetError({ operation: "readEvents", runId, message: open.left })
    const decoded = Tables.runEvents.decode(open.right)
    if (Either.isLeft(decoded)) {
      return yield* new FleetError({ operation: "readEvents", runId, message: decoded.left.message })
    }
    const events = decoded.right.map((row) => {
      const data = (typeof row.data === "object" && row.data !== null ? row.data : {}) as Record<string, unknown>
      return {
        ...data,
        ...(row.event_type === "llm.completed" && data.request === undefined ? { request: null } : {}),
        runId,
        sequenceIndex: row.sequence_index,
        iteration: row.iteration,
        timestamp: Date.parse(row.created_at),
        ...(row.correlation_id === null ? {} : { correlationId: row.correlation_id })
      }
    })
    const hooks = decodeEvents(events)
    if (Either.isLeft(hooks)) {
      return yield* new FleetError({
        operation: "readEvents",
        runId,
        message: `the events of run ${runId} cannot be read back: ${hooks.left.message}`
      })
    }
    return hooks.right
  }).pipe(
    Effect.catchTag("SqlError", (cause) =>
      Effect.fail(new FleetError({ operation: "readEvents", runId, message: cause.message, cause })))
  )
