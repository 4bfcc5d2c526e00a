/**
 * Per-run state kept by a notifier, bounded so that runs whose end is never seen (a crashed process, a run
 * resumed elsewhere) cannot grow it forever: past `limit` entries the oldest is evicted.
 */
export class RunTable<S> {
  private readonly map = new Map<string, S>()
  constructor(private readonly init: (runId: string) => S, private readonly limit = 10_000) {}

  /** The run's state, created on first use. */
  get(runId: string): S {
    let state = this.map.get(runId)
    if (state === undefined) {
      state = this.init(runId)
      this.map.set(runId, state)
      if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value as string)
    }
    return state
  }

  /** The run's state if it has any. */
  peek(runId: string): S | undefined {
    return this.map.get(runId)
  }

  /** Forgets the run. */
  delete(runId: string): void {
    this.map.delete(runId)
  }
}
