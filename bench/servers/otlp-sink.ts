/**
 * An OTLP/HTTP receiver that accepts and drops every export, on 127.0.0.1:14318 (or
 * BENCH_OTLP_PORT), for traced-service.ts; run it on the load generator's core
 * (`taskset -c 1`), apart from the servers measured. Prints what it got on SIGTERM.
 */
import { createServer } from 'node:http'

let exports = 0
let bytes = 0
createServer((request, response) => {
  request.on('data', (chunk: Buffer) => { bytes += chunk.length })
  request.on('end', () => {
    exports++
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
  })
}).listen(Number(process.env.BENCH_OTLP_PORT ?? 14318), '127.0.0.1')
process.on('SIGTERM', () => {
  console.log(`otlp sink: ${exports} exports, ${bytes} bytes`)
  process.exit(0)
})
