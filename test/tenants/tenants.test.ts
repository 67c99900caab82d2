import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';

const { app, adminToken, token } = await buildTestApp(t);
const admin = bearer(adminToken);
const post = (payload: unknown, headers = admin) =>
  app.inject({ method: 'POST', url: '/v1/tenants', headers, payload: payload as object });

t.test('an operator creates a tenant: 201 with the tenant and a Location', async (t) => {
  const res = await post({ id: 'acme', name: 'Acme Corp' });
  t.equal(res.statusCode, 201);
  t.match(res.json(), { id: 'acme', name: 'Acme Corp', createdAt: String });
  t.equal(res.headers.location, '/v1/tenants/acme');
  t.ok(res.headers['x-request-id'], 'every response names its request id');
});

t.test('creating the same id again answers 409 PGS_TENANT_EXISTS', async (t) => {
  const res = await post({ id: 'acme', name: 'Again' });
  t.equal(res.statusCode, 409);
  t.equal(res.json().code, 'PGS_TENANT_EXISTS');
});

t.test('bad input answers 400 problem+json, never 500, and creates nothing', async (t) => {
  const cases: [string, unknown][] = [
    ['an unknown field', { id: 'initech', name: 'Initech', plan: 'gold' }],
    ['an id that is not a slug', { id: 'Initech!', name: 'Initech' }],
    ['an id starting with a digit', { id: '1nitech', name: 'Initech' }],
    ['a missing name', { id: 'initech' }],
    ['a name of the wrong type', { id: 'initech', name: 42 }],
    ['an empty name', { id: 'initech', name: '' }],
    ['an array body', [{ id: 'initech', name: 'Initech' }]],
  ];
  for (const [why, body] of cases) {
    const res = await post(body);
    t.equal(res.statusCode, 400, why);
    t.equal(res.json().code, 'PGS_VALIDATION', `${why}: code`);
  }
  const unknownField = await post({ id: 'initech', name: 'Initech', plan: 'gold' });
  t.same(unknownField.json().errors, [{ path: 'body.plan', message: 'unknown field' }], 'names the unknown field');
  const notJson = await app.inject({
    method: 'POST',
    url: '/v1/tenants',
    headers: { ...admin, 'content-type': 'application/json' },
    payload: '{"id": "initech",',
  });
  t.equal(notJson.statusCode, 400);
  t.equal(notJson.json().code, 'PGS_VALIDATION');
  const wrongType = await app.inject({
    method: 'POST',
    url: '/v1/tenants',
    headers: { ...admin, 'content-type': 'text/csv' },
    payload: 'id,name',
  });
  t.equal(wrongType.statusCode, 415);
  const list = await app.inject({ method: 'GET', url: '/v1/tenants', headers: admin });
  t.same(
    list.json().items.map((x: { id: string }) => x.id),
    ['acme'],
    'none of the bad requests created a tenant',
  );
});

t.test('a tenant token cannot create tenants', async (t) => {
  const res = await post({ id: 'sneaky', name: 'Sneaky' }, bearer(token('acme', ['targets:write'])));
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, 'PGS_MISSING_SCOPE');
});

t.test('listing is paginated with an opaque cursor', async (t) => {
  for (const id of ['bravo', 'charlie', 'delta', 'echo']) t.equal((await post({ id, name: id })).statusCode, 201);
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/v1/tenants?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await app.inject({ method: 'GET', url, headers: admin });
    t.equal(res.statusCode, 200);
    const body = res.json();
    t.ok(body.items.length <= 2);
    seen.push(...body.items.map((x: { id: string }) => x.id));
    cursor = body.nextCursor;
    pages++;
  } while (cursor && pages < 10);
  t.same(seen, ['acme', 'bravo', 'charlie', 'delta', 'echo']);
  t.equal(pages, 3);
  const bad = await app.inject({ method: 'GET', url: '/v1/tenants?cursor=nonsense', headers: admin });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().code, 'PGS_INVALID_CURSOR');
  const tooBig = await app.inject({ method: 'GET', url: '/v1/tenants?limit=1000', headers: admin });
  t.equal(tooBig.statusCode, 400);
});

t.test("tenant B cannot read tenant A's record: 404, same as a missing id (REST)", async (t) => {
  const asBravo = bearer(token('bravo', ['targets:read', 'tenants:read']));
  const own = await app.inject({ method: 'GET', url: '/v1/tenants/bravo', headers: asBravo });
  t.equal(own.statusCode, 200);
  t.equal(own.json().id, 'bravo');
  const other = await app.inject({ method: 'GET', url: '/v1/tenants/acme', headers: asBravo });
  t.equal(other.statusCode, 404);
  t.equal(other.json().code, 'PGS_TENANT_NOT_FOUND');
  const missing = await app.inject({ method: 'GET', url: '/v1/tenants/nosuch', headers: admin });
  t.equal(missing.statusCode, 404);
  t.same(Object.keys(other.json()).sort(), Object.keys(missing.json()).sort());
});

t.test("tenant B cannot read tenant A's record (GraphQL)", async (t) => {
  const gql = (query: string, tok: string) =>
    app.inject({ method: 'POST', url: '/graphql', headers: bearer(tok), payload: { query } });
  const own = await gql('{ tenant { id name } }', token('bravo', ['tenants:read']));
  t.same(own.json().data, { tenant: { id: 'bravo', name: 'bravo' } });
  const other = await gql('{ tenant(id: "acme") { id name } }', token('bravo', ['tenants:read']));
  t.same(other.json().data, { tenant: null });
  t.equal(other.json().errors[0].extensions.code, 'PGS_TENANT_NOT_FOUND');
  const list = await gql('{ tenants { items { id } } }', token('bravo', []));
  t.equal(list.json().errors[0].extensions.code, 'PGS_MISSING_SCOPE');
  const asAdmin = await gql('{ tenants(first: 2) { items { id } nextCursor } }', adminToken);
  t.same(
    asAdmin.json().data.tenants.items.map((x: { id: string }) => x.id),
    ['acme', 'bravo'],
  );
  t.type(asAdmin.json().data.tenants.nextCursor, 'string');
});

t.test('the audit log records tenant creation, and a tenant sees only its own events', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/v1/audit', headers: admin });
  t.equal(res.statusCode, 200);
  const events = res.json().items as { action: string; tenantId: string; outcome: string; actor: string }[];
  const created = events.find((e) => e.action === 'createTenant' && e.tenantId === 'acme' && e.outcome === 'success');
  t.ok(created, 'the creation of acme is recorded');
  t.equal(created?.actor, 'operator');
  t.ok(
    events.some((e) => e.action === 'createTenant' && e.outcome === 'failure'),
    'rejected attempts are recorded too',
  );
  t.ok(
    events.some((e) => e.action === 'createTenant' && e.outcome === 'denied'),
    'a denied attempt (missing scope) is recorded',
  );
  const asAcme = await app.inject({ method: 'GET', url: '/v1/audit', headers: bearer(token('acme', ['audit:read'])) });
  const acmeEvents = asAcme.json().items as { tenantId: string }[];
  t.ok(acmeEvents.length >= 1);
  t.ok(
    acmeEvents.every((e) => e.tenantId === 'acme'),
    'only acme events',
  );
  const peek = await app.inject({
    method: 'GET',
    url: '/v1/audit?tenantId=bravo',
    headers: bearer(token('acme', ['audit:read'])),
  });
  t.equal(peek.statusCode, 404, "asking for another tenant's audit answers 404");
});
