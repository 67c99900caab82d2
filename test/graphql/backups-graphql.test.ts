import type { AddressInfo } from 'node:net';
import t from 'tap';
import WebSocket from 'ws';
import { bearer, buildTestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { registerTarget } from '../helpers/targets.js';

const { app, db, token, seedTenants, writeSecrets } = await buildTestApp(
  t,
  { PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8' },
  { worker: true },
);
await seedTenants('acme', 'globex');
const source = await createSourceDatabase(t, db.cluster);
const acme = token('acme', ['targets:read', 'targets:write', 'backups:read', 'backups:write', 'jobs:read']);
const target = (await registerTarget({ app, db, writeSecrets }, acme, source)).json();
const gql = (query: string, variables: object = {}, tok = acme) =>
  app.inject({ method: 'POST', url: '/graphql', headers: bearer(tok), payload: { query, variables } });

t.test('startBackup runs the same service as REST, and is audited', async (t) => {
  const res = await gql(
    `mutation($t: ID!) { startBackup(targetId: $t, options: { format: PLAIN, includeGlobals: false, tables: ["users"] }) { id status backupId } }`,
    { t: target.id },
  );
  const started = res.json().data.startBackup;
  t.equal(started.status, 'QUEUED');
  const job = await waitForJob(app, acme, started.id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const b = await gql(
    `query($id: ID!) { backup(id: $id) { status format options { format tables } tables { name rows } target { name sslMode } job { status } } }`,
    { id: started.backupId },
  );
  t.same(b.json().data.backup, {
    status: 'AVAILABLE',
    format: 'PLAIN',
    options: { format: 'PLAIN', tables: ['users'] },
    tables: [{ name: 'users', rows: 500 }],
    target: { name: 'main', sslMode: 'REQUIRE' },
    job: { status: 'SUCCEEDED' },
  });
  const audit = await app.inject({
    method: 'GET',
    url: '/v1/audit',
    headers: bearer(token('acme', ['audit:read'])),
  });
  t.ok(audit.json().items.some((e: { action: string }) => e.action === 'graphql:startBackup'));
  const bad = await gql(`mutation($t: ID!) { startBackup(targetId: $t, options: { tables: ["nope"] }) { id } }`, {
    t: target.id,
  });
  t.equal(bad.json().errors[0].extensions.code, 'PGS_UNKNOWN_RELATION');
});

t.test('a page of backups resolves its relations in one query per relation (no N+1)', async (t) => {
  for (let i = 0; i < 3; i++) {
    const s = await gql(`mutation($t: ID!) { startBackup(targetId: $t, options: { includeGlobals: false }) { id } }`, {
      t: target.id,
    });
    await waitForJob(app, acme, s.json().data.startBackup.id);
  }
  // Count the transactions the request opens (each service call checks out one pooled connection).
  const pool = db.appPool;
  const realConnect = pool.connect.bind(pool);
  let checkouts = 0;
  (pool as { connect: typeof pool.connect }).connect = ((...args: []) => {
    checkouts++;
    return realConnect(...args);
  }) as typeof pool.connect;
  t.teardown(() => {
    (pool as { connect: typeof pool.connect }).connect = realConnect;
  });
  const res = await gql('{ backups(first: 10) { items { id target { id name } job { id status } } } }');
  const items = res.json().data.backups.items as { target: { name: string }; job: { status: string } }[];
  t.ok(items.length >= 4);
  t.ok(checkouts <= 3, `${checkouts} transactions for ${items.length} backups with their targets and jobs`);
  t.ok(items.every((i) => i.target.name === 'main' && i.job.status === 'SUCCEEDED'));
});

t.test('jobUpdated streams a job to its end over a WebSocket, for its own tenant only', async (t) => {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const subscribe = (tok: string, jobId: string) =>
    new Promise<{ statuses: string[]; errors: unknown[] }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws', { headers: bearer(tok) });
      const statuses: string[] = [];
      const errors: unknown[] = [];
      const timer = setTimeout(() => {
        ws.close();
        resolve({ statuses, errors });
      }, 15_000);
      ws.on('error', reject);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
      ws.on('message', (raw) => {
        const msg = JSON.parse(String(raw));
        if (msg.type === 'connection_ack') {
          ws.send(
            JSON.stringify({
              id: '1',
              type: 'subscribe',
              payload: { query: `subscription { jobUpdated(id: "${jobId}") { status progress } }` },
            }),
          );
        } else if (msg.type === 'next') {
          if (msg.payload.errors) errors.push(...msg.payload.errors);
          const status = msg.payload.data?.jobUpdated?.status;
          if (status) statuses.push(status);
          if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(status) || msg.payload.errors) {
            clearTimeout(timer);
            ws.close();
            resolve({ statuses, errors });
          }
        } else if (msg.type === 'error') {
          clearTimeout(timer);
          errors.push(...msg.payload);
          ws.close();
          resolve({ statuses, errors });
        }
      });
    });

  // Hold the worker back with a lock so the subscription is in place before the job moves.
  const lock = await import('pg').then(async ({ default: pg }) => {
    const c = new pg.Client(db.cluster.clientConfig(source.name));
    await c.connect();
    await c.query('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
    return c;
  });
  const s = await gql(`mutation($t: ID!) { startBackup(targetId: $t, options: { includeGlobals: false }) { id } }`, {
    t: target.id,
  });
  const jobId = s.json().data.startBackup.id as string;
  const own = subscribe(acme, jobId);
  const other = subscribe(token('globex', ['jobs:read']), jobId);
  await new Promise((r) => setTimeout(r, 500));
  await lock.query('COMMIT');
  await lock.end();
  const seen = await own;
  t.same(seen.errors, []);
  t.equal(seen.statuses.at(-1), 'SUCCEEDED', `saw ${seen.statuses.join(' -> ')}`);
  const denied = await other;
  t.same(denied.statuses, [], "another tenant's subscription sees nothing");
  t.match(JSON.stringify(denied.errors), /PGS_JOB_NOT_FOUND|not found/);
});
