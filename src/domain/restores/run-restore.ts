import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { sqlStateOf } from '../../db/pg-errors.js';
import { inTenantScope, type Sql } from '../../db/tenant-scope.js';
import { type AttemptRef, fencedBy } from '../../jobs/fence.js';
import { defineTask, payloadParser, type TaskRun } from '../../jobs/task.js';
import { StaleAttemptError, type TaskContext } from '../../jobs/types.js';
import { TaskFailures } from '../../task-failures.js';
import { type BackupRow, findBackupRow } from '../backups/service.js';
import { isUuid } from '../ids.js';
import { failTask, toJobFailure } from '../job-failures.js';
import type { Services } from '../services.js';
import { countConnections, terminateConnections } from '../targets/server-queries.js';
import { findTargetRow, type TargetRow } from '../targets/service.js';
import { onDatabase, type TargetAccess, withTargetAccess, withTargetClient } from '../targets/session.js';
import { databaseExists, dropOwnDatabase } from '../targets/tenant-server.js';
import {
  markRestoreFailed,
  markRestorePending,
  markRestoreRunning,
  markRestoreSucceeded,
  type RestoreRoles,
  type RestoreRow,
  type RestoreTable,
  setPreviousDatabase,
  setWorkDatabase,
} from './queries.js';
import { restoreInto } from './restore-into.js';
import { renameDatabase } from './server-queries.js';

/** `<prefix><suffix>`, the prefix cut (on a character boundary) so the whole stays within 63 bytes. */
export function derivedDatabaseName(database: string, suffix: string): string {
  let prefix = database;
  while (Buffer.byteLength(prefix + suffix, 'utf8') > 63) prefix = [...prefix].slice(0, -1).join('');
  return prefix + suffix;
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);

interface Outcome {
  tables: RestoreTable[];
  roles: RestoreRoles;
  previousDatabase: string | null;
  keepUntil: Date | null;
  durationMs: number;
}

/** What restore jobs need from the process: a replace's keep time comes from the config. */
export interface RestoreTaskDeps {
  pool: pg.Pool;
  services: Services;
  config: { restores: { replaceKeepHours: number; verifyFirstBytes: number } };
}

/**
 * `restore` jobs: perform the restore startRestore recorded as pending. A second attempt only after a
 * crashed worker (a JobFailure is never retried): it drops the database the first attempt recorded as
 * its own and starts over. More would only repeat a failing restore.
 */
export const restoreTask = defineTask({
  kind: 'restore',
  maxAttempts: 2,
  parsePayload: payloadParser('restore', z.object({ restoreId: z.string().refine(isUuid, 'must be a UUID') })),
  handler: (deps: RestoreTaskDeps) =>
    restoreJob({
      pool: deps.pool,
      services: deps.services,
      keepHours: deps.config.restores.replaceKeepHours,
      verifyFirstBytes: deps.config.restores.verifyFirstBytes,
    }),
});

/**
 * keepHours: how long a replace keeps the old database aside (PGSTEWARD_REPLACE_KEEP_HOURS);
 * verifyFirstBytes: see restoreInto (PGSTEWARD_RESTORE_VERIFY_FIRST_MB).
 */
function restoreJob(deps: RestoreJobDeps): TaskRun<{ restoreId: string }> {
  return async (task, { restoreId }) => {
    const scope = { tenantId: task.job.tenantId };
    const attempt = attemptOf(task);
    const restore = await inTenantScope(deps.pool, scope, (tx) =>
      tx.one<RestoreRow>(fencedBy(attempt, markRestoreRunning(restoreId))),
    );
    if (!restore) throw toJobFailure(TaskFailures.restoreNotPending(restoreId));
    const write = (sql: Sql) => fencedWrite(deps.pool, scope, attempt, sql);
    try {
      const [backup, target] = await inTenantScope(deps.pool, scope, async (tx) => [
        await findBackupRow(tx, restore.backup_id),
        await findTargetRow(tx, restore.target_id ?? '00000000-0000-0000-0000-000000000000'),
      ]);
      if (backup?.status !== 'available') {
        throw TaskFailures.backupNoLongerAvailable(restore.backup_id);
      }
      if (!target) throw TaskFailures.restoreTargetGone();
      const outcome = await withTargetAccess(deps.services, target as TargetRow, (access) =>
        runRestore(deps, task, restore, backup as BackupRow, access),
      );
      await write(markRestoreSucceeded(restore.id, outcome));
      return {
        restoreId: restore.id,
        database: restore.database,
        mode: restore.mode,
        tables: outcome.tables,
        roles: outcome.roles,
        previousDatabase: outcome.previousDatabase,
        keepUntil: outcome.keepUntil?.toISOString() ?? null,
        durationMs: outcome.durationMs,
      };
    } catch (err) {
      return failTask(err, 'restore', task.signal, {
        record: (error) => write(markRestoreFailed(restore.id, error)),
        release: () => write(markRestorePending(restore.id)),
      });
    }
  };
}

interface RestoreJobDeps {
  pool: pg.Pool;
  services: Services;
  keepHours: number;
  verifyFirstBytes: number;
}

const attemptOf = (task: TaskContext): AttemptRef => ({ jobId: task.job.id, attemptId: task.attemptId });

/**
 * Write the restore's row for this attempt (fencedBy); a stale attempt's write changes nothing and
 * throws StaleAttemptError, so it goes no further (say, creating a database it could not record).
 */
async function fencedWrite(pool: pg.Pool, scope: { tenantId: string }, attempt: AttemptRef, sql: Sql): Promise<void> {
  const row = await inTenantScope(pool, scope, (tx) => tx.one(fencedBy(attempt, sql)));
  if (!row) throw new StaleAttemptError(attempt.jobId, attempt.attemptId);
}

/**
 * Both modes restore into a work database under a temporary name, recorded before it is created, and
 * only a finished, counted restore is renamed into place; so nothing half-done ever carries the
 * requested name. replace first renames the old database aside (kept until keep_until).
 */
async function runRestore(
  deps: RestoreJobDeps,
  task: TaskContext,
  restore: RestoreRow,
  backup: BackupRow,
  access: TargetAccess,
): Promise<Outcome> {
  const scope = { tenantId: restore.tenant_id };
  const { database } = restore;
  // Renames need a session on neither database; the target's own database may be the one replaced.
  const control = access.endpoint.database === database ? onDatabase(access, 'postgres') : access;
  const attempt = attemptOf(task);
  const recordAside = (name: string | null) =>
    fencedWrite(deps.pool, scope, attempt, setPreviousDatabase(restore.id, name));
  // A retry after a crash: the database the earlier attempt recorded is ours to drop, and an original it
  // had renamed aside goes back under its name.
  await withTargetClient(control, (client) => reconcileEarlierAttempt(client, restore, recordAside));
  const exists = await withTargetClient(control, (client) => databaseExists(client, database));
  if (exists && restore.mode === 'create') {
    throw TaskFailures.databaseExists(database);
  }
  const work = derivedDatabaseName(database, `_pgs_${randomBytes(4).toString('hex')}`);
  await fencedWrite(deps.pool, scope, attempt, setWorkDatabase(restore.id, work));
  const result = await restoreInto({
    services: deps.services,
    access,
    backup,
    database: work,
    selection: restore.options,
    signal: task.signal,
    verifyFirstBytes: deps.verifyFirstBytes,
    onProgress: (p) => void task.reportProgress({ ...p }).catch(() => {}),
  });
  await task.reportProgress({ phase: 'swap', itemsDone: 0, itemsTotal: null, currentItem: database }).catch(() => {});
  const swapped = await withTargetClient(control, (client) =>
    swapIntoPlace(client, {
      work,
      database,
      terminate: restore.options.terminateConnections,
      signal: task.signal,
      recordAside,
    }),
  );
  return {
    tables: result.tables,
    roles: result.roles,
    previousDatabase: swapped,
    keepUntil: swapped === null ? null : new Date(Date.now() + deps.keepHours * 3_600_000),
    durationMs: result.durationMs,
  };
}

/**
 * Rename the old database aside (if there is one) and the work database into place. Connections to the
 * old database are reported (PGS_DATABASE_IN_USE) unless `terminate`. On any failure the work database
 * is dropped and the old one is left (or put back) under its name. Returns the aside name, or null.
 */
async function swapIntoPlace(
  client: pg.ClientBase,
  o: {
    work: string;
    database: string;
    terminate: boolean;
    signal: AbortSignal;
    recordAside: (name: string | null) => Promise<void>;
  },
): Promise<string | null> {
  const { work, database } = o;
  let aside: string | null = null;
  try {
    if (o.signal.aborted) throw TaskFailures.cancelled('restore');
    if (await databaseExists(client, database)) {
      const { rows } = await client.query<{ n: number }>(countConnections(database, true));
      const connections = rows[0]?.n ?? 0;
      if (connections > 0 && !o.terminate) {
        throw TaskFailures.databaseInUse(database, connections);
      }
      if (connections > 0) {
        await client.query(terminateConnections(database, true));
      }
      const name = derivedDatabaseName(database, `_pgs_old_${stamp(new Date())}`);
      await o.recordAside(name);
      await client.query(renameDatabase(database, name));
      aside = name;
    }
    await client.query(renameDatabase(work, database));
    return aside;
  } catch (err) {
    if (aside !== null) {
      const back = await client.query(renameDatabase(aside, database)).then(
        () => true,
        () => false,
      );
      if (back) await o.recordAside(null).catch(() => {});
    }
    await dropOwnDatabase(client, work).catch(() => {});
    const sqlState = sqlStateOf(err);
    if (sqlState === '55006') throw TaskFailures.databaseGainedConnections(database); // object_in_use
    if (sqlState === '42P04') throw TaskFailures.databaseAppeared(database); // duplicate_database
    throw err;
  }
}

/**
 * What an earlier attempt of this restore left when its worker died: its work database (dropped; the
 * name was ours), and, if it died between the two renames of a replace, the original database under its
 * aside name while nothing holds the requested name (renamed back). If both names exist, the swap had
 * finished: the restored database is in place and the original is kept aside, recorded; that is
 * reported, not redone, because a second swap would push the original out of the record.
 */
async function reconcileEarlierAttempt(
  client: pg.ClientBase,
  restore: RestoreRow,
  recordAside: (name: string | null) => Promise<void>,
): Promise<void> {
  if (restore.work_database !== null) await dropOwnDatabase(client, restore.work_database);
  const aside = restore.previous_database;
  if (aside === null || !(await databaseExists(client, aside))) return;
  if (!(await databaseExists(client, restore.database))) {
    await client.query(renameDatabase(aside, restore.database));
    await recordAside(null);
    return;
  }
  throw TaskFailures.restoreInterrupted(restore.database, aside);
}
