/**
 * Conversations: the threads page lists threads (latest activity first, with run count and totals); a thread
 * reads as a conversation, one turn per run in order, each turn's messages (user, assistant, tool) under a
 * header that links to its run.
 */
import { call, type Success } from "../api.js"
import { ErrorBox, Loading, Status, Time } from "../components/common.js"
import { count, usd } from "../format.js"
import { useLoad } from "../hooks.js"
import { href, type Location } from "../nav.js"

type Thread = Success<"getThread">
type Message = Thread["messages"][number]

/** The threads page. */
export const ThreadsPage = ({ location }: { readonly location: Location }) => {
  const cursor = location.query.get("cursor") ?? undefined
  const { loaded } = useLoad(
    (signal) => call("listThreads", { query: cursor === undefined ? {} : { cursor }, signal }),
    cursor ?? ""
  )
  return (
    <div class="threads-page">
      <h1>Threads</h1>
      {loaded.state === "loading" && <Loading what="threads" />}
      {loaded.state === "failed" && <ErrorBox error={loaded.error} />}
      {loaded.state === "ready" && (
        <>
          {loaded.value.items.length === 0 ?
            <p class="empty">No conversations recorded yet.</p> :
            (
              <div class="table-wrap">
                <table class="threads">
                  <thead>
                    <tr>
                      <th>Thread</th>
                      <th>Tenant</th>
                      <th class="num">Turns</th>
                      <th class="num">Tokens</th>
                      <th class="num">Cost</th>
                      <th>Last activity</th>
                    </tr>
                  </thead>
                  <tbody>
                    {loaded.value.items.map((t) => (
                      <tr key={t.threadId} data-thread-id={t.threadId}>
                        <td>
                          <a href={href(`threads/${t.threadId}`)}>{t.threadId}</a>
                        </td>
                        <td>{t.tenantId ?? "—"}</td>
                        <td class="num" data-col="runs">{count(t.runCount)}</td>
                        <td class="num">{count(t.totals.inputTokens + t.totals.outputTokens)}</td>
                        <td class="num">{usd(t.totals.costUsd)}</td>
                        <td>
                          <Time iso={t.lastActivityAt} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          {loaded.value.nextCursor !== null && (
            <p>
              <a href={href("threads", { cursor: loaded.value.nextCursor })}>Older threads →</a>
            </p>
          )}
        </>
      )}
    </div>
  )
}

const toolCallNames = (m: Message): string => {
  if (!Array.isArray(m.toolCalls)) return ""
  return (m.toolCalls as ReadonlyArray<{ readonly name?: unknown }>)
    .map((c) => (typeof c?.name === "string" ? c.name : "?"))
    .join(", ")
}

const Bubble = ({ message }: { readonly message: Message }) => {
  const calls = toolCallNames(message)
  return (
    <li class={`msg ${message.role}${message.isError === true ? " error" : ""}`} data-role={message.role}>
      <span class="who muted">
        {message.role === "tool" ? `tool ${message.toolName ?? ""}` : message.role}
      </span>
      {message.content !== "" && <pre class="text">{message.content}</pre>}
      {calls !== "" && <span class="muted calls">calls {calls}</span>}
    </li>
  )
}

/** A thread as a conversation. */
export const ThreadPage = ({ location }: { readonly location: Location }) => {
  const threadId = location.path.slice("threads/".length)
  const { loaded } = useLoad((signal) => call("getThread", { path: { threadId }, signal }), threadId)
  if (loaded.state === "loading") return <Loading what="the thread" />
  if (loaded.state === "failed") return <ErrorBox error={loaded.error} />
  const thread = loaded.value
  const byRun = new Map<string, Array<Message>>()
  for (const m of thread.messages) {
    const list = byRun.get(m.runId) ?? []
    list.push(m)
    byRun.set(m.runId, list)
  }
  const t = thread.totals
  return (
    <div class="thread-page">
      <p class="back">
        <a href={href("threads")}>← Threads</a>
      </p>
      <h1>
        Thread <code>{thread.threadId}</code>
      </h1>
      <p class="muted" data-testid="thread-totals">
        {thread.runCount} turn{thread.runCount === 1 ? "" : "s"} · {count(t.inputTokens)} in / {count(t.outputTokens)}
        {" "}
        out · {usd(t.costUsd)} · tenant {thread.tenantId ?? "—"}
      </p>
      <ol class="conversation" aria-label="Conversation">
        {thread.runs.map((run, i) => (
          <li key={run.id} class="turn" data-turn={i + 1} data-run-id={run.id}>
            <header>
              <b>Turn {i + 1}</b> <Status status={run.status} />{" "}
              <a href={href(`runs/${run.id}`)} data-turn-link={run.id}>
                {run.agentName} · run {run.id.slice(0, 10)}…
              </a>{" "}
              <span class="muted">
                {count(run.totals.inputTokens + run.totals.outputTokens)} tokens · {usd(run.totals.costUsd)} ·{" "}
                <Time iso={run.createdAt} />
              </span>
            </header>
            <ol class="messages">
              {(byRun.get(run.id) ?? []).map((m) => <Bubble key={`${m.runId}-${m.orderIndex}`} message={m} />)}
            </ol>
          </li>
        ))}
      </ol>
    </div>
  )
}
