import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';

const gql = (app: Awaited<ReturnType<typeof buildTestApp>>['app'], token: string, payload: unknown) =>
  app.inject({ method: 'POST', url: '/graphql', headers: bearer(token), payload: payload as object });

t.test('with GraphiQL on (the embedded default)', async (t) => {
  const { app, token, seedTenants } = await buildTestApp(t, {
    PGSTEWARD_GRAPHIQL: 'true',
    PGSTEWARD_GRAPHQL_MAX_DEPTH: '3',
    PGSTEWARD_GRAPHQL_MAX_BATCH: '2',
  });
  await seedTenants('acme');
  const tok = token('acme', ['backups:read']);

  t.test('the viewer is built from the same token as REST', async (t) => {
    const res = await gql(app, tok, { query: '{ viewer { actor tenantId scopes } }' });
    t.same(res.json().data.viewer, { actor: 'tester', tenantId: 'acme', scopes: ['backups:read'] });
  });

  t.test('introspection works and GraphiQL is served', async (t) => {
    const res = await gql(app, tok, { query: '{ __schema { queryType { name } } }' });
    t.same(res.json().data, { __schema: { queryType: { name: 'Query' } } });
    const ide = await app.inject({ method: 'GET', url: '/graphiql' });
    t.equal(ide.statusCode, 200);
  });

  t.test('a query deeper than the limit is refused with a code', async (t) => {
    const res = await gql(app, tok, { query: '{ a: __schema { types { fields { type { fields { name } } } } } }' });
    t.equal(res.json().errors[0].extensions.code, 'PGS_GRAPHQL_QUERY_TOO_DEEP');
  });

  t.test('batched queries are allowed up to the cap', async (t) => {
    const one = { query: '{ viewer { actor } }' };
    const ok = await gql(app, tok, [one, one]);
    t.equal(ok.statusCode, 200);
    t.equal(ok.json().length, 2);
    const tooMany = await gql(app, tok, [one, one, one]);
    t.equal(tooMany.statusCode, 400);
    t.equal(tooMany.json().errors[0].extensions.code, 'PGS_GRAPHQL_BATCH_TOO_LARGE');
  });

  t.test('an invalid query answers with PGS_GRAPHQL_VALIDATION', async (t) => {
    const res = await gql(app, tok, { query: '{ nosuchfield }' });
    t.equal(res.statusCode, 400);
    t.equal(res.json().errors[0].extensions.code, 'PGS_GRAPHQL_VALIDATION');
  });
});

t.test('with PGSTEWARD_GRAPHIQL=false, introspection and GraphiQL are off', async (t) => {
  const { app, token, seedTenants } = await buildTestApp(t, { PGSTEWARD_GRAPHIQL: 'false' });
  await seedTenants('acme');
  const res = await gql(app, token('acme', []), { query: '{ __schema { queryType { name } } }' });
  t.equal(res.json().errors[0].extensions.code, 'PGS_GRAPHQL_VALIDATION');
  t.match(res.json().errors[0].message, /introspection/i);
  const ide = await app.inject({ method: 'GET', url: '/graphiql' });
  t.equal(ide.statusCode, 404);
  const normal = await gql(app, token('acme', ['tenants:read']), { query: '{ tenant { id } }' });
  t.same(normal.json().data, { tenant: { id: 'acme' } });
});
