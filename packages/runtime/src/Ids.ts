/**
 * Time-sortable identifiers (ULID layout: 48-bit millisecond time + 80 random bits, Crockford base32).
 */
import { randomBytes } from "node:crypto"

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/** A new 26-character, lexicographically time-sortable id (a ULID). */
export const make = (now: number = Date.now()): string => {
  let time = ""
  let t = now
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time
    t = Math.floor(t / 32)
  }
  const bytes = randomBytes(16)
  let rand = ""
  for (let i = 0; i < 16; i++) rand += ALPHABET[bytes[i]! % 32]!
  return time + rand
}
