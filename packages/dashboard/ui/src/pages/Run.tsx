/**
 * The run page: the header (agent, status and failure reason, model, tenant, totals, wall time, input, answer,
 * error), the typed timeline in sequence order, tokens per iteration, the delegation tree with subtree totals,
 * the failure signals the detectors found (each explained, pointing at its events; shadow ones marked), and
 * the payload inspector of the selected node (formatted, raw JSON, evidence). A run that has not ended
 * follows its SSE tail and refreshes as events land, until its terminal event.
 */
import { useEffect, useRef, useState } from "preact/hooks"
import { call, type Success } from "../api.js"
import { Bars } from "../components/Bars.js"
import { ErrorBox, Loading, Status, Time } from "../components/common.js"
import { Inspector } from "../components/Inspector.js"
import { SignalCard } from "../components/Signals.js"
import { count, duration, localClock, statusLabel, usd } from "../format.js"
import { useVisible } from "../hooks.js"
import { href, type Location, navigate } from "../nav.js"
import { tail } from "../sse.js"

type Run = Success<"getRun">
type Timeline = Success<"getTimeline">
type Tree = Success<"getRunTree">
type Signals = Success<"getRunSignals">
/** A node of the timeline. */
export type Node = Timeline["nodes"][number]

const TERMINAL = new Set(["success", "error", "max_iterations", "cancelled"])

interface Loaded {
  readonly run: Run
  readonly timeline: Timeline
  readonly tree: Tree
  readonly signals: Signals
}

const loadAll = async (runId: string, signal?: AbortSignal): Promise<Loaded> => {
  const path = { runId }
  const [run, timeline, tree, signals] = await Promise.all([
    call("getRun", { path, ...(signal ? { signal } : {}) }),
    call("getTimeline", { path, ...(signal ? { signal } : {}) }),
    call("getRunTree", { path, ...(signal ? { signal } : {}) }),
    call("getRunSignals", { path, query: { shadow: "include" }, ...(signal ? { signal } : {}) })
  ])
  return { run, timeline, tree, signals }
}

const Capped = ({ text, limit = 600 }: { readonly text: string; readonly limit?: number }) => {
  const [open, setOpen] = useState(false)
  if (text.length <= limit) return <pre class="text">{text}</pre>
  return (
    <div>
      <pre class="text">{open ? text : `${text.slice(0, limit)}…`}</pre>
      <button type="button" class="link" onClick={() => setOpen(!open)}>
        {open ? "Show less" : `Show all ${count(text.length)} characters`}
      </button>
    </div>
  )
}

const Header = ({ run, live }: { readonly run: Run; readonly live: boolean }) => {
  const end = run.finishedAt ?? (TERMINAL.has(run.status) ? run.updatedAt : null)
  const wall = (end === null ? Date.now() : Date.parse(end)) - Date.parse(run.createdAt)
  const t = run.totals
  return (
    <section class="run-header">
      <div class="title">
        <h1>{run.agentName}</h1>
        <Status status={run.status} />
        {run.failureReason !== null && <span class="badge bad">failure: {statusLabel(run.failureReason)}</span>}
        {live && <span class="live-dot" title="Following the run's event stream">● live</span>}
      </div>
      <p class="muted run-id">
        {run.id}
        {run.threadId !== null && (
          <>
            {" · "}
            <a href={href(`threads/${run.threadId}`)} data-thread-link={run.threadId}>thread {run.threadId}</a>
          </>
        )}
      </p>
      <dl class="facts">
        <div>
          <dt>Model</dt>
          <dd>{`${run.model ?? "—"}${run.provider === null ? "" : ` (${run.provider})`}`}</dd>
        </div>
        <div>
          <dt>Tenant</dt>
          <dd>{run.tenantId ?? "—"}</dd>
        </div>
        <div>
          <dt>Tokens</dt>
          <dd title={`cache read ${count(t.cacheReadTokens)}, reasoning ${count(t.reasoningTokens)}`}>
            {count(t.inputTokens)} in / {count(t.outputTokens)} out
          </dd>
        </div>
        <div>
          <dt>Cost</dt>
          <dd>
            {usd(t.costUsd)}
            {t.unpricedCallCount > 0 && <span class="muted">{` (${t.unpricedCallCount} unpriced)`}</span>}
          </dd>
        </div>
        <div>
          <dt>Wall time</dt>
          <dd>{duration(wall)}</dd>
        </div>
        <div>
          <dt>Iterations</dt>
          <dd>{run.iterationCount}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <Time iso={run.createdAt} />
          </dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>
            <Time iso={run.finishedAt} />
          </dd>
        </div>
      </dl>
      <div class="io">
        <div>
          <h3>Input</h3>
          <Capped text={run.input} />
        </div>
        {run.answer !== null && (
          <div>
            <h3>Answer</h3>
            <Capped text={run.answer} />
          </div>
        )}
        {run.error !== null && (
          <div class="error-box">
            <h3>Error {run.error.tag !== null && <code>{run.error.tag}</code>}</h3>
            <Capped text={run.error.message} />
          </div>
        )}
      </div>
      {run.instructions !== "" && (
        <details>
          <summary>Instructions</summary>
          <Capped text={run.instructions} limit={4000} />
        </details>
      )}
    </section>
  )
}

const tokens = (n: { inputTokens: number | null; outputTokens: number | null }) =>
  n.inputTokens === null ? "" : `${count(n.inputTokens)} → ${count(n.outputTokens)} tokens`

/** The one-line title and detail of a node. */
const describe = (n: Node): { icon: string; title: string; meta: string; preview?: string; tone?: string } => {
  switch (n._tag) {
    case "segment":
      return n.kind === "started"
        ? { icon: "▶", title: "Run started", meta: "" }
        : { icon: "↻", title: "Resumed", meta: "" }
    case "llmCall":
      return {
        icon: "◆",
        title: `Model call · ${n.model}`,
        meta: [
          n.status === "running" ? "running…" : n.status,
          tokens(n),
          n.costUsd === null ? "" : usd(n.costUsd),
          duration(n.durationMs),
          n.finishReason ?? "",
          n.toolCallCount > 0 ? `${n.toolCallCount} tool call${n.toolCallCount > 1 ? "s" : ""}` : ""
        ].filter((s) => s !== "" && s !== "—").join(" · "),
        ...(n.text !== null ? { preview: n.text.text } : n.error !== null ? { preview: n.error.message } : {}),
        ...(n.status === "failed" ? { tone: "error" } : {})
      }
    case "toolCall":
      return {
        icon: "⚙",
        title: `${n.toolName}`,
        meta: [n.target, n.status === "running" ? "running…" : n.status, duration(n.durationMs)].filter((s) =>
          s !== "—"
        ).join(" · "),
        ...(n.arguments !== null ? { preview: n.arguments.text } : {}),
        ...(n.status === "failed" ? { tone: "error" } : {})
      }
    case "pause":
      return {
        icon: "‖",
        title: `Paused: ${statusLabel(n.status)}`,
        meta: [
          n.pendingCalls.map((c) => c.name).join(", "),
          n.waitMs === null ? "still waiting" : `waited ${duration(n.waitMs)}`
        ].filter((s) => s !== "").join(" · "),
        ...(n.submission !== null ? { preview: `submitted ${n.submission.text}` } : n.prompt !== null
          ? { preview: n.prompt }
          : {}),
        tone: "pause"
      }
    case "governance":
      return {
        icon: n.severity === "error" ? "⛔" : n.severity === "warning" ? "⚠" : "ℹ",
        title: n.title,
        meta: `${n.eventType} · ${n.severity}`,
        tone: n.severity
      }
    case "retry":
      return {
        icon: "↺",
        title: `Provider retry #${n.attempt}`,
        meta: [
          n.provider,
          n.statusCode === null ? "" : String(n.statusCode),
          n.retryAfterMs === null
            ? ""
            : `retry after ${duration(n.retryAfterMs)}`,
          n.reason
        ].filter((s) => s !== "").join(" · "),
        tone: "warning"
      }
    case "end":
      return {
        icon: n.status === "success" ? "■" : "✖",
        title: n.eventType === "run.completed"
          ? `Completed (${statusLabel(n.status)})`
          : n.eventType.replace("run.", "Run "),
        meta: [n.failureReason ?? "", n.reason ?? ""].filter((s) => s !== "").join(" · "),
        ...(n.answer !== null ? { preview: n.answer.text } : n.error !== null ? { preview: n.error.message } : {}),
        tone: n.status === "success" ? "ok" : "error"
      }
  }
}

const TimelineList = ({ nodes, selected, onSelect }: {
  readonly nodes: ReadonlyArray<Node>
  readonly selected: number | undefined
  readonly onSelect: (seq: number) => void
}) => (
  <ol class="timeline" aria-label="Timeline">
    {nodes.map((n) => {
      const d = describe(n)
      return (
        <li
          key={`${n._tag}-${n.sequenceIndex}`}
          class={`node ${n._tag} ${d.tone ?? ""} ${selected === n.sequenceIndex ? "selected" : ""}`}
          data-node-type={n._tag}
          data-seq={n.sequenceIndex}
        >
          <button type="button" onClick={() => onSelect(n.sequenceIndex)} aria-pressed={selected === n.sequenceIndex}>
            <span class="icon" aria-hidden="true">{d.icon}</span>
            <span class="body">
              <span class="line">
                <b>{d.title}</b>
                <span class="seq muted">#{n.sequenceIndex} · it. {n.iteration}</span>
                <Time iso={n.at}>{localClock(n.at)}</Time>
              </span>
              {d.meta !== "" && <span class="meta">{d.meta}</span>}
              {d.preview !== undefined && <span class="preview">{d.preview.slice(0, 200)}</span>}
            </span>
          </button>
        </li>
      )
    })}
  </ol>
)

const TokenChart = ({ nodes }: { readonly nodes: ReadonlyArray<Node> }) => {
  const byIteration = new Map<number, { input: number; output: number }>()
  for (const n of nodes) {
    if (n._tag !== "llmCall") continue
    const entry = byIteration.get(n.iteration) ?? { input: 0, output: 0 }
    entry.input += n.inputTokens ?? 0
    entry.output += n.outputTokens ?? 0
    byIteration.set(n.iteration, entry)
  }
  const iterations = [...byIteration.keys()].sort((a, b) => a - b)
  if (iterations.length === 0) return null
  return (
    <section class="panel">
      <h2>Tokens per iteration</h2>
      <Bars
        label="Input and output tokens per iteration"
        categories={iterations.map(String)}
        series={[
          { name: "input", className: "s-input", values: iterations.map((i) => byIteration.get(i)!.input) },
          { name: "output", className: "s-output", values: iterations.map((i) => byIteration.get(i)!.output) }
        ]}
        format={count}
      />
    </section>
  )
}

type TreeNode = Tree["children"][number]

const TreeItem = ({ node, current }: { readonly node: TreeNode; readonly current: string }) => (
  <li data-tree-run={node.run.id}>
    <a href={href(`runs/${node.run.id}`)} aria-current={node.run.id === current ? "page" : undefined}>
      {node.run.agentName}
    </a>{" "}
    <Status status={node.run.status} />{" "}
    <span class="muted">
      {count(node.run.totals.inputTokens + node.run.totals.outputTokens)} tokens · {usd(node.run.totals.costUsd)}
    </span>
    {node.children.length > 0 && (
      <ul>
        {node.children.map((c) => <TreeItem key={c.run.id} node={c} current={current} />)}
      </ul>
    )}
  </li>
)

const SignalsPanel = ({ signals }: { readonly signals: Signals }) => {
  if (signals.items.length === 0) return null
  const live = signals.items.filter((s) => !s.shadow).length
  return (
    <section class="panel run-signals" aria-label="Signals">
      <h2>
        Signals{" "}
        <span class="muted">
          {live} live{live === signals.items.length ? "" : `, ${signals.items.length - live} shadow`}
        </span>
      </h2>
      {signals.items.map((s) => <SignalCard key={s.id} signal={s} runLink={false} />)}
    </section>
  )
}

const Delegation = ({ tree }: { readonly tree: Tree }) => {
  if (tree.ancestors.length === 0 && tree.children.length === 0) return null
  const s = tree.subtreeTotals
  return (
    <section class="panel delegation">
      <h2>Delegation</h2>
      {tree.ancestors.length > 0 && (
        <p class="breadcrumb">
          {tree.ancestors.map((a) => (
            <span key={a.id}>
              <a href={href(`runs/${a.id}`)}>{a.agentName}</a> ›{" "}
            </span>
          ))}
          <b>{tree.run.agentName}</b>
        </p>
      )}
      <ul class="tree">
        <TreeItem node={{ run: tree.run, children: tree.children }} current={tree.run.id} />
      </ul>
      <p class="muted subtree">
        Subtree: {s.runCount} runs · {count(s.inputTokens)} in / {count(s.outputTokens)} out · {usd(s.costUsd)}
        {s.unpricedCallCount > 0 ? ` (${s.unpricedCallCount} unpriced calls)` : ""}
      </p>
    </section>
  )
}

/** The run page. */
export const RunPage = ({ location }: { readonly location: Location }) => {
  const runId = location.path.slice("runs/".length)
  const [data, setData] = useState<Loaded | undefined>()
  const [error, setError] = useState<unknown>()
  const [live, setLive] = useState(false)
  const visible = useVisible()
  const refresh = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const nodeParam = location.query.get("node")
  const view = location.query.get("view") ?? "formatted"

  useEffect(() => {
    setData(undefined)
    setError(undefined)
    const controller = new AbortController()
    loadAll(runId, controller.signal).then(setData, (e: unknown) => !controller.signal.aborted && setError(e))
    return () => controller.abort()
  }, [runId])

  const ended = data !== undefined && TERMINAL.has(data.timeline.status) &&
    data.timeline.nodes.some((n) => n._tag === "end")
  // Follow the tail while the run has not ended and the tab is visible; each event schedules one refresh.
  useEffect(() => {
    if (data === undefined || ended || !visible) return
    const controller = new AbortController()
    setLive(true)
    const schedule = () => {
      if (refresh.current !== undefined) return
      refresh.current = setTimeout(() => {
        refresh.current = undefined
        loadAll(runId).then(setData, setError)
      }, 150)
    }
    tail(runId, data.timeline.lastSequenceIndex, schedule, controller.signal, () => {
      setLive(false)
      schedule()
    })
    return () => {
      controller.abort()
      setLive(false)
    }
  }, [runId, data === undefined, ended, visible])

  if (error !== undefined) return <ErrorBox error={error} />
  if (data === undefined) return <Loading what="the run" />
  const nodes = data.timeline.nodes
  const selectedSeq = nodeParam === null ? undefined : Number(nodeParam)
  const selectedNode = nodes.find((n) => n.sequenceIndex === selectedSeq)
  const select = (seq: number) => navigate(href(`runs/${runId}`, { node: String(seq), view }), { replace: false })
  const setView = (v: string) =>
    navigate(href(`runs/${runId}`, { node: nodeParam ?? undefined, view: v }), { replace: true })
  return (
    <div class="run-page">
      <p class="back">
        <a href={href("")}>← Runs</a>
      </p>
      <Header run={data.run} live={live} />
      <div class="columns">
        <div class="left">
          <SignalsPanel signals={data.signals} />
          <section class="panel">
            <h2>
              Timeline <span class="muted">{nodes.length} nodes</span>
            </h2>
            <TimelineList nodes={nodes} selected={selectedSeq} onSelect={select} />
          </section>
          <TokenChart nodes={nodes} />
          <Delegation tree={data.tree} />
        </div>
        <aside class="right">
          {selectedNode === undefined
            ? <p class="muted hint">Select a node of the timeline to inspect its payloads.</p>
            : <Inspector runId={runId} node={selectedNode} view={view} onView={setView} />}
        </aside>
      </div>
    </div>
  )
}
