import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';
import type { Services } from '../../src/domain/services.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { readArtifact, writeArtifact } from '../helpers/artifacts.js';
import { type JobView, waitForJob } from '../helpers/jobs.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { registerTarget } from '../helpers/targets.js';

/** A 202 Job, or a problem document. */
export interface StartAnswer {
  id: string;
  kind: string;
  restoreId: string | null;
  code?: string;
  detail?: string;
}

/**
 * One app with a worker, a seeded source database and a target for tenant acme (and an empty tenant
 * globex); helpers to back up, restore and compare databases through the public API.
 */
export async function restoreFixture(
  t: Test,
  opts: { env?: Record<string, string>; services?: Partial<Services> } = {},
) {
  const testApp = await buildTestApp(t, opts.env ?? {}, {
    worker: true,
    ...(opts.services ? { services: opts.services } : {}),
  });
  const { app, db, token, seedTenants } = testApp;
  await seedTenants('acme', 'globex');
  const cluster = db.cluster;
  const source = await createSourceDatabase(t, cluster, { rows: 200 });
  // Registered after the source database: teardowns run last-first, so this runs before its role is dropped.
  const admin = new pg.Pool({ ...cluster.clientConfig(), max: 2 });
  const made = new Set<string>();
  t.teardown(async () => {
    // Each name, and whatever a replace renamed aside from it.
    for (const name of made) {
      const { rows } = await admin.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE datname LIKE $1', [
        `${name}%`,
      ]);
      for (const { d } of rows) await admin.query(`DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`).catch(() => {});
    }
    await admin.end();
  });

  const acme = token('acme', [
    'targets:read',
    'targets:write',
    'backups:read',
    'backups:write',
    'restores:write',
    'jobs:read',
  ]);
  const globex = token('globex', ['targets:read', 'backups:read', 'backups:write', 'restores:write', 'jobs:read']);
  const created = await registerTarget(testApp, acme, source, { tls: 'verify-full' });
  const targetId = created.json().id as string;

  /** A fresh database name, dropped at teardown (with anything renamed aside from it). */
  const newName = (prefix = 'rst') => {
    const name = `${prefix}_${randomBytes(4).toString('hex')}`;
    made.add(name);
    return name;
  };
  const onDb = async <T>(database: string, use: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client(cluster.clientConfig(database));
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end();
    }
  };
  const databases = async (like: string) =>
    (
      await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1', [like])
    ).rows.map((r) => r.datname);

  /** Per table: row count and md5 of the rows' text, sorted. */
  const fingerprint = (database: string) =>
    onDb(database, async (c) => {
      const { rows: tables } = await c.query<{ s: string; n: string }>(
        `SELECT n.nspname AS s, c.relname AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
      );
      const out: Record<string, { rows: number; md5: string | null }> = {};
      for (const { s, n } of tables) {
        const q = `"${s.replaceAll('"', '""')}"."${n.replaceAll('"', '""')}"`;
        const { rows } = await c.query<{ rows: string; md5: string | null }>(
          `SELECT count(*) AS rows, md5(string_agg(t::text, '|' ORDER BY t::text)) AS md5 FROM ${q} t`,
        );
        out[`${s}.${n}`] = { rows: Number(rows[0]?.rows), md5: rows[0]?.md5 ?? null };
      }
      return out;
    });

  async function backup(payload: object = {}): Promise<{ id: string; [k: string]: unknown }> {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/targets/${targetId}/backups`,
      headers: bearer(acme),
      payload,
    });
    const job = await waitForJob(app, acme, res.json().id);
    if (job.status !== 'succeeded') throw new Error(`backup failed: ${JSON.stringify(job.error)}`);
    return (await app.inject({ method: 'GET', url: `/v1/backups/${job.backupId}`, headers: bearer(acme) })).json();
  }

  async function restore(
    backupId: string,
    payload: object,
    tok = acme,
  ): Promise<{ status: number; body: StartAnswer; job?: JobView }> {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/backups/${backupId}/restores`,
      headers: bearer(tok),
      payload,
    });
    if (res.statusCode !== 202) return { status: res.statusCode, body: res.json() };
    const job = await waitForJob(app, tok, res.json().id, 90_000);
    return { status: res.statusCode, body: res.json(), job };
  }

  /** The stored key of a backup's artifact (not part of the API). */
  const artifactKey = async (backupId: string) =>
    (await db.ownerQuery<{ k: string }>('SELECT artifact_key AS k FROM backups WHERE id = $1', [backupId]))[0]
      ?.k as string;

  /** Replace a backup's bytes and make its record agree, as a tampered-but-consistent backup would. */
  async function tamper(backupId: string, edit: (text: string) => string): Promise<void> {
    const key = await artifactKey(backupId);
    const bytes = Buffer.from(edit((await readArtifact(testApp.services.storage, key)).toString('utf8')), 'utf8');
    await writeArtifact(testApp.services.storage, key, bytes);
    await db.ownerQuery('UPDATE backups SET sha256 = $1, size_bytes = $2 WHERE id = $3', [
      createHash('sha256').update(bytes).digest('hex'),
      bytes.length,
      backupId,
    ]);
  }

  return {
    artifactKey,
    tamper,
    ...testApp,
    cluster,
    source,
    acme,
    globex,
    targetId,
    admin,
    newName,
    onDb,
    databases,
    fingerprint,
    backup,
    restore,
  };
}
