/**
 * The dashboard: a header, the page of the current URL (the runs page is in the first bundle; the others load
 * on demand), the token prompt and the theme. Everything it shows comes from the read API.
 */
import "./styles.css"
import type { FunctionComponent } from "preact"
import { render } from "preact"
import { useEffect, useLayoutEffect, useState } from "preact/hooks"
import { apiBase } from "./api.js"
import { ErrorBox, Loading } from "./components/common.js"
import { TokenPrompt } from "./components/TokenPrompt.js"
import { href, type Location, onLinkClick, useLocation } from "./nav.js"
import { RunsPage } from "./pages/Runs.js"

type Page = FunctionComponent<{ readonly location: Location }>

const loaders: Record<string, () => Promise<Page>> = {
  run: () => import("./pages/Run.js").then((m) => m.RunPage),
  usage: () => import("./pages/Usage.js").then((m) => m.UsagePage),
  signals: () => import("./pages/Signals.js").then((m) => m.SignalsPage),
  threads: () => import("./pages/Threads.js").then((m) => m.ThreadsPage),
  thread: () => import("./pages/Threads.js").then((m) => m.ThreadPage),
  api: () => import("./pages/ApiDocs.js").then((m) => m.ApiDocsPage)
}

const pageKey = (path: string) =>
  path === ""
    ? "runs"
    : path.startsWith("runs/")
    ? "run"
    : path.startsWith("threads/")
    ? "thread"
    : path === "usage" || path === "api" || path === "signals" || path === "threads"
    ? path
    : "missing"

const titles: Record<string, string> = {
  runs: "Runs · Sextant",
  usage: "Usage · Sextant",
  api: "API · Sextant",
  signals: "Signals · Sextant",
  threads: "Threads · Sextant",
  thread: "Thread · Sextant"
}

const Lazy = ({ name, location }: { readonly name: string; readonly location: Location }) => {
  const [page, setPage] = useState<{ readonly name: string; readonly Page: Page } | { readonly error: unknown }>()
  useEffect(() => {
    let live = true
    loaders[name]!().then((Page) => live && setPage({ name, Page }), (error: unknown) => live && setPage({ error }))
    return () => void (live = false)
  }, [name])
  if (page !== undefined && "error" in page) return <ErrorBox error={page.error} />
  if (page === undefined || page.name !== name) return <Loading what="the page" />
  return <page.Page location={location} />
}

type Theme = "auto" | "light" | "dark"
const THEME_KEY = "sextant.theme"
const storedTheme = (): Theme => {
  try {
    const t = localStorage.getItem(THEME_KEY)
    return t === "light" || t === "dark" ? t : "auto"
  } catch {
    return "auto"
  }
}

const ThemeToggle = () => {
  const [theme, setTheme] = useState<Theme>(storedTheme)
  useLayoutEffect(() => {
    if (theme === "auto") delete document.documentElement.dataset.theme
    else document.documentElement.dataset.theme = theme
    try {
      localStorage.setItem(THEME_KEY, theme)
    } catch {
      // No storage: the choice lasts as long as the page.
    }
  }, [theme])
  const next: Record<Theme, Theme> = { auto: "light", light: "dark", dark: "auto" }
  return (
    <button type="button" class="theme" onClick={() => setTheme((t) => next[t])} title="Colour theme">
      {theme === "auto" ? "◐ auto" : theme === "light" ? "☀ light" : "☾ dark"}
    </button>
  )
}

const App = () => {
  const location = useLocation()
  const key = pageKey(location.path)
  useEffect(() => {
    document.title = titles[key] ?? "Sextant"
  }, [key])
  const nav = (to: string, label: string, active: boolean) => (
    <a href={href(to)} aria-current={active ? "page" : undefined}>
      {label}
    </a>
  )
  return (
    <div class="app" onClick={onLinkClick}>
      <header class="top">
        <a class="brand" href={href("")}>
          Sextant
        </a>
        <nav>
          {nav("", "Runs", key === "runs" || key === "run")}
          {nav("threads", "Threads", key === "threads" || key === "thread")}
          {nav("signals", "Signals", key === "signals")}
          {nav("usage", "Usage", key === "usage")}
          {nav("api", "API", key === "api")}
        </nav>
        <span class="spacer" />
        <span class="muted mount" title="The read API this dashboard reads">{apiBase().pathname}</span>
        <ThemeToggle />
      </header>
      <main>
        {key === "runs"
          ? <RunsPage location={location} />
          : key === "missing"
          ? <ErrorBox error={`No page at ${location.path}.`} />
          : <Lazy name={key} location={location} />}
      </main>
      <TokenPrompt />
    </div>
  )
}

render(<App />, document.getElementById("app")!)
