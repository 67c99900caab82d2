import { withRows } from './evidence.js';
import { type HealthCheck, pass, unknown } from './types.js';

const num = (v: unknown) => Number(v ?? 0);

export const replicationLag: HealthCheck = {
  id: 'availability.replication_lag',
  category: 'availability',
  defaults: { seconds: 60 },
  docsUrl: 'https://www.postgresql.org/docs/current/hot-standby.html',
  run: (ctx, th) => {
    const { in_recovery, replay_lag_seconds } = ctx.snapshot.info;
    if (!in_recovery) return pass('This server is a primary: it has no replay lag.');
    if (replay_lag_seconds === null) return unknown('this replica has replayed no transaction yet');
    const evidence = [{ replayLagSeconds: replay_lag_seconds }];
    return replay_lag_seconds >= (th.seconds ?? 60)
      ? {
          status: 'warn',
          summary: `This replica last replayed a transaction ${Math.round(replay_lag_seconds)} s ago.`,
          evidence,
          remediation: 'Check the primary write rate, the network, and the replica for long queries delaying replay.',
        }
      : pass(`Replay lag is ${Math.round(replay_lag_seconds)} s.`, evidence);
  },
};

export const inactiveSlots: HealthCheck = {
  id: 'availability.inactive_replication_slots',
  category: 'availability',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/warm-standby.html#STREAMING-REPLICATION-SLOTS',
  run: (ctx) =>
    withRows(ctx.snapshot.replicationSlots, (rows) => {
      const inactive = rows.filter((r) => r.active === false);
      if (inactive.length === 0) return pass(`No inactive replication slot (${rows.length} in all).`);
      return {
        status: 'warn',
        summary: `${inactive.length} replication slot(s) are inactive and keep WAL from being removed${inactive[0]?.retained_bytes != null ? ` (the largest holds ${Math.round(num(inactive[0]?.retained_bytes) / 1048576)} MB)` : ''}.`,
        evidence: inactive.slice(0, 10).map((r) => ({ slot: r.name, type: r.type, retainedBytes: r.retained_bytes })),
        remediation: inactive
          .slice(0, 3)
          .map((r) => `SELECT pg_drop_replication_slot('${String(r.name).replace(/'/g, "''")}');`)
          .join('\n'),
      };
    }),
};

export const dataChecksums: HealthCheck = {
  id: 'availability.data_checksums',
  category: 'availability',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/checksums.html',
  run: (ctx) => {
    const value = ctx.snapshot.settings.get('data_checksums');
    if (value === undefined) return unknown('grant pg_read_all_settings to read data_checksums');
    return value === 'on'
      ? pass('Data checksums are on.')
      : {
          status: 'warn',
          summary: 'Data checksums are off: silent storage corruption goes undetected.',
          evidence: [{ data_checksums: value }],
          remediation: 'pg_checksums --enable on the stopped cluster (or initdb --data-checksums for a new one).',
        };
  },
};

export const walArchiving: HealthCheck = {
  id: 'availability.wal_archiving',
  category: 'availability',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/continuous-archiving.html',
  run: (ctx) =>
    withRows(ctx.snapshot.archiver, (rows) => {
      const a = rows[0] ?? {};
      const mode = ctx.snapshot.settings.get('archive_mode') ?? null;
      const evidence = [
        {
          archive_mode: mode,
          archived: num(a.archived),
          failed: num(a.failed),
          lastFailedWal: a.last_failed_wal ?? null,
          lastArchivedAt: a.last_archived_at ?? null,
          lastFailedAt: a.last_failed_at ?? null,
        },
      ];
      const failedLast =
        a.last_failed_at instanceof Date &&
        (!(a.last_archived_at instanceof Date) || a.last_failed_at.getTime() > a.last_archived_at.getTime());
      if (failedLast) {
        return {
          status: 'fail',
          summary: `WAL archiving is failing: the last attempt (${a.last_failed_wal}) failed after the last success.`,
          evidence,
          remediation:
            'Read the server log for archive_command errors; fix the archive destination before pg_wal fills the disk.',
        };
      }
      if (mode === 'off') return pass('WAL archiving is off (no point-in-time recovery from archives).', evidence);
      return pass(`WAL archiving works: ${num(a.archived)} archived, ${num(a.failed)} failed in all.`, evidence);
    }),
};

export const availabilityChecks = [replicationLag, inactiveSlots, dataChecksums, walArchiving];
