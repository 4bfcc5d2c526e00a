/** A colour function: wraps text in an ANSI style, or returns it unchanged when colour is off. */
export type Paint = (text: string) => string

/** The styles the console uses. */
export interface Palette {
  readonly dim: Paint
  readonly bold: Paint
  readonly red: Paint
  readonly green: Paint
  readonly yellow: Paint
  readonly blue: Paint
  readonly magenta: Paint
  readonly cyan: Paint
}

const style = (open: number, close: number): Paint => (text) => `\u001b[${open}m${text}\u001b[${close}m`
const plain: Paint = (text) => text

/** The palette with colour on or off. */
export const palette = (color: boolean): Palette =>
  color
    ? {
      dim: style(2, 22),
      bold: style(1, 22),
      red: style(31, 39),
      green: style(32, 39),
      yellow: style(33, 39),
      blue: style(34, 39),
      magenta: style(35, 39),
      cyan: style(36, 39)
    }
    : { dim: plain, bold: plain, red: plain, green: plain, yellow: plain, blue: plain, magenta: plain, cyan: plain }

/** Whether to colour: only on a TTY, and only when `NO_COLOR` is unset or empty (https://no-color.org). */
export const shouldColor = (isTTY: boolean | undefined, env: Readonly<Record<string, string | undefined>>): boolean =>
  isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "")
