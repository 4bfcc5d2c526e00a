import { Data } from "effect"

/**
 * The write does not fit what is recorded (another writer, the sweep, a wrong status, an id another run owns):
 * not retried, and the event is refused as a conflict. `index` names the event of a multi-event write (its
 * position in the events passed to `recordAll`) that caused it, when one did.
 */
export class WriteConflict extends Data.TaggedError("WriteConflict")<{
  readonly message: string
  readonly index?: number | undefined
}> {}
