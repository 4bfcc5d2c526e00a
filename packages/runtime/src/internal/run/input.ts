/**
 * A run's input: a string (one user message) or an array of messages in the kernel's `Message` schema, each
 * element decoded on its own so that the error names the bad element (`input[2].content`).
 */
import { Either, ParseResult, Schema } from "effect"
import { createHash } from "node:crypto"
import { InvalidRunOptions } from "../../Errors.js"
import { Message, type UserPart } from "../../HookEvent.js"

/** What `agent.run` takes: a user message's text, or the messages to append to the history, in order. */
export type RunInput = string | ReadonlyArray<Message>

const decodeMessage = Schema.decodeUnknownEither(Message, { errors: "first", onExcessProperty: "error" })

/**
 * The most bytes one image or file part may carry (5 MiB decoded): parts are recorded with their message
 * (`react_traces.parts`), so a larger file belongs behind a URL.
 */
export const MAX_PART_BYTES = 5 * 1024 * 1024

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** What is wrong with a part's bytes or media type, if anything (and where, inside the part). */
const partProblem = (part: UserPart): { readonly at: string; readonly message: string } | undefined => {
  if (!("data" in part)) {
    return /^(https?:|data:)/.test(part.url)
      ? undefined
      : { at: "url", message: "must be an http(s) or data: URL" }
  }
  if (part.data.length % 4 !== 0 || !BASE64.test(part.data)) {
    return { at: "data", message: "must be base64 (the bytes encoded, without a data: prefix)" }
  }
  const bytes = (part.data.length / 4) * 3 - (part.data.endsWith("==") ? 2 : part.data.endsWith("=") ? 1 : 0)
  if (bytes > MAX_PART_BYTES) {
    return { at: "data", message: `holds ${bytes} bytes, more than ${MAX_PART_BYTES}: pass a URL instead` }
  }
  if (!/^[\w.+-]+\/[\w.+-]+$/.test(part.mediaType)) {
    return { at: "mediaType", message: `must be a media type such as image/png, got ${JSON.stringify(part.mediaType)}` }
  }
  return undefined
}

const invalid = (field: string, message: string) => new InvalidRunOptions({ field, message: `${field}: ${message}` })

/** The first issue of a failed element decode, with its path inside the element. */
const firstIssue = (error: ParseResult.ParseError): { readonly path: string; readonly message: string } => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = (issue?.path ?? []).map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")
  return { path, message: issue?.message ?? "is not a message" }
}

const ROLES = `a message: { _tag: "user", content } | { _tag: "assistant", content, toolCalls } | ` +
  `{ _tag: "tool", toolCallId, toolName, content, isError }`

/**
 * Validates the input: a string, or a non-empty array of messages whose tool messages each answer a call an
 * earlier assistant message of the array made. Yields the messages the run appends to its history.
 */
export const validateInput = (input: unknown): Either.Either<ReadonlyArray<Message>, InvalidRunOptions> => {
  if (typeof input === "string") return Either.right([{ _tag: "user", content: input }])
  if (!Array.isArray(input)) {
    return Either.left(invalid("input", "must be a string or an array of messages"))
  }
  if (input.length === 0) return Either.left(invalid("input", "must hold at least one message"))
  const messages: Array<Message> = []
  const calls = new Set<string>()
  for (const [i, element] of (input as ReadonlyArray<unknown>).entries()) {
    if (typeof element !== "object" || element === null || Array.isArray(element)) {
      return Either.left(invalid(`input[${i}]`, `must be ${ROLES}`))
    }
    const decoded = decodeMessage(element)
    if (Either.isLeft(decoded)) {
      const { message, path } = firstIssue(decoded.left)
      return Either.left(invalid(`input[${i}]${path}`, path === "" ? `must be ${ROLES}` : message))
    }
    const m = decoded.right
    if (m._tag === "user") {
      for (const [j, part] of (m.parts ?? []).entries()) {
        const problem = partProblem(part)
        if (problem !== undefined) return Either.left(invalid(`input[${i}].parts[${j}].${problem.at}`, problem.message))
      }
    }
    if (m._tag === "assistant") { for (const c of m.toolCalls) calls.add(c.id) }
    if (m._tag === "tool" && !calls.has(m.toolCallId)) {
      return Either.left(
        invalid(
          `input[${i}].toolCallId`,
          `tool message answers call '${m.toolCallId}', which no earlier assistant message of the input made`
        )
      )
    }
    messages.push(m)
  }
  return Either.right(messages)
}

/** The text a run records as its `input`: a string input, else the last user message's text ("" if none). */
export const inputText = (input: RunInput): string => {
  if (typeof input === "string") return input
  for (let i = input.length - 1; i >= 0; i--) {
    const m = input[i]!
    if (m._tag === "user") return m.content
  }
  return ""
}

/** What an idempotency fingerprint covers: the string, or a digest of the whole message array. */
export const fingerprintInput = (input: RunInput): string =>
  typeof input === "string"
    ? input
    : `messages:${createHash("sha256").update(JSON.stringify(input)).digest("hex")}`
