/** A duration in seconds (fractions allowed). Every duration option is in seconds. */
export type Seconds = number
