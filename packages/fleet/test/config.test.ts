/**
 * Fleet options checked before anything connects: a SQLite URL is a typed error saying fleet mode is
 * Postgres-only; a bad capacity or port names the field.
 */
import { describe, expect, it } from "@effect/vitest"
import { Fleet } from "@sextant/fleet"
import { Effect, Layer } from "effect"
import { model } from "./fixtures/agent.js"

const build = (options: Fleet.FleetOptions) =>
  Effect.flip(Layer.build(Fleet.layer(options).pipe(Layer.provide(model)))).pipe(Effect.scoped)

describe("Fleet.layer options", () => {
  it.effect("a SQLite URL fails FleetPostgresOnly", () =>
    Effect.gen(function*() {
      const error = yield* build({ databaseUrl: "sqlite:./agent.db" })
      expect(error._tag).toBe("FleetPostgresOnly")
      expect(error.message).toContain("fleet mode is Postgres-only")
    }))

  it.effect("a capacity that is not a positive integer fails InvalidFleetConfig naming it", () =>
    Effect.gen(function*() {
      const error = yield* build({ databaseUrl: "postgres://u@127.0.0.1:1/x", capacity: 0 })
      expect(error).toMatchObject({ _tag: "InvalidFleetConfig", field: "capacity" })
    }))

  it.effect("a runner port out of range fails InvalidFleetConfig naming it", () =>
    Effect.gen(function*() {
      const error = yield* build({ databaseUrl: "postgres://u@127.0.0.1:1/x", runner: { port: 70_000 } })
      expect(error).toMatchObject({ _tag: "InvalidFleetConfig", field: "runner.port" })
    }))

  it.effect("a listenRetry that is not a duration fails InvalidFleetConfig naming it", () =>
    Effect.gen(function*() {
      const error = yield* build({
        databaseUrl: "postgres://u@127.0.0.1:1/x",
        runner: { listenRetry: "soon" as unknown as number }
      })
      expect(error).toMatchObject({ _tag: "InvalidFleetConfig", field: "runner.listenRetry" })
    }))
})
