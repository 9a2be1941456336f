import t from 'tap'
import { CallRate } from '../../src/introspection/call-rate.js'

/** A clock the test moves by hand, in ms. */
function fakeClock () {
  const clock = { ms: 1_000, now: () => clock.ms }
  return clock
}

const takeAll = (rate: CallRate, tries: number) => {
  let taken = 0
  for (let i = 0; i < tries; i++) if (rate.take()) taken++
  return taken
}

t.test('a burst takes one second\'s worth, then nothing until time passes', async t => {
  const clock = fakeClock()
  const rate = new CallRate(10, clock.now)
  t.equal(takeAll(rate, 1000), 10, 'a thousand asks at one instant: ten calls')
  t.equal(rate.retryAfterSeconds(), 1)
  clock.ms += 100
  t.equal(takeAll(rate, 1000), 1, 'a tenth of a second later: one more')
  clock.ms += 60_000
  t.equal(takeAll(rate, 1000), 10, 'after a long pause: a burst of ten again, never more')
})

t.test('over time the calls never exceed the rate', async t => {
  const clock = fakeClock()
  const rate = new CallRate(50, clock.now)
  let taken = 0
  // Ten seconds of asks, one every millisecond.
  for (let i = 0; i < 10_000; i++) {
    clock.ms += 1
    if (rate.take()) taken++
  }
  t.ok(taken <= 50 + 50 * 10, `${taken} calls in 10 s at 50 a second, a burst of 50 included`)
  t.ok(taken >= 50 * 10, `${taken}: the rate is given, not starved`)
})

t.test('a rate below one a second allows one call, then says when the next may come', async t => {
  const clock = fakeClock()
  const rate = new CallRate(0.1, clock.now)
  t.equal(takeAll(rate, 100), 1)
  t.equal(rate.retryAfterSeconds(), 10, 'Retry-After: 10 s')
  clock.ms += 4_000
  t.notOk(rate.take())
  t.equal(rate.retryAfterSeconds(), 6)
  clock.ms += 6_000
  t.ok(rate.take())
})
