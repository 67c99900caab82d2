import { inTenantScope } from '../../db/tenant-scope.js';
import { Errors, isPgStewardError } from '../../errors.js';
import { enqueueTask } from '../../jobs/task.js';
import { loadBackupRow } from '../backups/service.js';
import { type Ctx, ownTenant, requireScopes } from '../context.js';
import { isUuid } from '../ids.js';
import { type JobView, toJobView } from '../jobs/view.js';
import { byCreatedAtAndId, listPage, type Page, type PageRequest } from '../pagination.js';
import { loadTargetRow } from '../targets/service.js';
import { onDatabase, withTargetAccess, withTargetClient } from '../targets/session.js';
import { databaseExists } from '../targets/tenant-server.js';
import { dropPreviousDatabase } from './expire-previous.js';
import { normaliseRestoreOptions, type RestoreMode, type RestoreOptions, type RestoreOptionsInput } from './options.js';
import {
  insertRestore,
  type RestoreRoles,
  type RestoreRow,
  type RestoreStatus,
  type RestoreTable,
  selectRestore,
  selectRestorePage,
  selectRestoresByIds,
  setRestoreJob,
} from './queries.js';
import { restoreTask } from './run-restore.js';

export interface Restore {
  id: string;
  backupId: string;
  targetId: string | null;
  jobId: string | null;
  database: string;
  mode: RestoreMode;
  options: RestoreOptions;
  status: RestoreStatus;
  tables: RestoreTable[];
  roles: RestoreRoles | null;
  previousDatabase: string | null;
  keepUntil: string | null;
  previousDroppedAt: string | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  completedAt: string | null;
}

export const toRestore = (r: RestoreRow): Restore => ({
  id: r.id,
  backupId: r.backup_id,
  targetId: r.target_id,
  jobId: r.job_id,
  database: r.database,
  mode: r.mode,
  options: r.options,
  status: r.status,
  tables: r.tables,
  roles: r.roles,
  previousDatabase: r.previous_database,
  keepUntil: r.keep_until?.toISOString() ?? null,
  previousDroppedAt: r.previous_dropped_at?.toISOString() ?? null,
  error: r.error,
  createdAt: r.created_at.toISOString(),
  completedAt: r.completed_at?.toISOString() ?? null,
});

/**
 * Start restoring a backup into a database of one of the tenant's targets (the backup's own by
 * default). Everything that can be refused is refused here, before a job exists: an unavailable backup
 * (409), a replace without `confirm` equal to the database (409, nothing touched), option combinations
 * the backup's format cannot do (400), and, when the target answers, a create into an existing database
 * (409). Needs restores:write.
 */
export async function startRestore(ctx: Ctx, backupId: string, input: RestoreOptionsInput): Promise<JobView> {
  requireScopes(ctx, 'restores:write');
  const scope = ownTenant(ctx);
  const backup = await loadBackupRow(ctx, backupId);
  const targetId = input.targetId ?? backup.target_id;
  if (targetId === null) throw Errors.validation("targetId is required: the backup's own target was deleted");
  const target = await loadTargetRow(ctx, targetId);
  const { database, mode, options } = normaliseRestoreOptions(input, {
    format: backup.format,
    otherTarget: target.id !== backup.target_id,
  });
  if (mode === 'replace' && input.confirm !== database) throw Errors.confirmRequired(database);
  if (backup.status !== 'available') throw Errors.backupNotRestorable(backup.id, backup.status);
  if (mode === 'create' && (await existsIfReachable(ctx, target, database))) throw Errors.databaseExists(database);
  return inTenantScope(ctx.pool, scope, async (tx) => {
    const restore = await tx.one<RestoreRow>(
      insertRestore({ tenantId: scope.tenantId, backupId: backup.id, targetId: target.id, database, mode, options }),
    );
    if (!restore) throw Errors.internal();
    const job = await enqueueTask(tx, restoreTask, {
      tenantId: scope.tenantId,
      targetId: target.id,
      subjects: { backup: backup.id, restore: restore.id },
      payload: { restoreId: restore.id },
    });
    await tx.rows(setRestoreJob(restore.id, job.id));
    return toJobView(job);
  });
}

/** Whether the database exists, or false when the target cannot be asked now (the job checks again). */
async function existsIfReachable(
  ctx: Ctx,
  target: Awaited<ReturnType<typeof loadTargetRow>>,
  database: string,
): Promise<boolean> {
  try {
    return await withTargetAccess(ctx.services, target, (access) =>
      withTargetClient(access.endpoint.database === database ? onDatabase(access, 'postgres') : access, (client) =>
        databaseExists(client, database),
      ),
    );
  } catch (err) {
    if (isPgStewardError(err) || (err as { code?: unknown }).code !== undefined) return false;
    throw err;
  }
}

async function loadRestoreRow(ctx: Ctx, id: string): Promise<RestoreRow> {
  if (!isUuid(id)) throw Errors.restoreNotFound(id);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one<RestoreRow>(selectRestore(id)));
  if (!row) throw Errors.restoreNotFound(id);
  return row;
}

/** One restore of the caller's tenant. Needs backups:read (a restore is what became of a backup). */
export async function getRestore(ctx: Ctx, id: string): Promise<Restore> {
  requireScopes(ctx, 'backups:read');
  return toRestore(await loadRestoreRow(ctx, id));
}

/** The visible restores among `ids` (for batch loads). Needs backups:read, like getRestore. */
export async function getRestoresByIds(ctx: Ctx, ids: string[]): Promise<Map<string, Restore>> {
  requireScopes(ctx, 'backups:read');
  const wanted = [...new Set(ids.filter(isUuid))];
  if (wanted.length === 0) return new Map();
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.rows<RestoreRow>(selectRestoresByIds(wanted)));
  return new Map(rows.map((r) => [r.id, toRestore(r)]));
}

/** The tenant's restores, newest first, optionally of one backup and/or onto one target. */
export async function listRestores(
  ctx: Ctx,
  q: PageRequest & { backupId?: string | undefined; targetId?: string | undefined },
): Promise<Page<Restore>> {
  requireScopes(ctx, 'backups:read');
  if (q.backupId !== undefined && !isUuid(q.backupId)) throw Errors.validation('backupId must be a UUID');
  if (q.targetId !== undefined && !isUuid(q.targetId)) throw Errors.validation('targetId must be a UUID');
  const filter = { backupId: q.backupId, targetId: q.targetId };
  return listPage(
    q,
    byCreatedAtAndId,
    (before, limit) =>
      inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.rows<RestoreRow>(selectRestorePage(filter, before, limit))),
    toRestore,
  );
}

/**
 * Drop the database a succeeded replace kept aside, now rather than after keepUntil. Refused (409) when
 * there is none left to drop (PGS_NO_KEPT_DATABASE) or when it has open connections
 * (PGS_DATABASE_IN_USE): those are someone's, and are not ended for them. Needs restores:write.
 */
export async function dropKeptDatabase(ctx: Ctx, id: string): Promise<Restore> {
  requireScopes(ctx, 'restores:write');
  const row = await loadRestoreRow(ctx, id);
  const kept = row.status === 'succeeded' && row.mode === 'replace' && row.previous_database !== null;
  if (!kept || row.previous_dropped_at !== null) throw Errors.noKeptDatabase(row.id);
  const r = await dropPreviousDatabase({ pool: ctx.pool, services: ctx.services }, row);
  if (r.outcome === 'in-use') throw Errors.databaseInUse(row.previous_database as string, r.connections);
  if (r.outcome === 'no-target') throw Errors.targetNotFound(row.target_id ?? '(deleted)');
  return toRestore(r.restore);
}
