/**
 * The payload inspector of a timeline node, in three views: formatted (messages, arguments and results laid
 * out), raw JSON (the record as the API returned it) and evidence (the semantic request/response beside the
 * exact provider payloads, or the recorded events of the node). Full payloads are fetched only when a node is
 * opened, and every view is capped (see `Json`).
 */
import { useEffect, useState } from "preact/hooks"
import { call, type Success } from "../api.js"
import { count, duration, statusLabel, usd } from "../format.js"
import type { Node } from "../pages/Run.js"
import { ErrorBox, Loading, Time } from "./common.js"
import { Json } from "./Json.js"

type LlmCall = Success<"getLlmCalls">["items"][number]
type ToolCall = Success<"getToolCalls">["items"][number]
type Pause = Success<"getPauses">["items"][number]
type Event = Success<"getEvents">["items"][number]

/** What a node's inspector loads: its full record and the events that recorded it. */
interface Detail {
  readonly record: LlmCall | ToolCall | Pause | Node
  readonly events: ReadonlyArray<Event>
}

const eventsOf = async (runId: string, node: Node): Promise<ReadonlyArray<Event>> => {
  const last = "endSequenceIndex" in node && node.endSequenceIndex !== null
    ? node.endSequenceIndex
    : "resumeSequenceIndex" in node && node.resumeSequenceIndex !== null
    ? node.resumeSequenceIndex
    : node.sequenceIndex
  const span = Math.min(1000, Math.max(1, last - node.sequenceIndex + 1))
  const page = await call("getEvents", {
    path: { runId },
    query: { ...(node.sequenceIndex > 0 ? { after: node.sequenceIndex - 1 } : {}), limit: span }
  })
  const correlation = "correlationId" in node ? node.correlationId : null
  return page.items.filter((e) =>
    e.sequenceIndex === node.sequenceIndex || e.sequenceIndex === last ||
    (correlation !== null && e.correlationId === correlation)
  )
}

const load = async (runId: string, node: Node): Promise<Detail> => {
  const path = { runId }
  const events = eventsOf(runId, node)
  if (node._tag === "llmCall") {
    const list = await call("getLlmCalls", { path, query: { iteration: node.iteration } })
    return { record: list.items.find((c) => c.id === node.correlationId) ?? node, events: await events }
  }
  if (node._tag === "toolCall") {
    const list = await call("getToolCalls", { path, query: { iteration: node.iteration } })
    return { record: list.items.find((c) => c.id === node.correlationId) ?? node, events: await events }
  }
  if (node._tag === "pause") {
    const list = await call("getPauses", { path })
    return { record: list.items.find((p) => p.pauseSequenceIndex === node.sequenceIndex) ?? node, events: await events }
  }
  return { record: node, events: await events }
}

interface Message {
  readonly role?: string
  readonly _tag?: string
  readonly content?: unknown
  readonly toolCalls?: ReadonlyArray<{ readonly name?: string; readonly arguments?: unknown }>
}

const messagesOf = (request: unknown): ReadonlyArray<Message> | undefined => {
  if (request === null || typeof request !== "object") return undefined
  const messages = (request as { messages?: unknown }).messages
  return Array.isArray(messages) ? (messages as ReadonlyArray<Message>) : undefined
}

const Chat = ({ messages }: { readonly messages: ReadonlyArray<Message> }) => (
  <ol class="chat">
    {messages.map((m, i) => {
      const role = m.role ?? m._tag ?? "message"
      return (
        <li key={i} class={`msg ${role}`}>
          <b>{role}</b>
          {typeof m.content === "string"
            ? <pre class="text">{m.content}</pre>
            : m.content !== undefined && m.content !== null && <Json value={m.content} />}
          {m.toolCalls !== undefined && m.toolCalls.length > 0 && (
            <ul>
              {m.toolCalls.map((c, j) => (
                <li key={j}>
                  calls <code>{c.name}</code> <Json value={c.arguments} />
                </li>
              ))}
            </ul>
          )}
        </li>
      )
    })}
  </ol>
)

const Field = ({ label, children }: { readonly label: string; readonly children: preact.ComponentChildren }) => (
  <div class="field">
    <dt>{label}</dt>
    <dd>{children}</dd>
  </div>
)

const FormattedLlm = ({ call: c }: { readonly call: LlmCall }) => {
  const response = (c.semanticResponse ?? {}) as { text?: string; toolCalls?: Message["toolCalls"] }
  const messages = messagesOf(c.semanticRequest)
  return (
    <div>
      <dl class="fields">
        <Field label="Model">
          {c.responseModel ?? c.model} <span class="muted">({c.provider})</span>
        </Field>
        <Field label="Status">{c.status}{c.finishReason !== null ? ` · ${c.finishReason}` : ""}</Field>
        <Field label="Tokens">
          {count(c.inputTokens)} in / {count(c.outputTokens)} out
          {c.cacheReadTokens !== null && ` · ${count(c.cacheReadTokens)} cache read`}
          {c.reasoningTokens !== null && ` · ${count(c.reasoningTokens)} reasoning`}
        </Field>
        <Field label="Cost">{usd(c.costUsd)}{c.costNote !== null && <span class="muted">({c.costNote})</span>}</Field>
        <Field label="Duration">{duration(c.durationMs)}</Field>
        <Field label="Started">
          <Time iso={c.startedAt} />
        </Field>
      </dl>
      {c.error !== null && <ErrorBox error={`${c.error.tag ?? "error"}: ${c.error.message}`} />}
      <h4>Request {messages !== undefined && <span class="muted">({messages.length} messages)</span>}</h4>
      {messages !== undefined ? <Chat messages={messages} /> : <Json value={c.semanticRequest} label="request" />}
      <h4>Response</h4>
      {typeof response.text === "string" && response.text !== "" && <pre class="text">{response.text}</pre>}
      {response.toolCalls !== undefined && response.toolCalls.length > 0 && (
        <Chat messages={[{ role: "tool calls", toolCalls: response.toolCalls }]} />
      )}
    </div>
  )
}

const FormattedTool = ({ call: c }: { readonly call: ToolCall }) => (
  <div>
    <dl class="fields">
      <Field label="Tool">
        {c.toolName} <span class="muted">({c.target})</span>
      </Field>
      <Field label="Outcome">{c.success === null ? "running" : c.success ? "succeeded" : "failed"}</Field>
      <Field label="Duration">{duration(c.durationMs)}</Field>
      <Field label="Started">
        <Time iso={c.startedAt} />
      </Field>
    </dl>
    {c.error !== null && <ErrorBox error={c.error} />}
    <h4>Arguments</h4>
    <Json value={c.params} label="arguments" />
    <h4>Result</h4>
    <Json value={c.result} label="result" />
  </div>
)

const FormattedPause = ({ pause: p }: { readonly pause: Pause }) => (
  <div>
    <dl class="fields">
      <Field label="Waiting for">{statusLabel(p.status)}</Field>
      <Field label="Paused">
        <Time iso={p.pausedAt} />
      </Field>
      <Field label="Resumed">
        <Time iso={p.resumedAt} />
      </Field>
      <Field label="Wait">{p.waitMs === null ? "still waiting" : duration(p.waitMs)}</Field>
    </dl>
    {p.prompt !== null && (
      <>
        <h4>Prompt</h4>
        <pre class="text">{p.prompt}</pre>
      </>
    )}
    <h4>Pending calls</h4>
    <Json value={p.pendingCalls} label="pending-calls" />
    <h4>Submitted</h4>
    {p.submission === null ? <p class="muted">Nothing yet.</p> : <Json value={p.submission} label="submission" />}
  </div>
)

const Formatted = ({ node, detail }: { readonly node: Node; readonly detail: Detail }) => {
  const r = detail.record
  if (node._tag === "llmCall" && "semanticRequest" in r) return <FormattedLlm call={r} />
  if (node._tag === "toolCall" && "toolName" in r && "params" in r) return <FormattedTool call={r} />
  if (node._tag === "pause" && "pauseSequenceIndex" in r) return <FormattedPause pause={r} />
  const data = detail.events.find((e) => e.sequenceIndex === node.sequenceIndex)?.data
  return (
    <div>
      <dl class="fields">
        <Field label="Event">{detail.events[0]?.eventType ?? node._tag}</Field>
        <Field label="Recorded">
          <Time iso={node.at} />
        </Field>
        {node._tag === "governance" && <Field label="Severity">{node.severity}</Field>}
      </dl>
      <Json value={data ?? node} label={node._tag} />
    </div>
  )
}

const Evidence = ({ node, detail }: { readonly node: Node; readonly detail: Detail }) => {
  const r = detail.record
  if (node._tag === "llmCall" && "semanticRequest" in r) {
    return (
      <div class="evidence">
        <p class="muted">What the kernel asked and got (semantic), beside what went over the wire (provider).</p>
        <div class="pair">
          <div>
            <h4>Semantic request</h4>
            <Json value={r.semanticRequest} label="semantic-request" />
          </div>
          <div>
            <h4>Provider request</h4>
            {r.providerRequest === null
              ? <p class="muted">Not recorded (this model keeps no wire payload).</p>
              : <Json value={r.providerRequest} label="provider-request" />}
          </div>
        </div>
        <div class="pair">
          <div>
            <h4>Semantic response</h4>
            <Json value={r.semanticResponse} label="semantic-response" />
          </div>
          <div>
            <h4>Provider response</h4>
            {r.providerResponse === null
              ? <p class="muted">Not recorded.</p>
              : <Json value={r.providerResponse} label="provider-response" />}
          </div>
        </div>
      </div>
    )
  }
  return (
    <div class="evidence">
      <p class="muted">The recorded events of this node, as the event log holds them.</p>
      {detail.events.map((e) => (
        <div key={e.sequenceIndex}>
          <h4>
            #{e.sequenceIndex} {e.eventType} <Time iso={e.createdAt} />
          </h4>
          <Json value={e.data} label={`event-${e.sequenceIndex}`} />
        </div>
      ))}
    </div>
  )
}

const VIEWS = [["formatted", "Formatted"], ["raw", "Raw JSON"], ["evidence", "Evidence"]] as const

/** The inspector of one node. */
export const Inspector = ({ runId, node, view, onView }: {
  readonly runId: string
  readonly node: Node
  readonly view: string
  readonly onView: (view: string) => void
}) => {
  const [detail, setDetail] = useState<{ key: string; value: Detail } | { key: string; error: unknown }>()
  const key = `${runId}:${node._tag}:${node.sequenceIndex}:${"endSequenceIndex" in node ? node.endSequenceIndex : ""}`
  useEffect(() => {
    let live = true
    load(runId, node).then(
      (value) => live && setDetail({ key, value }),
      (error: unknown) => live && setDetail({ key, error })
    )
    return () => void (live = false)
  }, [key])
  return (
    <section class="panel inspector" aria-label="Payload inspector">
      <h2>
        Inspector <span class="muted">#{node.sequenceIndex} {node._tag}</span>
      </h2>
      <div class="tabs" role="tablist">
        {VIEWS.map(([id, label]) => (
          <button
            key={id}
            type="button"
            role="tab"
            aria-selected={view === id}
            data-view={id}
            onClick={() => onView(id)}
          >
            {label}
          </button>
        ))}
      </div>
      <div class="tab-body" role="tabpanel" data-active-view={view}>
        {detail === undefined || detail.key !== key
          ? <Loading what="the payload" />
          : "error" in detail
          ? <ErrorBox error={detail.error} />
          : view === "raw"
          ? <Json value={detail.value.record} label={`${node._tag}-${node.sequenceIndex}`} />
          : view === "evidence"
          ? <Evidence node={node} detail={detail.value} />
          : <Formatted node={node} detail={detail.value} />}
      </div>
    </section>
  )
}
