import { Data } from "effect"

/**
 * The write does not fit what is recorded (another writer, the sweep, a wrong status, an id another run owns):
 * not retried, and the event is refused as a conflict.
 */
export class WriteConflict extends Data.TaggedError("WriteConflict")<{ readonly message: string }> {}
