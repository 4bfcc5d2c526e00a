/**
 * The baselines the kernel is held to, written as a user would without Sextant:
 * - `plainEffectRun`: a plain-Effect agent loop doing the same logical steps as the kernel — `Effect.gen`, one
 *   model service call per turn, the tool's own effect per call, and per event one stamped object (a `Ref`
 *   for the sequence), one sink service call and an offer to each consumer's mailbox (each drained by its own
 *   fiber, as the kernel's notifiers are). No retries, no timeouts, no governance, no redaction, no Schema.
 * - `bareAsyncRun`: the same steps as a plain async function pushing the events into an array.
 * Both take the model as a function of the iteration, the same one the kernel's benchmark model answers with.
 */
import { Clock, Context, Duration, Effect, Exit, Fiber, Mailbox, Ref, type Scope } from "effect"

/** A JSON value (the runtime's `Json`, structurally). */
export type JsonValue = null | boolean | number | string | ReadonlyArray<JsonValue> | {
  readonly [key: string]: JsonValue
}

/** A model turn: text, tool calls, usage. */
export interface Turn {
  readonly text: string
  readonly toolCalls: ReadonlyArray<{ readonly id: string; readonly name: string; readonly arguments: JsonValue }>
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number }
}

/**
 * A turn as a model port answers it (the shape of the runtime's `ModelResponse`, with the provider payload
 * the scripted model also returns), so the kernel's benchmark model and the plain loop get the same turns.
 */
export const responseOf = (turn: Turn, iteration: number) => {
  const response = {
    text: turn.text,
    toolCalls: turn.toolCalls,
    usage: turn.usage,
    finishReason: turn.toolCalls.length > 0 ? "tool_calls" : "stop",
    model: "bench-1",
    responseId: `bench_${iteration}`
  }
  return { ...response, providerResponse: response as unknown as JsonValue }
}

/** A scripted model: the turn for an iteration (1-based). */
export type Script = (iteration: number) => Turn

/** The model port of the plain loop. */
export class PlainModel extends Context.Tag("bench/PlainModel")<PlainModel, {
  readonly generate: (request: {
    readonly runId: string
    readonly iteration: number
    readonly messages: ReadonlyArray<unknown>
  }) => Effect.Effect<Turn>
}>() {}

/** Where the plain loop's events go (the recorder's place). */
export class PlainSink extends Context.Tag("bench/PlainSink")<PlainSink, {
  readonly record: (event: PlainEvent) => Effect.Effect<void>
}>() {}

/** An event of the plain loop: a type, the run's stamps, the payload. */
export interface PlainEvent {
  readonly type: string
  readonly runId: string
  readonly sequenceIndex: number
  readonly iteration: number
  readonly timestamp: number
  readonly [key: string]: unknown
}

/** A tool of the plain loop: its handler's effect. */
export type PlainTool = (args: unknown) => Effect.Effect<unknown>

/** The model service over a script. */
export const plainModel = (script: Script) =>
  PlainModel.of({ generate: (request) => Effect.sync(() => script(request.iteration)) })

/** A sink keeping every event in memory (as the memory recorder does), or dropping them. */
export const plainSink = (keep: boolean) => {
  const events: Array<PlainEvent> = []
  return {
    events,
    sink: PlainSink.of({ record: keep ? (event) => Effect.sync(() => void events.push(event)) : () => Effect.void })
  }
}

/**
 * `count` consumers, each a mailbox drained by its own fiber calling a no-op handler per event; the offer is
 * synchronous, as the kernel's dispatcher's is. Lives as long as the scope.
 */
export const plainConsumers = (
  count: number
): Effect.Effect<ReadonlyArray<(event: PlainEvent) => void>, never, Scope.Scope> =>
  Effect.forEach(Array.from({ length: count }), () =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<PlainEvent>({ capacity: 1024 })
      const handle = (_event: PlainEvent): void => undefined
      const fiber = yield* Effect.forkScoped(Effect.forever(Effect.map(mailbox.takeAll, ([batch]) => {
        for (const event of batch) handle(event)
      })))
      yield* Effect.addFinalizer(() => Fiber.interrupt(fiber))
      return (event: PlainEvent) => void mailbox.unsafeOffer(event)
    }))

/**
 * Patterns of the kernel added one at a time to the plain loop, to measure what each costs (an ablation run
 * the other way round: the kernel's sources stay as they are).
 */
export interface KernelPatterns {
  /** Each tool call inside `Effect.timeoutFail` (120 s) and `Effect.exit`, as the kernel's `executeTool`. */
  readonly toolTimeout?: boolean
  /** Each emit inside a one-permit semaphore's `withPermits(1)`, as the kernel's bus. */
  readonly emitLock?: boolean
  /**
   * Emit shaped as the kernel's bus: a `Clock` lookup, the record `uninterruptible` with a `tap` moving the
   * sequence, and `Effect.forEach` over the sinks, each an `Effect.sync` offer.
   */
  readonly kernelEmit?: boolean
}

const TIMEOUT = Symbol("timeout")

/** One run of the plain-Effect loop; resolves to the number of model turns. */
export const plainEffectRun = (options: {
  readonly runId: string
  readonly input: string
  readonly maxIterations: number
  readonly tools: Readonly<Record<string, PlainTool>>
  readonly consumers: ReadonlyArray<(event: PlainEvent) => void>
  readonly patterns?: KernelPatterns
}): Effect.Effect<number, never, PlainModel | PlainSink> =>
  Effect.gen(function*() {
    const model = yield* PlainModel
    const sink = yield* PlainSink
    const { consumers, runId } = options
    const patterns = options.patterns ?? {}
    const sequence = yield* Ref.make(0)
    let counter = 0
    const sinks = consumers.map((offer) => (event: PlainEvent) => Effect.sync(() => offer(event)))
    const plainEmit = (type: string, iteration: number, payload: Record<string, unknown>) =>
      Effect.gen(function*() {
        const sequenceIndex = yield* Ref.getAndUpdate(sequence, (n) => n + 1)
        const event: PlainEvent = { ...payload, type, runId, sequenceIndex, iteration, timestamp: Date.now() }
        yield* sink.record(event)
        for (const offer of consumers) offer(event)
      })
    const kernelEmit = (type: string, iteration: number, payload: Record<string, unknown>) =>
      Effect.gen(function*() {
        const timestamp = yield* Clock.currentTimeMillis
        const event: PlainEvent = { ...payload, type, runId, sequenceIndex: counter, iteration, timestamp }
        yield* Effect.uninterruptible(Effect.tap(sink.record(event), () => Effect.sync(() => counter++)))
        yield* Effect.forEach(sinks, (s) => s(event), { discard: true })
      })
    const lock = yield* Effect.makeSemaphore(1)
    const shaped = patterns.kernelEmit === true ? kernelEmit : plainEmit
    const emit = patterns.emitLock === true
      ? (type: string, iteration: number, payload: Record<string, unknown>) =>
        lock.withPermits(1)(shaped(type, iteration, payload))
      : shaped
    const callTool = (tool: PlainTool, args: unknown): Effect.Effect<unknown> =>
      patterns.toolTimeout === true
        ? Effect.map(
          Effect.exit(Effect.timeoutFail(tool(args), { duration: Duration.seconds(120), onTimeout: () => TIMEOUT })),
          (exit) => (Exit.isSuccess(exit) ? exit.value : undefined)
        )
        : tool(args)
    const history: Array<unknown> = [{ role: "user", content: options.input }]
    yield* emit("run.started", 0, { input: options.input })
    yield* emit("message.appended", 0, { message: history[0] })
    let iteration = 0
    while (iteration < options.maxIterations) {
      iteration++
      const started = Date.now()
      yield* emit("llm.started", iteration, { model: "bench" })
      const turn = yield* model.generate({ runId, iteration, messages: [...history] })
      yield* emit("llm.completed", iteration, {
        text: turn.text,
        toolCalls: turn.toolCalls,
        usage: turn.usage,
        durationMs: Date.now() - started
      })
      const assistant = { role: "assistant", content: turn.text, toolCalls: turn.toolCalls }
      history.push(assistant)
      yield* emit("message.appended", iteration, { message: assistant })
      if (turn.toolCalls.length === 0) break
      for (const call of turn.toolCalls) {
        const callStarted = Date.now()
        yield* emit("tool.started", iteration, {
          correlationId: call.id,
          toolName: call.name,
          arguments: call.arguments
        })
        const result = yield* callTool(options.tools[call.name]!, call.arguments)
        yield* emit("tool.completed", iteration, {
          correlationId: call.id,
          toolName: call.name,
          result,
          success: true,
          durationMs: Date.now() - callStarted
        })
        const message = { role: "tool", toolCallId: call.id, content: JSON.stringify(result) }
        history.push(message)
        yield* emit("message.appended", iteration, { message })
      }
    }
    yield* emit("run.completed", iteration, { status: "success", iterations: iteration })
    return iteration
  })

/** The same run as a plain async function pushing its events into an array. */
export const bareAsyncRun = async (options: {
  readonly runId: string
  readonly input: string
  readonly maxIterations: number
  readonly script: Script
  readonly tools: Readonly<Record<string, (args: unknown) => Promise<unknown>>>
  readonly events: Array<PlainEvent>
}): Promise<number> => {
  const { events, runId } = options
  let sequenceIndex = 0
  const emit = (type: string, iteration: number, payload: Record<string, unknown>) =>
    events.push({ ...payload, type, runId, sequenceIndex: sequenceIndex++, iteration, timestamp: Date.now() })
  const model = async (iteration: number, _messages: ReadonlyArray<unknown>) => options.script(iteration)
  const history: Array<unknown> = [{ role: "user", content: options.input }]
  emit("run.started", 0, { input: options.input })
  emit("message.appended", 0, { message: history[0] })
  let iteration = 0
  while (iteration < options.maxIterations) {
    iteration++
    emit("llm.started", iteration, { model: "bench" })
    const turn = await model(iteration, [...history])
    emit("llm.completed", iteration, { text: turn.text, toolCalls: turn.toolCalls, usage: turn.usage })
    const assistant = { role: "assistant", content: turn.text, toolCalls: turn.toolCalls }
    history.push(assistant)
    emit("message.appended", iteration, { message: assistant })
    if (turn.toolCalls.length === 0) break
    for (const call of turn.toolCalls) {
      emit("tool.started", iteration, { correlationId: call.id, toolName: call.name, arguments: call.arguments })
      const result = await options.tools[call.name]!(call.arguments)
      emit("tool.completed", iteration, { correlationId: call.id, toolName: call.name, result, success: true })
      const message = { role: "tool", toolCallId: call.id, content: JSON.stringify(result) }
      history.push(message)
      emit("message.appended", iteration, { message })
    }
  }
  emit("run.completed", iteration, { status: "success", iterations: iteration })
  return iteration
}

/**
 * The kernel benchmark's script: `perRun - 1` turns calling `tool` with `{ i }`, then an answer. Call ids are
 * unique per iteration; the kernel gives each call its own correlation id anyway.
 */
export const loopScript = (perRun: number, tool: string): Script => (iteration) =>
  iteration < perRun
    ? {
      text: "",
      toolCalls: [{ id: `call_${iteration}`, name: tool, arguments: { i: iteration } }],
      usage: { inputTokens: 10, outputTokens: 5 }
    }
    : { text: "done", toolCalls: [], usage: { inputTokens: 10, outputTokens: 5 } }

/**
 * The end-to-end script: a 3-turn, 2-tool run (weather, then a unit conversion, then the answer), 18 recorded
 * events on the kernel.
 */
export const threeTurnScript: Script = (iteration) =>
  iteration === 1
    ? {
      text: "",
      toolCalls: [{ id: "call_w", name: "weather", arguments: { city: "Lisbon" } }],
      usage: { inputTokens: 120, outputTokens: 18 }
    }
    : iteration === 2
    ? {
      text: "",
      toolCalls: [{ id: "call_c", name: "convert", arguments: { celsius: 21 } }],
      usage: { inputTokens: 180, outputTokens: 16 }
    }
    : {
      text: "It is sunny in Lisbon, 21 °C (69.8 °F).",
      toolCalls: [],
      usage: { inputTokens: 240, outputTokens: 14 }
    }

/** The end-to-end tools' results. */
export const threeTurnResults: Readonly<Record<string, (args: any) => unknown>> = {
  weather: ({ city }: { city: string }) => ({ city, conditions: "sunny", celsius: 21 }),
  convert: ({ celsius }: { celsius: number }) => ({ fahrenheit: celsius * 1.8 + 32 })
}
