import type { Fiber } from "effect"

/** Runs executing in this process, so that `cancelRun` can interrupt one at its current model or tool call. */
const running = new Map<string, { readonly fiber: Fiber.RuntimeFiber<unknown, unknown>; cancelled: boolean }>()

/** Registers a run segment's fiber. */
export const register = (runId: string, fiber: Fiber.RuntimeFiber<unknown, unknown>): void => {
  running.set(runId, { fiber, cancelled: false })
}

/** Forgets a run segment's fiber (only if it is still the registered one). */
export const unregister = (runId: string, fiber: Fiber.RuntimeFiber<unknown, unknown>): void => {
  if (running.get(runId)?.fiber === fiber) running.delete(runId)
}

/** Marks a run as cancelled and returns its fiber, if it runs in this process. */
export const markCancelled = (runId: string): Fiber.RuntimeFiber<unknown, unknown> | undefined => {
  const entry = running.get(runId)
  if (entry === undefined) return undefined
  entry.cancelled = true
  return entry.fiber
}

/** Whether a segment of the run executes in this process. */
export const isRunning = (runId: string): boolean => running.has(runId)

/** Whether the run running here was cancelled (its interruption records `cancel_requested`). */
export const cancelRequested = (runId: string): boolean => running.get(runId)?.cancelled === true
