/**
 * A claim path: the keys that lead from the claims to a value, one segment per nested
 * object (`['realm_access', 'roles']`). Written as text, segments are separated by dots,
 * and a segment holding a dot, a bracket or a quote (or any key at all) is written in
 * brackets as a JSON string: `resource_access["my.client"].roles`,
 * `["https://example.com/roles"]`. `:` and `/` need no brackets (`cognito:groups`).
 */
export type ClaimPath = readonly string[]

// Deeper than any provider nests a claim, and no deeper than the claims may nest (claims.ts).
const MAX_SEGMENTS = 32
const MAX_PATH_LENGTH = 1024
// Names that lead to the prototype, never to a claim a provider sends.
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

// A plain segment (no dot, bracket, quote, comma or space), or a JSON string in brackets.
// (JSON.parse refuses what a JSON string may not hold, control characters among them.)
const SEGMENT = /([^.[\]",\s]+)|\[("(?:[^"\\]|\\.)*")\]/y

/** Why a key cannot be a segment of a claim path; undefined when it can. */
export function segmentProblem (key: unknown): string | undefined {
  if (typeof key !== 'string' || key === '') return 'has an empty or non-string key'
  if (PROTOTYPE_KEYS.has(key)) return `names ${JSON.stringify(key)}, a prototype key, not a claim`
  return undefined
}

/**
 * Reads paths from text: one, or several separated by commas (`a.b, c`). A list of paths,
 * or why the text is not one (a sentence to follow the option's name).
 */
export function parseClaimPaths (text: string): ClaimPath[] | string {
  if (typeof text !== 'string' || text.trim() === '') return 'must name at least one claim path'
  if (text.length > MAX_PATH_LENGTH) return `is longer than ${MAX_PATH_LENGTH} characters`
  const paths: ClaimPath[] = []
  let segments: string[] = []
  let at = 0
  const skipSpaces = () => { while (text[at] === ' ') at++ }
  skipSpaces()
  for (;;) {
    SEGMENT.lastIndex = at
    const match = SEGMENT.exec(text)
    const [whole = '', plain, quoted] = match ?? []
    if (whole === '') return `has no claim name at character ${at + 1} of ${JSON.stringify(text)}`
    let key: string
    try {
      key = plain ?? JSON.parse(quoted as string) as string
    } catch {
      return `has a bracket-quoted key that is not a JSON string at character ${at + 1}`
    }
    const problem = segmentProblem(key)
    if (problem !== undefined) return `${problem} in ${JSON.stringify(text)}`
    segments.push(key)
    at += whole.length
    // A bracket may follow directly: a["b"]["c"].
    if (text[at] === '[') continue
    if (text[at] === '.') {
      at++
      continue
    }
    skipSpaces()
    if (segments.length > MAX_SEGMENTS) return `nests deeper than ${MAX_SEGMENTS} keys`
    paths.push(Object.freeze(segments))
    segments = []
    if (at === text.length) return paths
    if (text[at] !== ',') return `has ${JSON.stringify(text[at])} at character ${at + 1} of ${JSON.stringify(text)}: quote such a key as ["…"]`
    at++
    skipSpaces()
  }
}

/** A path given as text (one path) or as its segments; why not, as a sentence. */
export function toClaimPath (given: unknown): ClaimPath | string {
  if (Array.isArray(given)) {
    if (given.length === 0) return 'has an empty path'
    if (given.length > MAX_SEGMENTS) return `nests deeper than ${MAX_SEGMENTS} keys`
    for (const key of given) {
      const problem = segmentProblem(key)
      if (problem !== undefined) return problem
    }
    return Object.freeze([...given as string[]])
  }
  if (typeof given !== 'string') return 'must be a claim path: a string such as "realm_access.roles", or its keys as an array'
  const parsed = parseClaimPaths(given)
  if (typeof parsed === 'string') return parsed
  if (parsed.length !== 1) return `names ${parsed.length} paths in one string: give each as an entry of an array`
  return parsed[0] as ClaimPath
}

/**
 * The value at the path, reading own properties of plain objects only: never an array's
 * index, never anything inherited (a polluted Object.prototype grants nothing). Built once
 * per path; a request costs one property check per segment, no string work.
 */
export function createClaimReader (path: ClaimPath): (claims: object) => unknown {
  const [first, second, ...rest] = path
  const step = (value: unknown, key: string): unknown =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined
  if (path.length === 1) return claims => step(claims, first as string)
  if (path.length === 2) return claims => step(step(claims, first as string), second as string)
  return claims => {
    let value = step(step(claims, first as string), second as string)
    for (const key of rest) value = step(value, key)
    return value
  }
}
