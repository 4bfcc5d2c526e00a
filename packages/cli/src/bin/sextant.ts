#!/usr/bin/env node
/**
 * `sextant <command>`: see `sextant --help`. In this repository: `npm run sextant -- <command>`.
 */
import { run } from "../Cli.js"

process.once("SIGINT", () => process.exit(130))
process.exitCode = await run(process.argv.slice(2))
