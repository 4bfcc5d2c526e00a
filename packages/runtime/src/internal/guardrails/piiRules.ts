import { ibanChecksumValid, luhnValid, ssnValid } from "./checksums.js"
import { ibanLengths } from "./ibanLengths.js"
import type { PatternRule } from "./patternRules.js"

/**
 * PII detectors. Each is anchored so that it never starts inside a longer word or number (which also keeps
 * every regex linear on long inputs), and validated where a checksum or a range exists.
 */
const email: PatternRule = {
  type: "EMAIL",
  regex:
    /(?<![\w.%+-])[A-Za-z0-9][\w.%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,63}(?![A-Za-z0-9-])/g
}

/**
 * International numbers must start with `+` and hold 8 to 15 digits (E.164); a bare digit run never matches.
 * Each digit group is taken whole (`(?=(\d+))\1` is an atomic group), which keeps long digit runs linear.
 */
const internationalPhone: PatternRule = {
  type: "PHONE",
  regex: /(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?(?=(\d+))\1){1,6}/g,
  accept: (value) => {
    const digits = value.replace(/\D/g, "").length
    return digits >= 8 && digits <= 15
  }
}

/**
 * North American numbers need a parenthesised area code or one kind of separator: (555) 123-4567,
 * 555-123-4567, 555.123.4567, 1-800-555-0199 (+1 forms are international). So ten-digit ids, dates
 * (2024-01-15), SSNs (3-2-4) and space-separated number lists ("250 500 1000") do not match. The area code
 * cannot start with 0 or 1.
 */
const northAmericanPhone: PatternRule = {
  type: "PHONE",
  regex:
    /(?<![\w+.-])(?:(?:1[.-])?[2-9]\d{2}([.-])\d{3}\1\d{4}|(?:1[ .-]?)?\([2-9]\d{2}\)[ .-]?\d{3}[ .-]\d{4})(?![\w-]|\.\d)/g
}

/** IBANs are cut to their country's registered length, then checked with mod 97. */
const iban: PatternRule = {
  type: "IBAN",
  regex: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g,
  accept: (value, start) => {
    const length = ibanLengths[value.slice(0, 2)]
    if (length === undefined) return false
    let taken = 0
    let end = 0
    while (end < value.length && taken < length) {
      if (value[end] !== " ") taken++
      end++
    }
    if (taken < length || /[A-Za-z0-9]/.test(value[end] ?? "")) return false
    const compact = value.slice(0, end).replace(/ /g, "")
    return ibanChecksumValid(compact) ? { start, end: start + end } : false
  }
}

/** Issuer prefixes (IIN ranges) of the card networks: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay… */
const cardPrefix = /^(?:4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6(?:011|5|4[4-9]|2)|35|3(?:0[0-5]|[689]))/

/**
 * Card numbers: 13 to 19 digits, optionally grouped with one kind of separator (spaces or dashes), a known
 * issuer prefix and a valid Luhn check. When the full run fails, shorter prefixes ending at a group boundary
 * are tried, so a trailing unrelated number ("4111 1111 1111 1111 12/27") does not hide the card. A run that
 * continues a group sequence ("DE89 3704 0044 …", the tail of an IBAN) or a decimal number is not a card.
 */
const creditCard: PatternRule = {
  type: "CREDIT_CARD",
  regex: /(?<![\d.,-])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?!\d|[.,]\d)/g,
  accept: (value, start) => {
    if (/ /.test(value) && /-/.test(value)) return false
    const groupEnds = [...value.matchAll(/\d(?=[ -]|$)/g)].map((m) => m.index + 1).reverse()
    for (const end of groupEnds) {
      const digits = value.slice(0, end).replace(/\D/g, "")
      if (digits.length < 13) return false
      if (digits.length <= 19 && cardPrefix.test(digits) && luhnValid(digits)) return { start, end: start + end }
    }
    return false
  }
}

/** SSNs written 3-2-4 with dashes or spaces (the same separator twice), in an issuable range. */
const usSsn: PatternRule = {
  type: "US_SSN",
  regex: /(?<![\w.-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-]|\.\d)/g,
  accept: (value) => {
    const [area, , group, , serial] = value.split(/([- ])/)
    return area !== undefined && group !== undefined && serial !== undefined && ssnValid(area, group, serial)
  }
}

const octet = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)"

/** Dotted-quad IPv4 addresses; not preceded by a letter (`v1.2.3.4`) and not part of a longer dotted number. */
const ipv4: PatternRule = {
  type: "IP_ADDRESS",
  regex: new RegExp(`(?<![\\w.])(?:${octet}\\.){3}${octet}(?!\\w|\\.\\d)`, "g")
}

/**
 * IPv6 in full (eight groups) or compressed (`::`) form. A compressed address needs two non-empty groups,
 * one of them at least three hex digits long, so `::`, `a[1::2]` slices and `Foo::Bar` paths do not match;
 * clock times and MAC addresses fail the group count.
 */
const ipv6: PatternRule = {
  type: "IP_ADDRESS",
  regex: /(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])/g,
  accept: (value) => {
    const hexGroup = /^[0-9A-Fa-f]{1,4}$/
    const halves = value.split("::")
    if (halves.length > 2) return false
    if (halves.length === 1) return value.split(":").length === 8 && value.split(":").every((g) => hexGroup.test(g))
    const groups = halves.flatMap((half) => (half === "" ? [] : half.split(":")))
    return groups.length >= 2 && groups.length <= 7 && groups.every((g) => hexGroup.test(g)) &&
      groups.some((g) => g.length >= 3)
  }
}

/** The PII entity types and their detectors, in the order they are run. */
export const piiRules: Readonly<Record<string, ReadonlyArray<PatternRule>>> = {
  EMAIL: [email],
  PHONE: [internationalPhone, northAmericanPhone],
  IBAN: [iban],
  CREDIT_CARD: [creditCard],
  US_SSN: [usSsn],
  IP_ADDRESS: [ipv4, ipv6]
}
