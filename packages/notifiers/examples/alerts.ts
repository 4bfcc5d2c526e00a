/**
 * Alert rules on a run whose tool keeps failing: the alerts go to the console (any notifier can deliver them),
 * grouped with a JSONL log in a composite. Run:
 *   node --conditions=@sextant/source --import tsx packages/notifiers/examples/alerts.ts
 */
import { AlertNotifier, AlertRules, CompositeNotifier, ConsoleNotifier } from "@sextant/notifiers"
import { Agent, AgentRuntime, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Layer, Schema } from "effect"

const flaky = Tool.make("fetch_invoice", {
  description: "Fetches an invoice",
  parameters: Schema.Struct({ id: Schema.String }),
  handler: () => Promise.reject(new Error("billing service unavailable"))
})
const retry = {
  toolCalls: [{ name: "fetch_invoice", arguments: { id: "INV-7" } }],
  usage: { inputTokens: 400, outputTokens: 20, costUsd: 0.004 }
}
const model = ScriptedModel.layer([retry, retry, retry, { text: "The billing service is down; try later." }])

const alerts = AlertNotifier.make({
  rules: [
    AlertRules.toolFailuresInARow(3),
    AlertRules.sameToolInARow(3),
    AlertRules.costAbove(0.01),
    AlertRules.runFailed()
  ],
  deliver: ConsoleNotifier.make({ name: "alert-console" })
})
const runtime = AgentRuntime.make(Layer.merge(model, Recorder.memory), {
  notifiers: [CompositeNotifier.make([alerts])]
})
await runtime.run(Agent.makeSync({ name: "billing", instructions: "Fetch invoices.", tools: [flaky] }), "Get INV-7")
await runtime.dispose()
