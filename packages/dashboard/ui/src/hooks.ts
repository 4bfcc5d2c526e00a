/** Hooks: a value loaded from the API, a timer that runs only while the tab is visible, the tab's visibility. */
import { useEffect, useRef, useState } from "preact/hooks"

/** Whether the tab is visible (polling and tails pause while it is hidden). */
export const useVisible = (): boolean => {
  const [visible, setVisible] = useState(document.visibilityState !== "hidden")
  useEffect(() => {
    const update = () => setVisible(document.visibilityState !== "hidden")
    document.addEventListener("visibilitychange", update)
    return () => document.removeEventListener("visibilitychange", update)
  }, [])
  return visible
}

/** Calls `f` every `ms` while the tab is visible, and once at once when it becomes visible again. */
export const useInterval = (f: () => void, ms: number, enabled = true) => {
  const visible = useVisible()
  const latest = useRef(f)
  latest.current = f
  const wasHidden = useRef(false)
  useEffect(() => {
    if (!visible) {
      wasHidden.current = true
      return
    }
    if (!enabled) return
    if (wasHidden.current) {
      wasHidden.current = false
      latest.current()
    }
    const id = setInterval(() => latest.current(), ms)
    return () => clearInterval(id)
  }, [visible, enabled, ms])
}

/** The state of a load: loading, its value, or its error. */
export type Loaded<A> =
  | { readonly state: "loading" }
  | { readonly state: "ready"; readonly value: A }
  | { readonly state: "failed"; readonly error: unknown }

/** Loads `load()` whenever `key` changes (the previous load is aborted); `reload` refreshes it in place. */
export const useLoad = <A>(load: (signal: AbortSignal) => Promise<A>, key: string) => {
  const [loaded, setLoaded] = useState<Loaded<A>>({ state: "loading" })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    const controller = new AbortController()
    load(controller.signal).then(
      (value) => !controller.signal.aborted && setLoaded({ state: "ready", value }),
      (error: unknown) => !controller.signal.aborted && setLoaded({ state: "failed", error })
    )
    return () => controller.abort()
  }, [key, tick])
  useEffect(() => setLoaded({ state: "loading" }), [key])
  return { loaded, reload: () => setTick((t) => t + 1) }
}
