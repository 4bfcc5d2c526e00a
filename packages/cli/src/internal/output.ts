import { Effect } from "effect"

/** Writes to stdout, waiting for the stream to drain when its buffer is full (constant memory for exports). */
export const out = (text: string): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (process.stdout.write(text)) resume(Effect.void)
    else process.stdout.once("drain", () => resume(Effect.void))
  })

/** One JSON document on stdout. */
export const json = (value: unknown): Effect.Effect<void> => out(`${JSON.stringify(value, null, 2)}\n`)

/** A line on stderr. */
export const err = (text: string): Effect.Effect<void> => Effect.sync(() => void process.stderr.write(`${text}\n`))

/**
 * Progress of a long operation on stderr: on a TTY one line redrawn in place (count and rate), otherwise a
 * plain line at most every `everyMs`; nothing at all when `enabled` is false (`--json`).
 */
export const progress = (
  label: string,
  enabled: boolean,
  everyMs = 1000,
  /** How a count is written (default `12,345 <unit>`; backups pass a size: `1.2 MB`). */
  format: (count: number, unit: string) => string = (count, unit) => `${count.toLocaleString("en-US")} ${unit}`
) => {
  const tty = process.stderr.isTTY === true
  const started = Date.now()
  let last = started
  const line = (count: number, unit: string) => {
    const seconds = Math.max(0.001, (Date.now() - started) / 1000)
    return `${label}: ${format(count, unit)} (${format(Math.round(count / seconds), unit)}/s)`
  }
  return {
    update: (count: number, unit: string, force = false): Effect.Effect<void> =>
      Effect.sync(() => {
        if (!enabled) return
        const now = Date.now()
        if (tty) process.stderr.write(`\r\u001b[2K${line(count, unit)}`)
        else if (force || now - last >= everyMs) {
          last = now
          process.stderr.write(`${line(count, unit)}\n`)
        }
      }),
    done: (count: number, unit: string): Effect.Effect<void> =>
      Effect.sync(() => {
        if (!enabled) return
        process.stderr.write(tty ? `\r\u001b[2K${line(count, unit)}\n` : `${line(count, unit)}\n`)
      })
  }
}
