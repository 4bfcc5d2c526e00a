/** Replaces secrets in text that goes into an error or a log. */
export type Scrub = (text: string) => string

/** The marker a secret is replaced with. */
export const REDACTED = "[redacted]"

/**
 * How an endpoint is named in `DeliveryError`s and logs: its origin only. Webhook URLs carry their secret in
 * the path or the query (Slack's `/services/T…/B…/<token>`, Discord's `/api/webhooks/<id>/<token>`,
 * `?token=…`), so neither is ever repeated.
 */
export const endpointOf = (url: URL): string =>
  url.pathname === "/" && url.search === "" && url.username === "" ? url.origin : `${url.origin}/…`

/** Header names whose values are credentials. */
const credentialHeader = /authorization|api[-_]?key|token|secret|cookie|password|session/i

const decoded = (s: string): string => {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/**
 * A scrubber for what an endpoint's URL, the signing secret and credential headers hold: the URL, its path
 * and query, each path segment and query value, its user and password. Pieces shorter than 8 characters are
 * left (they would redact ordinary words).
 */
export const scrubber = (
  url: URL,
  options: { readonly secret?: string | undefined; readonly headers?: Readonly<Record<string, string>> | undefined }
): Scrub => {
  const pieces = [
    url.href,
    `${url.pathname}${url.search}`,
    url.pathname,
    url.search,
    ...url.pathname.split("/"),
    ...[...url.searchParams.values()],
    url.username,
    url.password,
    options.secret ?? "",
    ...Object.entries(options.headers ?? {}).filter(([name]) => credentialHeader.test(name)).flatMap((
      [, value]
    ) => [value, value.replace(/^(bearer|basic|token)\s+/i, "")])
  ]
  const values = [...new Set(pieces.flatMap((p) => [p, decoded(p)]))]
    .filter((v) => v.length >= 8)
    .sort((a, b) => b.length - a.length) // longest first: the whole URL goes before its pieces
  return (text) => {
    let out = text
    for (const value of values) if (out.includes(value)) out = out.replaceAll(value, REDACTED)
    return out
  }
}
