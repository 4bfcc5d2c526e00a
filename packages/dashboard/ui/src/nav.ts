/**
 * Routing on the History API, relative to the UI's base (`…/ui/`): `` (runs), `runs/<id>`, `threads`,
 * `threads/<id>`, `signals`, `usage`, `api`, each
 * with its filters in the query string, so every view has a URL and the back button works.
 */
import { useEffect, useState } from "preact/hooks"
import { uiBase } from "./api.js"

/** Where the app is: the page path relative to the UI base and its query. */
export interface Location {
  readonly path: string
  readonly query: URLSearchParams
}

const current = (): Location => {
  const base = uiBase().pathname
  const path = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : ""
  return { path: decodeURIComponent(path.replace(/\/$/, "")), query: new URLSearchParams(location.search) }
}

const listeners = new Set<() => void>()
const notify = () => listeners.forEach((l) => l())
window.addEventListener("popstate", notify)

/** The href of a page of the app (relative paths resolve against the UI base). */
export const href = (path: string, query?: Record<string, string | ReadonlyArray<string> | undefined>): string => {
  const url = new URL(path.split("/").map(encodeURIComponent).join("/"), uiBase())
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === "") continue
    for (const v of typeof value === "string" ? [value] : value) url.searchParams.append(key, v)
  }
  return url.pathname + url.search
}

/** Goes to a page: a new history entry, or the current one replaced (typing in a search box). */
export const navigate = (to: string, options: { readonly replace?: boolean } = {}) => {
  if (to === location.pathname + location.search) return
  if (options.replace) history.replaceState(null, "", to)
  else history.pushState(null, "", to)
  notify()
}

/** The current location, re-rendering on every navigation. */
export const useLocation = (): Location => {
  const [loc, setLoc] = useState(current)
  useEffect(() => {
    const update = () => setLoc(current())
    listeners.add(update)
    return () => void listeners.delete(update)
  }, [])
  return loc
}

/** A click handler for in-app links: plain clicks navigate without a reload, modified clicks open normally. */
export const onLinkClick = (event: MouseEvent) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return
  const target = (event.target as Element | null)?.closest("a")
  if (target === null || target === undefined || target.target === "_blank" || target.hasAttribute("download")) return
  const url = new URL(target.href)
  if (url.origin !== location.origin || !url.pathname.startsWith(uiBase().pathname)) return
  event.preventDefault()
  navigate(url.pathname + url.search)
}
