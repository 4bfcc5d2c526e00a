/**
 * An incremental parser of `text/event-stream` bodies: feed it text as it arrives, get whole events back.
 * Used to record streamed provider responses and to read chat-completions streams.
 */

/** One server-sent event (only the fields providers use). */
export interface SseEvent {
  readonly event: string | undefined
  readonly data: string
}

/** Parses server-sent events from text chunks that may split lines and events anywhere. */
export class SseParser {
  private buffer = ""
  private event: string | undefined = undefined
  private data: Array<string> = []

  /** Consumes a chunk of text and returns the events it completed. */
  feed(text: string): Array<SseEvent> {
    this.buffer += text
    const events: Array<SseEvent> = []
    let newline = this.buffer.search(/\r\n|\r|\n/)
    while (newline !== -1) {
      const line = this.buffer.slice(0, newline)
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1
      // A lone "\r" at the end of the buffer may be the first half of "\r\n": wait for more text.
      if (width === 1 && this.buffer[newline] === "\r" && newline === this.buffer.length - 1) break
      this.buffer = this.buffer.slice(newline + width)
      this.line(line, events)
      newline = this.buffer.search(/\r\n|\r|\n/)
    }
    return events
  }

  /** Ends the input: a last event without its blank line still counts. */
  end(): Array<SseEvent> {
    const events: Array<SseEvent> = []
    if (this.buffer !== "") this.line(this.buffer, events)
    this.buffer = ""
    this.line("", events)
    return events
  }

  private line(line: string, events: Array<SseEvent>) {
    if (line === "") {
      if (this.data.length > 0) events.push({ event: this.event, data: this.data.join("\n") })
      this.event = undefined
      this.data = []
      return
    }
    if (line.startsWith(":")) return
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? "" : line.slice(colon + (line[colon + 1] === " " ? 2 : 1))
    if (field === "data") this.data.push(value)
    else if (field === "event") this.event = value
  }
}
