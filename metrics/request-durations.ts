import type { Metric } from 'prom-client'

/** Request methods that label a series; any other is `OTHER`. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
const OTHER_METHOD = METHODS.length

/** Seconds: a loopback API answers in well under a millisecond, a slow key fetch takes seconds. */
export const REQUEST_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface Cell {
  method: string
  status: string
  /** Observations per bucket (not cumulative), the last one for +Inf. */
  counts: Float64Array
  sum: number
  count: number
}

/** One route's series, by method and status. */
export interface RouteSeries {
  readonly route: string
  readonly cells: Map<number, Cell>
}

/**
 * The request-duration histogram, kept in typed arrays and handed to prom-client
 * only at scrape time. prom-client's own Histogram hashes its labels on every
 * observation, most of what metrics would cost a request;
 * this costs two Map lookups and a bucket walk, and allocates nothing once a
 * series exists. Series exist only for routes the app declares (and one fixed
 * `unmatched` label), the methods above and the status codes the app answers
 * with, so request data never creates one.
 */
export class RequestDurations {
  readonly name = 'http_request_duration_seconds'
  readonly help = 'Time to answer a request, by route pattern (or "unmatched"), method and status code'
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #routes: RouteSeries[] = []

  /** The series of one route pattern; call once per route, at start-up. */
  route (route: string): RouteSeries {
    const series = { route, cells: new Map<number, Cell>() }
    this.#routes.push(series)
    return series
  }

  observe (series: RouteSeries, method: string, statusCode: number, seconds: number): void {
    let index = METHODS.indexOf(method as typeof METHODS[number])
    if (index === -1) index = OTHER_METHOD
    // Status codes are integers from 100 to 599, each answered by the app, not chosen by a client.
    const key = statusCode * 8 + index
    let cell = series.cells.get(key)
    if (cell === undefined) {
      cell = { method: METHODS[index] ?? 'OTHER', status: String(statusCode), counts: new Float64Array(REQUEST_DURATION_BUCKETS.length + 1), sum: 0, count: 0 }
      series.cells.set(key, cell)
    }
    let bucket = 0
    while (bucket < REQUEST_DURATION_BUCKETS.length && seconds > REQUEST_DURATION_BUCKETS[bucket]!) bucket++
    cell.counts[bucket]!++
    cell.sum += seconds
    cell.count++
  }

  /** What prom-client's registry reads from a metric. */
  get () {
    const values: Array<{ metricName: string, labels: Record<string, string | number>, value: number }> = []
    for (const { route, cells } of this.#routes) {
      for (const { method, status, counts, sum, count } of cells.values()) {
        const labels = { route, method, status_code: status }
        let cumulative = 0
        REQUEST_DURATION_BUCKETS.forEach((le, bucket) => {
          cumulative += counts[bucket]!
          values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative })
        })
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count })
        values.push({ metricName: `${this.name}_sum`, labels, value: sum })
        values.push({ metricName: `${this.name}_count`, labels, value: count })
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset (): void {
    for (const series of this.#routes) series.cells.clear()
  }

  /** For Registry.registerMetric, which is typed for prom-client's own classes but reads only name, get() and reset(). */
  asMetric (): Metric {
    return this as unknown as Metric
  }
}
