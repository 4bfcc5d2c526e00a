/**
 * A signed webhook to a local receiver that verifies each request with `verifySignature` and de-duplicates by
 * idempotency key. Run:
 *   node --conditions=@sextant/source --import tsx packages/notifiers/examples/webhook.ts
 */
import { WebhookNotifier, WebhookSignature } from "@sextant/notifiers"
import { Agent, AgentRuntime, Recorder, ScriptedModel } from "@sextant/runtime"
import { Layer } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

const secret = "whsec_example"
const seen = new Set<string>()
const receiver = createServer((req, res) => {
  let body = ""
  req.on("data", (chunk) => (body += chunk))
  req.on("end", () => {
    const ok = WebhookSignature.verifySignature({
      secret,
      body,
      signature: req.headers[WebhookSignature.SIGNATURE_HEADER] as string | undefined,
      timestamp: req.headers[WebhookSignature.TIMESTAMP_HEADER] as string | undefined
    })
    if (!ok) return res.writeHead(401).end()
    const key = req.headers[WebhookSignature.IDEMPOTENCY_HEADER] as string
    if (!seen.has(key)) {
      seen.add(key)
      const payload = JSON.parse(body) as { type: string }
      console.log(`received ${payload.type.padEnd(18)} key ${key}`)
    }
    res.writeHead(204).end()
  })
})
await new Promise<void>((ready) => receiver.listen(0, "127.0.0.1", ready))
const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/sextant`

const runtime = AgentRuntime.make(Layer.merge(ScriptedModel.layer([{ text: "Hello!" }]), Recorder.memory), {
  notifiers: [WebhookNotifier.make({ url, secret, filter: (e) => e._tag !== "MessageAppended" })]
})
await runtime.run(Agent.makeSync({ name: "greeter", instructions: "Greet." }), "Hi")
await runtime.dispose()
receiver.close()
