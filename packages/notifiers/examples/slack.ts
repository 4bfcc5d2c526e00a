/**
 * Slack messages for a failed run and a guardrail block, posted to a local stand-in for a Slack incoming
 * webhook (prints each message's header and link). Run:
 *   node --conditions=@sextant/source --import tsx packages/notifiers/examples/slack.ts
 */
import { SlackNotifier } from "@sextant/notifiers"
import { Agent, AgentRuntime, Recorder, ScriptedModel } from "@sextant/runtime"
import { Layer } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

const slack = createServer((req, res) => {
  let body = ""
  req.on("data", (chunk) => (body += chunk))
  req.on("end", () => {
    const message = JSON.parse(body) as {
      text: string
      blocks: Array<{ type: string; elements?: Array<{ url?: string }> }>
    }
    const link = message.blocks.find((b) => b.type === "actions")?.elements?.[0]?.url
    console.log(`slack: ${message.text}\n       ${link}`)
    res.writeHead(200).end("ok")
  })
})
await new Promise<void>((ready) => slack.listen(0, "127.0.0.1", ready))
const webhookUrl = `http://127.0.0.1:${(slack.address() as AddressInfo).port}/services/T000/B000/XXX`

const notifier = SlackNotifier.make({ webhookUrl, runLinkBaseUrl: "https://ops.example.com/sextant" })
const runtime = AgentRuntime.make(
  Layer.merge(ScriptedModel.layer([{ fail: "model provider returned 500" }]), Recorder.memory),
  { notifiers: [notifier] }
)
await runtime.run(Agent.makeSync({ name: "support", instructions: "Help." }), "My order is late")
await runtime.dispose()
slack.close()
