import t from 'tap';
import { buildTestApp } from '../helpers/app.js';

const { app, db } = await buildTestApp(t);

t.test('/healthz answers while the process runs', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  t.same(res.json(), { status: 'ok' });
});

t.test('/readyz is ready when the database is migrated', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 200);
  t.match(res.json(), { status: 'ready', database: 'ok' });
  t.equal(res.json().migrations.applied, res.json().migrations.known);
});

t.test('/metrics exposes HTTP and process metrics in Prometheus format', async (t) => {
  await app.inject({ method: 'GET', url: '/healthz' });
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(res.headers['content-type'], /text\/plain/);
  t.match(res.body, /pgsteward_http_requests_total\{method="GET",route="\/healthz",status_code="200"\} \d+/);
  // Process and runtime metrics carry their standard names, which the usual dashboards read.
  t.match(res.body, /^process_resident_memory_bytes \d+/m);
  t.match(res.body, /^process_cpu_seconds_total \d/m);
  t.match(res.body, /^nodejs_eventloop_lag_seconds /m);
  t.notMatch(res.body, /pgsteward_process_|pgsteward_nodejs_/);
});

t.test('the spec is served as JSON and Swagger UI loads at /docs', async (t) => {
  const spec = await app.inject({ method: 'GET', url: '/openapi.json' });
  t.equal(spec.json().openapi, '3.1.0');
  t.ok(spec.json().paths['/v1/tenants']);
  const docs = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(docs.statusCode, 200);
  t.match(docs.body, /swagger/i);
  const init = await app.inject({ method: 'GET', url: '/docs/json' });
  t.equal(init.json().openapi, '3.1.0', 'Swagger UI reads the same document');
});

t.test('an unknown route answers 404 problem+json', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/v2/nothing' });
  t.equal(res.statusCode, 404);
  t.equal(res.json().code, 'PGS_ROUTE_NOT_FOUND');
});

t.test('a 5xx hides its internals', async (t) => {
  // Revoke the application's access behind its back: the next query fails inside PostgreSQL.
  await db.ownerQuery('REVOKE SELECT ON pgsteward_migrations FROM pgsteward_app');
  t.teardown(() => db.ownerQuery('GRANT SELECT ON pgsteward_migrations TO pgsteward_app'));
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 503);
  t.equal(res.json().database, 'unreachable');
  t.notMatch(res.body, /permission denied|pgsteward_migrations/);
});
