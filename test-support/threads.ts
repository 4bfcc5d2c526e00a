/** Records the packages' thread tests share. */
import { HookBus, type HookEvent } from "@sextant/runtime"
import { Effect } from "effect"

/**
 * The record of a run on `threadId` as a crash left it (what `Agent.recover` continues): started, any `before`
 * events, its input appended, a model call in flight. Recorded through the ambient `Recorder`.
 */
export const cutThreadRun = (
  runId: string,
  threadId: string,
  input: string,
  before: ReadonlyArray<HookBus.HookEventInput> = []
) =>
  Effect.gen(function*() {
    const bus = yield* HookBus.open({ runId })
    yield* bus.emit({
      _tag: "RunStarted",
      agentName: "chat",
      instructions: "Be brief.",
      input,
      delegationLevel: 0,
      tools: [],
      threadId
    }, 0)
    for (const e of before) yield* bus.emit(e, 0)
    const message: HookEvent.Message = { _tag: "user", content: input }
    yield* bus.emit({ _tag: "MessageAppended", orderIndex: 0, message }, 0)
    yield* bus.emit({
      _tag: "LlmCallStarted",
      correlationId: `llm-${runId}`,
      provider: "scripted",
      model: "scripted",
      messageCount: 1
    }, 1)
  }).pipe(Effect.scoped)
