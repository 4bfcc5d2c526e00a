import type { PatternRule } from "./patternRules.js"

/** Whether a token mixes digits with letters, as generated keys do and English words and identifiers do not. */
const looksGenerated = (token: string): boolean => /\d/.test(token) && /[A-Za-z]/.test(token)

/** A PEM private key block; a block whose END line is missing is redacted to the end of the text. */
const privateKey: PatternRule = {
  type: "PRIVATE_KEY",
  regex:
    /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g
}

/** A JSON Web Token: three base64url segments whose first decodes to a JSON object with an `alg`. */
const jwt: PatternRule = {
  type: "JWT",
  regex: /(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![\w-])/g,
  accept: (value) => {
    try {
      const header: unknown = JSON.parse(Buffer.from(value.slice(0, value.indexOf(".")), "base64url").toString())
      return typeof header === "object" && header !== null && typeof (header as { alg?: unknown }).alg === "string"
    } catch {
      return false
    }
  }
}

/** AWS access key ids (long-term AKIA, temporary ASIA, and the ABIA/ACCA variants). */
const awsAccessKey: PatternRule = {
  type: "AWS_ACCESS_KEY",
  regex: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g
}

/** An AWS secret access key (40 base64 characters) after an `aws_secret_access_key`-style key, in env, YAML or JSON. */
const awsSecretKey: PatternRule = {
  type: "AWS_SECRET_KEY",
  regex:
    /(?<![A-Za-z0-9])(?:aws[_-]?secret[_-]?(?:access[_-]?)?key|secret[_-]?access[_-]?key)["']?\s*[:=]\s*["']?(?<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/dgi
}

/**
 * Vendor API tokens by their documented prefixes: OpenAI and Anthropic `sk-…`, GitHub `ghp_…`/`github_pat_…`,
 * Slack `xox?-…`, Google `AIza…`, Stripe `sk_live_…`, GitLab `glpat-…`, npm `npm_…`, Hugging Face `hf_…`.
 * The `sk-` and Slack forms must mix digits and letters so hyphenated words (`sk-learn-…`) do not match.
 */
const vendorTokens: ReadonlyArray<PatternRule> = [
  {
    type: "API_KEY",
    regex: /(?<![\w-])sk-(?:ant-)?[A-Za-z0-9_-]{20,}(?![\w-])/g,
    accept: (value) => looksGenerated(value.slice(3)) && /[A-Z]/.test(value) && /[a-z]/.test(value.slice(3))
  },
  { type: "API_KEY", regex: /(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})(?![\w-])/g },
  {
    type: "API_KEY",
    regex: /(?<![\w-])xox[abposr]-[A-Za-z0-9-]{10,}(?![\w-])/g,
    accept: (value) => looksGenerated(value.slice(5))
  },
  { type: "API_KEY", regex: /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g },
  { type: "API_KEY", regex: /(?<![\w-])(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}(?![\w-])/g },
  { type: "API_KEY", regex: /(?<![\w-])glpat-[0-9A-Za-z_-]{20,}(?![\w-])/g },
  { type: "API_KEY", regex: /(?<![\w-])npm_[A-Za-z0-9]{36}(?![\w-])/g },
  { type: "API_KEY", regex: /(?<![\w-])hf_[A-Za-z0-9]{34,}(?![\w-])/g }
]

/**
 * A credential value after an explicit key (`api_key=…`, `"access_token": "…"`, `client_secret: …`): at
 * least 16 token characters mixing digits and letters, so `api_key: YOUR_KEY_HERE` and
 * `api_key = os.environ[...]` do not match. Only the value is a finding.
 */
const keyedCredential: PatternRule = {
  type: "API_KEY",
  regex:
    /(?<![A-Za-z0-9])(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret[_-]?key)["']?\s*[:=]\s*["']?(?<v>[A-Za-z0-9_\-./+=]{15,}[A-Za-z0-9_\-/+=])(?![A-Za-z0-9_\-/+=])/dgi,
  accept: (value) => looksGenerated(value)
}

/** The token after `Bearer` (an `Authorization` header or prose): 16+ token characters including a digit. */
const bearerToken: PatternRule = {
  type: "BEARER_TOKEN",
  regex: /(?<![A-Za-z0-9])bearer\s+(?<v>[A-Za-z0-9._~+/-]*[A-Za-z0-9_~+/-]=*)(?![A-Za-z0-9_~+/=-])/dgi,
  accept: (value) => value.length >= 16 && /\d/.test(value)
}

/**
 * The secret detectors, in the order they run. When two find the same span the first listed names it, so a
 * JWT sent as a bearer token is reported as `JWT`.
 */
export const secretRules: ReadonlyArray<PatternRule> = [
  privateKey,
  jwt,
  awsAccessKey,
  awsSecretKey,
  ...vendorTokens,
  keyedCredential,
  bearerToken
]
