// B3: a restore through the API of a kept pgsteward custom backup against bare `createdb` +
// `pg_restore --exit-on-error -j 2` of a bare `pg_dump -Fc` file of the same database.
import { stat } from 'node:fs/promises';
import pg from 'pg';
import { quoteIdent } from '../../src/sql/identifiers.js';
import type { TestCluster } from '../helpers/pg-cluster.js';
import { type BareConnection, runBareRestore } from './bare-dump.js';
import type { JobView, PgstewardApi } from './pgsteward-process.js';
import { cpuSeconds, ProcessSampler, resetPeakRss, type SamplerReport, statusKb } from './process-sampler.js';

export type RestoreVariant = 'pgsteward' | 'bare';

/** pg_restore -j of both variants: the figure. */
export const RESTORE_PARALLEL = 2;

export interface RestoreMeasurement {
  variant: RestoreVariant;
  run: number;
  /** Wall time: POST to `succeeded` for pgsteward; createdb start to pg_restore exit for bare. */
  ms: number;
  /** Peak RSS of each child tool, by command name (max over processes of that name), in kB. */
  toolPeakKb: Record<string, number>;
  /** CPU seconds of the child tools (reaped children's user + system time). */
  toolCpuS: number;
  pgsteward?: {
    /** VmHWM of the server process over this restore alone, kB. */
    peakKb: number;
    /** The highest VmRSS seen in the 50 ms samples, kB. */
    sampledPeakKb: number;
    /** VmRSS just before the restore, kB. */
    baselineKb: number;
    /** The server's own CPU seconds during the restore. */
    cpuS: number;
    /** POST until the restoring pg_restore appeared (queue, claim, sha256-checked copy, --list, CREATE DATABASE). */
    setupMs: number;
    /** The restoring pg_restore's lifetime as sampled every 50 ms. */
    pgRestoreMs: number;
    /** pg_restore gone until `succeeded` seen: row counts, rename, bookkeeping, poll latency. */
    tailMs: number;
  };
  bare?: { createdbMs: number; pgRestoreMs: number };
}

export interface RestoreResult {
  /** The kept pgsteward artifact and the kept bare `pg_dump -Fc` file: the archives restored. */
  archiveBytes: { pgsteward: number; bare: number };
  measurements: RestoreMeasurement[];
}

export interface RestoreBench {
  cluster: TestCluster;
  api: PgstewardApi;
  /** Needs restores:write, backups:read and jobs:read. */
  token: string;
  serverPid: number;
  /** A succeeded custom-format backup of the source database, kept from B1. */
  backupId: string;
  /** The bare `pg_dump -Fc` file of the same database, kept from B1. */
  bareFile: string;
  bare: BareConnection;
  /** The role pgsteward's secret names; it creates the restored databases, so it gets CREATEDB. */
  role: string;
  sizeMb: number;
  expectedRows: { customers: number; events: number };
  runs: number;
  log(line: string): void;
}

const FINISHED = ['succeeded', 'failed', 'cancelled'];
const TOOLS = ['pg_restore', 'createdb'];
const DATABASE_PREFIX = 'b3_';

function toolPeaks(report: SamplerReport): Record<string, number> {
  const peaks: Record<string, number> = {};
  for (const child of report.children) {
    if (TOOLS.includes(child.comm)) peaks[child.comm] = Math.max(peaks[child.comm] ?? 0, child.peakKb);
  }
  return peaks;
}

/**
 * One restore through the API into `database` (mode create, parallel 2): POST, then GET /v1/jobs/{id}
 * every 100 ms, every 10 ms once pg_restore has exited in post-data, until the job has succeeded. The
 * restored row counts are checked against the source afterwards, outside the timed section.
 */
export async function measureApiRestore(b: RestoreBench, database: string, run: number): Promise<RestoreMeasurement> {
  const { api, token, serverPid } = b;
  const baselineKb = statusKb(serverPid, 'VmRSS') ?? 0;
  resetPeakRss(serverPid);
  const cpuBefore = cpuSeconds(serverPid);
  const sampler = new ProcessSampler([serverPid]);
  const started = sampler.now();
  const job = await api.expect<JobView>(202, 'POST', `/v1/backups/${b.backupId}/restores`, token, {
    database,
    parallel: RESTORE_PARALLEL,
  });
  let finished: JobView;
  let endedAt: number;
  for (;;) {
    const seen = await api.expect<JobView>(200, 'GET', `/v1/jobs/${job.id}`, token);
    if (FINISHED.includes(seen.status)) {
      endedAt = sampler.now();
      finished = seen;
      break;
    }
    const phase = seen.progress.phase;
    const closing = phase === 'swap' || (phase === 'post-data' && sampler.hasFinished('pg_restore'));
    await new Promise((r) => setTimeout(r, closing ? 10 : 100));
  }
  const report = sampler.stop();
  const peakKb = statusKb(serverPid, 'VmHWM') ?? 0;
  const cpuAfter = cpuSeconds(serverPid);
  if (finished.status !== 'succeeded') {
    throw new Error(`the restore job ended ${finished.status}: ${JSON.stringify(finished.error)}`);
  }
  const restore = await api.expect<{ tables: { name: string; rows: number }[] }>(
    200,
    'GET',
    `/v1/restores/${finished.restoreId ?? ''}`,
    token,
  );
  for (const [name, rows] of Object.entries(b.expectedRows)) {
    const got = restore.tables.find((t) => t.name === name)?.rows;
    if (got !== rows) throw new Error(`the restore of ${database} counted ${got} ${name} rows, not ${rows}`);
  }
  // The restoring pg_restore outlives its --list (and ACL) runs and its -j workers: the longest-lived one.
  const restoring = report.children
    .filter((c) => c.comm === 'pg_restore')
    .sort((p, q) => q.lastSeenMs - q.firstSeenMs - (p.lastSeenMs - p.firstSeenMs))[0];
  const restoreStart = restoring?.firstSeenMs ?? started;
  const restoreEnd = restoring?.lastSeenMs ?? endedAt;
  return {
    variant: 'pgsteward',
    run,
    ms: endedAt - started,
    toolPeakKb: toolPeaks(report),
    toolCpuS: cpuAfter.children - cpuBefore.children,
    pgsteward: {
      peakKb,
      sampledPeakKb: report.rootSampledPeakKb,
      baselineKb,
      cpuS: cpuAfter.own - cpuBefore.own,
      setupMs: restoreStart - started,
      pgRestoreMs: restoreEnd - restoreStart,
      tailMs: endedAt - restoreEnd,
    },
  };
}

/** One bare restore: `createdb` then `pg_restore --exit-on-error -j 2` of the bare dump file. */
export async function measureBareRestore(b: RestoreBench, database: string, run: number): Promise<RestoreMeasurement> {
  const cpuBefore = cpuSeconds('self');
  const sampler = new ProcessSampler([process.pid]);
  const timing = await runBareRestore(b.bare, b.bareFile, database, RESTORE_PARALLEL);
  const report = sampler.stop();
  const cpuAfter = cpuSeconds('self');
  return {
    variant: 'bare',
    run,
    ms: timing.createdbMs + timing.pgRestoreMs,
    toolPeakKb: toolPeaks(report),
    toolCpuS: cpuAfter.children - cpuBefore.children,
    bare: timing,
  };
}

/** Drops what a run restored, then checkpoints, so no run pays for the previous one's dirty buffers. */
async function dropRestored(admin: pg.Client, database: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  await admin.query('CHECKPOINT');
}

/**
 * B3 for one size: `runs` runs of each variant, alternating (the first variant swaps each run), each
 * into a fresh database that is dropped again after the run, outside the timed section.
 */
export async function measureRestores(b: RestoreBench): Promise<RestoreResult> {
  const admin = new pg.Client(b.cluster.clientConfig());
  await admin.connect();
  try {
    // pgsteward creates the database as the secret's role, as bare createdb does: both need CREATEDB.
    await admin.query(`ALTER ROLE ${quoteIdent(b.role)} CREATEDB`);
    const apiBackup = await b.api.expect<{ sizeBytes: number }>(200, 'GET', `/v1/backups/${b.backupId}`, b.token);
    const archiveBytes = { pgsteward: apiBackup.sizeBytes, bare: (await stat(b.bareFile)).size };
    const measurements: RestoreMeasurement[] = [];
    const variants: RestoreVariant[] = ['pgsteward', 'bare'];
    for (let run = 0; run < b.runs; run++) {
      const order = run % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of order) {
        const database = `${DATABASE_PREFIX}${variant}_${b.sizeMb}mb_r${run + 1}`;
        try {
          const m =
            variant === 'pgsteward'
              ? await measureApiRestore(b, database, run)
              : await measureBareRestore(b, database, run);
          measurements.push(m);
          const phases = m.pgsteward
            ? `setup ${(m.pgsteward.setupMs / 1000).toFixed(2)} s, pg_restore ${(m.pgsteward.pgRestoreMs / 1000).toFixed(2)} s, ` +
              `tail ${(m.pgsteward.tailMs / 1000).toFixed(2)} s, pgsteward peak RSS ${(m.pgsteward.peakKb / 1024).toFixed(1)} MiB`
            : `createdb ${((m.bare?.createdbMs ?? 0) / 1000).toFixed(2)} s, pg_restore ${((m.bare?.pgRestoreMs ?? 0) / 1000).toFixed(2)} s`;
          b.log(`B3 run ${run + 1}/${b.runs} ${variant.padEnd(9)} ${(m.ms / 1000).toFixed(2)} s (${phases})`);
        } finally {
          await dropRestored(admin, database);
        }
      }
    }
    return { archiveBytes, measurements };
  } finally {
    // A failed run may leave a restore's work database (<name>_pgs_<hex>) besides the ones dropped above.
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_catalog.pg_database WHERE starts_with(datname, $1) ORDER BY 1',
      [DATABASE_PREFIX],
    );
    if (rows.length > 0) b.log(`B3: dropping what a failed run left: ${rows.map((r) => r.datname).join(', ')}`);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    await admin.query(`ALTER ROLE ${quoteIdent(b.role)} NOCREATEDB`).catch(() => {});
    await admin.end();
  }
}
