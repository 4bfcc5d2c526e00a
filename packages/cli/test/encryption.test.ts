/**
 * An encrypted database read by the real binary on both dialects: `show`, `export` and `detect` open sealed
 * content with `SEXTANT_ENCRYPTION_KEYS`, and without the key (or with a wrong one) fail naming the key and the
 * variable, never printing ciphertext or reading it as data. `encryption stats` counts the sealed values per key
 * (no key needed) and `encryption rotate` re-seals them with a new key, with progress on stderr, after which the
 * old key can be removed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sealingRecorder } from "../../recorder/test/sealing.js"
import { freshDatabase, runAgent, sextant } from "./support.js"

const SECRET = "SECRET-MARKER-c41e"
const key1 = Buffer.alloc(32, 3).toString("base64")
const wrong = Buffer.alloc(32, 4).toString("base64")
const key2 = Buffer.alloc(32, 10).toString("base64")
const withKeys = { SEXTANT_ENCRYPTION_KEYS: `k1:${key1}` }
// The sealed-value prefix (U+0010 "e1:"), raw or JSON-escaped.
const CIPHERTEXT = new RegExp(`\\\\u0010e1:|${String.fromCharCode(0x10)}e1:`)

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`sextant over an encrypted ${dialect} database`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let runId: string
    beforeAll(async () => {
      db = await freshDatabase(dialect)
      const recorder = sealingRecorder(db.url, key1)
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

    it(
      "encryption stats counts values per key; rotate re-seals them with the new key; the old one can go",
      async () => {
        const counted = await sextant(["encryption", "stats", "--json", "--database-url", db.url])
        expect(counted.stderr).toBe("")
        const before = JSON.parse(counted.stdout)
        expect(before).toMatchObject({ plain: 0, keys: null, missingKeys: ["k1"], unusedKeys: [] })
        expect(Object.keys(before.byKey)).toEqual(["k1"])
        expect(before.byKey.k1).toBeGreaterThan(10)

        const keyless = await sextant(["encryption", "rotate", "--database-url", db.url])
        expect(keyless.code).toBe(2)
        expect(keyless.stderr).toContain("SEXTANT_ENCRYPTION_KEYS")
        const lacking = await sextant(["encryption", "rotate", "--database-url", db.url], {
          env: { SEXTANT_ENCRYPTION_KEYS: `k2:${key2}` }
        })
        expect(lacking.code).toBe(1)
        expect(lacking.stderr).toContain("key 'k1'")

        const rotated = await sextant(["encryption", "rotate", "--batch-size", "3", "--database-url", db.url], {
          env: { SEXTANT_ENCRYPTION_KEYS: `k1:${key1},k2:${key2}`, SEXTANT_ENCRYPTION_KEY: "k2" }
        })
        expect(rotated.code).toBe(0)
        expect(rotated.stderr).toContain("re-sealing every content value with key 'k2'")
        expect(rotated.stderr).toMatch(new RegExp(`re-sealed: ${before.byKey.k1} values`))
        expect(rotated.stdout).toContain(`re-sealed ${before.byKey.k1} values`)
        expect(rotated.stdout).toContain("k1 can be removed")

        const onlyNew = { SEXTANT_ENCRYPTION_KEYS: `k2:${key2}` }
        const again = await sextant(["encryption", "rotate", "--json", "--database-url", db.url], { env: onlyNew })
        expect(again.stderr).toBe("")
        expect(JSON.parse(again.stdout)).toMatchObject({ resealed: 0, current: "k2", removableKeys: [] })
        const after = JSON.parse(
          (await sextant(["encryption", "stats", "--json", "--database-url", db.url], {
            env: onlyNew
          })).stdout
        )
        expect(after).toMatchObject({
          plain: 0,
          byKey: { k2: before.byKey.k1 },
          keys: { keyIds: ["k2"], current: "k2" },
          missingKeys: [],
          unusedKeys: []
        })
        const shown = await sextant(["show", runId, "--json", "--database-url", db.url], { env: onlyNew })
        expect(shown.code).toBe(0)
        expect(shown.stdout).toContain(`sunny in ${SECRET}`)
        const text = await sextant(["encryption", "stats", "--database-url", db.url], { env: onlyNew })
        expect(text.stdout).toContain("agent_runs.input")
        expect(text.stdout).toMatch(/0 plain/)
      },
      120_000
    )
  })
}

describe("sextant encryption --help", () => {
  it("names both subcommands and gives an example", async () => {
    const help = await sextant(["encryption", "--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("stats")
    expect(help.stdout).toContain("rotate")
    const rotate = await sextant(["encryption", "rotate", "--help"])
    expect(rotate.stdout).toContain("Example: SEXTANT_ENCRYPTION_KEYS=k1:<old>,k2:<new>")
    expect(rotate.stdout).toContain("--batch-size")
  }, 30_000)
})
