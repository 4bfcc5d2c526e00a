/**
 * The API reference: the router's `/docs` page (Scalar over the same OpenAPI document), fetched with the
 * dashboard's token (it sits behind the same `authorize` as the API) and shown in a frame.
 */
import { apiBase, ApiError, fetchApi } from "../api.js"
import { ErrorBox, Loading } from "../components/common.js"
import { useLoad } from "../hooks.js"

/**
 * The page with the API's absolute URL as its server: the frame's document (`about:srcdoc`) has no URL of its
 * own to resolve the routes against, and the mount prefix is only known here.
 */
const withServer = (html: string): string => {
  const doc = new DOMParser().parseFromString(html, "text/html")
  const script = doc.getElementById("api-reference")
  if (script === null) return html
  const spec = JSON.parse(script.textContent ?? "{}") as { servers?: ReadonlyArray<{ readonly url: string }> }
  spec.servers = [{ url: apiBase().href.replace(/\/$/, "") }]
  script.textContent = JSON.stringify(spec).replace(/</g, "\\u003c")
  return `<!doctype html>\n${doc.documentElement.outerHTML}`
}

/** The API reference page. */
export const ApiDocsPage = () => {
  const { loaded } = useLoad(async (signal) => {
    const res = await fetchApi(new URL("docs", apiBase()), { signal })
    if (!res.ok) throw new ApiError(res.status, `HTTP ${res.status}`, `The API reference answered ${res.status}.`)
    return withServer(await res.text())
  }, "docs")
  return (
    <div class="api-page">
      <p>
        The read API this dashboard uses, from its OpenAPI document (
        <a href={new URL("openapi.json", apiBase()).pathname} target="_blank" rel="noreferrer">openapi.json</a>).
      </p>
      {loaded.state === "loading" && <Loading what="the API reference" />}
      {loaded.state === "failed" && <ErrorBox error={loaded.error} />}
      {loaded.state === "ready" && <iframe class="docs" title="API reference" srcdoc={loaded.value} />}
    </div>
  )
}
