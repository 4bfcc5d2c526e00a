/**
 * The live tail of a run over the router's SSE route, read with `fetch` (EventSource cannot send the bearer
 * header, and a token in the URL would end up in logs and history). Reconnects with `Last-Event-ID` after a
 * dropped connection; ends when the server ends the stream (after the run's terminal event).
 */
import type { Success } from "./api.js"
import { fetchApi, urlOf } from "./api.js"

/** One recorded event as the stream sends it. */
export type StreamedEvent = Success<"getEvents">["items"][number]

/** The event types after which a run records nothing more (the server ends the stream after them). */
export const terminalEventTypes: ReadonlySet<string> = new Set([
  "run.completed",
  "run.failed",
  "run.cancelled",
  "run.interrupted",
  "run.abandoned"
])

/** Follows a run's events after `after` until the stream ends or `signal` aborts; `onEnd` runs once at the end. */
export const tail = (
  runId: string,
  after: number,
  onEvent: (event: StreamedEvent) => void,
  signal: AbortSignal,
  onEnd: () => void = () => {}
): void => {
  let last = after
  let ended = false
  // Resolves true once the terminal event was read; a stream that ends before it (a proxy cut it) reconnects.
  const connect = async (): Promise<boolean> => {
    const url = urlOf("streamEvents", { runId }, after >= 0 ? { after: last } : {})
    const res = await fetchApi(url, {
      signal,
      headers: { accept: "text/event-stream", ...(last >= 0 ? { "last-event-id": String(last) } : {}) }
    })
    if (res.status === 404) return true
    if (!res.ok || res.body === null) return false
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return ended
      buffer += value
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart())
        const id = block.split("\n").find((l) => l.startsWith("id:"))
        if (data.length === 0 || block.startsWith("event: error")) continue
        const event = JSON.parse(data.join("\n")) as StreamedEvent
        if (id !== undefined) last = Number(id.slice(3).trim())
        if (terminalEventTypes.has(event.eventType)) ended = true
        onEvent(event)
      }
    }
  }
  const loop = async () => {
    for (let failures = 0; !signal.aborted && failures < 30;) {
      try {
        if (await connect()) break
        failures++
      } catch {
        if (signal.aborted) break
        failures++
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** Math.min(failures, 5))))
    }
    if (!signal.aborted) onEnd()
  }
  void loop()
}
