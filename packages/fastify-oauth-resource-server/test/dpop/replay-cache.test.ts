import t from 'tap'
import { MemoryReplayCache } from '../../src/index.js'

const tick = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

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
  const cache = new MemoryReplayCache(2)
  t.equal(cache.remember('a', 1), 'fresh')
  t.equal(cache.remember('b', 60_000), 'fresh')
  await tick(5)
  t.equal(cache.remember('c', 60_000), 'fresh', 'a expired: its slot is reused')
  t.equal(cache.size, 2)
  t.equal(cache.remember('d', 60_000), 'full')
  t.equal(cache.remember('b', 60_000), 'replayed')
})

t.test('a size below 1 is refused', async t => {
  t.throws(() => new MemoryReplayCache(0), /max must be an integer ≥ 1/)
})
