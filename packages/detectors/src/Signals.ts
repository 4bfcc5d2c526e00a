/**
 * The stored signals (`failure_signals`): lists with filters, a run's signals with their explanations inline,
 * labelling (so precision per type is measured, not guessed), and per-agent insights (signal counts and rates
 * per type per day). Shadow signals are listed only when asked for (`shadow: true`) and never counted in
 * insights.
 */
import { SqlClient } from "@effect/sql"
import { Tables } from "@sextant/recorder"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { DetectorConfigError, SignalNotFound, SignalStoreError } from "./Errors.js"
import { explain, type Explanation } from "./Explain.js"
import * as issuesOf from "./internal/issues.js"
import * as q from "./internal/queries.js"
import { Label, Severity, type Signal, SignalType } from "./Signal.js"

/** Filters of `list` (all optional, combined with AND); `limit` 1..1000, default 100. */
export const ListOptions = Schema.Struct({
  agentName: Schema.optional(Schema.String),
  type: Schema.optional(SignalType),
  severity: Schema.optional(Severity),
  /** `false` (default): live signals only; `true`: shadow only. */
  shadow: Schema.optional(Schema.Boolean),
  tenantId: Schema.optional(Schema.String),
  /** Detected at or after (ISO-8601). */
  from: Schema.optional(Schema.DateTimeUtc),
  /** Detected before (ISO-8601). */
  to: Schema.optional(Schema.DateTimeUtc),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000)))
})
/** Filters of `list`. */
export type ListOptions = typeof ListOptions.Encoded

/** A signal with its explanation. */
export interface ExplainedSignal {
  readonly signal: Signal
  readonly explanation: Explanation
}

/** Labelled precision of one signal type (`precision` is null until something is labelled). */
export interface Precision {
  readonly type: SignalType
  readonly truePositives: number
  readonly falsePositives: number
  readonly precision: number | null
}

/** One day of an agent's insights: runs that day, and per type the signals raised and their rate per run. */
export interface InsightDay {
  readonly day: string
  readonly runs: number
  readonly signals: ReadonlyArray<{ readonly type: string; readonly count: number; readonly rate: number }>
}

/** An issue of the roll-up: open, resolved or reopened per (agent, signal type). */
export type Issue = issuesOf.Issue

/** Options of `issues`: one agent (default all), and after how many consecutive clean runs an issue resolves (default 10). */
export interface IssueOptions {
  readonly agentName?: string | undefined
  readonly resolveAfter?: number | undefined
}

/** Errors of signal reads. */
export type ReadError = DetectorConfigError | SignalStoreError

/** What the signal store does. */
export interface SignalsService {
  /** Signals matching the filters, newest first (live ones unless `shadow: true`). */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Signal>, ReadError>
  /** A run's signals (live and shadow), each with its explanation. */
  readonly forRun: (runId: string) => Effect.Effect<ReadonlyArray<ExplainedSignal>, SignalStoreError>
  /** Records a human's verdict on a signal; returns the labelled signal. */
  readonly label: (signalId: string, label: Label) => Effect.Effect<Signal, SignalNotFound | SignalStoreError>
  /** Labelled precision per signal type (every type listed). */
  readonly precision: Effect.Effect<ReadonlyArray<Precision>, SignalStoreError>
  /** Live signal counts and rates per type per UTC day for one agent, over `[from, to)` (ISO-8601). */
  readonly insights: (
    agentName: string,
    range: { readonly from: string; readonly to: string }
  ) => Effect.Effect<ReadonlyArray<InsightDay>, ReadError>
  /**
   * The issues roll-up of live signals, computed from the record: a run raising a type opens its issue (or
   * reopens a resolved one); `resolveAfter` consecutive ended runs of the agent without it resolve it.
   */
  readonly issues: (options?: IssueOptions) => Effect.Effect<ReadonlyArray<Issue>, ReadError>
}

const storeError = (what: string) => (cause: unknown) =>
  new SignalStoreError({ message: `failure_signals: ${what} failed (is the database migrated to 0005?)`, cause })

const decodeList = Schema.decodeUnknown(ListOptions, { onExcessProperty: "error" })

/** Makes the signal store over the `SqlClient` in context. */
export const make: Effect.Effect<SignalsService, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const nowIso = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())
  const forRun = (runId: string) =>
    q.signalsOfRun(sql, runId).pipe(
      Effect.map((signals) => signals.map((signal) => ({ signal, explanation: explain(signal) }))),
      Effect.mapError(storeError("reading a run's signals"))
    )
  return {
    list: (options) =>
      Effect.gen(function*() {
        const o = yield* Effect.mapError(
          decodeList(options ?? {}),
          (e) => new DetectorConfigError({ path: "list", message: `invalid signal filter: ${e.message}` })
        )
        return yield* q.listSignals(sql, {
          agentName: o.agentName,
          type: o.type,
          severity: o.severity,
          shadow: o.shadow ?? false,
          tenantId: o.tenantId,
          from: o.from === undefined ? undefined : new Date(o.from.epochMillis).toISOString(),
          to: o.to === undefined ? undefined : new Date(o.to.epochMillis).toISOString(),
          limit: o.limit ?? 100
        }).pipe(Effect.mapError(storeError("listing signals")))
      }),
    forRun,
    label: (signalId, label) =>
      Effect.gen(function*() {
        const now = yield* nowIso
        const found = yield* q.signalById(sql, signalId)
        if (found === undefined) {
          return yield* new SignalNotFound({
            signalId,
            message: `no signal with id ${signalId}: list signals to find one`
          })
        }
        yield* q.setLabel(sql, signalId, label, now)
        return { ...found, label }
      }).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(storeError("labelling a signal")(e)))),
    precision: Effect.map(q.labelCounts(sql), (rows) =>
      SignalType.literals.map((type) => {
        const count = (label: string) =>
          rows.filter((r) => r.signal_type === type && r.label === label).reduce((n, r) => n + Number(r.n), 0)
        const tp = count("true_positive")
        const fp = count("false_positive")
        return { type, truePositives: tp, falsePositives: fp, precision: tp + fp === 0 ? null : tp / (tp + fp) }
      })).pipe(Effect.mapError(storeError("counting labels"))),
    insights: (agentName, range) =>
      Effect.gen(function*() {
        const from = Date.parse(range.from)
        const to = Date.parse(range.to)
        if (Number.isNaN(from) || Number.isNaN(to) || to <= from) {
          return yield* new DetectorConfigError({
            path: Number.isNaN(from) ? "from" : "to",
            message: "insights: `from` and `to` must be ISO-8601 datetimes with `from` before `to`"
          })
        }
        const { runs, signals } = yield* q.dailyCounts(
          sql,
          agentName,
          new Date(from).toISOString(),
          new Date(to).toISOString()
        ).pipe(Effect.mapError(storeError("reading insights")))
        const runsByDay = new Map(runs.map((r) => [String(r.day), Number(r.n)]))
        const days = [...new Set([...runsByDay.keys(), ...signals.map((s) => String(s.day))])].sort()
        return days.map((day) => {
          const n = runsByDay.get(day) ?? 0
          return {
            day,
            runs: n,
            signals: signals.filter((s) => String(s.day) === day).map((s) => ({
              type: String(s.signal_type),
              count: Number(s.n),
              rate: n === 0 ? 0 : Number(s.n) / n
            }))
          }
        })
      }),
    issues: (options) =>
      Effect.gen(function*() {
        const resolveAfter = options?.resolveAfter ?? 10
        if (!Number.isInteger(resolveAfter) || resolveAfter < 1) {
          return yield* new DetectorConfigError({
            path: "resolveAfter",
            message: `issues: resolveAfter must be an integer of at least 1 (got ${resolveAfter})`
          })
        }
        const rows = yield* q.runsWithSignals(sql, options?.agentName).pipe(
          Effect.mapError(storeError("reading the issues roll-up"))
        )
        const runs: Array<issuesOf.RunSignals> = []
        for (const r of rows) {
          const id = String(r.id)
          let run = runs[runs.length - 1]
          if (run === undefined || run.runId !== id) {
            run = {
              runId: id,
              agentName: Tables.unescapeText(String(r.agent_name)),
              createdAt: r.created_at instanceof Date ? r.created_at.toISOString() : String(r.created_at),
              types: new Set()
            }
            runs.push(run)
          }
          if (r.signal_type !== null && r.signal_type !== undefined) {
            ;(run.types as Set<string>).add(String(r.signal_type))
          }
        }
        return issuesOf.rollUp(runs, resolveAfter)
      })
  } satisfies SignalsService
})

/** The signal store service. */
export class Signals extends Context.Tag("@sextant/detectors/Signals")<Signals, SignalsService>() {
  /** The signal store over the `SqlClient` in context. */
  static readonly layer: Layer.Layer<Signals, never, SqlClient.SqlClient> = Layer.effect(Signals, make)
}
