/**
 * The catalogue as pure functions: `detect` folds one run's recorded events (paired start→end by correlation
 * id) and runs every detector over them, each returning at most one finding. No I/O, no clock, no LLM: the
 * same events and configuration always give the same findings.
 */
import { defaultConfig, type ResolvedConfig } from "./Config.js"
import * as catalogue from "./internal/catalogue.js"
import * as runView from "./internal/runView.js"
import type { RunEvent } from "./RunEvents.js"
import { type Finding, signalTypes } from "./Signal.js"

/** Past runs of the same agent and version (for STEP_COUNT_INFLATION): their step counts, newest first. */
export type Baseline = catalogue.Baseline

/** A detector: a pure function of a run's view and context to at most one finding. */
export type Detector = catalogue.Detector

/** The run as detectors see it (calls paired by correlation id, absent values kept absent). */
export type RunView = runView.RunView

/** Every detector by the signal type it raises (the registry: one per signal type). */
export const detectors = catalogue.detectors

/** Folds a run's events into the view detectors read. */
export const view: (runId: string, events: ReadonlyArray<RunEvent>) => RunView = runView.build

/** The step count of a run as the baseline counts it: its tool and model calls. */
export const stepCount = (v: RunView): number => v.calls.length

/** Options of `detect`. */
export interface DetectOptions {
  /** The resolved configuration (default: Dunetrace's thresholds, nothing live). */
  readonly config?: ResolvedConfig | undefined
  /** Past runs' step counts; without it STEP_COUNT_INFLATION does not fire. */
  readonly baseline?: Baseline | undefined
}

/**
 * Runs every detector over one run's events. A detector that throws is skipped and named in `failed`
 * (its exception never reaches the caller).
 */
export const detect = (
  runId: string,
  events: ReadonlyArray<RunEvent>,
  options?: DetectOptions
): { readonly findings: ReadonlyArray<Finding>; readonly failed: ReadonlyArray<string> } => {
  const config = options?.config ?? defaultConfig
  const v = runView.build(runId, events)
  const context: catalogue.DetectContext = {
    thresholds: config.thresholdsFor(v.agentName),
    retrievalTools: config.retrievalTools,
    baseline: options?.baseline
  }
  const findings: Array<Finding> = []
  const failed: Array<string> = []
  for (const type of signalTypes) {
    try {
      const f = detectors[type](v, context)
      if (f !== undefined) findings.push(f)
    } catch {
      failed.push(type)
    }
  }
  return { findings, failed }
}
