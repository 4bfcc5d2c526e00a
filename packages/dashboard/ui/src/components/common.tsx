/** Small shared pieces: times with their UTC value on hover, status badges, errors, loading states. */
import type { ComponentChildren } from "preact"
import { localTime, statusLabel, utcTitle } from "../format.js"

/** A time in the viewer's zone; hover shows UTC. */
export const Time = ({ iso, children }: { readonly iso: string | null; readonly children?: ComponentChildren }) =>
  iso === null ? <span class="muted">—</span> : (
    <time dateTime={iso} title={utcTitle(iso)}>
      {children ?? localTime(iso)}
    </time>
  )

const statusClass = (status: string) =>
  status === "success"
    ? "ok"
    : status === "error" || status === "max_iterations"
    ? "bad"
    : status === "running"
    ? "live"
    : status.startsWith("waiting")
    ? "wait"
    : "neutral"

/** A run status as a coloured badge. */
export const Status = ({ status }: { readonly status: string }) => (
  <span class={`badge ${statusClass(status)}`} data-status={status}>
    {statusLabel(status)}
  </span>
)

/** An error box. */
export const ErrorBox = ({ error }: { readonly error: unknown }) => (
  <div class="error-box" role="alert">
    {error instanceof Error ? error.message : String(error)}
  </div>
)

/** A loading placeholder. */
export const Loading = ({ what }: { readonly what: string }) => <div class="loading">Loading {what}…</div>
