/**
 * The issues roll-up, computed from the record (no table of its own, so it can never disagree with it):
 * per (agent, signal type), walking the agent's ended runs in creation order, a run with the signal opens
 * the issue (or reopens a resolved one) and `resolveAfter` consecutive runs without it resolve it.
 */

/** One issue. */
export interface Issue {
  readonly agentName: string
  readonly type: string
  readonly status: "open" | "resolved" | "reopened"
  /** Runs that raised the signal. */
  readonly occurrences: number
  readonly firstRunId: string
  readonly lastRunId: string
  readonly lastSeenAt: string
  /** Consecutive clean runs since the last occurrence. */
  readonly cleanRunsSince: number
}

/** A run and the live signal types it raised. */
export interface RunSignals {
  readonly runId: string
  readonly agentName: string
  readonly createdAt: string
  readonly types: ReadonlySet<string>
}

/** Folds runs (creation order) into issues, ordered by agent then type. */
export const rollUp = (runs: ReadonlyArray<RunSignals>, resolveAfter: number): ReadonlyArray<Issue> => {
  const issues = new Map<string, { -readonly [K in keyof Issue]: Issue[K] }>()
  for (const run of runs) {
    for (const type of run.types) {
      const key = `${run.agentName}\u0000${type}`
      const issue = issues.get(key)
      if (issue === undefined) {
        issues.set(key, {
          agentName: run.agentName,
          type,
          status: "open",
          occurrences: 1,
          firstRunId: run.runId,
          lastRunId: run.runId,
          lastSeenAt: run.createdAt,
          cleanRunsSince: 0
        })
      } else {
        if (issue.status === "resolved") issue.status = "reopened"
        issue.occurrences++
        issue.lastRunId = run.runId
        issue.lastSeenAt = run.createdAt
        issue.cleanRunsSince = 0
      }
    }
    for (const issue of issues.values()) {
      if (issue.agentName !== run.agentName || run.types.has(issue.type)) continue
      issue.cleanRunsSince++
      if (issue.cleanRunsSince >= resolveAfter) issue.status = "resolved"
    }
  }
  return [...issues.values()].sort((a, b) => a.agentName.localeCompare(b.agentName) || a.type.localeCompare(b.type))
}
