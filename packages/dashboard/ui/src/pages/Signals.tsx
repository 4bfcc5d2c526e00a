/**
 * The signals page: failure signals newest first, filtered by type, severity and agent (and shadow ones on
 * request), each filter in the URL; a click on a signal shows its explanation. The type and severity choices
 * are the API's own allow-lists, read from its OpenAPI document (the one list of the recorder's `Tables`).
 */
import { apiBase, call, fetchApi, type Query } from "../api.js"
import { ErrorBox, Loading, Time } from "../components/common.js"
import { FilterBar } from "../components/Filters.js"
import { Severity, SignalCard, type SignalRecord } from "../components/Signals.js"
import { useLoad } from "../hooks.js"
import { href, type Location, navigate } from "../nav.js"

interface Choices {
  readonly types: ReadonlyArray<string>
  readonly severities: ReadonlyArray<string>
}

/** The allow-lists of `GET /signals` from the API's OpenAPI document. */
const loadChoices = async (signal: AbortSignal): Promise<Choices> => {
  const res = await fetchApi(new URL("openapi.json", apiBase()), { signal })
  const doc = (await res.json()) as {
    paths?: Record<
      string,
      { get?: { parameters?: ReadonlyArray<{ name: string; schema?: { enum?: Array<string> } }> } }
    >
  }
  const params = doc.paths?.["/signals"]?.get?.parameters ?? []
  const enumOf = (name: string) => params.find((p) => p.name === name)?.schema?.enum ?? []
  return { types: enumOf("type"), severities: enumOf("severity") }
}

/** The signals page. */
export const SignalsPage = ({ location }: { readonly location: Location }) => {
  const q = location.query
  const filters = {
    type: q.get("type") ?? "",
    severity: q.get("severity") ?? "",
    agent: q.get("agent") ?? "",
    shadow: q.get("shadow") === "include" ? "include" : "",
    cursor: q.get("cursor") ?? ""
  }
  const selected = q.get("signal")
  const choices = useLoad(loadChoices, "choices").loaded
  const query: Record<string, unknown> = { limit: 50 }
  if (filters.type !== "") query.type = filters.type
  if (filters.severity !== "") query.severity = filters.severity
  if (filters.agent !== "") query.agentName = filters.agent
  if (filters.shadow !== "") query.shadow = filters.shadow
  if (filters.cursor !== "") query.cursor = filters.cursor
  const { loaded } = useLoad(
    (signal) => call("listSignals", { query: query as Query<"listSignals">, signal }),
    JSON.stringify(query)
  )
  const set = (patch: Partial<typeof filters> & { signal?: string }, replace = false) =>
    navigate(
      href("signals", { ...filters, cursor: undefined, ...patch, signal: patch.signal ?? undefined }),
      { replace }
    )
  const types = choices.state === "ready" ? choices.value.types : []
  const severities = choices.state === "ready" ? choices.value.severities : []
  const items: ReadonlyArray<SignalRecord> = loaded.state === "ready" ? loaded.value.items : []
  const current = items.find((s) => s.id === selected)
  return (
    <div class="signals-page">
      <h1>Signals</h1>
      <FilterBar
        fields={[
          {
            kind: "select",
            name: "type",
            label: "Type",
            any: "all types",
            choices: types.map((t) => ({ value: t, label: t }))
          },
          {
            kind: "select",
            name: "severity",
            label: "Severity",
            any: "all",
            choices: severities.map((s) => ({ value: s, label: s.toLowerCase() }))
          },
          { kind: "text", name: "agent", label: "Agent", placeholder: "exact name" },
          { kind: "check", name: "shadow", label: "include shadow", on: "include" }
        ]}
        values={filters}
        replacing={["agent"]}
        onChange={(name, value, replace) => set({ [name]: value }, replace)}
      />
      {loaded.state === "loading" && <Loading what="signals" />}
      {loaded.state === "failed" && <ErrorBox error={loaded.error} />}
      {loaded.state === "ready" && (
        <div class="columns">
          <div class="left">
            <p class="muted" data-testid="signal-count">
              {items.length} signal{items.length === 1 ? "" : "s"}
            </p>
            {items.length === 0 ? <p class="empty">No signals match.</p> : (
              <div class="table-wrap">
                <table class="signals">
                  <thead>
                    <tr>
                      <th>Severity</th>
                      <th>Signal</th>
                      <th>Agent</th>
                      <th>Run</th>
                      <th>Detected</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((s) => (
                      <tr
                        key={s.id}
                        data-signal-id={s.id}
                        data-signal-type={s.type}
                        class={s.id === selected ? "selected" : ""}
                        onClick={() => set({ signal: s.id }, true)}
                      >
                        <td>
                          <Severity severity={s.severity} />
                        </td>
                        <td>
                          <button type="button" class="link" aria-pressed={s.id === selected}>
                            {s.explanation.title}
                          </button>{" "}
                          <code class="muted">{s.type}</code>
                          {s.shadow && <span class="badge neutral">shadow</span>}
                        </td>
                        <td>{s.agentName}</td>
                        <td>
                          <a href={href(`runs/${s.runId}`)} onClick={(e) => e.stopPropagation()}>
                            {s.runId.slice(0, 10)}…
                          </a>
                        </td>
                        <td>
                          <Time iso={s.detectedAt} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {loaded.value.nextCursor !== null && (
              <p>
                <a href={href("signals", { ...filters, cursor: loaded.value.nextCursor })}>Older signals →</a>
              </p>
            )}
          </div>
          <aside class="right">
            {current === undefined
              ? <p class="muted hint">Select a signal to read its explanation.</p>
              : <SignalCard signal={current} />}
          </aside>
        </div>
      )}
    </div>
  )
}
