import { randomUUID } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { scratchDatabaseName } from '../../src/domain/drills/verification.js';
import { verifyTask } from '../../src/domain/drills/verify-task.js';
import type { Job } from '../../src/jobs/types.js';
import { scramVerifier } from '../../src/secrets/scram.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { clusterSecret, registerTarget } from '../helpers/targets.js';

const { app, db, services, writeSecrets, token, seedTenants } = await buildTestApp(t, {}, { worker: true });
await seedTenants('acme');
const cluster = db.cluster;
const source = await createSourceDatabase(t, cluster, { rows: 20 });
// Tenant SQL that fires during a drill's restore: a CHECK constraint whose function, in a scratch
// database only, uses what the drill server's role may do (CREATEROLE, which it needs for drills; in
// PostgreSQL 15 that includes granting itself pg_execute_server_program) and reports who it ran as.
await source.query(`
  CREATE FUNCTION public.sneaky(v int) RETURNS boolean LANGUAGE plpgsql AS $$
  BEGIN
    IF current_database() LIKE 'pgsteward_drill_%' THEN
      CREATE ROLE pgsteward_escaped;
      RAISE EXCEPTION 'leaked as %', current_user;
    END IF;
    RETURN true;
  END $$;
  CREATE TABLE public.guarded (v int CHECK (public.sneaky(v)));
  INSERT INTO public.guarded VALUES (1);
`);
const acme = token('acme', ['targets:write', 'backups:read', 'backups:write', 'jobs:read']);
const target = await registerTarget({ app, db, writeSecrets }, acme, source, { tls: 'verify-full' });
const backupJob = await app.inject({
  method: 'POST',
  url: `/v1/targets/${target.json().id}/backups`,
  headers: bearer(acme),
  payload: { includeGlobals: false },
});
const backupId = (await waitForJob(app, acme, backupJob.json().id)).backupId as string;

async function asSuperuser<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(cluster.clientConfig());
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** A drill server login (on the test cluster) with these attributes, as secret file:<name>. */
async function drillServerRole(name: string, attributes: string, grants: string[] = []) {
  const password = `pw-${randomUUID()}`;
  await asSuperuser(async (c) => {
    await c.query(`CREATE ROLE ${name} LOGIN ${attributes} PASSWORD '${password}'`);
    for (const grant of grants) await c.query(`GRANT ${grant} TO ${name}`);
  });
  t.teardown(() => asSuperuser((c) => c.query(`DROP ROLE IF EXISTS ${name}`)));
  writeSecrets({ [name]: clusterSecret(cluster, { role: name, password, name: 'postgres' }, 'verify-full') });
  return { secretRef: `file:${name}`, sslMode: 'verify-full' as const };
}

function runDrill(drillServer: { secretRef: string; sslMode: 'verify-full' }, jobId = randomUUID()) {
  const job = { id: jobId, tenantId: 'acme', kind: 'verify', payload: { backupId, trigger: 'api' } } as unknown as Job;
  return verifyTask.bind({ pool: db.appPool, services, config: { drills: { server: drillServer } } })({
    job,
    attemptId: randomUUID(),
    signal: new AbortController().signal,
    reportProgress: async () => {},
  });
}

/** The role and database of one drill (named after its job: other test files run drills at the same time). */
const drillLeftovers = (jobId: string) =>
  asSuperuser(async (c) => ({
    roles: (await c.query('SELECT rolname FROM pg_roles WHERE rolname = $1', [scratchDatabaseName(jobId)])).rows,
    databases: (await c.query('SELECT datname FROM pg_database WHERE datname = $1', [scratchDatabaseName(jobId)])).rows,
  }));

t.test('SCRAM verifiers computed here are the ones PostgreSQL computes', async (t) => {
  await asSuperuser(async (c) => {
    await c.query("SET password_encryption = 'scram-sha-256'");
    await c.query("CREATE ROLE scram_probe PASSWORD 'Tr0ub4dor&3'");
    const { rows } = await c.query<{ v: string }>(
      "SELECT rolpassword AS v FROM pg_authid WHERE rolname = 'scram_probe'",
    );
    await c.query('DROP ROLE scram_probe');
    const stored = rows[0]?.v ?? '';
    const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored);
    t.ok(m, stored.slice(0, 20));
    t.equal(scramVerifier('Tr0ub4dor&3', Buffer.from(m?.[2] ?? '', 'base64'), Number(m?.[1])), stored);
  });
  t.throws(() => scramVerifier('pässword'), /printable ASCII/);
});

t.test("a dump's CHECK function runs as the drill's own role: no CREATEROLE, and the role is gone", async (t) => {
  const server = await drillServerRole(`drill_files_${process.pid}`, 'CREATEDB CREATEROLE');
  const jobId = randomUUID();
  const outcome = await runDrill(server, jobId).catch((err: Error & { code?: string }) => err);
  t.match(outcome, { code: 'PGS_RESTORE_FAILED', message: /permission denied to create role/ });
  t.notMatch((outcome as Error).message, /leaked/, "the function never ran with the drill server's role");
  t.same(
    await drillLeftovers(jobId),
    { roles: [], databases: [] },
    `no role or database ${scratchDatabaseName(jobId)} left`,
  );
});

t.test('a drill server whose role is a superuser is refused with PGS_DRILL_SERVER_SUPERUSER', async (t) => {
  const server = await drillServerRole(`drill_super_${process.pid}`, 'SUPERUSER');
  const jobId = randomUUID();
  const outcome = await runDrill(server, jobId).catch((err: Error & { code?: string }) => err);
  t.match(outcome, { code: 'PGS_DRILL_SERVER_SUPERUSER', message: /must not be/ });
  t.same(await drillLeftovers(jobId), { roles: [], databases: [] });
});

t.test('a drill server role without CREATEROLE is refused with PGS_DRILL_SERVER_ROLE', async (t) => {
  const server = await drillServerRole(`drill_weak_${process.pid}`, 'CREATEDB');
  const outcome = await runDrill(server).catch((err: Error & { code?: string }) => err);
  t.match(outcome, { code: 'PGS_DRILL_SERVER_ROLE', message: /lacks CREATEROLE/ });
});

t.test('a retry drops the role and database a dead attempt left behind', async (t) => {
  const server = await drillServerRole(`drill_retry_${process.pid}`, 'CREATEDB CREATEROLE');
  const jobId = randomUUID();
  const leftover = scratchDatabaseName(jobId);
  // What an attempt leaves when its worker dies mid-restore: the role, granted to the server's role, and its database.
  await asSuperuser(async (c) => {
    await c.query(`CREATE ROLE ${leftover} LOGIN`);
    await c.query(`GRANT ${leftover} TO drill_retry_${process.pid}`);
    await c.query(`CREATE DATABASE ${leftover} OWNER ${leftover}`);
  });
  const outcome = await runDrill(server, jobId).catch((err: Error & { code?: string }) => err);
  t.match(outcome, { code: 'PGS_RESTORE_FAILED' }, 'the leftover did not get in the way (the dump still fails)');
  t.same(await drillLeftovers(jobId), { roles: [], databases: [] });
});
