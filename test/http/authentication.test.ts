import { generateKeyPairSync } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import t from 'tap';
import { bearer, buildTestApp, TEST_JWT_SECRET } from '../helpers/app.js';

const { app, token, adminToken, seedTenants } = await buildTestApp(t, {
  PGSTEWARD_JWT_ISSUER: 'https://issuer.test',
  PGSTEWARD_JWT_AUDIENCE: 'pgsteward',
  PGSTEWARD_JWT_MAX_TTL_SECONDS: '3600',
});
await seedTenants('acme');

const sign = (claims: Record<string, unknown>, opts: Record<string, unknown> = {}) =>
  createSigner({ key: TEST_JWT_SECRET, expiresIn: 60_000, ...opts })(claims);
const good = { sub: 'bot', tenant: 'acme', scope: 'tenants:admin', iss: 'https://issuer.test', aud: 'pgsteward' };

const get = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/v1/tenants/acme', headers });

t.test('a well-formed token with the configured issuer and audience is accepted', async (t) => {
  const res = await get(bearer(sign(good)));
  t.equal(res.statusCode, 200);
});

t.test('authentication failures answer 401 with PGS_UNAUTHORIZED', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const header = (s: object) => Buffer.from(JSON.stringify(s)).toString('base64url');
  const cases: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['not a bearer scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['garbage token', bearer('not.a.jwt')],
    ['expired token', bearer(sign({ ...good, exp: Math.floor(Date.now() / 1000) - 60 }, { expiresIn: undefined }))],
    ['alg none', bearer(`${header({ alg: 'none', typ: 'JWT' })}.${header({ ...good, exp: 9999999999 })}.`)],
    ['signed with the wrong secret', bearer(createSigner({ key: 'x'.repeat(40), expiresIn: 60_000 })(good))],
    [
      'signed with an unexpected algorithm',
      bearer(
        createSigner({ key: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, expiresIn: 60_000 })(good),
      ),
    ],
    ['the wrong issuer', bearer(sign({ ...good, iss: 'https://evil.test' }))],
    ['the wrong audience', bearer(sign({ ...good, aud: 'someone-else' }))],
    ['no exp claim', bearer(sign(good, { expiresIn: undefined }))],
    ['no sub claim', bearer(sign({ ...good, sub: undefined }))],
    ['no iss claim while an issuer is configured', bearer(sign({ ...good, iss: undefined }))],
    ['no aud claim while an audience is configured', bearer(sign({ ...good, aud: undefined }))],
    ['no iat claim while a lifetime cap is set', bearer(sign(good, { noTimestamp: true }))],
    ['a lifetime (exp - iat) over the cap', bearer(sign(good, { expiresIn: 3601_000 }))],
    [
      'an iat in the future, stretching the lifetime',
      bearer(sign(good, { clockTimestamp: Date.now() + 7200_000, expiresIn: 600_000 })),
    ],
  ];
  for (const [name, headers] of cases) {
    const res = await get(headers);
    t.equal(res.statusCode, 401, name);
    t.equal(res.json().code, 'PGS_UNAUTHORIZED', `${name}: code`);
    t.match(res.headers['content-type'], /application\/problem\+json/, `${name}: problem+json`);
  }
});

t.test('a refused claim is named in the answer', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['no iss', sign({ ...good, iss: undefined }), /no iss claim/],
    ['no aud', sign({ ...good, aud: undefined }), /no aud claim/],
    ['no iat', sign(good, { noTimestamp: true }), /no issued-at time \(iat\)/],
    ['too long', sign(good, { expiresIn: 7200_000 }), /lifetime \(exp - iat\) is 7200 s; at most 3600 s/],
    ['future iat', sign(good, { clockTimestamp: Date.now() + 7200_000, expiresIn: 600_000 }), /issued in the future/],
  ];
  for (const [name, tok, detail] of cases) t.match((await get(bearer(tok))).json().detail, detail, name);
});

t.test('a token of exactly the longest accepted lifetime, issued just now, is accepted', async (t) => {
  t.equal((await get(bearer(sign(good, { expiresIn: 3600_000 })))).statusCode, 200);
  const skewed = sign(good, { clockTimestamp: Date.now() + 30_000, expiresIn: 600_000 });
  t.equal((await get(bearer(skewed))).statusCode, 200, 'an issuer clock a little ahead is tolerated');
});

t.test('GET /v1/audit needs audit:read; operators keep reading it with tenants:admin alone', async (t) => {
  const audit = (scope: string, tenant?: string) =>
    app.inject({ method: 'GET', url: '/v1/audit', headers: bearer(sign({ ...good, scope, tenant })) });
  const without = await audit('backups:read targets:read', 'acme');
  t.equal(without.statusCode, 403);
  t.equal(without.json().code, 'PGS_MISSING_SCOPE');
  t.same(without.json().missingScopes, ['audit:read']);
  t.equal((await audit('audit:read', 'acme')).statusCode, 200);
  t.equal((await audit('tenants:admin')).statusCode, 200, 'an operator token without a tenant');
});

t.test("reading one's own tenant needs tenants:read, in REST and GraphQL alike", async (t) => {
  const rest = await get(bearer(sign({ ...good, scope: 'backups:read' })));
  t.equal(rest.statusCode, 403);
  t.same(rest.json().missingScopes, ['tenants:read']);
  t.equal((await get(bearer(sign({ ...good, scope: 'tenants:read' })))).statusCode, 200);
  const gql = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(sign({ ...good, scope: 'backups:read' })),
    payload: { query: '{ tenant { id } }' },
  });
  t.equal(gql.json().errors[0].extensions.code, 'PGS_MISSING_SCOPE');
});

t.test('GraphQL requires a token too', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ viewer { actor } }' } });
  t.equal(res.statusCode, 401);
  t.equal(res.json().code, 'PGS_UNAUTHORIZED');
});

t.test('a missing scope answers 403 naming the scope', async (t) => {
  const res = await app.inject({
    method: 'GET',
    url: '/v1/tenants',
    headers: bearer(sign({ ...good, scope: 'backups:read' })),
  });
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, 'PGS_MISSING_SCOPE');
  t.same(res.json().missingScopes, ['tenants:admin']);
  t.match(res.json().detail, /tenants:admin/);
});

t.test('a token for a tenant that does not exist answers 403', async (t) => {
  const res = await get(bearer(sign({ ...good, tenant: 'ghost' })));
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, 'PGS_UNKNOWN_TENANT');
});

t.test(
  'a signed token whose tenant is no tenant id (NUL, odd characters, too long) answers 403, never 500',
  async (t) => {
    for (const tenant of ['acme\u0000x', 'ACME', 'a'.repeat(5000), '\ud800', "acme'; --"]) {
      const res = await get(bearer(sign({ ...good, tenant })));
      t.equal(res.statusCode, 403, JSON.stringify(tenant).slice(0, 40));
      t.equal(res.json().code, 'PGS_UNKNOWN_TENANT');
    }
  },
);

t.test('a non-operator token without a tenant answers 403', async (t) => {
  const res = await get(bearer(sign({ ...good, tenant: undefined, scope: 'backups:read' })));
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, 'PGS_TENANT_REQUIRED');
});

t.test('public operational endpoints need no token', async (t) => {
  for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 200, url);
  }
  t.ok(adminToken && token('acme', []));
});
