/**
 * Evaluates alert rules over every run's events and hands each `Alert` to a `deliver` notifier (Slack, webhook,
 * console, JSONL, your own) or function. Alerts are delivered inside this notifier's own fiber: a slow or failing
 * `deliver` delays or fails this notifier only (counted in its statistics), never a run.
 *
 * How an alert reaches a plain `Notifier`: as the `event` argument of its `handle` (so `onEvent` sees it); tell it
 * apart with `Alert.isAlert(event)`. A `DetectorSignal` handed to this notifier (by `@sextant/detectors`) is
 * checked by the rules too (`AlertRules.detectorSignal`). Timers (for `approvalWaiting`) live in this notifier's worker fiber: they stop
 * when the runtime shuts down.
 */
import { Lifecycle, Notifier, type StreamEvent } from "@sextant/runtime"
import { Clock, Duration, Effect, Fiber } from "effect"
import { type Alert, isAlert } from "./Alert.js"
import type { Rule, RuleInput } from "./AlertRules.js"
import { isDetectorSignal } from "./DetectorSignal.js"
import { checkCommon, invalid } from "./internal/config.js"
import { RunTable } from "./internal/runs.js"
import type { CommonOptions, NotifierEvent } from "./NotifierEvent.js"

/** Where alerts go: a notifier (its `handle` gets the `Alert`) or a function. */
export type Deliver = Notifier.Notifier | ((alert: Alert, context: Notifier.DeliveryContext) => Notifier.HandlerResult)

/** Options of `AlertNotifier.make`. */
export interface AlertOptions extends CommonOptions {
  readonly rules: ReadonlyArray<Rule>
  readonly deliver: Deliver
}

/** A notifier that raises alerts; `alerts` lists what it raised so far (most recent last, up to 1000). */
export interface AlertNotifier extends Notifier.Notifier {
  readonly alerts: Effect.Effect<ReadonlyArray<Alert>>
}

interface RunAlerts {
  readonly states: Array<unknown>
  readonly fired: Set<string>
  readonly timers: Set<Fiber.RuntimeFiber<void>>
  agentName?: string
  iteration: number
}

const COMPONENT = "AlertNotifier"

const checkOptions = (options: AlertOptions): void => {
  checkCommon(COMPONENT, options)
  if (!Array.isArray(options.rules)) invalid(COMPONENT, "rules", "must be an array of rules")
  const seen = new Map<string, number>()
  options.rules.forEach((rule, i) => {
    if (rule === null || typeof rule !== "object" || typeof rule.check !== "function") {
      invalid(COMPONENT, `rules[${i}]`, "must be a rule (made with AlertRules.make or a built-in)")
    }
    // A rule fires once per run by name: a second rule of the same name would be silenced by the first.
    const earlier = seen.get(rule.name)
    if (earlier !== undefined) {
      invalid(
        COMPONENT,
        `rules[${i}].name`,
        `'${rule.name}' is also the name of rules[${earlier}]; give one a \`name\` option`
      )
    }
    seen.set(rule.name, i)
  })
  const target = options.deliver as unknown
  const isNotifier = typeof target === "object" && target !== null &&
    typeof (target as { handle?: unknown }).handle === "function"
  if (typeof target !== "function" && !isNotifier) {
    invalid(COMPONENT, "deliver", "must be a notifier or a function (alert, context) => …")
  }
}

/**
 * A notifier evaluating `rules` on every event and delivering what fires to `deliver`. Throws a
 * `NotifierConfigError` naming the setting when two rules share a name, a rule or `deliver` is missing, or a
 * dispatcher option is invalid.
 */
export const make = (options: AlertOptions): AlertNotifier => {
  checkOptions(options)
  const { rules } = options
  const runs = new RunTable<RunAlerts>(() => ({
    states: rules.map((r) => r.init()),
    fired: new Set(),
    timers: new Set(),
    iteration: 0
  }))
  const raised: Array<Alert> = []
  const target = options.deliver
  const deliver = (alert: Alert, context: Notifier.DeliveryContext): Effect.Effect<void, unknown> =>
    typeof target === "function"
      ? Notifier.runHandler(() => target(alert, context))
      : Effect.suspend(() => target.handle(alert as unknown as StreamEvent.StreamEvent, context)).pipe(
        Effect.timeout(target.timeout)
      )

  /** Runs every rule on the input; returns the alerts that fire. */
  const evaluate = (run: RunAlerts, input: RuleInput): Array<Alert> => {
    const out: Array<Alert> = []
    rules.forEach((rule, i) => {
      if (rule.once && run.fired.has(rule.name)) return
      const finding = rule.check(input, run.states[i])
      if (finding === undefined) return
      run.fired.add(rule.name)
      const alert: Alert = {
        _tag: "Alert",
        runId: input.runId,
        iteration: run.iteration,
        timestamp: input.timestamp,
        rule: rule.name,
        severity: finding.severity ?? rule.severity,
        title: finding.title,
        message: finding.message,
        figures: { ...finding.figures },
        ...(input._tag !== "Tick" && "sequenceIndex" in input ? { sequenceIndex: input.sequenceIndex } : {}),
        ...(run.agentName === undefined ? {} : { agentName: run.agentName })
      }
      out.push(alert)
      raised.push(alert)
      if (raised.length > 1000) raised.shift()
    })
    return out
  }

  /** Delivers every alert, then fails if any delivery failed (so the dispatcher counts it). */
  const deliverAll = (alerts: ReadonlyArray<Alert>, context: Notifier.DeliveryContext) =>
    Effect.flatMap(
      Effect.forEach(alerts, (a) => Effect.either(deliver(a, context))),
      (outcomes) => {
        const failed = outcomes.filter((o) => o._tag === "Left")
        return failed.length === 0 ? Effect.void : Effect.fail(failed[0]!.left)
      }
    )

  const schedule = (run: RunAlerts, runId: string, at: number, context: Notifier.DeliveryContext) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const timer: Fiber.RuntimeFiber<void> = yield* Effect.fork(
        Effect.gen(function*() {
          yield* Effect.sleep(Duration.millis(Math.max(0, at - now)))
          run.timers.delete(timer)
          if (runs.peek(runId) !== run) return
          const alerts = evaluate(run, { _tag: "Tick", runId, timestamp: yield* Clock.currentTimeMillis })
          yield* deliverAll(alerts, context).pipe(
            Effect.catchAllCause((cause) => Effect.logWarning(`alert delivery failed for run ${runId}`, cause))
          )
        })
      )
      run.timers.add(timer)
    })

  const handle = (event: NotifierEvent, context: Notifier.DeliveryContext): Effect.Effect<void, unknown> =>
    Effect.gen(function*() {
      if (isAlert(event)) return
      if (isDetectorSignal(event)) {
        // A signal comes after its run ended: rules see it with a state of its own, kept nowhere (no leak).
        const run: RunAlerts = {
          states: rules.map((r) => r.init()),
          fired: new Set(),
          timers: new Set(),
          agentName: event.agentName,
          iteration: 0
        }
        return yield* deliverAll(evaluate(run, event), context)
      }
      const run = runs.get(event.runId)
      run.iteration = event.iteration
      if (event._tag === "RunStarted" || event._tag === "RunResumed") run.agentName = event.agentName
      const alerts = evaluate(run, event)
      for (const [i, rule] of rules.entries()) {
        const at = rule.wakeAt?.(event, run.states[i])
        if (at !== undefined && !(rule.once && run.fired.has(rule.name))) yield* schedule(run, event.runId, at, context)
      }
      if (Lifecycle.isTerminalEvent(event)) {
        runs.delete(event.runId)
        yield* Effect.forEach(run.timers, (f) => Fiber.interrupt(f), { discard: true })
      }
      yield* deliverAll(alerts, context)
    })

  const notifier = Notifier.make({
    name: options.name ?? "alerts",
    onEvent: handle,
    capacity: options.capacity,
    strategy: options.strategy,
    timeout: options.timeout ??
      (typeof target === "function" ? "30 seconds" : Duration.sum(target.timeout, "1 second"))
  })
  return { ...notifier, alerts: Effect.sync(() => [...raised]) }
}
