import t from 'tap'
import { Doorkeeper } from '../../src/token/doorkeeper.js'

// Cache ids are base64; the first five digits pick the bucket, the next five are the fingerprint.
const inBucket = (bucket: string, print: string) => `${bucket}${print}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`

t.test('a first sighting is remembered; the second is recognised, once', async t => {
  const doorkeeper = new Doorkeeper(1024)
  const id = inBucket('AAAAB', 'CDEFG')
  t.equal(doorkeeper.seenBefore(id), false, 'first')
  t.equal(doorkeeper.seenBefore(id), true, 'second')
  t.equal(doorkeeper.seenBefore(id), false, 'forgotten once recognised: the cache holds it from now on')
})

t.test('a first sighting survives three more new ids in its bucket, and the fourth crowds out the oldest', async t => {
  const first = inBucket('AAAAB', 'AAAAA')
  const others = ['BBBBB', 'CCCCC', 'DDDDD', 'EEEEE'].map(print => inBucket('AAAAB', print))
  const three = new Doorkeeper(1024)
  three.seenBefore(first)
  for (const id of others.slice(0, 3)) three.seenBefore(id)
  t.equal(three.seenBefore(first), true, 'still there after three others')
  const four = new Doorkeeper(1024)
  four.seenBefore(first)
  for (const id of others) four.seenBefore(id)
  t.equal(four.seenBefore(first), false, 'crowded out by the fourth')
  t.equal(four.seenBefore(others[3]!), true, 'the newest is there')
  t.equal(four.seenBefore(others[1]!), true, 'and the others after the first')
})

t.test('ids in other buckets never crowd a sighting out', async t => {
  const doorkeeper = new Doorkeeper(1024)
  const id = inBucket('AAAAB', 'CDEFG')
  doorkeeper.seenBefore(id)
  for (let i = 0; i < 1000; i++) doorkeeper.seenBefore(inBucket('AAAAC', String(i).padStart(5, 'A')))
  t.equal(doorkeeper.seenBefore(id), true)
})
