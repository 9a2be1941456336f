/** Throws the plugin's error for a bad option: its message names the option and what is wrong. */
export type Fail = (option: string, problem: string) => never

/**
 * The checks every option resolver of the plugin shares, for options named under `prefix`
 * (`'auth plugin: option '`, `'auth plugin: option dpop.'`): each throws naming the option.
 */
export function optionChecks (prefix: string) {
  const fail: Fail = (option, problem) => {
    throw new Error(`${prefix}${option} ${problem}`)
  }

  /** A finite number ≥ min, or the fallback when not given. */
  const number = (option: string, value: number | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) fail(option, `must be a number ≥ ${min}`)
    return value
  }

  /**
   * A duration given in seconds, as every duration option is, returned in ms. A value past
   * the bound is most likely in ms: the message gives the number meant.
   */
  const seconds = (option: string, value: number | undefined, fallback: number, min: number, max: number): number => {
    const checked = number(option, value, fallback, min)
    if (checked > max) fail(option, `is in seconds: at most ${max}, got ${checked} (in ms? then write ${checked / 1000})`)
    return checked * 1000
  }

  return { fail, number, seconds }
}
