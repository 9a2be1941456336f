import t from 'tap'
import { createProofKeyReader, MAX_KEYS } from '../../src/dpop/proof.js'
import { createHolder, createMirrorHolder, makeProof, type Holder } from './holder.js'

const HTU = 'https://api.example.com/me'
const createReader = () => createProofKeyReader(new Set(['ES256', 'EdDSA']), ['jti', 'htm', 'htu', 'iat'])

async function keyOf (reader: ReturnType<typeof createReader>, holder: Holder, signer: Holder = holder) {
  const proof = await makeProof(holder, { htu: HTU, signWith: signer.privateKey })
  const key = reader.read(proof)
  if (typeof key === 'string') throw new Error(`refused: ${key}`)
  return { key, proof, jkt: await key.thumbprint }
}

t.test('a client\'s proofs share one remembered key, still checked against each proof\'s signature', async t => {
  const reader = createReader()
  const holder = await createHolder()
  const first = await keyOf(reader, holder)
  const second = await keyOf(reader, holder)
  t.equal(second.key, first.key, 'one key for one header')
  t.equal(reader.size, 1)
  t.equal(first.jkt, holder.jkt)
  t.doesNotThrow(() => first.key.verify(second.proof))
  // The holder's exact header, signed by someone else: the remembered key refuses it.
  const thief = await createHolder()
  const forged = await makeProof(holder, { htu: HTU, signWith: thief.privateKey })
  t.equal(forged.split('.')[0], first.proof.split('.')[0], 'the forged proof carries the remembered header')
  t.equal(reader.read(forged), first.key)
  t.throws(() => first.key.verify(forged), { code: 'FAST_JWT_INVALID_SIGNATURE' })
})

t.test('a key with the same x and another y is its own key, with its own thumbprint', async t => {
  const reader = createReader()
  const holder = await createHolder()
  const mirror = await createMirrorHolder(holder)
  t.equal(mirror.jwk.x, holder.jwk.x)
  t.not(mirror.jwk.y, holder.jwk.y)
  const ours = await keyOf(reader, holder)
  const theirs = await keyOf(reader, mirror)
  t.not(theirs.key, ours.key)
  t.equal(ours.jkt, holder.jkt)
  t.equal(theirs.jkt, mirror.jkt)
  t.not(theirs.jkt, ours.jkt)
  t.doesNotThrow(() => theirs.key.verify(theirs.proof), 'a real key: its own proofs verify')
  t.throws(() => ours.key.verify(theirs.proof), { code: 'FAST_JWT_INVALID_SIGNATURE' })
  t.throws(() => theirs.key.verify(ours.proof), { code: 'FAST_JWT_INVALID_SIGNATURE' })
})

t.test('two keys that share a kid are not confused', async t => {
  const reader = createReader()
  const holder = await createHolder()
  const thief = await createHolder()
  const ours = await keyOf(reader, { ...holder, jwk: { ...holder.jwk, kid: 'k1' } })
  const theirs = await keyOf(reader, { ...thief, jwk: { ...thief.jwk, kid: 'k1' } })
  t.not(theirs.key, ours.key)
  t.equal(ours.jkt, holder.jkt)
  t.equal(theirs.jkt, thief.jkt)
  t.throws(() => ours.key.verify(theirs.proof), { code: 'FAST_JWT_INVALID_SIGNATURE' })
})

t.test('a flood of fresh keys never grows the remembered keys past MAX_KEYS, and a client\'s key is read as itself after it', async t => {
  const reader = createReader()
  let largest = 0
  for (let i = 0; i < MAX_KEYS + 50; i++) {
    await keyOf(reader, await createHolder('EdDSA'))
    largest = Math.max(largest, reader.size)
  }
  t.ok(largest <= MAX_KEYS, `at most ${MAX_KEYS} keys (largest seen ${largest})`)
  const holder = await createHolder()
  t.equal((await keyOf(reader, holder)).jkt, holder.jkt)
})

t.test('a flood of unique headers evicts the least recently used keys, never a key in use', async t => {
  const reader = createReader()
  const busy = await createHolder()
  const busyProof = await makeProof(busy, { htu: HTU })
  const first = reader.read(busyProof)
  // The attacker's headers: one key under endless kid values, each header new. Only the
  // header is read here, so the payload and signature need not be real.
  const attacker = await createHolder('EdDSA')
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  for (let i = 0; i < 3 * MAX_KEYS; i++) {
    reader.read(`${part({ typ: 'dpop+jwt', alg: 'EdDSA', jwk: { ...attacker.jwk, kid: `k${i}` } })}.e30.x`)
    // The busy client sends a proof now and then, far less often than the flood turns the cache over.
    if (i % (MAX_KEYS / 4) === 0) t.equal(reader.read(busyProof), first, `still remembered after ${i} unique headers`)
    if (reader.size > MAX_KEYS) return t.fail(`${reader.size} keys remembered`)
  }
  t.equal(reader.read(busyProof), first, 'the busy client\'s key survived the flood')
  t.equal(reader.size, MAX_KEYS)
})

t.test('a header too long to remember is read on every proof, and not kept', async t => {
  const reader = createReader()
  const holder = await createHolder()
  const padded = { ...holder, jwk: { ...holder.jwk, kid: 'k'.repeat(3000) } }
  const { key, jkt } = await keyOf(reader, padded)
  t.equal(jkt, holder.jkt)
  t.equal(reader.size, 0)
  t.not((await keyOf(reader, padded)).key, key)
})
