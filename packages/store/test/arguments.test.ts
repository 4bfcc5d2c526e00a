/**
 * Arguments a dialect cannot take alike are refused at the boundary with `InvalidQuery` naming the field, on
 * SQLite and Postgres the same way: NUL (Postgres rejects it with 22021, SQLite cuts the string at it),
 * lone surrogates (not UTF-8), integers past Postgres INTEGER, instants outside Postgres' years. Search is a
 * literal substring folded for ASCII letters only, on both dialects.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { type InvalidQuery, type RunQueryError, RunStore, type RunStoreService, type StoreError } from "../src/index.js"
import { dialects, runAgent, storeLayer, toolThenAnswer } from "./support.js"

const NUL = "a\u0000b"
const LONE = "a\ud800b"

/** The field of the `InvalidQuery` the effect fails with (or the tag of any other outcome). */
const fieldOf = <A>(effect: Effect.Effect<A, InvalidQuery | StoreError | RunQueryError>) =>
  Effect.map(
    Effect.either(effect),
    (r) => r._tag === "Right" ? "succeeded" : r.left._tag === "InvalidQuery" ? r.left.field : r.left._tag
  )

const forgedCursor = (id: string) =>
  Buffer.from(JSON.stringify(["r1", "2026-01-01T00:00:00.000Z", id])).toString("base64url")

/** Every per-run method with a run id and a scope. */
const perRun = (store: RunStoreService, runId: string, tenantId?: string) => {
  const o = tenantId === undefined ? {} : { scope: { tenantId } }
  return {
    getRun: store.getRun(runId, o),
    getEvents: store.getEvents(runId, o),
    streamEvents: Stream.runDrain(store.streamEvents(runId, o)),
    getTraces: store.getTraces(runId, o),
    getToolCalls: store.getToolCalls(runId, o),
    getLlmCalls: store.getLlmCalls(runId, o),
    getPauses: store.getPauses(runId, o),
    getRunTree: store.getRunTree(runId, o),
    getRunSignals: store.getRunSignals(runId, o)
  }
}

/** Every text argument of every method, holding `bad`, with the field it must be reported as. */
const textArguments = (store: RunStoreService, runId: string, bad: string) => {
  const scope = { scope: { tenantId: bad } }
  const filters = {
    agentName: { agentName: bad },
    tenantId: { tenantId: bad },
    parentRunId: { parentRunId: bad },
    search: { search: bad },
    "metadata.team": { metadata: { team: bad } },
    "scope.tenantId": scope,
    createdAfter: { createdAfter: `2026-01-01T00:00:00Z${bad}` }
  }
  const cases: Array<readonly [string, string, Effect.Effect<unknown, RunQueryError>]> = []
  for (const [field, filter] of Object.entries(filters)) {
    cases.push([`listRuns ${field}`, field, store.listRuns(filter)])
    cases.push([`exportRecords ${field}`, field, Stream.runDrain(store.exportRecords(filter))])
  }
  cases.push(["listRuns cursor", "cursor", store.listRuns({ cursor: forgedCursor(bad) })])
  cases.push(["usage tenantId", "tenantId", store.usage({ tenantId: bad })])
  cases.push(["usage scope.tenantId", "scope.tenantId", store.usage(scope)])
  cases.push(["usage from", "from", store.usage({ from: bad })])
  cases.push(["listSignals agentName", "agentName", store.listSignals({ agentName: bad })])
  cases.push(["listSignals tenantId", "tenantId", store.listSignals({ tenantId: bad })])
  cases.push(["listSignals scope.tenantId", "scope.tenantId", store.listSignals(scope)])
  cases.push(["listSignals since", "since", store.listSignals({ since: `2026-01-01T00:00:00Z${bad}` })])
  cases.push(["listSignals cursor", "cursor", store.listSignals({ cursor: forgedCursor(bad) })])
  for (const [method, effect] of Object.entries(perRun(store, bad))) cases.push([`${method} runId`, "runId", effect])
  for (const [method, effect] of Object.entries(perRun(store, runId, bad))) {
    cases.push([`${method} scope.tenantId`, "scope.tenantId", effect])
  }
  return cases
}

for (const dialect of dialects) {
  describe(`RunStore arguments on ${dialect.name}`, () => {
    layer(storeLayer(dialect), { timeout: 60_000 })((it) => {
      it.effect("a NUL in any text argument is InvalidQuery naming it, never a database error", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const { runId } = yield* runAgent("weather", toolThenAnswer("sunny"), { tenantId: "acme" })
          for (const [what, field, effect] of textArguments(store, runId, NUL)) {
            const error = yield* Effect.flip(effect)
            expect({ what, error }).toMatchObject({ what, error: { _tag: "InvalidQuery", field } })
            if (!["cursor", "createdAfter", "from", "since"].includes(field)) {
              expect(error.message).toContain("NUL")
            }
          }
          // On SQLite a NUL cut the pattern short, so a search matched every run.
          expect(yield* fieldOf(store.listRuns({ search: "\u0000" }))).toBe("search")
        }))

      it.effect("a lone surrogate in any text argument is InvalidQuery naming it", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const { runId } = yield* runAgent("weather", toolThenAnswer("sunny"), { tenantId: "acme" })
          for (const [what, field, effect] of textArguments(store, runId, LONE)) {
            const error = yield* Effect.flip(effect)
            expect({ what, error }).toMatchObject({ what, error: { _tag: "InvalidQuery", field } })
          }
          // A well-formed pair (an emoji) is fine.
          expect(yield* fieldOf(store.listRuns({ agentName: "weather \ud83c\udf24" }))).toBe("succeeded")
        }))

      it.effect("integers past Postgres INTEGER and instants outside years 1..9999 are InvalidQuery on both dialects", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const { runId } = yield* runAgent("weather", toolThenAnswer("sunny"))
          expect(yield* fieldOf(store.getEvents(runId, { after: 2_147_483_648 }))).toBe("after")
          expect(yield* fieldOf(store.getEvents(runId, { after: 2_147_483_647 }))).toBe("succeeded")
          expect(yield* fieldOf(store.getTraces(runId, { iteration: 2_147_483_648 }))).toBe("iteration")
          expect(yield* fieldOf(Stream.runDrain(store.streamEvents(runId, { after: 2 ** 40 })))).toBe("after")
          expect(yield* fieldOf(store.listRuns({ createdAfter: "0000-06-01T00:00:00Z" }))).toBe("createdAfter")
          expect(yield* fieldOf(store.listRuns({ createdBefore: "0001-01-01T00:30:00+01:00" }))).toBe("createdBefore")
          expect(yield* fieldOf(store.listRuns({ createdAfter: new Date(-62_198_755_200_000) }))).toBe("createdAfter")
          expect(yield* fieldOf(store.usage({ to: new Date(Number.NaN) }))).toBe("to")
          expect(yield* fieldOf(store.listRuns({ createdAfter: "0001-01-01T00:00:00Z" }))).toBe("succeeded")
          expect(yield* fieldOf(store.usage({ to: "9999-12-31T23:59:59.999Z" }))).toBe("succeeded")
        }))

      it.effect("search is a literal substring, case-insensitive for ASCII letters only, the same on both dialects", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const ecole = (yield* runAgent("École_50%", toolThenAnswer("oui"))).runId
          const other = (yield* runAgent("ecole", toolThenAnswer("yes"))).runId
          const found = (search: string) =>
            Effect.map(store.listRuns({ search }), (p) => p.items.map((r) => r.id).sort())
          expect(yield* found("ÉCOLE")).toEqual([ecole])
          expect(yield* found("écOLE")).toEqual([])
          expect(yield* found("ECOLE")).toEqual([other])
          expect(yield* found("_50%")).toEqual([ecole])
          expect(yield* found("e_ole")).toEqual([])
          expect(yield* found("%")).toEqual([ecole])
          expect(yield* found("\\")).toEqual([])
        }))

      it.effect("a status list with repeats is one condition per status; metadata with too many keys is refused", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          yield* runAgent("weather", toolThenAnswer("sunny"))
          const once = yield* store.listRuns({ status: "success" })
          // 40 000 repeats once exceeded SQLite's limit of bound parameters.
          expect(yield* store.listRuns({ status: Array(40_000).fill("success") })).toEqual(once)
          const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]))
          expect(yield* fieldOf(store.listRuns({ metadata: many }))).toBe("metadata")
          expect(yield* fieldOf(store.listRuns({ metadata: { k: "x".repeat(1001) } }))).toBe("metadata.k")
        }))

      it.effect("arguments of the wrong type name their path", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          expect(yield* fieldOf(store.listRuns({ status: ["success", "nope" as never] }))).toBe("status[1]")
          expect(yield* fieldOf(store.listRuns({ metadata: { "bad key": 1 } }))).toBe("metadata")
          expect(yield* fieldOf(store.listRuns({ metadata: [1] as never }))).toBe("metadata")
          expect(yield* fieldOf(store.listRuns(5 as never))).toBe("options")
          expect(yield* fieldOf(store.getRun(42 as never))).toBe("runId")
          expect(yield* fieldOf(store.usage({ groupBy: ["day", "day"] }))).toBe("groupBy")
          expect(yield* fieldOf(Stream.runDrain(store.streamEvents("x", { pollIntervalMs: 0 })))).toBe("pollIntervalMs")
          const error = yield* Effect.flip(store.listRuns({ limit: 0 }))
          expect(error.message).toBe("limit: must be an integer from 1 to 1000, got 0")
        }))

      it.effect("make refuses a scope with a NUL", () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(RunStore.make({ scope: { tenantId: NUL } }))
          expect(error).toMatchObject({ _tag: "InvalidQuery", field: "scope.tenantId" })
        }))
    })
  })
}
