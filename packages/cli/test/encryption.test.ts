/**
 * An encrypted database read by the real binary on both dialects: `show`, `export` and `detect` open sealed
 * content with `SEXTANT_ENCRYPTION_KEYS`, and without the key (or with a wrong one) fail naming the key and the
 * variable, never printing ciphertext or reading it as data.
 */
import { Encryption, SqlRecorder } from "@sextant/recorder"
import { Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase, runAgent, sextant } from "./support.js"

const SECRET = "SECRET-MARKER-c41e"
const key1 = Buffer.alloc(32, 3).toString("base64")
const wrong = Buffer.alloc(32, 4).toString("base64")
const withKeys = { SEXTANT_ENCRYPTION_KEYS: `k1:${key1}` }
// The sealed-value prefix (U+0010 "e1:"), raw or JSON-escaped.
const CIPHERTEXT = new RegExp(`\\\\u0010e1:|${String.fromCharCode(0x10)}e1:`)

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`sextant over an encrypted ${dialect} database`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let runId: string
    beforeAll(async () => {
      db = await freshDatabase(dialect)
      const recorder = ManagedRuntime.make(
        SqlRecorder.layerFromUrl(db.url).pipe(
          Layer.provideMerge(Encryption.layer({ keys: { k1: key1 }, current: "k1" })),
          Layer.orDie
        )
      )
      runId = (await recorder.runPromise(runAgent("weather", [
        { toolCalls: [{ name: "get_weather", arguments: { city: SECRET } }] },
        { text: `sunny in ${SECRET}` }
      ]))).runId
      await recorder.runPromise(runAgent("support", [{ fail: `vendor down ${SECRET}` }]))
      await recorder.dispose()
    }, 60_000)
    afterAll(() => db?.drop())

    it("show and export decrypt with SEXTANT_ENCRYPTION_KEYS", async () => {
      const shown = await sextant(["show", runId, "--json", "--database-url", db.url], { env: withKeys })
      expect(shown.stderr).toBe("")
      expect(shown.code).toBe(0)
      expect(shown.stdout).toContain(`sunny in ${SECRET}`)
      expect(shown.stdout).not.toMatch(CIPHERTEXT)
      const exported = await sextant(["export", "--database-url", db.url], { env: withKeys })
      expect(exported.code).toBe(0)
      expect(exported.stdout.trim().split("\n")).toHaveLength(2)
      expect(exported.stdout).toContain(`sunny in ${SECRET}`)
      expect(exported.stdout).not.toMatch(CIPHERTEXT)
    }, 60_000)

    it("without the key, or with a wrong one, they fail naming the key and SEXTANT_ENCRYPTION_KEYS", async () => {
      for (const command of [["show", runId], ["export"]]) {
        const missing = await sextant([...command, "--database-url", db.url])
        expect(missing.code, command[0]).toBe(1)
        expect(missing.stdout).not.toMatch(CIPHERTEXT)
        expect(missing.stderr).toContain("key 'k1'")
        expect(missing.stderr).toContain("SEXTANT_ENCRYPTION_KEYS")
        const bad = await sextant([...command, "--database-url", db.url], {
          env: { SEXTANT_ENCRYPTION_KEYS: `k1:${wrong}` }
        })
        expect(bad.code, command[0]).toBe(1)
        expect(bad.stdout).not.toMatch(CIPHERTEXT)
        expect(bad.stderr).toContain("does not decrypt with the key given")
      }
    }, 60_000)

    it("detect reads the sealed events with the keys, and says so without them", async () => {
      const found = await sextant(["detect", "--json", "--database-url", db.url], { env: withKeys })
      expect(found.stderr).toBe("")
      expect(found.code).toBe(0)
      const out = JSON.parse(found.stdout)
      expect(out).toMatchObject({ runs: 2, detectorFailures: 0 })
      expect(out.signals).toBeGreaterThan(0)
      const missing = await sextant(["detect", "--json", "--database-url", db.url])
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain("key 'k1'")
      expect(missing.stderr).toContain("SEXTANT_ENCRYPTION_KEYS")
    }, 60_000)
  })
}
