/**
 * Sampling: whether a run is recorded, decided once when it starts (a child follows its parent, so a tree
 * is recorded whole or not at all), and the handle of a run that is not — every call a no-op, the tool body
 * still run, so an unsampled run costs next to nothing.
 */
import { Effect } from "effect"
import type * as Trace from "../Trace.js"

/** FNV-1a of the run id mapped to [0, 1): the same id is always decided the same way. */
export const hashUnit = (runId: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < runId.length; i++) {
    h ^= runId.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h / 0x1_0000_0000
}

/** How a run is recorded: straight away, not at all, or held and recorded only if it fails. */
export type Decision = "record" | "skip" | "onError"

/**
 * The run's decision: its parent's (a child of a held run is held with it), else the sampler's, else the
 * rate (default 1) — and a run the rate keeps is held when `onlyOnError` is set.
 */
export const decide = (
  options: Trace.RunOptions,
  info: Trace.SampleInfo,
  parent: Trace.TraceRun | undefined
): Decision => {
  if (parent !== undefined) return parent.sampled ? "record" : "skip"
  if (options.sampler !== undefined) {
    const verdict = options.sampler(info)
    return verdict === "onError" ? "onError" : verdict === true ? "record" : "skip"
  }
  const rate = options.sampleRate ?? 1
  const kept = rate >= 1 ? true : rate <= 0 ? false : hashUnit(info.runId) < rate
  return !kept ? "skip" : options.onlyOnError === true ? "onError" : "record"
}

const done = Effect.void

/** The handle of a run that is not recorded. */
export const unsampled = (
  runId: string,
  meta: Pick<Trace.TraceRun, "parentRunId" | "delegationLevel" | "tenantId">
): Trace.TraceRun => {
  const span = { correlationId: "", end: () => done, fail: () => done }
  return {
    runId,
    ...meta,
    sampled: false,
    llm: () => done,
    llmStart: () => Effect.succeed(span),
    tool: (_name, _args, body) => body,
    toolStart: () => Effect.succeed(span),
    memoryRead: () => done,
    memoryWrite: () => done,
    event: () => done,
    stream: () => Effect.succeed({ correlationId: "", chunk: () => done, end: done }),
    final: () => done,
    fail: () => done
  }
}
