import t from 'tap'
import { parseXfcc } from '../../src/mtls/xfcc.js'

t.test('XFCC: quoted values may hold commas, semicolons, equals signs and escaped quotes', async t => {
  t.same(parseXfcc('By=spiffe://a;Hash=ab;Subject="CN=x, O=\\"y\\";z";URI=u'), { cert: undefined, hash: 'ab' })
  t.same(parseXfcc('Cert="a,b;c=d"'), { cert: 'a,b;c=d', hash: undefined })
  t.same(parseXfcc('CERT=abc;hash=12'), { cert: 'abc', hash: '12' }, 'keys are case-insensitive')
})

t.test('XFCC: several elements, unterminated quotes, pairs without = and repeated Cert or Hash are malformed', async t => {
  for (const value of ['Hash=a,Hash=b', 'By=x,Hash=a', 'Hash=a,By=x', 'Cert="abc', 'Hash', 'Hash=a;;By=b', 'Hash=a;Hash=a', 'Cert=a;Cert=a', 'Hash=a=b', 'Cert="a"x', '=a', 'Subject="a"junk;Hash=b']) {
    t.equal(parseXfcc(value), undefined, value)
  }
})
