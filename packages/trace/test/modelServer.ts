/**
 * A loopback model server speaking OpenAI's Chat Completions wire format (`POST /v1/chat/completions`),
 * whole or as SSE (`stream: true`, with a final usage chunk), answering from a script of turns: each turn is
 * tool calls or text, with the token counts it reports. The request bodies it received are kept.
 */
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"

/** One scripted turn: the model asks for tools, or answers in text. */
export type Turn =
  | {
    readonly toolCalls: ReadonlyArray<{ readonly id: string; readonly name: string; readonly args: unknown }>
    readonly usage: readonly [number, number]
  }
  | { readonly text: string; readonly usage: readonly [number, number] }

/** The running server. */
export interface ModelServer {
  /** The base URL, ending in `/v1`. */
  readonly url: string
  /** The JSON bodies received, in order. */
  readonly requests: Array<any>
  readonly close: () => Promise<void>
}

const read = async (req: IncomingMessage): Promise<any> => {
  const parts: Array<Buffer> = []
  for await (const chunk of req) parts.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(parts).toString("utf8"))
}

const usageOf = ([prompt, completion]: readonly [number, number]) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion
})

/** Starts the server on 127.0.0.1 with the script's turns, answered in order. */
export const startModelServer = async (script: ReadonlyArray<Turn>, model = "gpt-loopback"): Promise<ModelServer> => {
  const requests: Array<any> = []
  let next = 0
  const server: Server = createServer((req, res) => {
    void read(req).then((body) => {
      requests.push(body)
      const turn = script[next++]
      if (req.url !== "/v1/chat/completions" || turn === undefined) {
        res.writeHead(404, { "content-type": "application/json" })
        res.end(
          JSON.stringify({ error: { message: `no scripted turn for ${req.url}`, type: "invalid_request_error" } })
        )
        return
      }
      const id = `chatcmpl-${next}`
      const created = 1767225600
      const finish = "toolCalls" in turn ? "tool_calls" : "stop"
      if (body.stream !== true) {
        const message = "toolCalls" in turn
          ? {
            role: "assistant",
            content: null,
            tool_calls: turn.toolCalls.map((c) => ({
              id: c.id,
              type: "function",
              function: { name: c.name, arguments: JSON.stringify(c.args) }
            }))
          }
          : { role: "assistant", content: turn.text }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({
          id,
          object: "chat.completion",
          created,
          model,
          choices: [{ index: 0, message, finish_reason: finish, logprobs: null }],
          usage: usageOf(turn.usage)
        }))
        return
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
      const chunk = (choices: Array<unknown>, extra: object = {}) =>
        res.write(
          `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices, ...extra })}\n\n`
        )
      chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }])
      if ("toolCalls" in turn) {
        turn.toolCalls.forEach((c, index) => {
          const args = JSON.stringify(c.args)
          const half = Math.ceil(args.length / 2)
          chunk([{
            index: 0,
            delta: {
              tool_calls: [{
                index,
                id: c.id,
                type: "function",
                function: { name: c.name, arguments: args.slice(0, half) }
              }]
            },
            finish_reason: null
          }])
          chunk([{
            index: 0,
            delta: { tool_calls: [{ index, function: { arguments: args.slice(half) } }] },
            finish_reason: null
          }])
        })
      } else {
        for (const piece of turn.text.split(/(?<= )/)) {
          chunk([{ index: 0, delta: { content: piece }, finish_reason: null }])
        }
      }
      chunk([{ index: 0, delta: {}, finish_reason: finish }])
      chunk([], { usage: usageOf(turn.usage) })
      res.end("data: [DONE]\n\n")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  return {
    url,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
