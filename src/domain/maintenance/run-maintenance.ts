import type pg from 'pg';
import { z } from 'zod';
import { sqlStateOf } from '../../db/pg-errors.js';
import { inTenantScope } from '../../db/tenant-scope.js';
import { isPgStewardError } from '../../errors.js';
import { defineTask, payloadParser, type TaskRun } from '../../jobs/task.js';
import { JobAbortedError, JobFailure, type TaskContext } from '../../jobs/types.js';
import { TaskFailure } from '../../task-failures.js';
import { toJobFailure } from '../job-failures.js';
import { withAdminAccess } from '../roles/admin-session.js';
import type { Services } from '../services.js';
import { findTargetRow, type TargetRow } from '../targets/service.js';
import { withTargetAccess, withTargetClient } from '../targets/session.js';
import { serverVersion } from '../targets/tenant-server.js';
import { MaintenanceFailures } from './errors.js';
import {
  actionLabel,
  estimateRewrite,
  fitsWindow,
  intactNote,
  MAINTENANCE_ACTIONS,
  maintenanceStatement,
  needsWindow,
} from './plan.js';
import {
  finishRun,
  type MaintainedTable,
  type MaintenanceRunRow,
  markRunRunning,
  recordRunCredential,
  recordRunTables,
} from './queries.js';
import {
  cancelBackend,
  dropIndexConcurrently,
  type ServerProgressRow,
  selectBackendPid,
  selectLeftoverConcurrentIndexes,
  selectNotMaintainable,
  selectServerProgress,
  setSessionLimits,
} from './server-queries.js';
import { readTableStats, resolveTables, type TableFacts } from './tables.js';

/** How often the second session reads the work session's progress views. */
const PROGRESS_POLL_MS = 250;
/** VERBOSE output kept per table (the rest is counted, not stored). */
const MAX_MESSAGES_PER_TABLE = 100;

export interface MaintenanceTaskDeps {
  pool: pg.Pool;
  services: Services;
}

/**
 * `maintenance` jobs: run the recorded action on each table in turn, on the target, recording each
 * table's size and dead tuples before and after. A second attempt only after a crashed or stopped
 * worker: it starts over (every statement is safe to repeat).
 */
export const maintenanceTask = defineTask({
  kind: 'maintenance',
  maxAttempts: 2,
  parsePayload: payloadParser('maintenance', z.object({ action: z.enum(MAINTENANCE_ACTIONS) })),
  handler: (deps: MaintenanceTaskDeps) => maintenanceJob(deps),
});

const stopCause = (signal: AbortSignal) =>
  signal.reason instanceof JobAbortedError ? signal.reason.abortCause : signal.aborted ? 'cancelled' : undefined;

function maintenanceJob(deps: MaintenanceTaskDeps): TaskRun<{ action: string }> {
  return async (task) => {
    const scope = { tenantId: task.job.tenantId };
    const run = await inTenantScope(deps.pool, scope, (tx) =>
      tx.one<MaintenanceRunRow>(markRunRunning(task.job.id, task.attemptId)),
    );
    if (!run) throw toJobFailure(MaintenanceFailures.runNotPending(task.job.id));
    const started = Date.now();
    const progress = new RunRecord(deps.pool, scope, run.id, task.attemptId);
    try {
      const target = run.target_id
        ? await inTenantScope(deps.pool, scope, (tx) => findTargetRow(tx, run.target_id as string))
        : undefined;
      if (!target) throw MaintenanceFailures.targetGone();
      const credential = await chooseCredential(deps.services, target, run);
      await inTenantScope(deps.pool, scope, (tx) => tx.rows(recordRunCredential(run.id, task.attemptId, credential)));
      const tables = await withCredential(deps, target, credential, (work, monitor) =>
        maintainTables(task, run, work, monitor, progress, credential),
      );
      await inTenantScope(deps.pool, scope, (tx) =>
        tx.rows(finishRun(run.id, task.attemptId, 'succeeded', tables, null)),
      );
      return { maintenanceId: run.id, action: run.action, credential, tables, durationMs: Date.now() - started };
    } catch (err) {
      const cause = stopCause(task.signal);
      // Stopped by shutdown or a lost lease: the run stays running for the next attempt, which starts over.
      if (cause === 'shutdown' || cause === 'lease-lost') throw err;
      const failure =
        cause === 'cancelled' && !isCancelFailure(err)
          ? toJobFailure(MaintenanceFailures.cancelled('The maintenance was stopped before it ran a statement.'))
          : asMaintenanceFailure(err);
      // Our bug when unrecognised: the run says so too (the worker records PGS_INTERNAL and logs the error).
      const error = failure ? { code: failure.code, message: failure.message } : INTERNAL;
      await inTenantScope(deps.pool, scope, (tx) =>
        tx.rows(
          finishRun(run.id, task.attemptId, cause === 'cancelled' ? 'cancelled' : 'failed', progress.tables, error),
        ),
      );
      throw failure ?? err;
    }
  };
}

const INTERNAL = { code: 'PGS_INTERNAL', message: 'An internal error occurred; the log has details.' };

const isCancelFailure = (err: unknown) => err instanceof TaskFailure && err.code === 'PGS_CANCELLED';

/** A catalogued failure as it is, a SQLSTATE from the target's session as one; anything else is our bug. */
function asMaintenanceFailure(err: unknown): JobFailure | undefined {
  if (err instanceof JobFailure) return err;
  if (err instanceof TaskFailure || isPgStewardError(err)) return toJobFailure(err);
  const state = sqlStateOf(err);
  return state === undefined ? undefined : toJobFailure(MaintenanceFailures.sessionFailed(state));
}

/** The run's tables as they stand, written to its record after each table. */
class RunRecord {
  tables: MaintainedTable[] | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly scope: { tenantId: string },
    private readonly runId: string,
    private readonly attemptId: string,
  ) {}

  async save(tables: MaintainedTable[]): Promise<void> {
    this.tables = tables;
    await inTenantScope(this.pool, this.scope, (tx) => tx.rows(recordRunTables(this.runId, this.attemptId, tables)));
  }
}

type Credential = 'secret' | 'admin';

/**
 * secretRef when it may maintain every table; else adminSecretRef (the owner's credential, or one
 * that is a member of the owner), when the target has one. Neither: the job fails naming the owners.
 */
async function chooseCredential(services: Services, target: TargetRow, run: MaintenanceRunRow): Promise<Credential> {
  const refused = await withTargetAccess(services, target, (access) =>
    withTargetClient(access, async (client) =>
      notMaintainable(client, run, await resolveTables(client, run.selection)),
    ),
  );
  if (refused.length === 0) return 'secret';
  if (target.admin_secret_ref !== null) return 'admin';
  throw MaintenanceFailures.notOwner(actionLabel(run.action, run.options), refused, 'secret');
}

/** Two sessions on the target as `credential`: one runs the statements, the other watches and can cancel. */
function withCredential<T>(
  deps: MaintenanceTaskDeps,
  target: TargetRow,
  credential: Credential,
  use: (work: pg.Client, monitor: pg.Client) => Promise<T>,
): Promise<T> {
  if (credential === 'admin') {
    const caller = { pool: deps.pool, services: deps.services, tenantId: target.tenant_id };
    return withAdminAccess(caller, target, undefined, (work, session) =>
      withTargetClient(session.access, (monitor) => use(work, monitor)),
    );
  }
  return withTargetAccess(deps.services, target, (access) =>
    withTargetClient(access, (work) => withTargetClient(access, (monitor) => use(work, monitor))),
  );
}

async function maintainTables(
  task: TaskContext,
  run: MaintenanceRunRow,
  work: pg.Client,
  monitor: pg.Client,
  record: RunRecord,
  credential: Credential,
): Promise<MaintainedTable[]> {
  const { action, options } = run;
  const label = actionLabel(action, options);
  const tables = await resolveTables(work, run.selection);
  const refused = await notMaintainable(work, run, tables);
  if (refused.length > 0) throw MaintenanceFailures.notOwner(label, refused, credential);
  if (needsWindow(action, options) && run.window_end !== null) {
    // Queued behind other jobs, it may start late: the window must still hold the work, as on acceptance.
    if (!fitsWindow(estimateRewrite(tables.map((t) => t.stats)), new Date(), run.window_end)) {
      throw MaintenanceFailures.notInWindow(label);
    }
  }
  const pid = (await work.query<{ pid: number }>(selectBackendPid())).rows[0]?.pid as number;
  const untilWindowEnd = run.window_end === null ? 0 : Math.max(1000, run.window_end.getTime() - Date.now());
  await work.query(setSessionLimits(options.lockTimeoutSeconds * 1000, untilWindowEnd));

  const results: MaintainedTable[] = tables.map((t) => ({
    schema: t.schema,
    name: t.name,
    before: t.stats,
    after: null,
    durationMs: null,
  }));
  await record.save(results);
  const messages: string[] = [];
  let dropped = 0;
  const onNotice = (n: { message?: string }) => {
    if (messages.length < MAX_MESSAGES_PER_TABLE) messages.push(n.message ?? '');
    else dropped++;
  };
  if (options.verbose) work.on('notice', onNotice);

  const onAbort = () => {
    monitor.query(cancelBackend(pid)).catch(() => {});
  };
  task.signal.addEventListener('abort', onAbort);
  let current = { index: 0, name: '' };
  const poller = setInterval(() => {
    pollProgress(task, monitor, pid, action, current.name, current.index, tables.length);
  }, PROGRESS_POLL_MS);
  try {
    for (const [index, table] of tables.entries()) {
      const name = `${table.schema}.${table.name}`;
      if (task.signal.aborted) {
        throw MaintenanceFailures.cancelled(
          `The maintenance was stopped between tables: ${index} of ${tables.length} finished; ${name} and the rest were not touched.`,
        );
      }
      current = { index, name };
      await task
        .reportProgress({
          action,
          phase: 'starting',
          currentTable: name,
          tablesDone: index,
          tablesTotal: tables.length,
        })
        .catch(() => {});
      messages.length = 0;
      dropped = 0;
      const started = Date.now();
      try {
        await work.query(maintenanceStatement(action, options, table));
      } catch (err) {
        throw await statementFailure(err, task, run, work, table, name, index, credential);
      }
      const after = (await readTableStats(work, [table.oid])).get(table.oid) ?? null;
      results[index] = {
        ...(results[index] as MaintainedTable),
        after,
        durationMs: Date.now() - started,
        ...(options.verbose
          ? { messages: dropped > 0 ? [...messages, `(${dropped} more lines)`] : [...messages] }
          : {}),
      };
      await record.save(results);
    }
    await task
      .reportProgress({
        action,
        phase: 'done',
        currentTable: null,
        tablesDone: tables.length,
        tablesTotal: tables.length,
      })
      .catch(() => {});
    return results;
  } finally {
    clearInterval(poller);
    task.signal.removeEventListener('abort', onAbort);
    work.off('notice', onNotice);
  }
}

/** One read of the work session's progress view, reported as the job's progress. Never throws. */
function pollProgress(
  task: TaskContext,
  monitor: pg.Client,
  pid: number,
  action: string,
  currentTable: string,
  tablesDone: number,
  tablesTotal: number,
): void {
  monitor
    .query<ServerProgressRow>(selectServerProgress(pid))
    .then(({ rows }) => {
      const row = rows[0];
      if (!row || !currentTable) return;
      return task.reportProgress({
        action,
        phase: row.phase,
        blocksDone: row.blocks_done === null ? null : Number(row.blocks_done),
        blocksTotal: row.blocks_total === null ? null : Number(row.blocks_total),
        currentTable,
        tablesDone,
        tablesTotal,
      });
    })
    .catch(() => {});
}

/**
 * The tables this session may not maintain, with their owners. VACUUM on such a table only warns and
 * skips it, so this is asked before anything runs.
 */
async function notMaintainable(
  client: pg.Client,
  run: MaintenanceRunRow,
  tables: TableFacts[],
): Promise<{ table: string; owner: string }[]> {
  if (tables.length === 0) return [];
  const { major } = await serverVersion(client);
  const ownerOfDatabaseCounts = run.action !== 'vacuum_full' && run.action !== 'reindex' && major < 17;
  const { rows } = await client.query<{ schema: string; name: string; owner: string }>(
    selectNotMaintainable(
      tables.map((t) => t.oid),
      ownerOfDatabaseCounts,
      major >= 17,
    ),
  );
  return rows.map((r) => ({ table: `${r.schema}.${r.name}`, owner: r.owner }));
}

/** What a failed statement means for the job, by SQLSTATE; after a cancel, which table is intact. */
async function statementFailure(
  err: unknown,
  task: TaskContext,
  run: MaintenanceRunRow,
  work: pg.Client,
  table: TableFacts,
  name: string,
  done: number,
  credential: Credential,
): Promise<unknown> {
  const { action, options } = run;
  const label = actionLabel(action, options);
  const state = sqlStateOf(err);
  const stopped = task.signal.aborted || (state === '57014' && run.window_end !== null);
  if (stopped && action === 'reindex' && options.concurrently) await dropLeftoverIndexes(work, table.oid);
  if (task.signal.aborted) {
    return MaintenanceFailures.cancelled(
      `The maintenance was stopped during ${label} of ${name} (pg_cancel_backend); ${done} table${done === 1 ? '' : 's'} before it finished. ${intactNote(action, options, name)}`,
    );
  }
  if (state === '55P03') return MaintenanceFailures.lockTimeout(label, name, options.lockTimeoutSeconds, done);
  if (state === '57014' && run.window_end !== null) return MaintenanceFailures.windowClosed(label, name);
  if (state === '42501') return MaintenanceFailures.notOwner(label, [{ table: name, owner: table.owner }], credential);
  if (state !== undefined) return MaintenanceFailures.failed(label, name, state);
  return MaintenanceFailures.sessionLost(label, name, intactNote(action, options, name));
}

/** A stopped REINDEX CONCURRENTLY leaves invalid <index>_ccnew copies behind; they only cost writes. */
async function dropLeftoverIndexes(work: pg.Client, oid: string): Promise<void> {
  try {
    const { rows } = await work.query<{ schema: string; name: string }>(selectLeftoverConcurrentIndexes(oid));
    for (const i of rows) await work.query(dropIndexConcurrently(i.schema, i.name));
  } catch {
    // Best effort: the original failure is the one to report, and the leftovers are harmless to reads.
  }
}
