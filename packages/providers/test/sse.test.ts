import { describe, expect, it } from "@effect/vitest"
import { SseParser } from "../src/internal/sse.js"

const body =
  "event: a\ndata: {\"x\":1}\n\n: a comment\ndata: line one\ndata: line two\n\r\nevent: b\r\ndata:no-space\r\n\r\ndata: [DONE]\n\n"
const expected = [
  { event: "a", data: "{\"x\":1}" },
  { event: undefined, data: "line one\nline two" },
  { event: "b", data: "no-space" },
  { event: undefined, data: "[DONE]" }
]

describe("SseParser", () => {
  it("parses events, comments, multi-line data and CRLF", () => {
    const parser = new SseParser()
    expect([...parser.feed(body), ...parser.end()]).toEqual(expected)
  })

  it("gives the same events whatever the chunk boundaries", () => {
    for (let size = 1; size <= 7; size++) {
      const parser = new SseParser()
      const events = []
      for (let i = 0; i < body.length; i += size) events.push(...parser.feed(body.slice(i, i + size)))
      events.push(...parser.end())
      expect(events).toEqual(expected)
    }
  })

  it("keeps a last event that lacks its blank line", () => {
    const parser = new SseParser()
    expect(parser.feed("data: tail")).toEqual([])
    expect(parser.end()).toEqual([{ event: undefined, data: "tail" }])
  })
})
