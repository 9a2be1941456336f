import t from 'tap'
import { createClaimReader, parseClaimPaths, toClaimPath } from '../../src/claims/claim-path.js'

t.test('a path is dot-separated keys; a key with a dot, a slash or a colon is written in brackets as a JSON string', async t => {
  t.same(parseClaimPaths('realm_access.roles'), [['realm_access', 'roles']])
  t.same(parseClaimPaths('resource_access["my.client"].roles'), [['resource_access', 'my.client', 'roles']])
  t.same(parseClaimPaths('resource_access.["my.client"].roles'), [['resource_access', 'my.client', 'roles']])
  t.same(parseClaimPaths('["https://example.com/roles"]'), [['https://example.com/roles']])
  t.same(parseClaimPaths('cognito:groups'), [['cognito:groups']], 'a colon needs no brackets')
  t.same(parseClaimPaths('["a\\"b"]["c,d"]'), [['a"b', 'c,d']])
})

t.test('several paths are separated by commas, spaces around them ignored', async t => {
  t.same(parseClaimPaths(' roles , scp '), [['roles'], ['scp']])
  t.same(parseClaimPaths('cognito:groups,scope'), [['cognito:groups'], ['scope']])
})

t.test('a malformed path is refused with a reason, never read loosely', async t => {
  for (const bad of ['', ' ', 'a..b', '.a', 'a.', 'a,', ',a', 'a b', '["a"]b', '[a]', '["a"', '["\\q"]', '[""]', 'a.__proto__', 'constructor', '["prototype"]', 'a,,b', `${'a.'.repeat(40)}a`]) {
    t.type(parseClaimPaths(bad), 'string', JSON.stringify(bad))
  }
})

t.test('a path given as its keys is taken as is, prototype keys and empty keys refused', async t => {
  t.same(toClaimPath(['resource_access', 'my.client', 'roles']), ['resource_access', 'my.client', 'roles'])
  t.type(toClaimPath([]), 'string')
  t.type(toClaimPath(['a', '']), 'string')
  t.type(toClaimPath(['__proto__', 'roles']), 'string')
  t.type(toClaimPath(['a', 1]), 'string')
  t.type(toClaimPath(42), 'string')
  t.type(toClaimPath('a,b'), 'string', 'one string option is one path')
})

t.test('a reader walks own properties of objects only: not arrays, not strings, not the prototype', async t => {
  const read = createClaimReader(['realm_access', 'roles'])
  t.same(read({ realm_access: { roles: ['admin'] } }), ['admin'])
  t.equal(read({ realm_access: [{ roles: ['admin'] }] }), undefined, 'an array is not walked')
  t.equal(read({ realm_access: 'roles' }), undefined)
  t.equal(read({ realm_access: null }), undefined)
  t.equal(read({}), undefined)
  t.equal(read(JSON.parse('{"realm_access":{"__proto__":{"roles":["admin"]}}}')), undefined, 'a __proto__ key in a token is data, not a prototype')
  const deep = createClaimReader(['a', 'b', 'c', 'd'])
  t.equal(deep({ a: { b: { c: { d: 1 } } } }), 1)
  t.equal(deep({ a: { b: { c: 'x' } } }), undefined)
})

t.test('a reader never finds an inherited value, even with Object.prototype polluted', async t => {
  const proto = Object.prototype as Record<string, unknown>
  proto.realm_access = { roles: ['admin'] }
  t.teardown(() => { delete proto.realm_access })
  t.equal(createClaimReader(['realm_access', 'roles'])({}), undefined)
  t.equal(createClaimReader(['realm_access'])({ sub: 'x' }), undefined)
})
