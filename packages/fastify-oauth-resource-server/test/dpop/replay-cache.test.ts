import t, { type Test } from 'tap'
import { MemoryReplayCache } from '../../src/index.js'

/** The test's own clock: Date.now() stands still until the test moves it, however loaded the machine. */
function fakeClock (t: Test) {
  const real = Date.now
  let now = real()
  Date.now = () => now
  t.teardown(() => { Date.now = real })
  return { advance: (ms: number) => { now += ms } }
}

t.test('an id is fresh once, then replayed while its ttl runs', async t => {
  const cache = new MemoryReplayCache(10)
  t.equal(cache.remember('a', 60_000), 'fresh')
  t.equal(cache.remember('a', 60_000), 'replayed')
  t.equal(cache.remember('b', 60_000), 'fresh')
  t.equal(cache.size, 2)
})

t.test('when full of live ids, a new id is refused (full), never an old one forgotten', async t => {
  const cache = new MemoryReplayCache(2)
  t.equal(cache.remember('a', 60_000), 'fresh')
  t.equal(cache.remember('b', 60_000), 'fresh')
  t.equal(cache.remember('c', 60_000), 'full')
  t.equal(cache.remember('a', 60_000), 'replayed', 'the oldest is still remembered')
})

t.test('expired ids make room, and an id may be used again once it could no longer be accepted', async t => {
  const clock = fakeClock(t)
  const cache = new MemoryReplayCache(2)
  t.equal(cache.remember('a', 1), 'fresh')
  t.equal(cache.remember('b', 60_000), 'fresh')
  clock.advance(5)
  t.equal(cache.remember('c', 60_000), 'fresh', 'a expired: its slot is reused')
  t.equal(cache.size, 2)
  t.equal(cache.remember('d', 60_000), 'full')
  t.equal(cache.remember('b', 60_000), 'replayed')
})

t.test('a size below 1 is refused', async t => {
  t.throws(() => new MemoryReplayCache(0), /max must be an integer ≥ 1/)
})

t.test('one key cannot fill the cache: past its share only its own proofs are refused (keyFull), others still fit', async t => {
  const cache = new MemoryReplayCache(100)
  const verdicts = Array.from({ length: 100 }, (_, i) => cache.remember(`greedy-${i}`, 60_000, 'greedy'))
  t.equal(verdicts.filter(v => v === 'fresh').length, 10, 'a tenth by default')
  t.equal(verdicts.filter(v => v === 'keyFull').length, 90)
  t.equal(cache.heldBy('greedy'), 10)
  t.equal(cache.size, 10, 'refused ids are not kept')
  for (let i = 0; i < 9; i++) t.equal(cache.remember(`other-${i}`, 60_000, `key-${i}`), 'fresh', `key-${i}`)
})

t.test('a key\'s share comes back as its ids expire', async t => {
  const clock = fakeClock(t)
  const cache = new MemoryReplayCache(100, 2)
  t.equal(cache.remember('a', 1, 'k'), 'fresh')
  t.equal(cache.remember('b', 60_000, 'k'), 'fresh')
  t.equal(cache.remember('c', 60_000, 'k'), 'keyFull')
  clock.advance(5)
  t.equal(cache.remember('c', 60_000, 'k'), 'fresh', 'a expired: k holds one again')
  t.equal(cache.heldBy('k'), 2)
  t.equal(cache.remember('b', 60_000, 'k'), 'replayed', 'a replay is still a replay')
})

t.test('a share below 1 or above the size is refused', async t => {
  t.throws(() => new MemoryReplayCache(10, 0), /perKey must be an integer from 1 to max/)
  t.throws(() => new MemoryReplayCache(10, 11), /perKey must be an integer from 1 to max/)
})
