/**
 * Time-sortable identifiers (ULID layout: 48-bit millisecond time + 80 random bits, Crockford base32).
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
// Random bytes are drawn in 4 KiB refills rather than one call per id; Web Crypto, so Workers and Deno need no Node API.
const pool = new Uint8Array(4096)
let offset = pool.length

/** A new 26-character, lexicographically time-sortable id (a ULID). */
export const make = (now: number = Date.now()): string => {
  let time = ""
  let t = now
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time
    t = Math.floor(t / 32)
  }
  if (offset + 16 > pool.length) {
    globalThis.crypto.getRandomValues(pool)
    offset = 0
  }
  let rand = ""
  for (let i = 0; i < 16; i++) rand += ALPHABET[pool[offset + i]! & 31]!
  offset += 16
  return time + rand
}
