/**
 * @sextant/providers: real model providers behind the runtime's `LanguageModel` port — OpenAI (Responses
 * API), Anthropic (Messages API) and OpenAI-compatible chat-completions servers — and model strings.
 */
/** Anthropic Messages API. */
export * as Anthropic from "./Anthropic.js"
/** Errors raised while a provider is configured. */
export * from "./Errors.js"
/** Model strings (`openai:gpt-4.1-mini`, …). */
export * as Model from "./Model.js"
/** OpenAI Responses API. */
export * as OpenAi from "./OpenAi.js"
/** OpenAI-compatible chat completions (Ollama, vLLM, LM Studio, OpenRouter, …). */
export * as OpenAiCompatible from "./OpenAiCompatible.js"
/** Retry settings: the runtime's RetryPolicy vocabulary with the provider defaults. */
export * as RetryPolicy from "./RetryPolicy.js"
