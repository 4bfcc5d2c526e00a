/**
 * The typed client of the read API: names, parameters and response types come from the router's `ReadApi`
 * (type-only imports: no Effect code reaches the bundle), so a changed route breaks this type check. Every
 * call sends the bearer token kept in session storage; a 401 asks for a token once and retries.
 */
import type { HttpApi, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import type { ReadApi } from "@sextant/http-router"
import { type PathName, paths } from "./paths.js"

type Groups = typeof ReadApi extends HttpApi.HttpApi<string, infer G, infer _E, infer _R> ? G : never
type Endpoints = HttpApiGroup.HttpApiGroup.Endpoints<Groups>
type Endpoint<N extends string> = HttpApiEndpoint.HttpApiEndpoint.WithName<Endpoints, N>

/** The response of an endpoint, as the router's schema declares it. */
export type Success<N extends PathName> = HttpApiEndpoint.HttpApiEndpoint.Success<Endpoint<N>>
/** The query parameters of an endpoint (decoded form: numbers, arrays). */
export type Query<N extends PathName> = HttpApiEndpoint.HttpApiEndpoint.UrlParams<Endpoint<N>>
/** The path parameters of an endpoint. */
export type PathParams<N extends PathName> = HttpApiEndpoint.HttpApiEndpoint.PathParsed<Endpoint<N>>

// Every name in `paths` must be an endpoint of the API.
type Missing = Exclude<PathName, Endpoints["name"]>
const _everyPathIsAnEndpoint: [Missing] extends [never] ? true : Missing = true
void _everyPathIsAnEndpoint

/** The UI's own base (`…/ui/`) and the API's (the mount, one level up): derived from the page, so any mount works. */
export const uiBase = (): URL => new URL(".", document.baseURI)
/** The mount of the read API. */
export const apiBase = (): URL => new URL("..", uiBase())

const TOKEN_KEY = "sextant.token"
let memoryToken: string | null = null

/** The token kept for this tab (session storage), or null. */
export const getToken = (): string | null => {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? memoryToken
  } catch {
    return memoryToken
  }
}

const setToken = (token: string | null) => {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY)
    else sessionStorage.setItem(TOKEN_KEY, token)
  } catch {
    // Storage can be disabled; the token then lasts as long as the page.
  }
  memoryToken = token
}

/** The headers of every call: the bearer token when there is one. */
export const authHeaders = (): Record<string, string> => {
  const token = getToken()
  return token === null ? {} : { authorization: `Bearer ${token}` }
}

type TokenListener = (message: string, submit: (token: string) => void) => void
let tokenListener: TokenListener | undefined
let pendingToken: Promise<void> | undefined
// A refusal that arrived before the prompt was mounted waits here for it.
let unanswered: { readonly message: string; readonly submit: (token: string) => void } | undefined

/** Registers the token prompt (the app shows it when a call is refused with 401). */
export const onTokenRequired = (listener: TokenListener) => {
  tokenListener = listener
  if (unanswered !== undefined) {
    listener(unanswered.message, unanswered.submit)
    unanswered = undefined
  }
}

/** Asks for a token once, however many calls were refused; resolves when one was entered. */
export const requireToken = (message: string): Promise<void> =>
  pendingToken ??= new Promise<void>((resolve) => {
    const submit = (token: string) => {
      setToken(token.trim())
      pendingToken = undefined
      resolve()
    }
    if (tokenListener === undefined) unanswered = { message, submit }
    else tokenListener(message, submit)
  })

/** An error answer of the API: its status, `_tag` and message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly tag: string, message: string) {
    super(message)
  }
}

/** The URL of an endpoint with its path and query parameters (arrays repeat the parameter). */
export const urlOf = <N extends PathName>(
  name: N,
  path?: PathParams<N>,
  query?: Query<N>
): URL => {
  const params = (path ?? {}) as Record<string, string>
  const relative = paths[name].replace(/:(\w+)/g, (_, key: string) => encodeURIComponent(params[key] ?? ""))
  const url = new URL(relative.slice(1), apiBase())
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (value === undefined) continue
    const list = Array.isArray(value) ? value : [value]
    for (const v of list) url.searchParams.append(key, typeof v === "object" ? JSON.stringify(v) : String(v))
  }
  return url
}

const refusal = async (res: Response): Promise<{ tag: string; message: string }> => {
  try {
    const body = (await res.json()) as { _tag?: string; message?: string }
    return { tag: body._tag ?? `HTTP ${res.status}`, message: body.message ?? res.statusText }
  } catch {
    return { tag: `HTTP ${res.status}`, message: res.statusText || "The server answered without a body." }
  }
}

/** Fetches a URL of the API with the token; a 401 prompts for a token and retries. */
export const fetchApi = async (url: URL, init: RequestInit = {}): Promise<Response> => {
  for (let attempt = 0;; attempt++) {
    const res = await fetch(url, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } })
    if (res.status !== 401) return res
    const { message } = await refusal(res)
    await requireToken(attempt === 0 && getToken() === null ? message : `The token was not accepted: ${message}`)
  }
}

/** Calls an endpoint and returns its typed JSON body; an error status rejects with `ApiError`. */
export const call = async <N extends PathName>(
  name: N,
  args: { readonly path?: PathParams<N>; readonly query?: Query<N>; readonly signal?: AbortSignal } = {}
): Promise<Success<N>> => {
  const res = await fetchApi(urlOf(name, args.path, args.query), args.signal ? { signal: args.signal } : {})
  if (!res.ok) {
    const { tag, message } = await refusal(res)
    throw new ApiError(res.status, tag, message)
  }
  return (await res.json()) as Success<N>
}
