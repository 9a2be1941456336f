/**
 * The test kit mints tokens anyone can mint, and a resource server pointed at it trusts
 * them: it must never run where real requests arrive. Its one look at the environment
 * (the package itself takes no configuration from it).
 */
export function refuseInProduction (what: string): void {
  if (process.env.NODE_ENV?.trim().toLowerCase() !== 'production') return
  throw new Error(`${what} is the test kit of fastify-oauth-resource-server, for tests and benchmarks: ` +
    'anyone can mint the tokens it serves keys for, so it refuses to start under NODE_ENV=production. ' +
    'In production, trust a real issuer.')
}
