import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Recorder } from "@sextant/runtime"
import { Effect, Either } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Database, SqlRecorder, Sweep, SweepOptionsError } from "../src/index.js"
import { dialects, started } from "./support.js"

const child = fileURLToPath(new URL("./fixtures/sweep-child.ts", import.meta.url))
const root = fileURLToPath(new URL("../../..", import.meta.url))

interface SweepOutput {
  readonly interrupted: ReadonlyArray<string>
  readonly abandoned: ReadonlyArray<string>
  readonly handedBack?: ReadonlyArray<string>
}

/** A sweeper process: `ready` once its database is open, `go()` starts its sweep, `done` is its result. */
const sweeper = (url: string, now: number) => {
  let ready!: () => void
  const isReady = new Promise<void>((resolve) => (ready = resolve))
  const proc = spawn(process.execPath, ["--conditions=@sextant/source", "--import", "tsx", child, url, String(now)], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"]
  })
  const done = new Promise<SweepOutput>((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    proc.stderr.on("data", (d) => (stderr += String(d)))
    proc.stdout.on("data", (d) => {
      stdout += String(d)
      if (stdout.includes("READY")) ready()
    })
    proc.on("close", (code) => {
      const last = stdout.trim().split("\n").at(-1) ?? ""
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as SweepOutput)
      else reject(new Error(`sweeper exited ${code}: ${stderr}`))
    })
  })
  return { ready: isReady, go: () => proc.stdin.end("go\n"), done }
}

const RUNS = 200
const FLEET = 10

for (const dialect of dialects) {
  describe(`${dialect.name}: two processes sweeping at once`, () => {
    it.scopedLive(
      "each stale run is swept exactly once; fleet runs are handed back, never interrupted",
      () =>
        Effect.gen(function*() {
          const url = yield* dialect.database
          const local = Array.from({ length: RUNS }, (_, i) => `local-${String(i).padStart(3, "0")}`)
          const fleet = Array.from({ length: FLEET }, (_, i) => `fleet-${i}`)
          // Started in 2023 and never heard from again: every run is stale.
          yield* Effect.flatMap(Recorder, (recorder) =>
            Effect.forEach(
              [
                ...local.map((id) => started(id)),
                ...fleet.map((id) => started(id, undefined, { metadata: { fleet: { runner: "r1" } } }))
              ],
              (event) => recorder.record(event),
              { concurrency: 20, discard: true }
            )).pipe(
              Effect.provide(SqlRecorder.layerFromUrl(url))
            )
          const now = Date.now()
          const a = sweeper(url, now)
          const b = sweeper(url, now)
          yield* Effect.promise(() => Promise.all([a.ready, b.ready]))
          a.go()
          b.go()
          const [ra, rb] = yield* Effect.promise(() => Promise.all([a.done, b.done]))
          const both = [...ra.interrupted, ...rb.interrupted]
          expect(new Set(both).size).toBe(both.length)
          expect([...both].sort()).toEqual(local)
          expect(ra.handedBack).toEqual(fleet)
          expect(rb.handedBack).toEqual(fleet)
          const counts = yield* Effect.flatMap(
            SqlClient.SqlClient,
            (sql) =>
              sql<{ agent_run_id: string; n: number }>`SELECT agent_run_id, COUNT(*) AS n FROM run_events
              WHERE event_type = 'run.interrupted' GROUP BY agent_run_id ORDER BY agent_run_id`
          ).pipe(
            Effect.provide(Database.layerFromUrl(url))
          )
          expect(counts.map((c) => c.agent_run_id)).toEqual(local)
          expect(counts.every((c) => Number(c.n) === 1)).toBe(true)
          const fleetRows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
            sql<{ status: string }>`SELECT status FROM agent_runs WHERE id LIKE 'fleet-%'`).pipe(
              Effect.provide(Database.layerFromUrl(url))
            )
          expect(fleetRows.map((r) =>
            r.status
          )).toEqual(fleet.map(() => "running"))
        }),
      { timeout: 60_000 }
    )

    it.scopedLive("handBack.to receives the handed-back ids; a bad metadata key is a typed error naming it", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const out = yield* Effect.gen(function*() {
          const recorder = yield* Recorder
          yield* recorder.record(started("plain"))
          yield* recorder.record(started("mine", undefined, { metadata: { fleet: null } }))
          const received: Array<ReadonlyArray<string>> = []
          const result = yield* Sweep.run({
            staleRunningAfter: "1 minute",
            abandonedWaitingAfter: "1 minute",
            handBack: { metadataKey: "fleet", to: (ids) => Effect.sync(() => received.push(ids)) }
          })
          const bad = yield* Effect.either(Sweep.run({
            staleRunningAfter: "1 minute",
            abandonedWaitingAfter: "1 minute",
            handBack: { metadataKey: "fleet'; --" }
          }))
          return { result, received, bad }
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(out.result).toEqual({ interrupted: ["plain"], abandoned: [], handedBack: ["mine"] })
        expect(out.received).toEqual([["mine"]])
        expect(Either.isLeft(out.bad) && out.bad.left).toBeInstanceOf(SweepOptionsError)
        expect(Either.isLeft(out.bad) && out.bad.left).toMatchObject({ field: "handBack.metadataKey" })
      }))
  })
}
