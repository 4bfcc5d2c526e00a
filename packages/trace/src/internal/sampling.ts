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

/** Whether the run is recorded: its parent's decision, else the sampler, else the rate (default 1). */
export const decide = (
  options: Trace.RunOptions,
  info: Trace.SampleInfo,
  parent: Trace.TraceRun | undefined
): boolean => {
  if (parent !== undefined) return parent.sampled
  if (options.sampler !== undefined) return options.sampler(info)
  const rate = options.sampleRate ?? 1
  return rate >= 1 ? true : rate <= 0 ? false : hashUnit(info.runId) < rate
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
