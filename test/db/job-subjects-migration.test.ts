import pg from 'pg';
import t from 'tap';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { testCluster } from '../helpers/database.js';

const cluster = await testCluster(t);
const migrations = await loadMigrations();
const SUBJECTS = migrations.findIndex((m) => m.name === '0006_job_subjects.sql');

t.test('0006 moves backup_id and restore_id into subjects and drops the columns', async (t) => {
  t.ok(SUBJECTS > 0, 'the migration exists');
  const name = `subjects_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const client = new pg.Client(cluster.clientConfig(name));
  await client.connect();
  t.teardown(async () => {
    await client.end().catch(() => {});
    const cleanup = new pg.Client(cluster.clientConfig());
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await cleanup.end();
  });
  await migrate(client, migrations.slice(0, SUBJECTS));
  const q = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
    (await client.query<R>(text, values)).rows;
  await q("INSERT INTO tenants (id, name) VALUES ('acme', 'acme')");
  const [target] = await q<{ id: string }>(
    "INSERT INTO targets (tenant_id, name, secret_ref) VALUES ('acme', 't', 'file:t') RETURNING id",
  );
  const [backup] = await q<{ id: string }>(
    "INSERT INTO backups (tenant_id, target_id, status, format, options) VALUES ('acme', $1, 'pending', 'custom', '{}') RETURNING id",
    [target?.id],
  );
  const [restore] = await q<{ id: string }>(
    `INSERT INTO restores (tenant_id, backup_id, target_id, database, mode, options)
     VALUES ('acme', $1, $2, 'app', 'create', '{}') RETURNING id`,
    [backup?.id, target?.id],
  );
  const insertJob = async (kind: string, backupId: string | null, restoreId: string | null) =>
    (
      await q<{ id: string }>(
        'INSERT INTO jobs (tenant_id, kind, backup_id, restore_id) VALUES ($1, $2, $3, $4) RETURNING id',
        ['acme', kind, backupId, restoreId],
      )
    )[0]?.id;
  const jobs = {
    backup: await insertJob('backup', backup?.id ?? null, null),
    restore: await insertJob('restore', backup?.id ?? null, restore?.id ?? null),
    other: await insertJob('other', null, null),
  };

  await migrate(client, migrations);

  const rows = await q<{ id: string; subjects: Record<string, string> }>('SELECT id, subjects FROM jobs');
  const subjectsOf = (id: string | undefined) => rows.find((r) => r.id === id)?.subjects;
  t.same(subjectsOf(jobs.backup), { backup: backup?.id });
  t.same(subjectsOf(jobs.restore), { backup: backup?.id, restore: restore?.id });
  t.same(subjectsOf(jobs.other), {});
  const columns = await q<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs' AND column_name IN ('backup_id', 'restore_id')",
  );
  t.same(columns, [], 'no per-capability column is left');
});
