import t from 'tap';
import { SCOPES } from '../../src/auth/scopes.js';
import { bearer, buildTestApp } from '../helpers/app.js';

/**
 * Regression cases the fuzz runs (test/fuzz) found answering 500, kept as plain tests: bodies in
 * other content types or missing, text PostgreSQL cannot store, URLs the router refuses, GraphQL
 * variables that do not coerce, and GraphQL strings only the database used to check.
 */
const { app, seedTenants, token, writeSecrets, db } = await buildTestApp(t);
await seedTenants('acme');
const all = bearer(token('acme', [...SCOPES]));
writeSecrets({ 'acme/main': { username: 'nobody', password: 'secret', host: '127.0.0.1', port: db.cluster.port } });
const targetId = (
  await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: all,
    payload: { name: 'main', secretRef: 'file:acme/main', database: 'postgres' },
  })
).json().id as string;
const someUuid = '6f1c2b1e-0d5a-4c1e-9a53-3b7f7e0c9d11';

/** The body-taking operations the fuzz run first found crashing on a missing or text/plain body. */
const bodyOperations: [string, string, string, object][] = [
  ['createTenant', 'POST', '/v1/tenants', { id: 'newco', name: 'New Co' }],
  ['createTarget', 'POST', '/v1/targets', { name: 'other', secretRef: 'file:acme/main' }],
  ['setDrillPolicy', 'PUT', `/v1/targets/${targetId}/drill-policy`, { schedule: '@daily' }],
  ['startRestore', 'POST', `/v1/backups/${someUuid}/restores`, { database: 'restored' }],
];

const problemCode = (res: { statusCode: number; headers: Record<string, unknown>; json(): { code?: string } }) => {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) return 'not problem+json';
  return res.json().code;
};

t.test('a body in another content type answers 415, whatever the operation', async (t) => {
  for (const [name, method, url, body] of bodyOperations) {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await app.inject({
        method: method as 'POST',
        url,
        headers: { ...all, 'content-type': type },
        payload: JSON.stringify(body),
      });
      t.equal(res.statusCode, 415, `${name} ${type}`);
      t.equal(problemCode(res), 'PGS_UNSUPPORTED_MEDIA_TYPE', `${name} ${type}: code`);
    }
  }
  const noType = await app.inject({ method: 'POST', url: '/v1/tenants', headers: all, payload: '{"id":"x"}' });
  t.equal(noType.statusCode, 415, 'a body without a content type');
  const charset = await app.inject({
    method: 'POST',
    url: '/v1/tenants',
    headers: { ...all, 'content-type': 'application/json; charset=utf-8' },
    payload: JSON.stringify({ id: 'charset-co', name: 'Charset' }),
  });
  t.equal(charset.statusCode, 201, 'application/json with a charset is JSON');
});

t.test('a missing required body answers 400 PGS_VALIDATION', async (t) => {
  for (const [name, method, url] of bodyOperations) {
    const res = await app.inject({ method: method as 'POST', url, headers: all });
    t.equal(res.statusCode, 400, name);
    t.equal(problemCode(res), 'PGS_VALIDATION', `${name}: code`);
    t.match(res.json().detail, /A JSON body is required/, `${name}: says why`);
  }
});

t.test('operations without a required body still take none', async (t) => {
  const check = await app.inject({ method: 'POST', url: `/v1/targets/${someUuid}/check`, headers: all });
  t.equal(problemCode(check), 'PGS_TARGET_NOT_FOUND', 'POST .../check with no body reaches the service');
  const backup = await app.inject({ method: 'POST', url: `/v1/targets/${targetId}/backups`, headers: all });
  t.equal(backup.statusCode, 202, 'startBackup with no body backs up everything');
  const cancel = await app.inject({ method: 'POST', url: `/v1/jobs/${someUuid}/cancel`, headers: all });
  t.equal(problemCode(cancel), 'PGS_JOB_NOT_FOUND');
});

t.test('text PostgreSQL cannot store answers 400 PGS_VALIDATION, in bodies and query strings', async (t) => {
  const cases: [string, string, string, object | undefined][] = [
    ['NUL in a body string', 'POST', '/v1/tenants', { id: 'nul-co', name: 'a\u0000b' }],
    ['a lone high surrogate', 'POST', '/v1/tenants', { id: 'sur-co', name: 'a\uD800b' }],
    ['a lone low surrogate', 'POST', '/v1/targets', { name: 'x', secretRef: 'file:\uDC00' }],
    ['NUL in a nested array', 'POST', `/v1/targets/${targetId}/backups`, { tables: ['users\u0000'] }],
    ['NUL in an object key', 'PUT', `/v1/targets/${targetId}/drill-policy`, { schedule: '@daily', 'x\u0000': 1 }],
    ['NUL in the query string', 'GET', '/v1/targets?cursor=%00', undefined],
    ['NUL in a free-text query parameter', 'GET', '/v1/jobs?kind=backup%00', undefined],
  ];
  for (const [what, method, url, payload] of cases) {
    const res = await app.inject({ method: method as 'POST', url, headers: all, ...(payload ? { payload } : {}) });
    t.equal(res.statusCode, 400, what);
    t.equal(problemCode(res), 'PGS_VALIDATION', `${what}: code`);
    t.match(res.json().detail, /cannot be stored/, `${what}: says why`);
  }
  const emoji = await app.inject({
    method: 'POST',
    url: '/v1/tenants',
    headers: all,
    payload: { id: 'emoji', name: '🙂 Co' },
  });
  t.equal(emoji.statusCode, 201, 'a surrogate pair (an astral character) is fine');
});

t.test('URLs the router refuses answer problem+json too', async (t) => {
  const badEscape = await app.inject({ method: 'GET', url: '/v1/targets/%FF', headers: all });
  t.equal(badEscape.statusCode, 400);
  t.equal(problemCode(badEscape), 'PGS_BAD_REQUEST');
  const longParam = await app.inject({ method: 'GET', url: `/v1/targets/${'x'.repeat(300)}`, headers: all });
  t.equal(longParam.statusCode, 414);
  t.equal(problemCode(longParam), 'PGS_BAD_REQUEST');
});

const gql = (query: string, variables: object = {}) =>
  app.inject({ method: 'POST', url: '/graphql', headers: all, payload: { query, variables } });
const gqlCodes = (res: { json(): { errors?: { extensions: { code: string } }[] } }) =>
  (res.json().errors ?? []).map((e) => e.extensions.code);

t.test('GraphQL variables that do not coerce answer 400 PGS_GRAPHQL_VALIDATION, not 500', async (t) => {
  const cases: [string, string, object][] = [
    [
      'an object where an input is expected',
      'mutation($i: RestoreInput!) { startRestore(backupId: "x", input: $i) { id } }',
      { i: 1e308 },
    ],
    ['a list where an ID is expected', 'mutation($b: ID!) { verifyBackup(backupId: $b) { id } }', { b: [[1]] }],
    [
      'a number where a String is expected',
      'mutation($s: String!) { setDrillPolicy(targetId: "x", schedule: $s) { schedule } }',
      { s: -2 },
    ],
    [
      'an unknown enum value',
      'mutation($o: BackupOptionsInput) { startBackup(targetId: "x", options: $o) { id } }',
      { o: { format: 'ZIP' } },
    ],
  ];
  for (const [what, query, variables] of cases) {
    const res = await gql(query, variables);
    t.equal(res.statusCode, 400, what);
    t.same(gqlCodes(res), ['PGS_GRAPHQL_VALIDATION'], `${what}: code`);
  }
});

t.test('GraphQL strings PostgreSQL cannot store answer PGS_VALIDATION, in variables and inline', async (t) => {
  const viaVariable = await gql(
    'mutation($t: ID!, $s: String!) { setDrillPolicy(targetId: $t, schedule: $s) { schedule } }',
    { t: targetId, s: '@daily\u0000' },
  );
  t.same(gqlCodes(viaVariable), ['PGS_VALIDATION'], 'NUL in a variable');
  t.equal(viaVariable.statusCode, 400);
  const inline = await gql(`mutation { startBackup(targetId: "${targetId}", idempotencyKey: "k\\u0000") { id } }`);
  t.same(gqlCodes(inline), ['PGS_VALIDATION'], 'NUL as an inline escape');
  const nested = await gql(
    'mutation($t: ID!, $o: BackupOptionsInput) { startBackup(targetId: $t, options: $o) { id } }',
    {
      t: targetId,
      o: { tables: ['users\uD800'] },
    },
  );
  t.same(gqlCodes(nested), ['PGS_VALIDATION'], 'a lone surrogate inside an input object');
});

t.test('GraphQL idempotencyKey and schedule are checked before the database sees them', async (t) => {
  const start = (key: string) =>
    gql('mutation($t: ID!, $k: String) { startBackup(targetId: $t, idempotencyKey: $k) { id } }', {
      t: targetId,
      k: key,
    });
  for (const [what, key] of [
    ['an empty idempotencyKey', ''],
    ['an idempotencyKey over 200 characters', 'k'.repeat(201)],
  ] as const) {
    const res = await start(key);
    t.same(gqlCodes(res), ['PGS_VALIDATION'], what);
    t.equal(res.statusCode, 400, `${what}: 400`);
  }
  t.same(gqlCodes(await start('k'.repeat(200))), [], 'a 200-character key is fine');
  const policy = (schedule: string, timezone = 'UTC') =>
    gql(
      'mutation($t: ID!, $s: String!, $z: String) { setDrillPolicy(targetId: $t, schedule: $s, timezone: $z) { schedule } }',
      {
        t: targetId,
        s: schedule,
        z: timezone,
      },
    );
  t.same(
    gqlCodes(await policy(`0 3 * * *${' '.repeat(200)}`)),
    ['PGS_INVALID_SCHEDULE'],
    'a schedule over 200 characters',
  );
  t.same(gqlCodes(await policy('')), ['PGS_INVALID_SCHEDULE'], 'an empty schedule');
  t.same(gqlCodes(await policy('@daily', 'Z'.repeat(101))), ['PGS_INVALID_TIMEZONE'], 'a timezone over 100 characters');
});
