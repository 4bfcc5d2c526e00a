/**
 * The filter bar of the list pages (runs, signals): selects, text fields, dates, checkboxes and a debounced
 * search, each a named control whose value lives in the URL. A page describes its fields and commits each
 * change itself (to the URL); the bar only renders them and reports changes.
 */
import { useEffect, useState } from "preact/hooks"

/** One choice of a select. */
export interface Choice {
  readonly value: string
  readonly label: string
}

/** One control of the bar. `replace`: its change replaces the history entry rather than adding one. */
export type FilterField =
  | {
    readonly kind: "select"
    readonly name: string
    readonly label: string
    /** The label of the empty choice ("any", "all"). */
    readonly any: string
    readonly choices: ReadonlyArray<Choice>
  }
  | { readonly kind: "text"; readonly name: string; readonly label: string; readonly placeholder?: string }
  | { readonly kind: "date"; readonly name: string; readonly label: string }
  /** A checkbox whose checked value is `on` (unchecked is ""). */
  | { readonly kind: "check"; readonly name: string; readonly label: string; readonly on: string }
  /** A search box committed 300 ms after the last keystroke, with `replace`. */
  | {
    readonly kind: "search"
    readonly name: string
    readonly label: string
    readonly id?: string
    readonly placeholder?: string
  }

/**
 * A text filter: its own state while typing (a re-render from polling must not reset what is being typed),
 * committed on change (blur or Enter).
 */
const TextFilter = ({ name, label, value, placeholder, onCommit }: {
  readonly name: string
  readonly label: string
  readonly value: string
  readonly placeholder: string | undefined
  readonly onCommit: (value: string) => void
}) => {
  const [text, setText] = useState(value)
  useEffect(() => setText(value), [value])
  return (
    <label>
      {label}
      <input
        name={name}
        value={text}
        placeholder={placeholder}
        onInput={(e) => setText((e.target as HTMLInputElement).value)}
        onChange={(e) => onCommit((e.target as HTMLInputElement).value.trim())}
      />
    </label>
  )
}

/** A search box: its own state while typing, committed (with `replace`) 300 ms after the last keystroke. */
const SearchFilter = ({ field, value, onCommit }: {
  readonly field: Extract<FilterField, { kind: "search" }>
  readonly value: string
  readonly onCommit: (value: string) => void
}) => {
  const [q, setQ] = useState(value)
  useEffect(() => setQ(value), [value])
  useEffect(() => {
    if (q === value) return
    const id = setTimeout(() => onCommit(q), 300)
    return () => clearTimeout(id)
  }, [q])
  return (
    <label class="search">
      {field.label}
      <input
        id={field.id}
        name={field.name}
        type="search"
        placeholder={field.placeholder}
        value={q}
        onInput={(e) => setQ((e.target as HTMLInputElement).value)}
      />
    </label>
  )
}

/**
 * The bar. `onChange(name, value, replace)` is called for each committed change (`replace` for the search box
 * and the fields named in `replacing`); `onClear`, when given, shows a Clear button while any value is set.
 */
export const FilterBar = ({ fields, values, onChange, onClear, replacing = [], role }: {
  readonly fields: ReadonlyArray<FilterField>
  readonly values: Readonly<Record<string, string>>
  readonly onChange: (name: string, value: string, replace: boolean) => void
  readonly onClear?: () => void
  readonly replacing?: ReadonlyArray<string>
  readonly role?: "search"
}) => {
  const commit = (name: string) => (value: string) => onChange(name, value, replacing.includes(name))
  const valueOf = (name: string) => values[name] ?? ""
  const control = (f: FilterField) => {
    switch (f.kind) {
      case "select":
        return (
          <label key={f.name}>
            {f.label}
            <select
              name={f.name}
              value={valueOf(f.name)}
              onChange={(e) => commit(f.name)((e.target as HTMLSelectElement).value)}
            >
              <option value="">{f.any}</option>
              {f.choices.map((c) => <option key={c.value} value={c.value}>{c.label}</option>)}
            </select>
          </label>
        )
      case "text":
        return (
          <TextFilter
            key={f.name}
            name={f.name}
            label={f.label}
            value={valueOf(f.name)}
            placeholder={f.placeholder}
            onCommit={commit(f.name)}
          />
        )
      case "date":
        return (
          <label key={f.name}>
            {f.label}
            <input
              name={f.name}
              type="date"
              value={valueOf(f.name)}
              onChange={(e) => commit(f.name)((e.target as HTMLInputElement).value)}
            />
          </label>
        )
      case "check":
        return (
          <label key={f.name} class="check">
            <input
              type="checkbox"
              name={f.name}
              checked={valueOf(f.name) === f.on}
              onChange={(e) => commit(f.name)((e.target as HTMLInputElement).checked ? f.on : "")}
            />
            {f.label}
          </label>
        )
      case "search":
        return (
          <SearchFilter
            key={f.name}
            field={f}
            value={valueOf(f.name)}
            onCommit={(value) => onChange(f.name, value, true)}
          />
        )
    }
  }
  return (
    <form class="filters" onSubmit={(e) => e.preventDefault()} role={role}>
      {fields.map(control)}
      {onClear !== undefined && fields.some((f) => valueOf(f.name) !== "") && (
        <button type="button" onClick={onClear}>
          Clear
        </button>
      )}
    </form>
  )
}
