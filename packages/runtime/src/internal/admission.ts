/**
 * Admission for the Promise runtime: at most `maxConcurrentRuns` runs (or resumed segments) at once, up to
 * `maxQueuedRuns` more waiting in arrival order, and an `Overloaded` rejection beyond that, so past the knee
 * a host gets a clear signal instead of unbounded latency and memory.
 */
import { Overloaded } from "../Errors.js"

/** What admission has done so far and what it holds now. */
export interface AdmissionStats {
  /** The limit, or `undefined` when admission is off (every run starts at once). */
  readonly maxConcurrentRuns: number | undefined
  readonly maxQueuedRuns: number
  /** Runs executing now. */
  readonly running: number
  /** Runs waiting for a slot now. */
  readonly queued: number
  /** Runs started since the runtime was made (at once or after waiting). */
  readonly admitted: number
  /** Runs refused with `Overloaded`. */
  readonly rejected: number
}

/** A gate: `admit` runs `work` when a slot is free (queued until then) or rejects with `Overloaded`. */
export interface Admission {
  readonly admit: <A>(work: () => Promise<A>) => Promise<A>
  readonly stats: () => AdmissionStats
}

/** Makes the gate; without `maxConcurrentRuns` it only counts. */
export const makeAdmission = (maxConcurrentRuns: number | undefined, maxQueuedRuns: number): Admission => {
  let running = 0
  let admitted = 0
  let rejected = 0
  const waiting: Array<() => void> = []
  // A finished run hands its slot straight to the first waiter, so no newcomer can slip in between.
  const release = () => {
    const next = waiting.shift()
    if (next === undefined) running--
    else next()
  }
  /** Runs `work` in a slot already counted in `running`. */
  const inSlot = <A>(work: () => Promise<A>): Promise<A> => {
    admitted++
    let out: Promise<A>
    try {
      out = work()
    } catch (error) {
      release()
      return Promise.reject(error)
    }
    return out.finally(release)
  }
  return {
    admit: <A>(work: () => Promise<A>): Promise<A> => {
      if (maxConcurrentRuns === undefined || running < maxConcurrentRuns) {
        running++
        return inSlot(work)
      }
      if (waiting.length >= maxQueuedRuns) {
        rejected++
        return Promise.reject(
          new Overloaded({
            maxConcurrentRuns,
            maxQueuedRuns,
            message: `the runtime is running ${running} runs (maxConcurrentRuns: ${maxConcurrentRuns}) with ` +
              `${waiting.length} waiting (maxQueuedRuns: ${maxQueuedRuns}): retry later or raise the limits`
          })
        )
      }
      return new Promise<A>((resolve, reject) => waiting.push(() => inSlot(work).then(resolve, reject)))
    },
    stats: () => ({ maxConcurrentRuns, maxQueuedRuns, running, queued: waiting.length, admitted, rejected })
  }
}
