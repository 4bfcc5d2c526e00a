/** The token prompt: shown when the API answers 401; the token is kept in session storage for this tab. */
import { useEffect, useRef, useState } from "preact/hooks"
import { onTokenRequired } from "../api.js"

/** The prompt (rendered once by the app; invisible until a call needs a token). */
export const TokenPrompt = () => {
  const [request, setRequest] = useState<{ message: string; submit: (token: string) => void } | undefined>()
  const [value, setValue] = useState("")
  const input = useRef<HTMLInputElement>(null)
  useEffect(() => onTokenRequired((message, submit) => setRequest({ message, submit })), [])
  useEffect(() => input.current?.focus(), [request])
  if (request === undefined) return null
  const send = (event: Event) => {
    event.preventDefault()
    if (value.trim() === "") return
    request.submit(value)
    setRequest(undefined)
    setValue("")
  }
  return (
    <div class="modal-backdrop">
      <form class="modal" role="dialog" aria-modal="true" aria-labelledby="token-title" onSubmit={send}>
        <h2 id="token-title">Access token</h2>
        <p>{request.message}</p>
        <p class="muted">The token is sent as a bearer token on every call and kept only for this tab.</p>
        <input
          ref={input}
          type="password"
          name="token"
          autoComplete="off"
          placeholder="Bearer token"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Continue</button>
      </form>
    </div>
  )
}
