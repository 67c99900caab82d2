import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import type { DrillServer } from '../../src/domain/drills/drill-server.js';
import { scratchDatabaseName } from '../../src/domain/drills/verification.js';
import { verifyTask } from '../../src/domain/drills/verify-task.js';
import { type Job, JobAbortedError } from '../../src/jobs/types.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { postGraphql } from '../helpers/graphql.js';
import { waitForJob } from '../helpers/jobs.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { clusterSecret, registerTarget } from '../helpers/targets.js';

const { app, db, services, writeSecrets, token, seedTenants } = await buildTestApp(t, {}, { worker: true });
await seedTenants('acme', 'globex');
const cluster = db.cluster;
const source = await createSourceDatabase(t, cluster, { rows: 200 });
const scopes = ['targets:read', 'targets:write', 'backups:read', 'backups:write', 'jobs:read'] as const;
const acme = token('acme', [...scopes]);
const globex = token('globex', [...scopes]);
const created = await registerTarget({ app, db, writeSecrets }, acme, source, { tls: 'verify-full' });
const targetId = created.json().id as string;

async function takeBackup(): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: bearer(acme),
    payload: { includeGlobals: false },
  });
  const job = await waitForJob(app, acme, res.json().id);
  if (job.status !== 'succeeded') throw new Error(`backup failed: ${JSON.stringify(job.error)}`);
  return job.backupId as string;
}

async function verify(backupId: string) {
  const res = await app.inject({ method: 'POST', url: `/v1/backups/${backupId}/verify`, headers: bearer(acme) });
  if (res.statusCode !== 202) throw new Error(`verify answered ${res.statusCode}: ${res.body}`);
  if (res.json().kind !== 'verify') throw new Error('not a verify job');
  return waitForJob(app, acme, res.json().id);
}

const scratchDatabases = async () =>
  (
    await db.ownerQuery<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'pgsteward_drill_%'")
  ).map((r) => r.datname);

const gql = (who: string, query: string, variables: Record<string, unknown> = {}) =>
  postGraphql(app, who, query, variables);

const good = await takeBackup();

t.test('a drill of a good backup is verified, checks indexes, and leaves no scratch database', async (t) => {
  const job = await verify(good);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const result = job.result as Record<string, unknown> & {
    tables: { schema: string; name: string; expectedRows: number; actualRows: number }[];
  };
  t.match(result, { backupId: good, verified: true, server: 'target', mismatches: [], indexFailures: [] });
  t.same(result.amcheck, { available: true, reason: null }, 'amcheck ships with the test cluster');
  // users: pkey + email unique; orders, invoices: pkey.
  t.ok((result.indexesChecked as number) >= 4, `indexes checked: ${result.indexesChecked}`);
  t.type(result.durationMs, 'number');
  t.equal(result.tables.length, 4);
  for (const table of result.tables) t.equal(table.actualRows, table.expectedRows, `${table.schema}.${table.name}`);
  t.match(
    result.tables.find((x) => x.name === 'users'),
    { schema: 'public', expectedRows: 200, actualRows: 200 },
  );
  t.same(await scratchDatabases(), [], 'the scratch database is gone');

  const backup = (await app.inject({ method: 'GET', url: `/v1/backups/${good}`, headers: bearer(acme) })).json();
  t.ok(backup.lastVerifiedAt);
  t.match(backup.lastVerification, { verified: true, jobId: job.id, indexesChecked: result.indexesChecked });

  const target = (await app.inject({ method: 'GET', url: `/v1/targets/${targetId}`, headers: bearer(acme) })).json();
  t.same(target.lastVerifiedBackup, { id: good, at: backup.lastVerifiedAt, verified: true });
  const list = (await app.inject({ method: 'GET', url: '/v1/targets', headers: bearer(acme) })).json();
  t.same(list.items[0].lastVerifiedBackup, target.lastVerifiedBackup, 'the list shows it too');

  const q = await gql(
    acme,
    `query($t: ID!, $b: ID!) {
      target(id: $t) { lastVerifiedBackup { id at verified } }
      backup(id: $b) { lastVerifiedAt lastVerification { verified server mismatches indexesChecked
        amcheck { available } tables { schema name expectedRows actualRows } } }
    }`,
    { t: targetId, b: good },
  );
  t.same(q.data?.target, { lastVerifiedBackup: target.lastVerifiedBackup });
  t.match(q.data?.backup, {
    lastVerifiedAt: backup.lastVerifiedAt,
    lastVerification: { verified: true, server: 'TARGET', mismatches: [], amcheck: { available: true } },
  });
});

t.test('a drill of a backup whose recorded counts are wrong is verified:false and names the table', async (t) => {
  const tampered = await takeBackup();
  // The record claims one more order than the dump holds.
  await db.ownerQuery(
    `UPDATE backups SET tables = (SELECT jsonb_agg(CASE WHEN e->>'name' = 'orders'
        THEN jsonb_set(e, '{rows}', to_jsonb((e->>'rows')::int + 1)) ELSE e END) FROM jsonb_array_elements(tables) e)
      WHERE id = $1`,
    [tampered],
  );
  const job = await verify(tampered);
  t.equal(job.status, 'succeeded', 'the drill itself ran');
  t.match(job.result, { verified: false, mismatches: ['public.orders'] });
  const orders = ((job.result?.tables ?? []) as { name: string; expectedRows: number; actualRows: number }[]).find(
    (x) => x.name === 'orders',
  );
  t.equal(orders?.expectedRows, (orders?.actualRows ?? 0) + 1);
  t.same(await scratchDatabases(), [], 'the scratch database is gone');
  const target = (await app.inject({ method: 'GET', url: `/v1/targets/${targetId}`, headers: bearer(acme) })).json();
  t.match(target.lastVerifiedBackup, { id: tampered, verified: false }, 'the newest drill is what the target shows');
});

t.test('a drill of a corrupted artifact fails the job and marks the backup unverified', async (t) => {
  const corrupt = await takeBackup();
  const [row] = await db.ownerQuery<{ artifact_key: string }>('SELECT artifact_key FROM backups WHERE id = $1', [
    corrupt,
  ]);
  const key = row?.artifact_key ?? '';
  const parts: Buffer[] = [];
  for await (const chunk of await services.storage.read(key)) parts.push(chunk as Buffer);
  const bytes = Buffer.concat(parts);
  bytes.writeUInt8((bytes.readUInt8(bytes.length >> 1) ^ 0x01) & 0xff, bytes.length >> 1); // flip one bit
  const writer = await services.storage.createWriter(key);
  await pipeline(Readable.from([bytes]), writer.stream);
  await writer.commit();
  const job = await verify(corrupt);
  t.equal(job.status, 'failed');
  t.equal(job.error?.code, 'PGS_ARTIFACT_CORRUPT');
  const backup = (await app.inject({ method: 'GET', url: `/v1/backups/${corrupt}`, headers: bearer(acme) })).json();
  t.match(backup.lastVerification, { verified: false, error: { code: 'PGS_ARTIFACT_CORRUPT' } });
  t.same(await scratchDatabases(), []);
});

t.test('verify answers 404 for another tenant, 409 for a backup that is not available', async (t) => {
  const other = await app.inject({ method: 'POST', url: `/v1/backups/${good}/verify`, headers: bearer(globex) });
  t.equal(other.statusCode, 404);
  t.equal(other.json().code, 'PGS_BACKUP_NOT_FOUND');
  const bogus = await app.inject({ method: 'POST', url: '/v1/backups/not-a-uuid/verify', headers: bearer(acme) });
  t.equal(bogus.statusCode, 400, 'the contract refuses a malformed id');
  const g = await gql(globex, 'mutation($b: ID!) { verifyBackup(backupId: $b) { id } }', { b: good });
  t.equal(g.errors?.[0]?.extensions.code, 'PGS_BACKUP_NOT_FOUND');
  const gBad = await gql(acme, 'mutation { verifyBackup(backupId: "nope") { id } }');
  t.equal(gBad.errors?.[0]?.extensions.code, 'PGS_BACKUP_NOT_FOUND');
  const readOnly = await app.inject({
    method: 'POST',
    url: `/v1/backups/${good}/verify`,
    headers: bearer(token('acme', ['backups:read'])),
  });
  t.equal(readOnly.statusCode, 403);
  const [failed] = await db.ownerQuery<{ id: string }>(
    `INSERT INTO backups (tenant_id, target_id, status, format, options) VALUES ('acme', $1, 'failed', 'custom', '{}')
     RETURNING id`,
    [targetId],
  );
  const refused = await app.inject({ method: 'POST', url: `/v1/backups/${failed?.id}/verify`, headers: bearer(acme) });
  t.equal(refused.statusCode, 409);
  t.equal(refused.json().code, 'PGS_BACKUP_NOT_AVAILABLE');
  const viaGraphql = await gql(acme, 'mutation($b: ID!) { verifyBackup(backupId: $b) { id kind backupId } }', {
    b: good,
  });
  const started = viaGraphql.data?.verifyBackup as { id: string; kind: string; backupId: string };
  t.match(started, { kind: 'verify', backupId: good });
  t.equal((await waitForJob(app, acme, started.id)).status, 'succeeded');
});

// The task itself, driven directly: what a retry, a cancel and a separate drill server look like.
const task = (drillServer?: DrillServer) =>
  verifyTask.bind({ pool: db.appPool, services, config: { drills: { server: drillServer } } });
function runTask(
  handler: ReturnType<typeof task>,
  jobId: string,
  onProgress: (p: Record<string, unknown>, abort: () => void) => void = () => {},
) {
  const controller = new AbortController();
  const job = {
    id: jobId,
    tenantId: 'acme',
    kind: 'verify',
    payload: { backupId: good, trigger: 'api' },
  } as unknown as Job;
  return handler({
    job,
    attemptId: randomUUID(),
    signal: controller.signal,
    reportProgress: async (p) => onProgress(p, () => controller.abort(new JobAbortedError('cancelled'))),
  });
}

async function asSuperuser<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(cluster.clientConfig());
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

t.test('a retry drops the scratch database an earlier attempt left behind', async (t) => {
  const jobId = randomUUID();
  const leftover = scratchDatabaseName(jobId);
  await asSuperuser((c) => c.query(`CREATE DATABASE ${leftover}`));
  t.same(await scratchDatabases(), [leftover]);
  const result = await runTask(task(), jobId);
  t.match(result, { verified: true, jobId });
  t.same(await scratchDatabases(), [], 'both the leftover and this attempt’s database are gone');
});

t.test('a drill cancelled during the restore or the index check drops its scratch database', async (t) => {
  for (const phase of ['data', 'amcheck']) {
    const seen: string[] = [];
    const outcome = await runTask(task(), randomUUID(), (p, abort) => {
      seen.push(String(p.phase));
      if (p.phase === phase) abort();
    }).catch((err: Error) => err);
    t.type(outcome, Error, `cancelled in ${phase}`);
    t.ok(seen.includes('cleanup'), 'it cleaned up');
    t.same(await scratchDatabases(), [], `no scratch database after a cancel in ${phase}`);
  }
});

t.test(
  'a drill server from PGSTEWARD_DRILL_TARGET takes the restore; without amcheck nothing is index-checked',
  async (t) => {
    const role = `drill_${process.pid}`;
    const password = `pw-${randomUUID()}`;
    await asSuperuser((c) => c.query(`CREATE ROLE ${role} LOGIN CREATEDB CREATEROLE PASSWORD '${password}'`));
    t.teardown(() => asSuperuser((c) => c.query(`DROP ROLE IF EXISTS ${role}`)));
    writeSecrets({ drill: clusterSecret(cluster, { role, password, name: 'postgres' }, 'verify-full') });
    const result = await runTask(task({ secretRef: 'file:drill', sslMode: 'verify-full' }), randomUUID());
    t.match(result, { verified: true, server: 'drill-server', indexesChecked: 0 });
    t.match(
      result.amcheck,
      { available: false, reason: /amcheck could not be installed/ },
      'a plain user may not install it',
    );
    t.same(await scratchDatabases(), []);
    const config = loadConfig({ PGSTEWARD_DRILL_TARGET: 'file:drill', PGSTEWARD_DRILL_SSL_MODE: 'verify-full' });
    t.same(config.drills.server, { secretRef: 'file:drill', sslMode: 'verify-full' });
    t.throws(() => loadConfig({ PGSTEWARD_DRILL_TARGET: 'drill' }), /PGSTEWARD_DRILL_TARGET/);
  },
);
