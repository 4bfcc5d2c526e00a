import { Args, Command, Options } from "@effect/cli"
import { SqlClient } from "@effect/sql"
import { Encryption, Tables } from "@sextant/recorder"
import { HookEvent } from "@sextant/runtime"
import { type Records, RunStore, type Views } from "@sextant/store"
import { Clock, Effect, Option, Stream } from "effect"
import { CliError } from "../../Errors.js"
import { existing, json, readLayer, shared } from "../context.js"
import * as f from "../format.js"
import * as output from "../output.js"
import * as parse from "../parse.js"

const optionalText = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional)

const since = optionalText("since", "runs created at or after: 7d (ago), 2026-01-31 or an ISO-8601 datetime")
const until = optionalText("until", "runs created before: 1d (ago), 2026-02-01 or an ISO-8601 datetime")
const tenant = optionalText("tenant", "only this tenant's runs")
const statusOption = optionalText("status", `one status or a comma list: ${HookEvent.RunStatus.literals.join(", ")}`)

const instantOf = (flag: string, value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (text) => Effect.flatMap(Clock.currentTimeMillis, (now) => parse.instant(flag, text, now))
  })

const statusesOf = (value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (text) => {
      const list = text.split(",").map((s) => s.trim()).filter((s) => s !== "")
      const bad = list.find((s) => !(HookEvent.RunStatus.literals as ReadonlyArray<string>).includes(s))
      return bad === undefined && list.length > 0
        ? Effect.succeed(list as Array<HookEvent.RunStatus>)
        : Effect.fail(
          new CliError({
            message: `--status must be one of ${HookEvent.RunStatus.literals.join(", ")} (or a comma list), got ${
              JSON.stringify(bad ?? text)
            }`,
            exitCode: 2
          })
        )
    }
  })

const tokens = (t: Records.RunTotals) => t.inputTokens + t.outputTokens

/** `sextant runs`. */
export const runs = Command.make("runs", {
  ...shared,
  json,
  status: statusOption,
  agent: optionalText("agent", "only runs of this agent"),
  tenant,
  since,
  limit: Options.integer("limit").pipe(Options.withDescription("most runs to list (1..1000)"), Options.withDefault(20))
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    if (o.limit < 1 || o.limit > 1000) {
      return yield* new CliError({ message: `--limit must be from 1 to 1000, got ${o.limit}`, exitCode: 2 })
    }
    const filter = {
      status: yield* statusesOf(o.status),
      agentName: Option.getOrUndefined(o.agent),
      tenantId: Option.getOrUndefined(o.tenant),
      createdAfter: yield* instantOf("since", o.since),
      limit: o.limit,
      includeTotal: true
    }
    const page = yield* Effect.provide(
      Effect.flatMap(RunStore, (store) => store.listRunRows(filter)),
      readLayer(db.url)
    )
    if (o.json) return yield* output.json(page)
    if (page.items.length === 0) return yield* output.err("no runs match")
    yield* output.out(f.table(
      ["ID", "AGENT", "STATUS", "ITER", "TOKENS", "COST", "DURATION", "CREATED"],
      page.items.map((r: Views.RunRow) => [
        r.id,
        r.agentName,
        f.status(r.status),
        String(r.iterationCount),
        f.int(tokens(r.totals)),
        f.usd(r.totals.costUsd),
        f.ms(r.durationMs),
        f.when(r.createdAt)
      ]),
      { shrink: [0, 1] }
    ))
    if (page.total !== undefined && page.total > page.items.length) {
      yield* output.err(
        f.style.dim(`${page.items.length} of ${page.total} runs (--limit for more)`, f.colour(process.stderr))
      )
    }
  })).pipe(Command.withDescription("List recorded runs, newest first. Example: sextant runs --status error --since 7d"))

const node = (n: Views.TimelineNode, payloads: boolean): string => {
  const head = `${f.style.dim(`#${String(n.sequenceIndex).padStart(3)}`)} ${f.when(n.at).slice(11)}  `
  switch (n._tag) {
    case "segment":
      return `${head}${f.style.bold(n.kind === "started" ? "started" : "resumed")}`
    case "llmCall": {
      const usage = `${f.int(n.inputTokens)}→${f.int(n.outputTokens)} tokens`
      const text = n.text === null ? "" : `\n        ${f.brief(n.text.text, payloads ? 400 : 100)}`
      const error = n.error === null ? "" : `  ${f.style.red(n.error.message)}`
      const calls = n.toolCallCount > 0 ? `  ${n.toolCallCount} tool call${n.toolCallCount === 1 ? "" : "s"}` : ""
      return `${head}model ${n.model} ${n.status}  ${usage}  ${f.usd(n.costUsd)}  ${
        f.ms(n.durationMs)
      }${calls}${error}${text}`
    }
    case "toolCall": {
      const args = n.arguments === null ? "" : f.brief(n.arguments.text, payloads ? 400 : 60)
      const result = n.result === null ? "" : ` → ${f.brief(n.result.text, payloads ? 400 : 60)}`
      const state = n.status === "failed" ? f.style.red(`failed: ${n.error ?? ""}`) : n.status
      return `${head}tool ${n.toolName}(${args})${result}  ${state}  ${f.ms(n.durationMs)}${
        n.target === "client" ? "  (client)" : ""
      }`
    }
    case "pause":
      return `${head}${f.style.yellow(`paused ${n.status}`)}  ${
        n.waitMs === null ? "still waiting" : `waited ${f.ms(n.waitMs)}`
      }${n.prompt === null ? "" : `  ${f.brief(n.prompt, 60)}`}`
    case "governance": {
      const paint = n.severity === "error" ? f.style.red : n.severity === "warning" ? f.style.yellow : f.style.dim
      return `${head}${paint(`${n.eventType}: ${n.title}`)}`
    }
    case "retry":
      return `${head}${f.style.yellow(`retry ${n.provider} attempt ${n.attempt}`)}  ${n.reason}`
    case "end":
      return `${head}${f.style.bold(`ended ${f.status(n.status)}`)}${
        n.answer === null ? "" : `\n        ${f.brief(n.answer.text, payloads ? 2000 : 200)}`
      }${n.error === null ? "" : `\n        ${f.style.red(`${n.error.tag ?? "error"}: ${n.error.message}`)}`}`
  }
}

/** `sextant show RUN`. */
export const show = Command.make("show", {
  ...shared,
  json,
  payloads: Options.boolean("payloads").pipe(Options.withDescription("add the exact provider payloads")),
  run: Args.text({ name: "run" }).pipe(Args.withDescription("the run id"))
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const { run, timeline, llmCalls } = yield* Effect.provide(
      Effect.gen(function*() {
        const store = yield* RunStore
        const run = yield* store.getRun(o.run)
        const timeline = yield* store.getTimeline(o.run)
        const llmCalls = o.payloads ? (yield* store.getLlmCalls(o.run)).items : undefined
        return { run, timeline, llmCalls }
      }),
      readLayer(db.url)
    )
    if (o.json) {
      return yield* output.json({
        run,
        timeline,
        ...(llmCalls === undefined ? {} : {
          payloads: llmCalls.map((c) => ({
            id: c.id,
            iteration: c.iteration,
            providerRequest: c.providerRequest,
            providerResponse: c.providerResponse
          }))
        })
      })
    }
    const duration = run.finishedAt === null ? null : Date.parse(run.finishedAt) - Date.parse(run.createdAt)
    const lines = [
      `${f.style.bold(`run ${run.id}`)}  ${f.status(run.status)}`,
      `agent ${run.agentName}  tenant ${run.tenantId ?? "-"}  model ${
        run.model ?? "-"
      }  iterations ${run.iterationCount}`,
      `created ${f.when(run.createdAt)}  finished ${f.when(run.finishedAt)}  duration ${f.ms(duration)}`,
      `tokens ${f.int(run.totals.inputTokens)} in / ${f.int(run.totals.outputTokens)} out  cost ${
        f.usd(run.totals.costUsd)
      }  model calls ${run.totals.modelCallCount}`,
      ...(run.parentRunId === null ? [] : [`parent ${run.parentRunId}`]),
      `input ${f.brief(run.input, 200)}`,
      "",
      ...timeline.nodes.map((n) => node(n, o.payloads))
    ]
    if (llmCalls !== undefined) {
      for (const c of llmCalls) {
        lines.push("", f.style.bold(`provider payloads of ${c.id} (iteration ${c.iteration})`))
        lines.push(`request  ${JSON.stringify(c.providerRequest, null, 2)}`)
        lines.push(`response ${JSON.stringify(c.providerResponse, null, 2)}`)
      }
    }
    yield* output.out(`${lines.join("\n")}\n`)
  })).pipe(
    Command.withDescription(
      "A run's header and timeline (model calls, tools, pauses, governance, the outcome). " +
        "Example: sextant show run_123 --payloads"
    )
  )

const isPg = (sql: SqlClient.SqlClient) => sql.onDialectOrElse({ pg: () => true, orElse: () => false })

const tableSizes = (sql: SqlClient.SqlClient) =>
  isPg(sql)
    ? sql<{ name: string; bytes: number }>`SELECT c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes
        FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
        WHERE s.nspname = current_schema() AND c.relkind = 'r' ORDER BY bytes DESC, name`
    : sql<{ name: string; bytes: number }>`SELECT m.tbl_name AS name, SUM(d.pgsize) AS bytes
        FROM dbstat d JOIN sqlite_master m ON m.name = d.name
        WHERE m.tbl_name NOT LIKE 'sqlite_%' GROUP BY m.tbl_name ORDER BY bytes DESC, name`.pipe(
      Effect.catchAll(() => Effect.succeed([] as ReadonlyArray<{ name: string; bytes: number }>))
    )

/** `sextant stats`. */
export const stats = Command.make("stats", { ...shared, json, since }, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const from = yield* instantOf("since", o.since)
    const result = yield* Effect.provide(
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* RunStore
        const range = from === undefined ? sql`` : sql`WHERE created_at >= ${from}`
        const byStatus = yield* sql<{ status: string; runs: number }>`SELECT status, COUNT(*) AS runs FROM agent_runs
          ${range} GROUP BY status ORDER BY status`
        const byAgent = yield* sql<{ agent: string; runs: number }>`SELECT agent_name AS agent, COUNT(*) AS runs
          FROM agent_runs ${range} GROUP BY agent_name ORDER BY agent_name`
        const span = yield* sql<{ oldest: string | Date | null; newest: string | Date | null; runs: number }>`
          SELECT MIN(created_at) AS oldest, MAX(created_at) AS newest, COUNT(*) AS runs FROM agent_runs`
        const models = yield* store.usage({ groupBy: ["model"], ...(from === undefined ? {} : { from }) })
        const sizes = yield* tableSizes(sql)
        const iso = (v: string | Date | null | undefined) =>
          v == null ? null : v instanceof Date ? v.toISOString() : new Date(v).toISOString()
        return {
          since: from ?? null,
          runs: Number(span[0]?.runs ?? 0),
          oldestRun: iso(span[0]?.oldest),
          newestRun: iso(span[0]?.newest),
          byStatus: byStatus.map((r) => ({ status: r.status, runs: Number(r.runs) })),
          byAgent: byAgent.map((r) => ({ agent: r.agent, runs: Number(r.runs) })),
          byModel: models.items,
          tables: sizes.map((r) => ({ table: r.name, bytes: Number(r.bytes) }))
        }
      }),
      readLayer(db.url)
    )
    if (o.json) return yield* output.json(result)
    const section = (title: string) => `\n${f.style.bold(title)}\n`
    let text = `${result.runs} runs, oldest ${f.when(result.oldestRun)}, newest ${f.when(result.newestRun)}\n`
    text += section(`runs by status${from === undefined ? "" : ` since ${f.when(from)}`}`)
    text += f.table(["STATUS", "RUNS"], result.byStatus.map((r) => [f.status(r.status), f.int(r.runs)]))
    text += section("runs by agent")
    text += f.table(["AGENT", "RUNS"], result.byAgent.map((r) => [r.agent, f.int(r.runs)]), { shrink: [0] })
    text += section("tokens and cost by model")
    text += f.table(
      ["MODEL", "CALLS", "INPUT", "OUTPUT", "COST"],
      result.byModel.map((
        m
      ) => [m.model ?? "-", f.int(m.modelCallCount), f.int(m.inputTokens), f.int(m.outputTokens), f.usd(m.costUsd)]),
      { shrink: [0] }
    )
    if (result.tables.length > 0) {
      text += section("size by table")
      text += f.table(["TABLE", "SIZE"], result.tables.map((t) => [t.table, f.size(t.bytes)]))
    }
    yield* output.out(text)
  })).pipe(
    Command.withDescription(
      "Runs by status and agent, tokens and cost by model, table sizes. Example: sextant stats --since 30d"
    )
  )

const dimensions = ["tenant", "agent", "model", "day"] as const

/** `sextant usage`. */
export const usage = Command.make("usage", {
  ...shared,
  json,
  groupBy: Options.text("group-by").pipe(
    Options.withDescription("comma list of tenant, agent, model, day"),
    Options.withDefault("tenant,model,day")
  ),
  since: optionalText("since", "model calls at or after: 30d (ago), 2026-01-01 or an ISO-8601 datetime"),
  until: optionalText("until", "model calls before: 2026-02-01 or an ISO-8601 datetime"),
  tenant,
  csv: Options.boolean("csv").pipe(Options.withDescription("CSV on stdout"))
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const groupBy = o.groupBy.split(",").map((s) => s.trim()).filter((s) => s !== "")
    const bad = groupBy.find((g) => !(dimensions as ReadonlyArray<string>).includes(g))
    if (bad !== undefined || new Set(groupBy).size !== groupBy.length) {
      return yield* new CliError({
        message: `--group-by must be a comma list of distinct ${dimensions.join(", ")}, got ${
          JSON.stringify(o.groupBy)
        }`,
        exitCode: 2
      })
    }
    const from = yield* instantOf("since", o.since)
    const to = yield* instantOf("until", o.until)
    const list = yield* Effect.provide(
      Effect.flatMap(RunStore, (store) =>
        store.usage({
          groupBy: groupBy as Array<typeof dimensions[number]>,
          ...(from === undefined ? {} : { from }),
          ...(to === undefined ? {} : { to }),
          ...(Option.isSome(o.tenant) ? { tenantId: o.tenant.value } : {})
        })),
      readLayer(db.url)
    )
    const keyOf = (g: Records.UsageGroup, d: typeof dimensions[number]) =>
      d === "tenant"
        ? g.tenantId ?? ""
        : d === "agent"
        ? g.agentName ?? ""
        : d === "model"
        ? g.model ?? ""
        : g.day ?? ""
    if (o.json) return yield* output.json(list)
    const sums = [
      "modelCallCount",
      "runCount",
      "inputTokens",
      "outputTokens",
      "cacheReadTokens",
      "cacheWriteTokens",
      "reasoningTokens",
      "costUsd",
      "unpricedCallCount"
    ] as const
    if (o.csv) {
      const q = (v: unknown) => {
        const s = v == null ? "" : String(v)
        return /[",\n]/.test(s) ? `"${s.replace(/"/g, "\"\"")}"` : s
      }
      const header = [...groupBy, ...sums].join(",")
      const rows = list.items.map((g) =>
        [...groupBy.map((d) => keyOf(g, d as typeof dimensions[number])), ...sums.map((s) => (g as never)[s])].map(q)
          .join(",")
      )
      return yield* output.out(`${[header, ...rows].join("\n")}\n`)
    }
    yield* output.out(f.table(
      [...groupBy.map((g) => g.toUpperCase()), "CALLS", "RUNS", "INPUT", "OUTPUT", "COST"],
      list.items.map((g) => [
        ...groupBy.map((d) => keyOf(g, d as typeof dimensions[number]) || "-"),
        f.int(g.modelCallCount),
        f.int(g.runCount),
        f.int(g.inputTokens),
        f.int(g.outputTokens),
        f.usd(g.costUsd)
      ])
    ))
  })).pipe(
    Command.withDescription("The billing rollup. Example: sextant usage --group-by tenant,day --since 2026-01-01 --csv")
  )

/** `sextant export`. */
export const exportRuns = Command.make("export", {
  ...shared,
  tenant,
  since,
  until,
  status: statusOption
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const filter = {
      status: yield* statusesOf(o.status),
      tenantId: Option.getOrUndefined(o.tenant),
      createdAfter: yield* instantOf("since", o.since),
      createdBefore: yield* instantOf("until", o.until)
    }
    const bar = output.progress("exported", true)
    const count = yield* Effect.provide(
      Effect.flatMap(RunStore, (store) =>
        store.exportRuns(filter).pipe(
          Stream.mapAccumEffect(
            0,
            (n, line) => Effect.as(Effect.zipRight(output.out(line), bar.update(n + 1, "runs")), [n + 1, n + 1])
          ),
          Stream.runFold(0, (_, n) => n)
        )),
      readLayer(db.url)
    )
    yield* bar.done(count, "runs")
  })).pipe(
    Command.withDescription(
      "Every matching run with all its records, one JSON line per run, in constant memory. " +
        "Example: sextant export --tenant acme --since 30d > runs.ndjson"
    )
  )

/** `sextant tail [RUN]`. */
export const tail = Command.make("tail", {
  ...shared,
  json,
  run: Args.text({ name: "run" }).pipe(Args.withDescription("the run to follow (default: every run)"), Args.optional),
  interval: Options.integer("interval").pipe(Options.withDescription("poll interval in ms"), Options.withDefault(250))
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const print = (e: { runId: string; sequenceIndex: number; eventType: string; createdAt: string; data: unknown }) =>
      o.json
        ? output.out(`${JSON.stringify(e)}\n`)
        : output.out(
          `${f.when(e.createdAt)}  ${f.style.dim(e.runId)}  #${e.sequenceIndex}  ${e.eventType}  ${
            f.brief(e.data, 100)
          }\n`
        )
    yield* Effect.provide(
      Effect.gen(function*() {
        if (Option.isSome(o.run)) {
          const store = yield* RunStore
          yield* output.err(`following ${o.run.value} (Ctrl-C stops)`)
          return yield* store.streamEvents(o.run.value, { follow: true, pollIntervalMs: o.interval }).pipe(
            Stream.runForEach(print)
          )
        }
        const sql = yield* SqlClient.SqlClient
        const ring = yield* Encryption.current
        const top = yield* sql<{ id: number | null }>`SELECT MAX(id) AS id FROM run_events`
        let after = Number(top[0]?.id ?? 0)
        yield* output.err("following every new event of every run (Ctrl-C stops)")
        while (true) {
          const rows = yield* sql<{
            id: number
            agent_run_id: string
            sequence_index: number
            event_type: string
            data: string
            created_at: string | Date
          }>`SELECT id, agent_run_id, sequence_index, event_type, data, created_at FROM run_events
            WHERE id > ${after} ORDER BY id LIMIT 500`.pipe(Effect.flatMap((found) =>
            // Sealed event data opens with SEXTANT_ENCRYPTION_KEYS; without the key the command fails saying so.
            Effect.try({
              try: () => Tables.openSealed(Option.getOrUndefined(ring), found),
              catch: (e) => new CliError({ message: (e as Error).message })
            })
          ))
          for (const r of rows) {
            after = Number(r.id)
            yield* print({
              runId: r.agent_run_id,
              sequenceIndex: Number(r.sequence_index),
              eventType: r.event_type,
              createdAt: r.created_at instanceof Date ? r.created_at.toISOString() : r.created_at,
              data: typeof r.data === "string" ? JSON.parse(r.data) : r.data
            })
          }
          if (rows.length < 500) yield* Effect.sleep(o.interval)
        }
      }),
      readLayer(db.url)
    )
  })).pipe(
    Command.withDescription(
      "Follow one run's events live, or every new event of every run (Ctrl-C stops). Example: sextant tail run_123"
    )
  )
