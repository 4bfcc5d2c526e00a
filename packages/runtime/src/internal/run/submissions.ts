/**
 * What a caller submits to a paused run (client tool results, an approval decision, human input), validated
 * against what the run waits on and stored with the claim in one Schema's encoding.
 */
import { Either, Schema } from "effect"
import { InvalidToolResults } from "../../Errors.js"
import { Json } from "../../HookEvent.js"
import type { ToolResultSubmission } from "../../RunResult.js"
import { toJson } from "../json.js"
import type { PauseState } from "../runState.js"

const opt = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** A submission as it is stored with the claim and recorded (scanned) on `run.resumed`. */
export const Submission = Schema.Union(
  Schema.Struct({
    kind: Schema.Literal("tool_results"),
    results: Schema.Array(Schema.Struct({ callId: Schema.String, result: opt(Json), error: opt(Schema.String) }))
  }),
  Schema.Struct({ kind: Schema.Literal("approval"), approved: Schema.Boolean, reason: opt(Schema.String) }),
  Schema.Struct({ kind: Schema.Literal("input"), text: Schema.String })
)
/** What was submitted to a paused run. */
export type Submission = typeof Submission.Type

/** A submission as JSON. */
export const encodeSubmission: (submission: Submission) => Json = Schema.encodeSync(Submission)

/** A submission back from its (scanned) JSON: scanning replaces strings only, so the shape is unchanged. */
export const decodeSubmission: (json: Json) => Submission = Schema.decodeUnknownSync(Submission)

const invalid = (
  runId: string,
  message: string,
  lists?: Partial<Record<"missing" | "duplicate" | "unknown", Array<string>>>
) =>
  new InvalidToolResults({
    runId,
    missing: lists?.missing ?? [],
    duplicate: lists?.duplicate ?? [],
    unknown: lists?.unknown ?? [],
    message
  })

/** Client tool results: every pending call answered exactly once, with a JSON result or a string error. */
export const toolResults = (
  runId: string,
  saved: PauseState,
  results: ReadonlyArray<ToolResultSubmission>
): Either.Either<Submission, InvalidToolResults> => {
  if (!Array.isArray(results)) return Either.left(invalid(runId, "tool results must be an array"))
  const pending = new Set(saved.pending)
  const seen = new Set<string>()
  const duplicate: Array<string> = []
  const unknown: Array<string> = []
  const clean: Array<{ callId: string; result?: Json; error?: string }> = []
  for (const r of results) {
    const callId = typeof r?.callId === "string" ? r.callId : String(r?.callId)
    if (seen.has(callId)) duplicate.push(callId)
    else if (!pending.has(callId)) unknown.push(callId)
    seen.add(callId)
    const json = toJson(r?.result ?? null)
    if (Either.isLeft(json) || (r.error !== undefined && typeof r.error !== "string")) unknown.push(callId)
    else clean.push({ callId, ...(r.error === undefined ? { result: json.right } : { error: r.error }) })
  }
  const missing = [...pending].filter((id) => !seen.has(id))
  if (missing.length + duplicate.length + unknown.length > 0) {
    return Either.left(
      invalid(
        runId,
        `tool results must answer each pending call once: missing [${missing.join(", ")}], ` +
          `duplicate [${duplicate.join(", ")}], unknown or invalid [${unknown.join(", ")}]`,
        { missing, duplicate, unknown }
      )
    )
  }
  return Either.right({ kind: "tool_results", results: clean })
}

/** An approval decision; a reason is kept as text. */
export const approval = (decision: {
  readonly approved: boolean
  readonly reason?: string | undefined
}): Either.Either<Submission, InvalidToolResults> =>
  Either.right({
    kind: "approval",
    approved: decision?.approved === true,
    ...(decision?.reason === undefined ? {} : { reason: String(decision.reason) })
  })

/** Human input: a string. */
export const input = (runId: string, text: string): Either.Either<Submission, InvalidToolResults> =>
  typeof text === "string"
    ? Either.right({ kind: "input", text })
    : Either.left(invalid(runId, "input must be a string"))
