/**
 * A JSON (or text) value, pretty-printed and capped: only the first part is rendered, with a button for more
 * and a download of the whole, so a payload of megabytes never freezes the page. A value the runtime's size
 * cap replaced (`{ truncated: { bytes, sha256, blob? } }`) reads as a sentence, not as its raw JSON.
 */
import { useMemo, useState } from "preact/hooks"
import { count, size } from "../format.js"

const STEP = 20_000
const MAX = 2_000_000

const textOf = (value: unknown): string => {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value, null, 2) ?? "null"
  } catch {
    return String(value)
  }
}

/** What the redaction policy's size cap leaves of a value: its size in UTF-8 bytes, its SHA-256, its blob. */
export interface Truncation {
  readonly bytes: number
  readonly sha256: string
  readonly blob?: string
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The size cap's marker, when `value` is one (an object whose one key is `truncated`). */
export const truncationOf = (value: unknown): Truncation | undefined => {
  if (!isRecord(value)) return undefined
  const keys = Object.keys(value)
  const t = value.truncated
  if (keys.length !== 1 || !isRecord(t)) return undefined
  if (typeof t.bytes !== "number" || typeof t.sha256 !== "string") return undefined
  if (t.blob !== undefined && typeof t.blob !== "string") return undefined
  return t.blob === undefined
    ? { bytes: t.bytes, sha256: t.sha256 }
    : { bytes: t.bytes, sha256: t.sha256, blob: t.blob }
}

/** The markers inside a value with the path of each (a bounded walk: a huge payload is not searched whole). */
const markersIn = (value: unknown): ReadonlyArray<{ readonly path: string; readonly marker: Truncation }> => {
  const found: Array<{ path: string; marker: Truncation }> = []
  let budget = 5_000
  const visit = (v: unknown, path: string, depth: number) => {
    if (budget-- <= 0 || depth > 8 || typeof v !== "object" || v === null) return
    const marker = truncationOf(v)
    if (marker !== undefined) return void found.push({ path, marker })
    if (Array.isArray(v)) v.forEach((item, i) => visit(item, `${path}[${i}]`, depth + 1))
    else for (const [k, item] of Object.entries(v)) visit(item, path === "" ? k : `${path}.${k}`, depth + 1)
  }
  visit(value, "", 0)
  return found
}

/** A size cap's marker as a sentence: how large the value was, its SHA-256 and where the whole is kept. */
export const Truncated = ({ marker, path }: { readonly marker: Truncation; readonly path?: string }) => (
  <p class="truncated" data-truncated-bytes={marker.bytes}>
    {path !== undefined && path !== "" && (
      <>
        <code>{path}</code>:{" "}
      </>
    )}
    Value of {count(marker.bytes)} bytes removed by the size cap, sha256 <code class="hash">{marker.sha256}</code>
    {marker.blob === undefined
      ? "; the full value was not kept."
      : (
        <>
          ; the full value is in the blob store as <code class="blob">{marker.blob}</code>.
        </>
      )}
  </p>
)

/** A capped view of a value (or the sentence of a size cap's marker). */
export const Json = ({ value, label }: { readonly value: unknown; readonly label?: string }) => {
  const whole = useMemo(() => truncationOf(value), [value])
  return whole !== undefined ? <Truncated marker={whole} /> : <JsonText value={value} label={label} />
}

const JsonText = ({ value, label }: { readonly value: unknown; readonly label: string | undefined }) => {
  const text = useMemo(() => textOf(value), [value])
  const markers = useMemo(() => markersIn(value), [value])
  const [shown, setShown] = useState(STEP)
  const cut = text.length > shown
  const download = () => {
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }))
    const a = document.createElement("a")
    a.href = url
    a.download = `${label ?? "payload"}.json`
    a.click()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  }
  return (
    <div class="json">
      {markers.map(({ path, marker }) => <Truncated key={path} marker={marker} path={path} />)}
      <pre tabIndex={0}>{cut ? text.slice(0, shown) : text}</pre>
      {cut && (
        <div class="json-more">
          <span class="muted">
            Showing {size(shown)} of {size(text.length)} characters.
          </span>
          {shown < MAX && (
            <button type="button" onClick={() => setShown(Math.min(MAX, shown * 4))}>
              Show more
            </button>
          )}
          <button type="button" onClick={download}>
            Download all
          </button>
        </div>
      )}
    </div>
  )
}
