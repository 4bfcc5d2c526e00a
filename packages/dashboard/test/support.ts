/**
 * Browser-test fixtures: a database seeded with real recorded runs (the agent loop, a scripted model that
 * also reports a provider payload, the SqlRecorder), the dashboard mounted in Express or served standalone,
 * and Debian's Chromium (`chromium.ts`), one per test file.
 */
import { toNodeHandler } from "@sextant/http-router/node"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, Guardrails, Ids, LanguageModel, ScriptedModel, Tool } from "@sextant/runtime"
import { RunStore, type RunStoreClient } from "@sextant/store"
import { Deferred, Effect, Layer, ManagedRuntime, Schema, Stream } from "effect"
import express from "express"
import { mkdirSync } from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { BrowserContext, Page } from "playwright-core"
import { freshDatabase as freshDatabaseOf } from "../../recorder/test/databases.js"
import { Dashboard, makeDashboard } from "../src/index.js"
import { launchChromium } from "./chromium.js"

/** Where screenshots go (git-ignored), for a reviewer to look at. */
export const artifacts = fileURLToPath(new URL("../../../.artifacts/dashboard/", import.meta.url))

/** The bearer token of the test servers. */
export const TOKEN = "s3cret-token"

/** Chromium (see `chromium.ts`) at the tests' viewport, zone and locale. */
export const launch = () =>
  launchChromium({ viewport: { width: 1280, height: 900 }, timezoneId: "America/New_York", locale: "en-US" })

/** Saves a full-page screenshot under `.artifacts/dashboard/`. */
export const screenshot = async (page: Page, name: string) => {
  mkdirSync(artifacts, { recursive: true })
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true })
}

/** A page that has entered the test token once (the prompt keeps it in this tab's session storage). */
export const signedInPage = async (context: BrowserContext, url: string): Promise<Page> => {
  const page = await context.newPage()
  await page.goto(url)
  await page.locator("input[name=token]").fill(TOKEN)
  await page.locator("form.modal button[type=submit]").click()
  return page
}

const weather = Tool.make("get_weather", {
  description: "Weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21, sky: "clear" })
})

const confirm = Tool.make("confirm_payment", {
  description: "Asks the user to confirm a payment",
  parameters: Schema.Struct({ amount: Schema.Number }),
  target: "client"
})

/** A scripted model that also reports the "wire" request, as a real provider does (the evidence view shows it). */
const wireModel = (steps: ReadonlyArray<ScriptedModel.ScriptStep>, model = "test-model") =>
  Layer.effect(
    LanguageModel,
    Effect.map(LanguageModel, (inner) => {
      const wire = (request: Parameters<typeof inner.generate>[0]) => ({
        model,
        input: request.messages.map((m) => ({ type: m._tag, text: "content" in m ? m.content : "" })),
        tools: request.tools.map((t) => t.name)
      })
      return LanguageModel.make({
        provider: "test",
        model,
        generate: (request) =>
          Effect.map(inner.generate(request), (r) => ({ ...r, providerRequest: wire(request) as never })),
        stream: (request) =>
          Stream.map(
            inner.stream(request),
            (part) =>
              part._tag === "Done"
                ? { ...part, response: { ...part.response, providerRequest: wire(request) as never } }
                : part
          )
      })
    })
  ).pipe(Layer.provide(ScriptedModel.layer(steps, { model })))

const toolThenAnswer = (answer: string, cost = 0.002): ReadonlyArray<ScriptedModel.ScriptStep> => [
  {
    toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }],
    usage: { inputTokens: 50, outputTokens: 12, costUsd: cost / 2 }
  },
  { text: answer, usage: { inputTokens: 80, outputTokens: 9, costUsd: cost / 2 } }
]

const agentNamed = (
  name: string,
  tools: ReadonlyArray<Tool.Tool> = [weather, confirm],
  guardrails: ReadonlyArray<Guardrails.Guardrail> = []
) => Agent.make({ name, instructions: `You are ${name}.`, tools, guardrails })

/** The e-mail address the guarded run receives: a guardrail redacts it, so no page may ever show it. */
export const SECRET_EMAIL = "jane.doe@example.com"

const dump = Tool.make("dump_table", {
  description: "Returns a large table",
  parameters: Schema.Struct({ rows: Schema.Number }),
  handler: ({ rows }) => ({ rows, data: "0123456789".repeat(rows) })
})

/**
 * Characters of the large tool result the `bulk` run records (the inspector must cap it). Below the runtime's
 * default 256 KiB field cap, so the record holds the whole value rather than its hash and truncation marker.
 */
export const BIG_RESULT = 200_000

/** Records one plain run now (for the live tests), returning its id. */
export const recordRun = (recorder: ReturnType<typeof recorderOf>, name: string) =>
  recorder.runPromise(Effect.gen(function*() {
    const agent = yield* agentNamed(name)
    const r = yield* agent.run("A new question", { tenantId: "acme" }).pipe(
      Effect.provide(wireModel([{ text: "new answer", usage: { inputTokens: 4, outputTokens: 2 } }]))
    )
    return r.runId
  }))

/** Ids of the seeded runs. */
export interface Seeded {
  readonly weather: string
  readonly failed: string
  readonly resumed: string
  readonly waiting: string
  readonly parent: string
  readonly child: string
  readonly grandchild: string
  readonly guarded: string
  readonly bulk: string
  readonly extra: ReadonlyArray<string>
}

const sleep = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

/** Seeds the runs the browser tests rely on (`extra` plain runs pad the list past one page when asked). */
export const seed = (extraRuns = 0) =>
  Effect.gen(function*() {
    const run = (
      name: string,
      steps: ReadonlyArray<ScriptedModel.ScriptStep>,
      options: Agent.RunOptions = {},
      input = `Question for ${name}?`,
      guardrails: ReadonlyArray<Guardrails.Guardrail> = [],
      tools?: ReadonlyArray<Tool.Tool>
    ) =>
      Effect.gen(function*() {
        const agent = yield* agentNamed(name, tools, guardrails)
        yield* sleep(2)
        return yield* agent.run(input, { runId: Ids.make(), ...options }).pipe(
          Effect.provide(wireModel(steps, `${name}-model`))
        )
      })
    const extra: Array<string> = []
    for (let i = 0; i < extraRuns; i++) {
      extra.push(
        (yield* run("batch", [{ text: `answer ${i}`, usage: { inputTokens: 3, outputTokens: 2 } }], {
          tenantId: "initech"
        })).runId
      )
    }
    const weatherRun = yield* run("weather", toolThenAnswer("It is 21 °C and clear in Lisbon."), { tenantId: "acme" })
    const failed = yield* run("support", [{ fail: "vendor down" }], { tenantId: "globex" })
    const parent = yield* run("planner", toolThenAnswer("planned", 0.004), { tenantId: "acme" })
    const child = yield* run("researcher", toolThenAnswer("found", 0.006), {
      tenantId: "acme",
      parentRunId: parent.runId
    })
    const grandchild = yield* run("fact-checker", toolThenAnswer("checked", 0.008), {
      tenantId: "acme",
      parentRunId: child.runId
    })
    // Paused on a client tool, then resumed 1.2 s later with the user's answer.
    const paused = yield* run("checkout", [
      {
        toolCalls: [{ name: "confirm_payment", arguments: { amount: 12 } }],
        usage: { inputTokens: 20, outputTokens: 3 }
      }
    ], { tenantId: "acme" })
    yield* sleep(1200)
    const checkout = yield* agentNamed("checkout")
    yield* checkout.submitToolResults(paused.runId, [{
      callId: paused.pendingCalls![0]!.id,
      result: { confirmed: true }
    }])
      .pipe(Effect.provide(wireModel([{ text: "Paid 12 EUR.", usage: { inputTokens: 30, outputTokens: 4 } }])))
    const guarded = yield* run(
      "mailer",
      [{ text: "I will write to them.", usage: { inputTokens: 15, outputTokens: 6 } }],
      { tenantId: "acme" },
      `Email ${SECRET_EMAIL} about the invoice`,
      [Guardrails.PII()]
    )
    const bulk = yield* run(
      "bulk",
      [
        {
          toolCalls: [{ name: "dump_table", arguments: { rows: BIG_RESULT / 10 } }],
          usage: { inputTokens: 9, outputTokens: 2 }
        },
        { text: "Dumped.", usage: { inputTokens: 9000, outputTokens: 2 } }
      ],
      { tenantId: "initech" },
      "Dump the table",
      [],
      [dump]
    )
    const waiting = yield* run("checkout", [
      {
        toolCalls: [{ name: "confirm_payment", arguments: { amount: 99 } }],
        usage: { inputTokens: 20, outputTokens: 3 }
      }
    ], { tenantId: "globex" })
    return {
      weather: weatherRun.runId,
      failed: failed.runId,
      resumed: paused.runId,
      waiting: waiting.runId,
      parent: parent.runId,
      child: child.runId,
      grandchild: grandchild.runId,
      guarded: guarded.runId,
      bulk: bulk.runId,
      extra
    } satisfies Seeded
  })

/** A fresh, migrated database of a dialect (SQLite: `runs.db` in a new temp dir); resolves to its URL and a cleanup. */
export const freshDatabase = (dialect: "sqlite" | "postgres") => freshDatabaseOf(dialect, "runs.db")

/** The recorder of a database, for seeding and for runs a test drives. */
export const recorderOf = (url: string) => ManagedRuntime.make(SqlRecorder.layerFromUrl(url).pipe(Layer.orDie))

/** A run the test releases: its tool waits on a gate, so the run is in progress until `release`. */
export const startGatedRun = (recorder: ReturnType<typeof recorderOf>) =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<void>()
    const slow = Tool.make("slow_lookup", {
      description: "Waits for the test",
      parameters: Schema.Struct({ q: Schema.String }),
      handler: () => Effect.as(Deferred.await(gate), { found: true })
    })
    const agent = yield* agentNamed("live", [slow])
    const runId = Ids.make()
    const fiber = yield* Effect.forkDaemon(
      agent.run("Look it up", { runId, tenantId: "acme" }).pipe(Effect.provide(wireModel([
        { toolCalls: [{ name: "slow_lookup", arguments: { q: "x" } }], usage: { inputTokens: 5, outputTokens: 2 } },
        { text: "Found it.", usage: { inputTokens: 6, outputTokens: 3 } }
      ])))
    )
    return { runId, release: Deferred.succeed(gate, undefined), fiber }
  }).pipe((e) => recorder.runPromise(e))

/** A running test server: the dashboard's base URL (`…/ui/`), the API base, and a stop. */
export interface Served {
  readonly ui: string
  readonly api: string
  readonly store: RunStoreClient
  readonly close: () => Promise<void>
}

/** The dashboard mounted at `/api/sextant` in Express, behind a bearer token. */
export const serveInExpress = async (url: string): Promise<Served> => {
  const store = await RunStore.fromDatabaseUrl(url)
  const router = makeDashboard({ store, authorize: Dashboard.bearer(TOKEN), pollIntervalMs: 50 })
  const app = express()
  app.use("/api/sextant", toNodeHandler(router))
  app.get("/", (_req, res) => void res.send("the host app"))
  const server = Http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/sextant`
  return {
    ui: `${base}/ui/`,
    api: base,
    store,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await router.dispose()
      await store.close()
    }
  }
}

/** The dashboard of a database served in Express and a signed-in Chromium page on it: one a test file. */
export interface Browsing {
  readonly served: Served
  readonly context: BrowserContext
  readonly page: Page
  /** Opens a path of the app, relative to its `…/ui/`. */
  readonly open: (path: string) => Promise<unknown>
  /** Closes the browser, then the server. */
  readonly close: () => Promise<void>
}

/** Serves the dashboard of the database at `url` in Express and signs a fresh Chromium page in. */
export const browse = async (url: string): Promise<Browsing> => {
  const served = await serveInExpress(url)
  let browser: Awaited<ReturnType<typeof launch>> | undefined
  const close = async () => {
    await browser?.close()
    await served.close()
  }
  try {
    browser = await launch()
    const page = await signedInPage(browser.context, served.ui)
    return {
      served,
      context: browser.context,
      page,
      open: (path) => page.goto(new URL(path, served.ui).toString()),
      close
    }
  } catch (error) {
    await close()
    throw error
  }
}
