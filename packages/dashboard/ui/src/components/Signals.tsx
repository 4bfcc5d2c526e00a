/**
 * Failure signals as the read API returns them (each with its explanation inline): a severity badge, and a
 * card with the title, what happened, why it matters, the evidence in words and the fixes.
 */
import type { Success } from "../api.js"
import { href } from "../nav.js"
import { Time } from "./common.js"

/** One signal record of the API. */
export type SignalRecord = Success<"listSignals">["items"][number]

/** A signal's severity as a coloured badge. */
export const Severity = ({ severity }: { readonly severity: string }) => (
  <span
    class={`badge ${
      severity === "CRITICAL" || severity === "HIGH" ? "bad" : severity === "MEDIUM" ? "wait" : "neutral"
    }`}
    data-severity={severity}
  >
    {severity.toLowerCase()}
  </span>
)

const steps = (s: SignalRecord) =>
  s.step.start === s.step.end ? `event ${s.step.start}` : `events ${s.step.start}–${s.step.end}`

/** A signal's explanation in full, with a link to the events it points at. */
export const SignalCard = (
  { signal, runLink = true }: { readonly signal: SignalRecord; readonly runLink?: boolean }
) => {
  const e = signal.explanation
  return (
    <article class="signal-card" data-signal-id={signal.id} data-signal-type={signal.type}>
      <header>
        <Severity severity={signal.severity} />
        <b class="signal-title">{e.title}</b>
        <code class="muted">{signal.type}</code>
        {signal.shadow && (
          <span class="badge neutral" title="Recorded, not alerted: the type is in shadow mode">shadow</span>
        )}
      </header>
      <p class="signal-what">{e.what}</p>
      <p class="signal-why">
        <span class="muted">Why it matters:</span>
        {e.whyItMatters}
      </p>
      <p class="signal-evidence">
        <span class="muted">Evidence:</span>
        {e.evidence}
      </p>
      <ol class="signal-fixes" aria-label="Fixes">
        {e.fixes.map((f, i) => (
          <li key={i}>
            {f.description}
            {f.snippet !== undefined && <pre class="text">{f.snippet}</pre>}
          </li>
        ))}
      </ol>
      <p class="muted signal-meta">
        {signal.agentName} · confidence {Math.round(signal.confidence * 100)}% · detected{" "}
        <Time iso={signal.detectedAt} />
        {" · "}
        <a
          href={href(`runs/${signal.runId}`, { node: String(signal.step.start) })}
          data-signal-link={runLink ? "run" : "node"}
        >
          {runLink ? `run ${signal.runId.slice(0, 10)}… at ${steps(signal)}` : steps(signal)}
        </a>
      </p>
    </article>
  )
}
