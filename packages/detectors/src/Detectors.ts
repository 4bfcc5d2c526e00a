/**
 * Detection as a service beside the runtime: `Detectors.layer(config)` validates the configuration (a bad
 * one fails startup), gives a notifier that evaluates a run once its terminal event is recorded and runs a
 * per-run stall timer (`Clock`-driven: a run with no event for `stallTimeoutMs` is evaluated as stalled, and
 * evaluated again if it later ends), and `backfill` over recorded runs. Evaluation reads the durable record,
 * runs the catalogue and replaces the run's rows in `failure_signals` (idempotent). It runs in the layer's own
 * fibers, never on a run's path: a detector that throws, or an evaluation that fails or hangs, changes nothing
 * about the run and is counted in `stats`. Each newly stored live signal is handed, with its explanation, as a
 * `DetectorSignal` (the notifiers' `detector.signal`) to the configured `notifiers`.
 */
import { SqlClient } from "@effect/sql"
import type { DetectorSignal } from "@sextant/notifiers"
import { Encryption } from "@sextant/recorder"
import { Ids, Notifier, type StreamEvent } from "@sextant/runtime"
import { Clock, Context, Duration, Effect, FiberMap, FiberSet, Layer, Option, Ref } from "effect"
import { detect } from "./Catalogue.js"
import { type DetectorConfig, resolve } from "./Config.js"
import type { DetectorConfigError } from "./Errors.js"
import { SignalStoreError } from "./Errors.js"
import { explain, type Explanation } from "./Explain.js"
import * as q from "./internal/queries.js"
import type { Signal } from "./Signal.js"

/** Counters of the detection service. */
export interface DetectorStats {
  /** Runs evaluated (each evaluation counts once). */
  readonly evaluated: number
  /** Evaluations of stalled runs. */
  readonly stalled: number
  /** Detector throws, evaluations that failed or timed out, and announcements that failed. */
  readonly failed: number
  /** Signals newly stored. */
  readonly signals: number
}

/** What a backfill did. */
export interface BackfillResult {
  readonly runs: number
  readonly signals: number
}

/** What the detection service does. */
export interface DetectorsService {
  /** Evaluates one recorded run now and stores its signals; returns the run's signals. */
  readonly evaluate: (runId: string) => Effect.Effect<ReadonlyArray<Signal>, SignalStoreError>
  /**
   * Evaluates every run created at or after `since` (ISO-8601) that has ended, or stalled (no progress for the
   * stall timeout); running runs still making progress and paused runs are skipped. Idempotent.
   */
  readonly backfill: (options: { readonly since: string }) => Effect.Effect<BackfillResult, SignalStoreError>
  /** The notifier to give the runtime (`Notifiers.layer([detectors.notifier, …])`). */
  readonly notifier: Notifier.Notifier
  /** Current counters. */
  readonly stats: Effect.Effect<DetectorStats>
  /** Waits until no evaluation or notifier delivery is in flight (stall timers aside): for tests and shutdown. */
  readonly idle: Effect.Effect<void>
}

/** Options of `Detectors.layer` besides the configuration. */
export interface DetectorsOptions {
  /**
   * Called once for each newly stored live (non-shadow) signal, with its explanation: hand it to Slack, a
   * webhook or an alerting rule. Fail-open: a failure or throw is counted, never retried into the run.
   */
  readonly announce?: ((signal: Signal, explanation: Explanation) => Effect.Effect<unknown, unknown> | void) | undefined
  /**
   * Notifiers (`WebhookNotifier`, `SlackNotifier`, `AlertNotifier` with `AlertRules.detectorSignal`, your own)
   * handed each newly stored live (non-shadow) signal as a `DetectorSignal` event with its explanation. Never
   * shadow ones. Fail-open: each delivery runs in its own fiber under the notifier's own timeout (not the
   * evaluation's); a failure is counted in `stats.failed` and logged, never retried into the run.
   */
  readonly notifiers?: ReadonlyArray<Notifier.Notifier> | undefined
  /** How long one evaluation may take before it is abandoned and counted as failed (default 30 seconds). */
  readonly evaluationTimeout?: Duration.DurationInput | undefined
}

/** The notifiers' `DetectorSignal` event of a stored signal. */
export const toEvent = (
  signal: Signal,
  explanation: Explanation,
  timestamp: number
): DetectorSignal.DetectorSignal => ({
  _tag: "DetectorSignal",
  signalId: signal.id,
  runId: signal.runId,
  tenantId: signal.tenantId,
  agentName: signal.agentName,
  signalType: signal.type,
  severity: signal.severity,
  confidence: signal.confidence,
  step: signal.step,
  evidence: signal.evidence,
  timestamp,
  explanation
})

const terminal = new Set(["RunCompleted", "RunFailed", "RunCancelled", "RunInterrupted", "RunAbandoned"])
const ended = new Set(["success", "max_iterations", "error", "cancelled"])

const make = (input: DetectorConfig, options?: DetectorsOptions) =>
  Effect.gen(function*() {
    const config = yield* resolve(input)
    const sql = yield* SqlClient.SqlClient
    // The key ring of the layer's context (the recorder's, or the CLI's from SEXTANT_ENCRYPTION_KEYS): live
    // evaluations run in fibers of the bus, which need not have it, so it is taken here, once.
    const ring = yield* Encryption.current
    const withKeys = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Option.isSome(ring) ? Effect.provideService(effect, Encryption.Encryption, ring.value) : effect
    const stats = yield* Ref.make<DetectorStats>({ evaluated: 0, stalled: 0, failed: 0, signals: 0 })
    const bump = (d: Partial<DetectorStats>) =>
      Ref.update(stats, (s) => ({
        evaluated: s.evaluated + (d.evaluated ?? 0),
        stalled: s.stalled + (d.stalled ?? 0),
        failed: s.failed + (d.failed ?? 0),
        signals: s.signals + (d.signals ?? 0)
      }))
    const timeout = Duration.decode(options?.evaluationTimeout ?? "30 seconds")
    const stallMs = Duration.toMillis(config.stallTimeout)

    const announce = (signal: Signal) =>
      options?.announce === undefined ? Effect.void : Effect.suspend(() => {
        const out = options.announce!(signal, explain(signal))
        return Effect.isEffect(out) ? Effect.asVoid(out) : Effect.void
      }).pipe(Effect.catchAllCause(() => bump({ failed: 1 })))

    const notifiers = options?.notifiers ?? []
    const context: Notifier.DeliveryContext = { traceContext: undefined, stats: Effect.succeed([]) }
    // Deliveries run in their own fibers (scoped to the layer), each under its notifier's timeout, not the
    // evaluation's: a webhook retrying for a minute neither cuts the evaluation short nor waits on it.
    const deliveries = yield* FiberSet.make<void, never>()
    const deliver = (signal: Signal) =>
      notifiers.length === 0 ? Effect.void : FiberSet.run(
        deliveries,
        Effect.gen(function*() {
          const event = toEvent(signal, explain(signal), yield* Clock.currentTimeMillis)
          yield* Effect.forEach(notifiers, (target) =>
            Effect.suspend(() => target.handle(event as unknown as StreamEvent.StreamEvent, context)).pipe(
              Effect.timeout(target.timeout),
              Effect.catchAllCause((cause) =>
                Effect.zipRight(
                  bump({ failed: 1 }),
                  Effect.logWarning(`detectors: notifier '${target.name}' failed on signal ${signal.id}`, cause)
                )
              )
            ), { discard: true })
        })
      ).pipe(Effect.asVoid)

    const evaluate = (runId: string): Effect.Effect<ReadonlyArray<Signal>, SignalStoreError> =>
      Effect.gen(function*() {
        const run = yield* q.runRow(sql, runId)
        if (run === undefined) {
          return []
        }
        const events = yield* withKeys(q.runEvents(sql, runId))
        const thresholds = config.thresholdsFor(run.agentName)
        const stepCounts = yield* q.baseline(sql, run, config.versionKey, thresholds.STEP_COUNT_INFLATION.baselineRuns)
        const { failed, findings } = detect(runId, events, { config, baseline: { stepCounts } })
        const now = new Date(yield* Clock.currentTimeMillis).toISOString()
        const stored = yield* q.replaceRunSignals(
          sql,
          run,
          findings.map((f) => ({ ...f, shadow: !config.live.has(f.type) })),
          () =>
            Ids.make(),
          now
        )
        yield* bump({ evaluated: 1, failed: failed.length, signals: stored.added.length })
        yield* Effect.forEach(
          stored.added.filter((s) => !s.shadow),
          (s) => Effect.zipRight(announce(s), deliver(s)),
          { discard: true }
        )
        return stored.signals
      }).pipe(
        Effect.mapError((cause) =>
          new SignalStoreError({ message: `evaluating run ${runId} failed: ${String(cause)}`, cause })
        )
      )

    const evaluations = yield* FiberMap.make<string, void, never>()
    const stallTimers = yield* FiberMap.make<string, void, never>()
    const inBackground = (runId: string, stalled: boolean) =>
      evaluate(runId).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new SignalStoreError({ message: `evaluating run ${runId} took longer than ${Duration.format(timeout)}` })
        }),
        Effect.zipRight(stalled ? bump({ stalled: 1 }) : Effect.void),
        Effect.catchAllCause((cause) =>
          Effect.zipRight(bump({ failed: 1 }), Effect.logWarning("detectors: evaluation failed", cause))
        ),
        Effect.asVoid
      )

    const notifier = Notifier.make({
      name: "detectors",
      onEvent: (event) => {
        if (!("sequenceIndex" in event)) return
        const runId = event.runId
        if (terminal.has(event._tag)) {
          return Effect.zipRight(
            FiberMap.remove(stallTimers, runId),
            FiberMap.run(evaluations, runId, inBackground(runId, false))
          )
        }
        if (event._tag === "RunPaused") return FiberMap.remove(stallTimers, runId)
        return FiberMap.run(
          stallTimers,
          runId,
          Effect.zipRight(Effect.sleep(config.stallTimeout), inBackground(runId, true))
        )
      }
    })

    const backfill = ({ since }: { readonly since: string }) =>
      Effect.gen(function*() {
        const from = Date.parse(since)
        if (Number.isNaN(from)) {
          return yield* new SignalStoreError({ message: `backfill: since '${since}' is not an ISO-8601 datetime` })
        }
        const sinceIso = new Date(from).toISOString()
        const now = yield* Clock.currentTimeMillis
        let after = ""
        let runs = 0
        let signals = 0
        while (true) {
          const ids = yield* Effect.mapError(
            q.runIdsSince(sql, sinceIso, after, 500),
            (cause) => new SignalStoreError({ message: "backfill: listing runs failed", cause })
          )
          if (ids.length === 0) break
          for (const id of ids) {
            const run = yield* Effect.mapError(
              q.runRow(sql, id),
              (cause) => new SignalStoreError({ message: `backfill: reading run ${id} failed`, cause })
            )
            if (run === undefined) continue
            const stalled = run.status === "running" && now - Date.parse(run.lastProgressAt) >= stallMs
            if (!ended.has(run.status) && !stalled) continue
            const stored = yield* evaluate(id)
            runs++
            signals += stored.length
          }
          after = ids[ids.length - 1]!
        }
        return { runs, signals }
      })

    return {
      evaluate,
      backfill,
      notifier,
      stats: Ref.get(stats),
      idle: Effect.zipRight(FiberMap.awaitEmpty(evaluations), FiberSet.awaitEmpty(deliveries))
    } satisfies DetectorsService
  })

/** The detection service. */
export class Detectors extends Context.Tag("@sextant/detectors/Detectors")<Detectors, DetectorsService>() {
  /**
   * Detection over the `SqlClient` in context (the recorder's database), scoped to the layer: stall timers and
   * evaluations in flight end with it. Fails with `DetectorConfigError` naming the setting when the
   * configuration is invalid.
   */
  static readonly layer = (
    config: DetectorConfig = {},
    options?: DetectorsOptions
  ): Layer.Layer<Detectors, DetectorConfigError, SqlClient.SqlClient> => Layer.scoped(Detectors, make(config, options))
}
