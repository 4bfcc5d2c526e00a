/**
 * The API reference: the router's `/docs` page (Scalar over the same OpenAPI document), fetched with the
 * dashboard's token (it sits behind the same `authorize` as the API) and shown in a frame.
 */
import { apiBase, ApiError, fetchApi } from "../api.js"
import { ErrorBox, Loading } from "../components/common.js"
import { useLoad } from "../hooks.js"

/** The API reference page. */
export const ApiDocsPage = () => {
  const { loaded } = useLoad(async (signal) => {
    const res = await fetchApi(new URL("docs", apiBase()), { signal })
    if (!res.ok) throw new ApiError(res.status, `HTTP ${res.status}`, `The API reference answered ${res.status}.`)
    return res.text()
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
