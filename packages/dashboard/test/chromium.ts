/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser), with the flags this machine needs
 * (no network calls of its own) and a fresh profile removed on close: for the browser tests and the bench.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium } from "playwright-core"

const CHROMIUM = "/usr/bin/chromium"

/** A persistent context's options beside the executable, headless mode and flags (viewport, zone, locale). */
export type ChromiumOptions = Omit<
  NonNullable<Parameters<typeof chromium.launchPersistentContext>[1]>,
  "executablePath" | "headless" | "args"
>

/** Chromium in a fresh profile; `close` closes it and removes the profile. */
export const launchChromium = async (
  options: ChromiumOptions = {}
): Promise<{ readonly context: BrowserContext; readonly close: () => Promise<void> }> => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
  const profile = mkdtempSync(join(tmpdir(), "sextant-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    ...options,
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}
