import type { HookEvent } from "@sextant/runtime"

/** Parses JSON text; text that is not JSON is kept as a string so the record still holds what came back. */
export const jsonOrText = (text: string): HookEvent.Json => {
  try {
    return JSON.parse(text) as HookEvent.Json
  } catch {
    return text
  }
}
