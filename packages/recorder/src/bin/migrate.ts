/**
 * `npm run migrate -- <database-url>` (or DATABASE_URL): applies the pending migrations and prints them.
 */
import { Effect } from "effect"
import * as Database from "../Database.js"
import * as Migrations from "../Migrations.js"

const url = process.argv[2] ?? process.env.DATABASE_URL
if (url === undefined || url === "") {
  console.error("usage: npm run migrate -- <database-url>   (sqlite:./path.db, postgres://user@host:5432/db)")
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
