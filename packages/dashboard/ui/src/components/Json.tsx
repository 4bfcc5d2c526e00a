/**
 * A JSON (or text) value, pretty-printed and capped: only the first part is rendered, with a button for more
 * and a download of the whole, so a payload of megabytes never freezes the page.
 */
import { useMemo, useState } from "preact/hooks"
import { size } from "../format.js"

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

/** A capped view of a value. */
export const Json = ({ value, label }: { readonly value: unknown; readonly label?: string }) => {
  const text = useMemo(() => textOf(value), [value])
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
