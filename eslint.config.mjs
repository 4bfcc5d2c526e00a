// The arbiter of style: Effect's dprint formatting rule (as in Effect's own repository) plus the TypeScript
// recommended rules. `npm run lint` checks, `npm run lint:fix` formats.
import * as effectEslint from "@effect/eslint-plugin"
import eslint from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: [
      ".tsc/**",
      "docs/api/**",
      "**/dist/**",
      "**/node_modules/**",
      "**/*.md",
      ".ci/**",
      "**/.sextant/**",
      "**/tmp/**"
    ]
  },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  ...effectEslint.configs.dprint,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-empty-object-type": "off",
      "require-yield": "off",
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }]
    }
  },
  {
    // Tests and benchmarks poke at wire formats and untyped payloads.
    files: ["**/test/**", "**/bench/**", "test-support/**"],
    rules: { "@typescript-eslint/no-explicit-any": "off" }
  }
)
