import { SqlRecorder } from "@sextant/recorder"
import { Notifier, Notifiers } from "@sextant/runtime"
import { Layer } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { createTempDir } from "../../../test-support/databases.js"
import { Trace } from "../src/index.js"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

const PASSWORD = "hunter2-Very-Secret-7781"
const EMAIL = "dpo.office@example.com"
const policy = {
  rules: [
    { keys: ["password"], action: "drop" as const },
    { pattern: /[\w.]+@example\.com/g, action: "mask" as const }
  ]
}

/** A traced run (and its child) that sees the raw values in its input, a model call, a tool and an event. */
const traced = async (onlyOnError: boolean) => {
  const dir = createTempDir()
  cleanups.push(dir.remove)
  const file = join(dir.path, "trace.db")
  const seen: Array<string> = []
  const tracer = Trace.make(Layer.merge(
    SqlRecorder.layerFromUrl(`sqlite:${file}`),
    Notifiers.layer([Notifier.make({ name: "collect", onEvent: (e) => void seen.push(JSON.stringify(e)) })])
  ))
  const body = async (run: Trace.PromiseRun) => {
    await run.llm({ model: "m", provider: "p", text: `write to ${EMAIL}`, usage: { inputTokens: 1, outputTokens: 1 } })
    await run.tool("login", { user: "ana", password: PASSWORD }, () => ({ ok: true, contact: EMAIL }))
    await run.event("custom.note", { password: PASSWORD, note: `cc ${EMAIL}` })
    await tracer.run("child", {}, async (child) => {
      await child.tool("lookup", { q: EMAIL }, () => ({ found: EMAIL }))
    })
    if (onlyOnError) throw new Error("the agent failed")
  }
  await tracer.run(
    "bot",
    { input: { ask: `mail ${EMAIL}`, password: PASSWORD }, redaction: policy, onlyOnError },
    body
  ).catch(() => undefined)
  await tracer.close()
  return { bytes: readFileSync(file), seen }
}

describe("Trace.run with a redaction policy", () => {
  for (const onlyOnError of [false, true]) {
    it(`keeps the policy's values out of the database file and every notifier${onlyOnError ? " (held until the run fails)" : ""}`, async () => {
      const { bytes, seen } = await traced(onlyOnError)
      expect(seen.length).toBeGreaterThan(8)
      for (const raw of [PASSWORD, EMAIL]) {
        expect(bytes.includes(Buffer.from(raw)), `${raw} in the SQLite file`).toBe(false)
        expect(seen.filter((e) => e.includes(raw)), `${raw} in a notifier event`).toEqual([])
      }
    })
  }

  it("a bad policy fails the run's start naming the setting", async () => {
    const dir = createTempDir()
    cleanups.push(dir.remove)
    const tracer = Trace.make(SqlRecorder.layerFromUrl(`sqlite:${join(dir.path, "t.db")}`))
    await expect(
      tracer.run("bot", { redaction: { rules: [{ keys: ["x"], action: "shred" as never }] } }, async () => 1)
    ).rejects.toThrow(/redaction/)
    await tracer.close()
  })
})
