import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'

export const METRICS_PATH = '/metrics'

/** What the endpoint serves: the metrics plugin's registry, as Prometheus scrapes it. */
export interface Scrape {
  /** The exposition text. */
  scrape: () => Promise<string>
  contentType: string
}

/**
 * The Prometheus endpoint as a server of its own, apart from the API: its port
 * (METRICS_PORT, loopback by default) is not the public one, it answers GET
 * /metrics and nothing else, and the API's hooks, CORS and docs never see it.
 * server.ts, the one file that listens, listens with it and closes it with the API.
 */
export function createMetricsServer (metrics: Scrape, log: FastifyBaseLogger): FastifyInstance {
  const server = Fastify({ loggerInstance: log })
  // A scrape every few seconds is not worth a log line.
  server.get(METRICS_PATH, { logLevel: 'silent' }, async (request, reply) => {
    reply.type(metrics.contentType)
    return metrics.scrape()
  })
  return server
}
