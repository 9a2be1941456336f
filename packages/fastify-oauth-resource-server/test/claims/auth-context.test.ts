import t from 'tap'
import { judgeAuthContext } from '../../src/claims/auth-context.js'

// The step-up rule alone, on claims the verifier would refuse first (authenticate
// checks the types of acr and auth_time): the rule holds without it.

const NOW = 1_800_000_000_000
const TOLERANCE = 5000
const context = { acrValues: ['urn:gold'], maxAge: 300_000 }

t.test('claims meeting the context pass', async t => {
  t.equal(judgeAuthContext({ acr: 'urn:gold', auth_time: NOW / 1000 - 10 }, context, NOW, TOLERANCE), undefined)
})

t.test('an auth_time that is not a number falls short, though it would compute as one', async t => {
  for (const authTime of [String(NOW / 1000), [NOW / 1000], true, null, { valueOf: () => NOW / 1000 }, Number.NaN]) {
    t.same(judgeAuthContext({ acr: 'urn:gold', auth_time: authTime }, context, NOW, TOLERANCE), { acr: false, authTime: true }, String(authTime))
  }
})

t.test('an acr that is not a string falls short, though it would print as one', async t => {
  for (const acr of [['urn:gold'], { toString: () => 'urn:gold' }, Object('urn:gold')]) {
    t.same(judgeAuthContext({ acr, auth_time: NOW / 1000 }, context, NOW, TOLERANCE), { acr: true, authTime: false })
  }
})

t.test('maxAge and the future are bounded by the clock tolerance, no more', async t => {
  const at = (secondsAgo: number) => judgeAuthContext({ acr: 'urn:gold', auth_time: NOW / 1000 - secondsAgo }, context, NOW, TOLERANCE)
  t.equal(at(305), undefined)
  t.same(at(306), { acr: false, authTime: true })
  t.equal(at(-5), undefined)
  t.same(at(-6), { acr: false, authTime: true })
})
