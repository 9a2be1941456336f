/**
 * A real identity provider for tests: keys generated per run, discovery and JWKS
 * served on 127.0.0.1 port 0, tokens signed for real, faults on demand.
 */
export { createKeyPair, createTestIssuer, forgeToken, signRaw, TEST_AUDIENCE } from './test-issuer.js'
export type {
  BadToken, Claims, Fault, KeyAlgorithm, KeyPair, SignOptions, TestIssuer, TestIssuerOptions, TokenOptions
} from './test-issuer.js'
export { startIntrospectionServer } from './test-introspection.js'
export type { IntrospectionFault, IntrospectionServer, IntrospectionServerOptions } from './test-introspection.js'
export { accessTokenHash, createDpopClient, createDpopHolder, createDpopProof, dpopHeaders } from './dpop-client.js'
export type { DpopClient, DpopHolder, DpopProofParts, DpopRequest } from './dpop-client.js'
export { auth0Claims, cognitoClaims, entraClaims, keycloakClaims, oktaClaims } from './provider-claims.js'
