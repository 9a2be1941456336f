import { Secret, TOTP } from 'otpauth'

/**
 * The second factor of the local issuer: RFC 6238 TOTP codes (30 s, 6 digits, SHA-1,
 * what authenticator apps read from an otpauth:// URI), made and checked by otpauth.
 */

/** A base32 secret of 20 random bytes (RFC 4226's recommended length): 32 characters. */
export const TOTP_SECRET_PATTERN = '^[A-Z2-7]{32}$'
const ISSUER_NAME = 'Hello World API (local)'
// One time step either side: the clock of a phone may be off by some seconds.
const WINDOW = 1

const totpFor = (secret: string, username = '') => new TOTP({ issuer: ISSUER_NAME, label: username, secret: Secret.fromBase32(secret) })

/** A new secret, base32, from otpauth's cryptographically secure generator. */
export const createTotpSecret = (): string => new Secret({ size: 20 }).base32

/** The otpauth:// URI an authenticator app takes (as a QR code or pasted). */
export const totpUri = (username: string, secret: string): string => totpFor(secret, username).toString()

/** The code for a moment (default now), as an authenticator app shows it. */
export const totpCode = (secret: string, timestamp = Date.now()): string => totpFor(secret).generate({ timestamp })

/**
 * Checks codes, each accepted once per user (RFC 6238 §5.2): a code seen once, or one
 * older than the last accepted, is refused. Remembered in memory per user, one number each.
 */
export function createTotpVerifier () {
  const lastCounter = new Map<string, number>()
  return function verifyTotp (user: string, secret: string, code: string, timestamp = Date.now()): boolean {
    if (!/^\d{6}$/.test(code)) return false
    const delta = totpFor(secret).validate({ token: code, timestamp, window: WINDOW })
    if (delta === null) return false
    const counter = TOTP.counter({ timestamp }) + delta
    if (counter <= (lastCounter.get(user) ?? -1)) return false
    lastCounter.set(user, counter)
    return true
  }
}
