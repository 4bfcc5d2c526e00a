/**
 * Billing at volume: `usage()` reads whole UTC days from the recorder's per-day rollup (`usage_daily`) and the
 * partial days of a range from `token_usage`. Checked on both dialects against sums computed here from the raw
 * rows, for every grouping and a set of ranges (none, whole days, partial ends, inside one day, open ends), with
 * runs crossing midnight, several models per run, no tenant and unpriced calls; rows written by the prepared
 * SQLite writer, by the client path (`sqliteWriter: false`, as Postgres) and by concurrent group commits. The
 * rollup the recorder kept equals the one `Migrations.rebuildUsageRollup` (the migration's backfill) computes.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Database, Migrations, SqlRecorder, Tables } from "@sextant/recorder"
import { type HookEvent, Lifecycle, Recorder } from "@sextant/runtime"
import { Effect, Either, Layer } from "effect"
import * as E from "../../../test-support/contract/events.js"
import { RunStore } from "../src/index.js"
import { dialects } from "./support.js"

const DAY = 86_400_000
// Three UTC days; runs start at various times, some 2.5 s before midnight so their calls cross it.
const D0 = Date.parse("2026-03-01T00:00:00.000Z")

type Spec = {
  readonly runId: string
  readonly t0: number
  readonly tenantId?: string
  readonly agentName: string
  readonly calls: ReadonlyArray<{ readonly model: string; readonly usage: HookEvent.Usage }>
}

const specs = (tag: string): ReadonlyArray<Spec> => {
  const out: Array<Spec> = []
  const tenants = ["acme", "globex", undefined]
  const models = ["m-large", "m-small"]
  for (let i = 0; i < 18; i++) {
    const day = i % 3
    const crossing = i % 4 === 0
    const t0 = D0 + day * DAY + (crossing ? DAY - 2_500 : 3_600_000 * (1 + (i % 20)))
    const tenant = tenants[i % 3]
    out.push({
      runId: `${tag}-${i}`,
      t0,
      ...(tenant === undefined ? {} : { tenantId: tenant }),
      agentName: i % 2 === 0 ? "support" : "billing",
      calls: [
        {
          model: models[i % 2]!,
          usage: { inputTokens: 10 + i, outputTokens: 3, cacheReadTokens: i % 3, costUsd: 0.000_001 * (i + 1) }
        },
        // The second call: another model every third run, and unpriced every fifth.
        {
          model: i % 3 === 0 ? models[(i + 1) % 2]! : models[i % 2]!,
          usage: i % 5 === 0
            ? { inputTokens: 7, outputTokens: 2, reasoningTokens: 5 }
            : { inputTokens: 20, outputTokens: 4, cacheWriteTokens: 1, costUsd: 0.1 + 0.2 }
        }
      ]
    })
  }
  return out
}

/** started, then per call llm.started / llm.completed (one second apart), then run.completed. */
const eventsOf = (spec: Spec): ReadonlyArray<HookEvent.HookEvent> => {
  const s = E.stamper(spec.runId, spec.t0)
  const started = {
    ...E.started(spec.tenantId === undefined ? {} : { tenantId: spec.tenantId }),
    agentName: spec.agentName
  }
  const out: Array<HookEvent.HookEvent> = [s.next(started as E.Input, 0)]
  let total = Lifecycle.emptyTotals
  spec.calls.forEach((c, i) => {
    const id = `${spec.runId}-llm-${i}`
    out.push(s.next(E.llmStarted(id), i + 1))
    out.push(s.next({ ...E.llmCompleted(id, c.usage, { text: "ok" }), responseModel: c.model } as E.Input, i + 1))
    total = Lifecycle.addUsage(total, c.usage)
  })
  out.push(s.next(E.completed("success", spec.calls.length, total.usage, "ok")))
  return out
}

type Group = Record<string, unknown>

/** The answer computed from the raw rows, as `usage()` shapes it. */
const expected = (
  rows: ReadonlyArray<Tables.TokenUsage>,
  groupBy: ReadonlyArray<"tenant" | "agent" | "model" | "day">,
  from?: string,
  to?: string
): Map<string, Group> => {
  const groups = new Map<string, { keys: Group; rows: Array<Tables.TokenUsage> }>()
  for (const r of rows) {
    if (from !== undefined && r.created_at < from) continue
    if (to !== undefined && r.created_at >= to) continue
    const keys: Group = {}
    for (const g of groupBy) {
      if (g === "tenant") keys.tenantId = r.tenant_id
      if (g === "agent") keys.agentName = r.agent_name
      if (g === "model") keys.model = r.model
      if (g === "day") keys.day = r.created_at.slice(0, 10)
    }
    const k = JSON.stringify(keys)
    const group = groups.get(k) ?? { keys, rows: [] }
    group.rows.push(r)
    groups.set(k, group)
  }
  if (groupBy.length === 0 && groups.size === 0) groups.set("{}", { keys: {}, rows: [] })
  const out = new Map<string, Group>()
  for (const [k, { keys, rows: rs }] of groups) {
    const sum = (f: (r: Tables.TokenUsage) => number | null) => rs.reduce((t, r) => t + (f(r) ?? 0), 0)
    out.set(k, {
      ...keys,
      inputTokens: sum((r) => r.input_tokens),
      outputTokens: sum((r) => r.output_tokens),
      cacheReadTokens: sum((r) => r.cache_read_tokens),
      cacheWriteTokens: sum((r) => r.cache_write_tokens),
      reasoningTokens: sum((r) => r.reasoning_tokens),
      costUsd: Lifecycle.fromNanos(sum((r) => r.cost_nanos)),
      runCount: new Set(rs.map((r) => r.agent_run_id)).size,
      modelCallCount: rs.length,
      unpricedCallCount: rs.filter((r) => r.cost_nanos === null).length
    })
  }
  return out
}

const keyOf = (g: Group) => {
  const keys: Group = {}
  for (const k of ["tenantId", "agentName", "model", "day"]) if (k in g) keys[k] = g[k]
  return JSON.stringify(keys)
}

const groupings: ReadonlyArray<ReadonlyArray<"tenant" | "agent" | "model" | "day">> = (() => {
  const dims = ["tenant", "agent", "model", "day"] as const
  return Array.from({ length: 16 }, (_, mask) => dims.filter((_, i) => (mask & (1 << i)) !== 0))
})()

const iso = (ms: number) => new Date(ms).toISOString()
const ranges: ReadonlyArray<readonly [string | undefined, string | undefined]> = [
  [undefined, undefined],
  [iso(D0), iso(D0 + 3 * DAY)],
  [iso(D0 + DAY), undefined],
  [undefined, iso(D0 + 2 * DAY)],
  [iso(D0 + 5 * 3_600_000), iso(D0 + 2 * DAY + 7 * 3_600_000)],
  [iso(D0 + DAY - 1_000), iso(D0 + DAY + 1_000)],
  [iso(D0 + DAY + 3_600_000), iso(D0 + DAY + 9 * 3_600_000)],
  [iso(D0 + DAY + 12 * 3_600_000), undefined],
  [iso(D0 + 10 * DAY), iso(D0 + 11 * DAY)]
]

const rawRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return Either.getOrThrow(Tables.tokenUsage.decode(yield* sql`SELECT * FROM token_usage`))
})

const rollupRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<
    Record<string, unknown>
  >`SELECT * FROM usage_daily ORDER BY tenant_key, agent_name, model, day`
  return rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, typeof v === "string" && /^\d+$/.test(v) && k !== "day" ? Number(v) : v])
    )
  )
})

describe("usage() from the per-day rollup", () => {
  for (const dialect of dialects) {
    it.scopedLive(`${dialect.name}: every grouping and range equals the raw sums`, () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const all = [...specs("prep"), ...specs("client"), ...specs("together")]
        const record = (list: ReadonlyArray<Spec>, sqliteWriter: boolean, together: boolean) =>
          Effect.gen(function*() {
            const recorder = yield* Recorder
            yield* Effect.forEach(list, (spec) =>
              together
                ? recorder.recordAll!(eventsOf(spec))
                : Effect.forEach(eventsOf(spec), recorder.record, { discard: true }), { concurrency: "unbounded" })
          }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url, { sqliteWriter })))
        yield* record(all.slice(0, 18), true, false)
        yield* record(all.slice(18, 36), false, false)
        yield* record(all.slice(36), true, true)
        const checked = yield* Effect.gen(function*() {
          const store = yield* RunStore
          const rows = yield* rawRows
          expect(rows.length).toBe(all.length * 2)
          let compared = 0
          for (const groupBy of groupings) {
            for (const [from, to] of ranges) {
              const got = (yield* store.usage({
                groupBy,
                ...(from === undefined ? {} : { from }),
                ...(to === undefined ? {} : { to })
              })).items
              const want = expected(rows, groupBy, from, to)
              const label = `groupBy [${groupBy.join(", ")}] from ${from} to ${to}`
              expect(new Map(got.map((g) => [keyOf(g as Group), g])), label).toEqual(want)
              compared++
            }
          }
          const acme =
            (yield* store.usage({ groupBy: ["day"], tenantId: "acme", from: ranges[4]![0], to: ranges[4]![1] }))
              .items
          expect(new Map(acme.map((g) => [keyOf(g as Group), g]))).toEqual(
            expected(rows.filter((r) => r.tenant_id === "acme"), ["day"], ranges[4]![0], ranges[4]![1])
          )
          // What the recorder kept is what the migration's backfill computes from the raw rows.
          const kept = yield* rollupRows
          yield* Migrations.rebuildUsageRollup
          expect(yield* rollupRows).toEqual(kept)
          return compared
        }).pipe(Effect.provide(Layer.merge(RunStore.layerFromUrl(url), Database.layerFromUrl(url))))
        expect(checked).toBe(groupings.length * ranges.length)
      }), 120_000)
  }
})
