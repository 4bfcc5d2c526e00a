/**
 * A value the redaction policy's size cap replaced, in Chromium: the runtime records a tool result larger
 * than `maxFieldBytes` as `{ truncated: { bytes, sha256, blob? } }`; the inspector reads it as a sentence
 * (its size, its SHA-256, its blob reference when a blob store kept the whole) rather than as raw JSON, and
 * names where such a marker sits inside a larger record.
 */
import { Agent, Redaction, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTempDir } from "../../../test-support/databases.js"
import { browse, type Browsing, freshDatabase, recorderOf, screenshot } from "./support.js"

const CAP = 4096
const dump = Tool.make("dump_table", {
  description: "Returns a large table",
  parameters: Schema.Struct({ rows: Schema.Number }),
  handler: ({ rows }) => ({ rows: Array.from({ length: rows }, (_, i) => ({ i, v: "0123456789" })) })
})
/** The tool's result as the runtime measures it: its JSON in UTF-8. */
const full = (rows: number) =>
  JSON.stringify({ rows: Array.from({ length: rows }, (_, i) => ({ i, v: "0123456789" })) })

const run = (name: string, rows: number, redaction: Redaction.Config) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name, instructions: "", tools: [dump], redaction })
    const result = yield* agent.run("Dump the table").pipe(Effect.provide(ScriptedModel.layer([
      { toolCalls: [{ name: "dump_table", arguments: { rows } }], usage: { inputTokens: 9, outputTokens: 2 } },
      { text: "Dumped.", usage: { inputTokens: 9, outputTokens: 2 } }
    ])))
    return result.runId
  })

describe("a value removed by the size cap, in the dashboard (Express at /api/sextant, SQLite)", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let recorder: ReturnType<typeof recorderOf>
  let blobs: ReturnType<typeof createTempDir>
  let session: Browsing
  let kept: string
  let dropped: string

  const inspectTool = async (runId: string) => {
    const page = session.page
    await session.open(`runs/${runId}`)
    await page.locator("li[data-node-type=toolCall] button").click()
    await page.locator("section.inspector h4", { hasText: "Result" }).waitFor()
    return page.locator("section.inspector")
  }

  beforeAll(async () => {
    db = await freshDatabase("sqlite")
    blobs = createTempDir()
    recorder = recorderOf(db.url)
    kept = await recorder.runPromise(run("kept", 500, { maxFieldBytes: CAP, blobs: Redaction.directory(blobs.path) }))
    dropped = await recorder.runPromise(run("dropped", 400, { maxFieldBytes: CAP }))
    session = await browse(db.url)
    await session.page.locator("tr[data-run-id]").first().waitFor()
  }, 120_000)
  afterAll(async () => {
    await session?.close()
    await recorder?.dispose()
    await db?.drop()
    blobs?.remove()
  })

  it("reads a capped tool result as its size, SHA-256 and blob reference, not as raw JSON", async () => {
    const hash = Redaction.sha256(full(500))
    const inspector = await inspectTool(kept)
    const marker = inspector.locator("p.truncated")
    await marker.waitFor()
    expect(await marker.getAttribute("data-truncated-bytes")).toBe(String(Buffer.byteLength(full(500))))
    expect(await marker.textContent()).toBe(
      `Value of ${Buffer.byteLength(full(500)).toLocaleString("en-US")} bytes removed by the size cap, sha256 ${hash}` +
        `; the full value is in the blob store as ${Redaction.blobRef(hash)}.`
    )
    // The formatted view shows the sentence in place of the marker's JSON.
    const results = await inspector.locator(".json pre").allTextContents()
    expect(results.some((t) => t.includes("\"truncated\""))).toBe(false)
    await screenshot(session.page, "truncated")
  })

  it("says when no blob store kept the whole value", async () => {
    const inspector = await inspectTool(dropped)
    const marker = inspector.locator("p.truncated")
    await marker.waitFor()
    expect(await marker.textContent()).toBe(
      `Value of ${Buffer.byteLength(full(400)).toLocaleString("en-US")} bytes removed by the size cap, sha256 ` +
        `${Redaction.sha256(full(400))}; the full value was not kept.`
    )
  })

  it("names the marker's place inside a larger record (the raw view)", async () => {
    const inspector = await inspectTool(kept)
    await inspector.locator("button[data-view=raw]").click()
    const marker = inspector.locator("[data-active-view=raw] p.truncated")
    await marker.waitFor()
    const text = (await marker.textContent())!
    expect(text).toMatch(/^result: Value of [\d,]+ bytes removed by the size cap, sha256 [0-9a-f]{64}; /)
    expect(text).toContain(Redaction.blobRef(Redaction.sha256(full(500))))
  })
})
