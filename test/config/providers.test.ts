import t from 'tap'
import { loadConfig } from '../../config/index.js'

// What each identity provider needs (docs/providers.md): AUDIENCE_CLAIM for Cognito,
// TENANTS and ISSUER_ALIASES for Entra ID, and their ISSUER_<n>_ forms.

const ENTRA = 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0'
const ORGANIZATIONS = 'https://login.microsoftonline.com/organizations/v2.0'
const TENANT_A = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const TENANT_B = '8eaef023-2b34-4da1-9baa-8bc8c9d6a490'

t.test('AUDIENCE_CLAIM=client_id with AUDIENCE naming the app client configures a Cognito user pool', async t => {
  const config = loadConfig({ ISSUER_BASE_URL: 'https://cognito-idp.us-west-2.amazonaws.com/us-west-2_aaaaaaaaa', AUDIENCE: '1example23456789', AUDIENCE_CLAIM: 'client_id' })
  t.match(config.auth, { audience: '1example23456789', audienceClaim: 'client_id' })
  t.notOk('audienceClaim' in loadConfig({ ISSUER_BASE_URL: ENTRA, AUDIENCE: 'x' }).auth!, 'unset: the plugin\'s default, aud')
  const several = loadConfig({ ISSUER_BASE_URL: 'https://cognito-idp.us-west-2.amazonaws.com/us-west-2_aaaaaaaaa', AUDIENCE: '1example23456789, 9another87654321', AUDIENCE_CLAIM: 'client_id' })
  t.same(several.auth?.audience, ['1example23456789', '9another87654321'], 'several app clients, comma-separated')
  t.equal(loadConfig({ ISSUER_BASE_URL: ENTRA, AUDIENCE: 'https://api.example.com/a,b' }).auth?.audience, 'https://api.example.com/a,b', 'an aud URI is one value, commas and all')
})

t.test('TENANTS and ISSUER_ALIASES configure a multi-tenant Entra ID app with v1.0 tokens', async t => {
  const config = loadConfig({ ISSUER_BASE_URL: ORGANIZATIONS, AUDIENCE: 'x', TENANTS: ` ${TENANT_A}, ${TENANT_B}`, ISSUER_ALIASES: 'https://sts.windows.net/{tenantid}/' })
  t.match(config.auth, { tenants: [TENANT_A, TENANT_B], issuerAliases: ['https://sts.windows.net/{tenantid}/'] })
  const numbered = loadConfig({ ISSUER_1_BASE_URL: ENTRA, ISSUER_1_AUDIENCE: 'x', ISSUER_1_ALIASES: `https://sts.windows.net/${TENANT_A}/`, ISSUER_2_BASE_URL: 'https://cognito-idp.us-west-2.amazonaws.com/us-west-2_aaaaaaaaa', ISSUER_2_AUDIENCE: 'c', ISSUER_2_AUDIENCE_CLAIM: 'client_id' })
  t.match(numbered.auth?.issuers, [{ issuer: ENTRA, issuerAliases: [`https://sts.windows.net/${TENANT_A}/`] }, { audienceClaim: 'client_id' }])
})

t.test('a bad provider setting stops start-up with one line naming the variable', async t => {
  const one = { ISSUER_BASE_URL: ENTRA, AUDIENCE: 'x' }
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ...one, AUDIENCE_CLAIM: 'azp' }, /^AUDIENCE_CLAIM must be aud or client_id \(got "azp"\)$/],
    [{ ...one, AUDIENCE_CLAIM: ' ' }, /^AUDIENCE_CLAIM is set but blank/],
    [{ ...one, AUDIENCE: 'a,,b', AUDIENCE_CLAIM: 'client_id' }, /^AUDIENCE must be app client ids separated by commas \(got "a,,b"\)$/],
    [{ ISSUER_BASE_URL: ORGANIZATIONS, AUDIENCE: 'x' }, /^TENANTS is required with ISSUER_BASE_URL https:\/\/login\.microsoftonline\.com\/organizations\/v2\.0: a multi-tenant Entra ID issuer takes the tenant ids listed, never every tenant$/],
    [{ ISSUER_BASE_URL: 'https://login.microsoftonline.com/common/v2.0', AUDIENCE: 'x' }, /^TENANTS is required with ISSUER_BASE_URL/],
    [{ ISSUER_BASE_URL: ORGANIZATIONS, AUDIENCE: 'x', TENANTS: `${TENANT_A},,${TENANT_B}` }, /^TENANTS must be tenant ids separated by commas \(got ""\)$/],
    [{ ISSUER_BASE_URL: ORGANIZATIONS, AUDIENCE: 'x', TENANTS: `${TENANT_A}/v2.0` }, /^TENANTS must be tenant ids/],
    [{ ...one, ISSUER_ALIASES: 'http://sts.windows.net/x/' }, /^ISSUER_ALIASES must use https:/],
    [{ ...one, ISSUER_ALIASES: 'https://sts.windows.net/{tenantid}/' }, /^ISSUER_ALIASES has \{tenantid\} .*: it needs TENANTS$/],
    [{ AUDIENCE_CLAIM: 'client_id' }, /^AUDIENCE_CLAIM needs ISSUER_BASE_URL or AUTH0_DOMAIN/],
    [{ TENANTS: TENANT_A }, /^TENANTS needs ISSUER_BASE_URL or AUTH0_DOMAIN/],
    [{ ISSUER_1_BASE_URL: ENTRA, ISSUER_1_AUDIENCE: 'x', AUDIENCE_CLAIM: 'client_id' }, /^AUDIENCE_CLAIM does not go with the numbered ISSUER_<n>_\* variables/],
    [{ ISSUER_1_BASE_URL: ENTRA, ISSUER_1_AUDIENCE: 'x', ISSUER_1_AUDIENCE_CLAIM: 'sub' }, /^ISSUER_1_AUDIENCE_CLAIM must be aud or client_id/],
    [{ ISSUER_1_BASE_URL: ENTRA, ISSUER_1_AUDIENCE: 'x', ISSUER_2_BASE_URL: ORGANIZATIONS, ISSUER_2_AUDIENCE: 'y' }, /^ISSUER_2_TENANTS is required with ISSUER_2_BASE_URL/],
    [{ ISSUER_1_BASE_URL: ORGANIZATIONS, ISSUER_1_AUDIENCE: 'x', ISSUER_1_ALIASES: 'https://sts.windows.net/{tenantid}/' }, /^ISSUER_1_TENANTS is required/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})
