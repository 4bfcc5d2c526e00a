/**
 * The Promise tracer: each `run` executes the Effect run on a `ManagedRuntime` over the host's recorder
 * layer; the active run is carried across `await`s by `AsyncLocalStorage`, so a run started inside another's
 * callback becomes its child. Failures reject with the tagged error itself (not a wrapper).
 */
import type { Recorder } from "@sextant/runtime"
import { Cause, Effect, Exit, type Layer, ManagedRuntime, Option, Runtime } from "effect"
import { AsyncLocalStorage } from "node:async_hooks"
import * as Remote from "../Remote.js"
import type * as Trace from "../Trace.js"
import * as Core from "./run.js"

interface Active {
  readonly core: Trace.TraceRun
  readonly facade: Trace.PromiseRun
}

const storage = new AsyncLocalStorage<Active>()

/** The value of an exit, or its error thrown as it is (a failure's error, else the squashed cause). */
const unwrap = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.failureOption(exit.cause)
  throw Option.isSome(failure) ? failure.value : Cause.squash(exit.cause)
}

const facadeOf = (core: Trace.TraceRun, runtime: Runtime.Runtime<never>): Trace.PromiseRun => {
  const exec = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Runtime.runPromiseExit(runtime)(effect).then(unwrap)
  const self: Trace.PromiseRun = {
    runId: core.runId,
    parentRunId: core.parentRunId,
    delegationLevel: core.delegationLevel,
    sampled: core.sampled,
    llm: (call) => exec(core.llm(call)),
    llmStart: (start) =>
      exec(Effect.map(core.llmStart(start), (span) => ({
        correlationId: span.correlationId,
        end: (result) => exec(span.end(result)),
        fail: (error, options) => exec(span.fail(error, options))
      }))),
    tool: (name, args, fn, options) =>
      exec(core.tool(
        name,
        args,
        Effect.tryPromise({
          try: () => storage.run({ core, facade: self }, async () => await fn()),
          catch: (error) => error
        }),
        options
      )),
    toolStart: (name, args, options) =>
      exec(Effect.map(core.toolStart(name, args, options), (span) => ({
        correlationId: span.correlationId,
        end: (result) => exec(span.end(result)),
        fail: (error) => exec(span.fail(error))
      }))),
    memoryRead: (key, value, options) => exec(core.memoryRead(key, value, options)),
    memoryWrite: (key, value, options) => exec(core.memoryWrite(key, value, options)),
    event: (type, data) => exec(core.event(type, data)),
    stream: (name) =>
      exec(Effect.map(core.stream(name), (s) => ({
        correlationId: s.correlationId,
        chunk: (data) => exec(s.chunk(data)),
        end: () => exec(s.end)
      }))),
    final: (answer, options) => exec(core.final(answer, options)),
    fail: (error) => exec(core.fail(error))
  }
  return self
}

/** The Promise tracer over a managed runtime providing the `Recorder`. */
const over = <E>(managed: ManagedRuntime.ManagedRuntime<Recorder, E>): Trace.Tracer => {
  const run = <A>(
    name: string,
    options: Trace.RunOptions,
    body: (run: Trace.PromiseRun) => Promise<A> | A
  ): Promise<A> => {
    const parent = storage.getStore()?.core
    const program = Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      Core.run(name, options, (core) => {
        const facade = facadeOf(core, runtime)
        return Effect.tryPromise({
          try: () => storage.run({ core, facade }, async () => await body(facade)),
          catch: (error) => error
        })
      }, parent))
    return managed.runPromiseExit(program).then(unwrap)
  }
  const traced = <Args extends ReadonlyArray<unknown>, A>(
    fn: (...args: Args) => A | PromiseLike<A>,
    options: Trace.TracedOptions
  ) => {
    const name = options.name ?? (fn.name === "" ? "anonymous" : fn.name)
    return async (...args: Args): Promise<Awaited<A>> => {
      const active = storage.getStore()
      if (active === undefined) return await fn(...args)
      return await active.facade.tool(name, args.length === 1 ? args[0] : args, () => fn(...args))
    }
  }
  return {
    run,
    current: () => storage.getStore()?.facade,
    traced,
    close: () => managed.dispose()
  }
}

/** A Promise tracer over the host's recorder layer. */
export const make = <E>(layer: Layer.Layer<Recorder, E>): Trace.Tracer => over(ManagedRuntime.make(layer))

/** A Promise tracer over the buffered exporter, with its flush, counters and shutdown. */
export const remote = (options: Remote.BufferedOptions): Trace.RemoteTracer => {
  const managed = ManagedRuntime.make(Remote.buffered(options))
  const tracer = over(managed)
  // The service is kept, so the counters stay readable after `shutdown()` released the runtime.
  let service: Promise<Remote.Exporter["Type"]> | undefined
  const exporter = () => service ??= managed.runPromise(Remote.Exporter)
  return {
    ...tracer,
    flush: () => exporter().then((e) => Effect.runPromise(e.flush)),
    stats: () => exporter().then((e) => Effect.runPromise(e.stats)),
    shutdown: async () => {
      const e = await exporter()
      await managed.dispose()
      return Effect.runSync(e.stats)
    }
  }
}
