import { request, type Agent } from 'node:https'
import { request as plainRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Issued } from '../fixtures/certificates.js'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/**
 * A GET over real TLS to the server on 127.0.0.1, trusting only `ca` for the server, with
 * the client certificate `client` if given; a new connection each time unless `agent` keeps one.
 * `server` is a Fastify instance listening, or the port of one in another process.
 */
export function tlsGet (server: FastifyInstance | number, path: string, { ca, client, headers = {}, agent = false }: { ca: string, client?: Issued, headers?: Record<string, string>, agent?: Agent | false }): Promise<Answer> {
  const port = typeof server === 'number' ? server : (server.server.address() as AddressInfo).port
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, cert: client?.cert, key: client?.key, headers, agent, servername: 'localhost' }, res => collect(res, resolve))
    req.on('error', reject)
    req.end()
  })
}

/** A GET over plain HTTP to the server on 127.0.0.1, as a TLS-terminating proxy sends it on. */
export function plainGet (server: FastifyInstance, path: string, headers: Record<string, string>): Promise<Answer> {
  const { port } = server.server.address() as AddressInfo
  return new Promise((resolve, reject) => {
    const req = plainRequest({ host: '127.0.0.1', port, path, headers, agent: false }, res => collect(res, resolve))
    req.on('error', reject)
    req.end()
  })
}

/** The whole answer, once its body has arrived. */
function collect (res: IncomingMessage, resolve: (answer: Answer) => void) {
  let body = ''
  res.setEncoding('utf8')
  res.on('data', chunk => { body += chunk })
  res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
}
