/**
 * The read API routes the dashboard calls, by endpoint name. The names, parameters and responses are typed
 * from the router's `ReadApi` (see `api.ts`); a test checks these paths against the API's own, so a renamed
 * route fails the build's tests, not the users.
 */
export const paths = {
  listRunRows: "/run-rows",
  listWaiting: "/waiting",
  getRun: "/runs/:runId",
  getTimeline: "/runs/:runId/timeline",
  getEvents: "/runs/:runId/events",
  streamEvents: "/runs/:runId/events/stream",
  getToolCalls: "/runs/:runId/tool-calls",
  getLlmCalls: "/runs/:runId/llm-calls",
  getPauses: "/runs/:runId/pauses",
  getRunTree: "/runs/:runId/tree",
  getRunSignals: "/runs/:runId/signals",
  listSignals: "/signals",
  listThreads: "/threads",
  getThread: "/threads/:threadId",
  usage: "/usage"
} as const

/** An endpoint the dashboard calls. */
export type PathName = keyof typeof paths
