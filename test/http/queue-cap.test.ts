import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { registerTarget } from '../helpers/targets.js';

// No worker: every job stays queued, so the cap is reached by enqueueing alone.
const test = await buildTestApp(t, { PGSTEWARD_TENANT_MAX_QUEUED: '2' });
const { app, db } = test;
await test.seedTenants('acme', 'globex');
const source = await createSourceDatabase(t, db.cluster);
const token = test.token('acme', ['targets:write', 'backups:read', 'backups:write', 'jobs:read']);
const targetId = (await registerTarget(test, token, source)).json().id as string;
// Another tenant's full queue is not acme's.
await db.ownerQuery(`INSERT INTO jobs (tenant_id, kind) SELECT 'globex', 'backup' FROM generate_series(1, 5)`);
const startBackup = () =>
  app.inject({ method: 'POST', url: `/v1/targets/${targetId}/backups`, headers: bearer(token), payload: {} });
const backupsOfAcme = async () =>
  (await db.ownerQuery<{ n: number }>(`SELECT count(*)::int AS n FROM backups WHERE tenant_id = 'acme'`))[0]?.n;

t.test('a tenant at its queue cap gets 429 with Retry-After, and nothing is created', async (t) => {
  t.equal((await startBackup()).statusCode, 202);
  t.equal((await startBackup()).statusCode, 202);
  const refused = await startBackup();
  t.equal(refused.statusCode, 429);
  t.equal(refused.headers['retry-after'], '30');
  t.match(refused.headers['content-type'], /^application\/problem\+json/);
  t.match(refused.json(), { code: 'PGS_TENANT_QUEUE_FULL', status: 429, maxQueued: 2, retryAfterSeconds: 30 });
  t.equal(await backupsOfAcme(), 2, 'the refused request left no backup row behind');
});

t.test('GraphQL refuses with the same code', async (t) => {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(token),
    payload: { query: 'mutation($t: ID!) { startBackup(targetId: $t) { id } }', variables: { t: targetId } },
  });
  t.equal(res.statusCode, 429);
  t.match(res.json().errors[0].extensions, { code: 'PGS_TENANT_QUEUE_FULL', status: 429, retryAfterSeconds: 30 });
  t.equal(await backupsOfAcme(), 2);
});

t.test('room comes back as queued jobs leave the queue', async (t) => {
  await db.ownerQuery(
    `UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = (SELECT id FROM jobs WHERE tenant_id = 'acme' AND status = 'queued' LIMIT 1)`,
  );
  t.equal((await startBackup()).statusCode, 202);
  t.equal((await startBackup()).statusCode, 429);
});

t.test('concurrent requests cannot overshoot the cap', async (t) => {
  await db.ownerQuery(
    `UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE tenant_id = 'acme' AND status = 'queued'`,
  );
  const answers = await Promise.all(Array.from({ length: 6 }, () => startBackup()));
  t.same(answers.map((a) => a.statusCode).sort(), [202, 202, 429, 429, 429, 429]);
  const [queued] = await db.ownerQuery<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs WHERE tenant_id = 'acme' AND status = 'queued'`,
  );
  t.equal(queued?.n, 2);
});
