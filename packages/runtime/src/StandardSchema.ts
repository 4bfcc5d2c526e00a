/**
 * The Standard Schema interfaces (https://standardschema.dev), declared here as the spec asks (they are types
 * only, with no dependency): a schema of any library that implements them (zod, valibot, ArkType, Effect's
 * own through `Schema.standardSchemaV1`) can describe a tool's parameters.
 */

/** A path segment of an issue: a key, or an object holding one. */
export type StandardPathSegment = PropertyKey | { readonly key: PropertyKey }

/** One problem found while validating a value. */
export interface StandardIssue {
  readonly message: string
  readonly path?: ReadonlyArray<StandardPathSegment> | undefined
}

/** What `validate` returns: the output value, or the issues that stopped it. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> }

/** The `~standard` property of a Standard Schema. */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  readonly version: 1
  /** The library that made the schema (`zod`, `valibot`, `arktype`, `effect`…). */
  readonly vendor: string
  readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>
  readonly types?: { readonly input: Input; readonly output: Output } | undefined
  /** The Standard JSON Schema interface, where the library offers it. */
  readonly jsonSchema?: StandardJsonSchemaConverter | undefined
}

/** A schema implementing Standard Schema v1. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": StandardSchemaProps<Input, Output>
}

/** Options of a Standard JSON Schema conversion. */
export interface StandardJsonSchemaOptions {
  /** `draft-2020-12`, `draft-07` or `openapi-3.0` (a library may support others or fewer). */
  readonly target: string
  readonly libraryOptions?: Readonly<Record<string, unknown>> | undefined
}

/** The Standard JSON Schema interface (`~standard.jsonSchema`): the schema's input and output sides as JSON Schema. */
export interface StandardJsonSchemaConverter {
  readonly input: (options: StandardJsonSchemaOptions) => Record<string, unknown>
  readonly output: (options: StandardJsonSchemaOptions) => Record<string, unknown>
}
