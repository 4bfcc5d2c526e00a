/**
 * The read router over an encrypted database, on both dialects, served on a loopback socket: with the keys
 * (the store's `SEXTANT_ENCRYPTION_KEYS`) every route returns the decrypted content; without them (or with a
 * wrong key) every route that reads content answers a typed JSON error naming the key, never ciphertext, never
 * an empty 500, and the routes that read no content still answer.
 */
import { Agent, Ids, ScriptedModel, Tool } from "@sextant/runtime"
import type { RunStoreClient } from "@sextant/store"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { weatherTool as weather } from "../../../test-support/tools.js"
import { sealingRecorder } from "../../recorder/test/sealing.js"
import { makeReadRouter, type ReadRouter } from "../src/index.js"
import { freshDatabase, hosts, openStore } from "./support.js"

const SECRET = "SECRET-MARKER-90b2"
const key1 = Buffer.alloc(32, 6).toString("base64")
const wrong = Buffer.alloc(32, 8).toString("base64")
/** The sealed-value prefix (U+0010 "e1:"), raw or JSON-escaped. */
const CIPHERTEXT = new RegExp(`\\\\u0010e1:|${String.fromCharCode(0x10)}e1:`)

const confirm = Tool.make("confirm_payment", {
  description: "Asks the user to confirm",
  parameters: Schema.Struct({ item: Schema.String }),
  target: "client"
})

/** Opens a store with `SEXTANT_ENCRYPTION_KEYS` set to `keys` while it is made (unset for `undefined`). */
const storeWith = async (url: string, keys: string | undefined) => {
  const before = process.env.SEXTANT_ENCRYPTION_KEYS
  if (keys === undefined) delete process.env.SEXTANT_ENCRYPTION_KEYS
  else process.env.SEXTANT_ENCRYPTION_KEYS = keys
  try {
    return await openStore(url)
  } finally {
    if (before === undefined) delete process.env.SEXTANT_ENCRYPTION_KEYS
    else process.env.SEXTANT_ENCRYPTION_KEYS = before
  }
}

/** The routes that read a run's content, and those that read none. */
const contentRoutes = (runId: string, paused: string) => [
  `/runs/${runId}`,
  `/runs/${runId}/events`,
  `/runs/${runId}/traces`,
  `/runs/${runId}/tool-calls`,
  `/runs/${runId}/llm-calls`,
  `/runs/${runId}/timeline`,
  `/runs/${paused}/pauses`,
  `/runs/${runId}/events/stream`,
  "/export"
]

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`read router over an encrypted ${dialect} database`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    const ids = { run: "", paused: "" }
    const stores: Array<RunStoreClient> = []
    const routers: Array<ReadRouter> = []
    const closers: Array<() => Promise<void>> = []
    const serve = async (keys: string | undefined) => {
      const store = await storeWith(db.url, keys)
      stores.push(store)
      const router = makeReadRouter({ store, keepAliveMs: 100, pollIntervalMs: 20 })
      routers.push(router)
      const started = await hosts[0]!.start(router, "/api")
      closers.push(started.close)
      return async (path: string) => {
        const res = await fetch(started.base + path)
        const text = await res.text()
        return { status: res.status, type: res.headers.get("content-type") ?? "", text }
      }
    }

    beforeAll(async () => {
      db = await freshDatabase(dialect)
      const recorder = sealingRecorder(db.url, key1)
      await recorder.runPromise(Effect.gen(function*() {
        const agent = yield* Agent.make({ name: "weather", instructions: "Be brief.", tools: [weather, confirm] })
        ids.run = (yield* agent.run(`Weather in ${SECRET}?`, { runId: Ids.make() }).pipe(
          Effect.provide(ScriptedModel.layer([
            { toolCalls: [{ name: "get_weather", arguments: { city: SECRET } }] },
            { text: `sunny in ${SECRET}` }
          ]))
        )).runId
        ids.paused = (yield* agent.run(`Pay for ${SECRET}`).pipe(
          Effect.provide(
            ScriptedModel.layer([{ toolCalls: [{ name: "confirm_payment", arguments: { item: SECRET } }] }])
          )
        )).runId
      }))
      await recorder.dispose()
    }, 60_000)
    afterAll(async () => {
      for (const close of closers) await close()
      for (const router of routers) await router.dispose()
      for (const store of stores) await store.close()
      await db?.drop()
    })

    it("with the keys every route returns the decrypted content", async () => {
      const get = await serve(`k1:${key1}`)
      for (const path of contentRoutes(ids.run, ids.paused)) {
        const res = await get(path)
        expect(res.status, path).toBe(200)
        expect(res.text, path).toContain(SECRET)
        expect(res.text, path).not.toMatch(CIPHERTEXT)
      }
    }, 60_000)

    for (
      const [name, keys, tag] of [
        ["without the keys", undefined, "EncryptionKeyMissing"],
        ["with a wrong key", `k1:${wrong}`, "DecryptionFailed"]
      ] as const
    ) {
      it(`${name} a content route is a typed JSON error naming the key; the others still answer`, async () => {
        const get = await serve(keys)
        for (const path of contentRoutes(ids.run, ids.paused)) {
          const res = await get(path)
          expect(res.text, path).not.toMatch(CIPHERTEXT)
          expect(res.text, path).not.toContain(SECRET)
          expect({ path, status: res.status, type: res.type }).toEqual({
            path,
            status: 500,
            type: expect.stringContaining("application/json")
          })
          const body = JSON.parse(res.text)
          expect(body, path).toMatchObject({ _tag: "ContentEncrypted", keyId: "k1", reason: tag })
          expect(body.message, path).toContain("key 'k1'")
          expect(body.message, path).toContain("SEXTANT_ENCRYPTION_KEYS")
        }
        for (const path of ["/runs", "/run-rows", "/waiting", "/usage", "/signals", "/health"]) {
          const res = await get(path)
          expect(res.status, path).toBe(200)
          expect(res.text, path).not.toMatch(CIPHERTEXT)
        }
      }, 60_000)
    }
  })
}
