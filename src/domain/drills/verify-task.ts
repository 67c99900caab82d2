import type pg from 'pg';
import { z } from 'zod';
import { inTenantScope, type Sql } from '../../db/tenant-scope.js';
import { fencedBy } from '../../jobs/fence.js';
import { DEFAULT_MAX_ATTEMPTS } from '../../jobs/queue.js';
import { defineTask, payloadParser, type TaskRun } from '../../jobs/task.js';
import type { TaskContext } from '../../jobs/types.js';
import { TaskFailures } from '../../task-failures.js';
import { type BackupRow, findBackupRow } from '../backups/service.js';
import { isUuid } from '../ids.js';
import { asJobFailure, toJobFailure } from '../job-failures.js';
import { restoreInto } from '../restores/restore-into.js';
import type { Services } from '../services.js';
import { findTargetRow } from '../targets/service.js';
import { onDatabase, type TargetAccess, withTargetClient } from '../targets/session.js';
import { asDrillRole, createDrillRole, type DrillRole } from './drill-role.js';
import { type DrillServer, withDrillAccess } from './drill-server.js';
import { recordVerification } from './queries.js';
import { checkBtreeIndexes, dropScratchDatabase } from './scratch.js';
import { compareTables, scratchDatabaseName, type Verification } from './verification.js';

// Failures that say the backup itself cannot be restored: the drill ran and the backup failed it, so the
// backup's record says so. Anything else (target unreachable, storage down) says nothing about the backup.
const BACKUP_AT_FAULT = new Set([
  'PGS_ARTIFACT_CORRUPT',
  'PGS_ARTIFACT_MISSING',
  'PGS_RESTORE_FAILED',
  'PGS_DUMP_REFUSED',
]);

/** Who asked for a drill: the API, or the drill scheduler acting on a policy's tick. */
const verifyPayload = z.discriminatedUnion('trigger', [
  z.object({ backupId: z.string().refine(isUuid, 'must be a UUID'), trigger: z.literal('api') }),
  z.object({
    backupId: z.string().refine(isUuid, 'must be a UUID'),
    trigger: z.literal('schedule'),
    tick: z.iso.datetime(),
  }),
]);
export type VerifyPayload = z.output<typeof verifyPayload>;

/** What drills need from the process: where they restore comes from the config (PGSTEWARD_DRILL_TARGET). */
export interface VerifyTaskDeps {
  pool: pg.Pool;
  services: Services;
  config: { drills: { server?: DrillServer | undefined } };
}

/**
 * `verify` jobs: restore the backup into a scratch database, count every table against the counts
 * recorded at backup time, check btree indexes with amcheck, and always drop the scratch database. A
 * mismatch is a drill that succeeded with verified:false; the backup's record (last_verified_at,
 * last_verification) keeps the outcome either way.
 */
export const verifyTask = defineTask({
  kind: 'verify',
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  parsePayload: payloadParser('verify', verifyPayload),
  handler: (deps: VerifyTaskDeps) =>
    verifyJob({
      pool: deps.pool,
      services: deps.services,
      ...(deps.config.drills.server ? { drillServer: deps.config.drills.server } : {}),
    }),
});

function verifyJob(deps: { pool: pg.Pool; services: Services; drillServer?: DrillServer }): TaskRun<VerifyPayload> {
  return async (task, { backupId }) => {
    const scope = { tenantId: task.job.tenantId };
    // The verification is written for this attempt only: a stale attempt's late outcome changes nothing.
    const record = (sql: Sql) =>
      inTenantScope(deps.pool, scope, (tx) =>
        tx.rows(fencedBy({ jobId: task.job.id, attemptId: task.attemptId }, sql)),
      );
    const backup = await inTenantScope(deps.pool, scope, (tx) => findBackupRow(tx, backupId));
    if (!backup) throw toJobFailure(TaskFailures.backupGone(backupId));
    if (backup.status !== 'available') throw toJobFailure(TaskFailures.backupNotVerifiable(backupId, backup.status));
    const target = backup.target_id
      ? await inTenantScope(deps.pool, scope, (tx) => findTargetRow(tx, backup.target_id ?? ''))
      : undefined;
    if (!target) throw toJobFailure(TaskFailures.backupTargetGone(backupId));
    try {
      const verification = await withDrillAccess(deps.services, deps.drillServer, target, (access, server) =>
        drill(deps.services, task, backup, access, server),
      );
      await record(recordVerification(backup.id, verification));
      return { backupId: backup.id, ...verification };
    } catch (err) {
      if (task.signal.aborted) throw err;
      const failure = asJobFailure(err, 'drill');
      if (!failure) throw err; // our bug: the worker records PGS_INTERNAL and logs it
      if (BACKUP_AT_FAULT.has(failure.code)) {
        const failed: Verification & { error: { code: string; message: string } } = {
          ...emptyVerification(task.job.id, deps.drillServer ? 'drill-server' : 'target'),
          error: { code: failure.code, message: failure.message },
        };
        await record(recordVerification(backup.id, failed));
      }
      throw failure;
    }
  };
}

async function drill(
  services: Services,
  task: TaskContext,
  backup: BackupRow,
  access: TargetAccess,
  server: Verification['server'],
): Promise<Verification> {
  const started = Date.now();
  const scratch = scratchDatabaseName(task.job.id);
  // A retry after a crash: the dead attempt's scratch database is ours to drop (restoreInto wants none).
  await dropScratchDatabase(access, scratch);
  let outcome: Omit<Verification, 'durationMs'>;
  try {
    // On a drill server the tenant's SQL runs as a role of this drill's own, never as the server's.
    const role =
      server === 'drill-server' ? await withTargetClient(access, (c) => createDrillRole(c, scratch)) : undefined;
    outcome = await restoreAndCheck(services, task, backup, access, scratch, server, role);
  } catch (err) {
    await task.reportProgress({ phase: 'cleanup', database: scratch }).catch(() => {});
    await dropScratchDatabase(access, scratch).catch(() => {}); // the original error is the one to report
    throw err;
  }
  await task.reportProgress({ phase: 'cleanup', database: scratch }).catch(() => {});
  await dropScratchDatabase(access, scratch);
  return { ...outcome, durationMs: Date.now() - started };
}

async function restoreAndCheck(
  services: Services,
  task: TaskContext,
  backup: BackupRow,
  access: TargetAccess,
  scratch: string,
  server: Verification['server'],
  role: DrillRole | undefined,
): Promise<Omit<Verification, 'durationMs'>> {
  const asRole = role ? asDrillRole(access, role) : undefined;
  const restored = await restoreInto({
    services,
    access,
    ...(role && asRole ? { runAs: { role: role.username, access: asRole } } : {}),
    backup,
    database: scratch,
    selection: { tables: [], schemas: [], parallel: 1, noOwner: true, noPrivileges: true, includeGlobals: false },
    signal: task.signal,
    onProgress: (p) => {
      task.reportProgress({ ...p, database: scratch }).catch(() => {});
    },
  });
  await task.reportProgress({ phase: 'amcheck', database: scratch }).catch(() => {});
  const indexes = await withTargetClient(onDatabase(asRole ?? access, scratch), (client) =>
    checkBtreeIndexes(client, task.signal),
  );
  const { tables, mismatches } = compareTables(backup.tables, restored.tables);
  return {
    verified: mismatches.length === 0 && indexes.indexFailures.length === 0,
    jobId: task.job.id,
    server,
    tables,
    mismatches,
    ...indexes,
  };
}

function emptyVerification(jobId: string, server: Verification['server']): Verification {
  return {
    verified: false,
    jobId,
    server,
    tables: [],
    mismatches: [],
    indexesChecked: 0,
    indexFailures: [],
    amcheck: { available: false, reason: 'the restore did not complete' },
    durationMs: 0,
  };
}
