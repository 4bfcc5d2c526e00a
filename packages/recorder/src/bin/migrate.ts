#!/usr/bin/env node
/**
 * `sextant-migrate <database-url>` (or DATABASE_URL): applies the pending migrations and prints them. In this
 * repository: `npm run migrate -- <database-url>`.
 */
import { Effect } from "effect"
import * as Database from "../Database.js"
import * as Migrations from "../Migrations.js"

const url = process.argv[2] ?? process.env.DATABASE_URL
if (url === undefined || url === "" || url === "--help" || url === "-h") {
  console.error(
    "usage: sextant-migrate <database-url>   (sqlite:./path.db, postgres://user@host:5432/db; or DATABASE_URL)"
  )
  process.exit(2)
}

const program = Effect.gen(function*() {
  const applied = yield* Migrations.run
  const target = Database.redactUrl(url)
  if (applied.length === 0) console.log(`${target}: up to date (migration ${Migrations.latest})`)
  for (const [id, name] of applied) console.log(`${target}: applied ${id}_${name}`)
})

Effect.runPromise(program.pipe(Effect.provide(Database.layerFromUrl(url)))).catch((error) => {
  console.error(`migration failed: ${error?.message ?? String(error)}`)
  process.exitCode = 1
})
