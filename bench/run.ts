/**
 * `npm run bench`: runs every `packages/<pkg>/bench/index.ts` (each default-exports a function returning
 * a markdown section) and writes BENCHMARKS.md with the machine and date. Every figure is a ratio against
 * a baseline measured in the same run, so the numbers travel between machines.
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs"
import os from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"

import type { BenchSection } from "./section.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const only = process.argv.slice(2)
const order = ["runtime", "recorder", "notifiers", "store", "http-router", "providers", "dashboard"]
const packages = readdirSync(`${root}packages`)
  .filter((p) => existsSync(`${root}packages/${p}/bench/index.ts`))
  .filter((p) => only.length === 0 || only.includes(p))
  .sort((a, b) => order.indexOf(a) - order.indexOf(b))

const sections: Array<BenchSection> = []
for (const pkg of packages) {
  console.log(`== ${pkg}`)
  const started = Date.now()
  const mod = (await import(pathToFileURL(`${root}packages/${pkg}/bench/index.ts`).href)) as {
    default: () => Promise<ReadonlyArray<BenchSection>>
  }
  const result = await mod.default()
  sections.push(...result)
  for (const s of result) console.log(`## ${s.title}\n${s.markdown}\n`)
  console.log(`(${pkg}: ${((Date.now() - started) / 1000).toFixed(1)} s)`)
}

const cpus = os.cpus()
const header = [
  "# Benchmarks",
  "",
  "Written by `npm run bench`. Every figure is a ratio against a baseline measured in the same run on the",
  "same machine (stated with each table), so it means the same thing on another machine; absolute numbers",
  "are given for orientation only.",
  "",
  `- Date: ${new Date().toISOString()}`,
  `- Machine: ${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${
    (os.totalmem() / 2 ** 30).toFixed(0)
  } GiB, ${os.platform()} ${os.release()}`,
  `- Node ${process.version}`,
  ""
]
if (only.length === 0) {
  writeFileSync(
    `${root}BENCHMARKS.md`,
    [...header, ...sections.flatMap((s) => [`## ${s.title}`, "", s.markdown, ""])].join("\n")
  )
  console.log("wrote BENCHMARKS.md")
} else {
  console.log("(partial run: BENCHMARKS.md not written)")
}
