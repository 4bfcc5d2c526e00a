/** The Luhn (mod 10) check used by payment card numbers; `digits` holds only 0-9. */
export const luhnValid = (digits: string): boolean => {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48
    if (i % 2 === 1) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return sum % 10 === 0
}

/** The ISO 13616 mod-97 check of an IBAN written without spaces, in upper case. */
export const ibanChecksumValid = (iban: string): boolean => {
  const rearranged = iban.slice(4) + iban.slice(0, 4)
  let remainder = 0
  for (const char of rearranged) {
    const code = char.charCodeAt(0)
    const value = code >= 65 ? String(code - 55) : char
    for (const digit of value) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97
  }
  return remainder === 1
}

/**
 * Whether a US Social Security number is in an issuable range: area not 000, 666 or 900-999, group not 00,
 * serial not 0000, and not one of the numbers published in advertising or as examples.
 */
export const ssnValid = (area: string, group: string, serial: string): boolean => {
  const a = Number(area)
  if (a === 0 || a === 666 || a >= 900) return false
  if (group === "00" || serial === "0000") return false
  return !publishedSsns.has(`${area}${group}${serial}`)
}

const publishedSsns = new Set(["078051120", "219099999", "123456789", "987654320"])
