import { createHash } from 'node:crypto';
import { inTenantScope, type Tx } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { enqueueTask } from '../../jobs/task.js';
import type { Job } from '../../jobs/types.js';
import { type Ctx, ownTenant, requireScopes } from '../context.js';
import type { StoredVerification } from '../drills/verification.js';
import { type BackupEncryptionView, backupEncryptionView } from '../encryption/backup-encryption.js';
import { isUuid } from '../ids.js';
import { getStartedJob } from '../jobs/service.js';
import { type JobView, toJobView } from '../jobs/view.js';
import { byCreatedAtAndId, listPage, listPagesByParent, type Page, type PageRequest } from '../pagination.js';
import { loadTargetRow } from '../targets/service.js';
import { withTargetAccess, withTargetClient } from '../targets/session.js';
import { backupPrefix } from './artifact-prefix.js';
import { resolveSelection } from './catalog.js';
import { type BackupOptions, type BackupOptionsInput, normaliseBackupOptions } from './options.js';
import {
  type BackupRow,
  type BackupStatus,
  insertBackup,
  insertIdempotencyKey,
  markBackupDeleted,
  selectBackup,
  selectBackupPage,
  selectBackupPagesByTargets,
  selectBackupPosture,
  selectBackupsByIds,
  selectIdempotencyKey,
  setBackupJob,
  setBackupPinned,
} from './queries.js';
import { backupTask } from './run-backup.js';

export type { BackupRow };

const START_BACKUP_OPERATION = 'startBackup';

export interface Backup {
  id: string;
  targetId: string | null;
  jobId: string | null;
  status: BackupStatus;
  format: BackupOptions['format'];
  options: BackupOptions;
  sizeBytes: number | null;
  sha256: string | null;
  serverVersion: string | null;
  toolVersion: string | null;
  tables: { schema: string; name: string; rows: number | null }[];
  globals: { sizeBytes: number; sha256: string; noRolePasswords: boolean } | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  completedAt: string | null;
  /** When a restore drill last checked this backup, and what it found (see domain/drills). */
  lastVerifiedAt: string | null;
  lastVerification: StoredVerification | null;
  /** Kept whatever retention says (PATCH /v1/backups/{id}). */
  pinned: boolean;
  /** The backup policy and tick that made it; both null for a manual backup. */
  policyId: string | null;
  tick: string | null;
  /** The retention rule that expired it, and when its artifacts were removed; null while it is kept. */
  expiredRule: string | null;
  expiredAt: string | null;
  /** Null when the artifact is stored unencrypted (domain/encryption). */
  encryption: BackupEncryptionView | null;
}

export const toBackup = (r: BackupRow): Backup => ({
  id: r.id,
  targetId: r.target_id,
  jobId: r.job_id,
  status: r.status,
  format: r.format,
  options: r.options,
  sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
  sha256: r.sha256,
  serverVersion: r.server_version,
  toolVersion: r.tool_version,
  tables: r.tables,
  globals: r.globals && {
    sizeBytes: r.globals.sizeBytes,
    sha256: r.globals.sha256,
    noRolePasswords: r.globals.noRolePasswords,
  },
  error: r.error,
  createdAt: r.created_at.toISOString(),
  completedAt: r.completed_at?.toISOString() ?? null,
  lastVerifiedAt: r.last_verified_at?.toISOString() ?? null,
  lastVerification: r.last_verification,
  pinned: r.pinned,
  policyId: r.policy_id,
  tick: r.tick?.toISOString() ?? null,
  expiredRule: r.expired_rule,
  expiredAt: r.expired_at?.toISOString() ?? null,
  encryption: backupEncryptionView(r.encryption),
});

const requestHash = (targetId: string, options: BackupOptions) =>
  createHash('sha256').update(JSON.stringify({ targetId, options })).digest('hex');

/**
 * Start a backup of a target: validate the options, check named tables and schemas against the
 * target's catalog, then create the backup record and its job in one transaction. With an
 * Idempotency-Key, a retry of the same request returns the original job.
 */
export async function startBackup(
  ctx: Ctx,
  targetId: string,
  input: BackupOptionsInput,
  idempotencyKey?: string,
): Promise<JobView> {
  requireScopes(ctx, 'backups:write');
  // REST's contract bounds the header; GraphQL's String does not, and the column's CHECK must not be the judge.
  if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 200)) {
    throw Errors.validation('idempotencyKey must be 1 to 200 characters.');
  }
  const scope = ownTenant(ctx);
  const options = normaliseBackupOptions(input);
  const target = await loadTargetRow(ctx, targetId);
  const hash = requestHash(target.id, options);
  if (idempotencyKey !== undefined) {
    const replay = await findIdempotentJob(ctx, idempotencyKey, hash);
    if (replay) return replay;
  }
  const named =
    options.tables.length + options.excludeTables.length + options.schemas.length + options.excludeSchemas.length;
  if (named > 0) {
    await withTargetAccess(ctx.services, target, (access) =>
      withTargetClient(access, (client) => resolveSelection(client, options)),
    );
  }
  try {
    return await inTenantScope(ctx.pool, scope, async (tx) => {
      const { job } = await enqueueBackup(tx, scope.tenantId, target.id, options);
      if (idempotencyKey !== undefined) {
        await tx.rows(insertIdempotencyKey(scope.tenantId, START_BACKUP_OPERATION, idempotencyKey, hash, job.id));
      }
      return toJobView(job);
    });
  } catch (err) {
    // Two requests with one key raced: the loser answers with the winner's job.
    if ((err as { code?: string }).code === '23505' && idempotencyKey !== undefined) {
      const replay = await findIdempotentJob(ctx, idempotencyKey, hash);
      if (replay) return replay;
    }
    throw err;
  }
}

/**
 * Create a backup record and its job inside the caller's transaction: what startBackup does after its
 * checks, and what a backup policy's scheduler does for a tick (then the record names its policy and
 * tick). The options must already be normalised; named tables are checked by the job itself.
 */
export async function enqueueBackup(
  tx: Tx,
  tenantId: string,
  targetId: string,
  options: BackupOptions,
  schedule?: { policyId: string; tick: Date },
): Promise<{ backup: BackupRow; job: Job }> {
  const backup = await tx.one<BackupRow>(insertBackup(tenantId, targetId, options, schedule));
  if (!backup) throw Errors.internal();
  const job = await enqueueTask(tx, backupTask, {
    tenantId,
    targetId,
    subjects: { backup: backup.id },
    payload: { backupId: backup.id },
  });
  await tx.rows(setBackupJob(backup.id, job.id));
  return { backup: { ...backup, job_id: job.id }, job };
}

async function findIdempotentJob(ctx: Ctx, key: string, hash: string): Promise<JobView | undefined> {
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.one<{ request_hash: string; job_id: string }>(selectIdempotencyKey(START_BACKUP_OPERATION, key)),
  );
  if (!row) return undefined;
  if (row.request_hash !== hash) throw Errors.idempotencyMismatch();
  return getStartedJob(ctx, row.job_id);
}

/** For work inside the caller's tenant transaction (jobs, the drill scheduler): the backup or undefined. */
export const findBackupRow = (tx: Tx, id: string): Promise<BackupRow | undefined> =>
  tx.one<BackupRow>(selectBackup(id));

/** The row itself, for services that act on a backup (restores, drills). No scope check: callers do it. */
export async function loadBackupRow(ctx: Ctx, id: string): Promise<BackupRow> {
  if (!isUuid(id)) throw Errors.backupNotFound(id);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one<BackupRow>(selectBackup(id)));
  if (!row) throw Errors.backupNotFound(id);
  return row;
}

export async function getBackup(ctx: Ctx, id: string): Promise<Backup> {
  requireScopes(ctx, 'backups:read');
  return toBackup(await loadBackupRow(ctx, id));
}

/** The visible backups among `ids` (for batch loads). Needs backups:read, like every read of a backup. */
export async function getBackupsByIds(ctx: Ctx, ids: string[]): Promise<Map<string, Backup>> {
  requireScopes(ctx, 'backups:read');
  const wanted = [...new Set(ids.filter(isUuid))];
  if (wanted.length === 0) return new Map();
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.rows<BackupRow>(selectBackupsByIds(wanted)));
  return new Map(rows.map((r) => [r.id, toBackup(r)]));
}

export async function listBackups(
  ctx: Ctx,
  q: PageRequest & { targetId?: string; status?: BackupStatus },
): Promise<Page<Backup>> {
  requireScopes(ctx, 'backups:read');
  if (q.targetId !== undefined && !isUuid(q.targetId)) throw Errors.validation('targetId must be a UUID');
  const filter = { targetId: q.targetId, status: q.status };
  return listPage(
    q,
    byCreatedAtAndId,
    (before, limit) =>
      inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.rows<BackupRow>(selectBackupPage(filter, before, limit))),
    toBackup,
  );
}

/** Pin (keep whatever retention says) or unpin a backup. Needs backups:write. */
export async function setBackupPinnedState(ctx: Ctx, id: string, pinned: boolean): Promise<Backup> {
  requireScopes(ctx, 'backups:write');
  if (!isUuid(id)) throw Errors.backupNotFound(id);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one<BackupRow>(setBackupPinned(id, pinned)));
  if (!row) throw Errors.backupNotFound(id);
  return toBackup(row);
}

/**
 * The same page of backups for each of several targets, in one query (GraphQL's Target.backups, batched
 * across a page of targets). Targets that are not the caller's simply have no rows.
 */
export async function listBackupsOfTargets(
  ctx: Ctx,
  targetIds: string[],
  q: PageRequest,
): Promise<Map<string, Page<Backup>>> {
  requireScopes(ctx, 'backups:read');
  const wanted = [...new Set(targetIds.filter(isUuid))];
  return listPagesByParent(
    q,
    wanted,
    byCreatedAtAndId,
    (row: BackupRow) => row.target_id ?? '',
    (before, limit) =>
      inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
        tx.rows<BackupRow>(selectBackupPagesByTargets(wanted, before, limit)),
      ),
    toBackup,
  );
}

/** Delete the artifact first, then mark the record: a record never claims an artifact that is gone. */
export async function deleteBackup(ctx: Ctx, id: string): Promise<Backup> {
  requireScopes(ctx, 'backups:write');
  const row = await loadBackupRow(ctx, id);
  if (row.status === 'pending' || row.status === 'running') throw Errors.backupNotDeletable(id, row.status);
  if (row.status === 'deleted' || row.status === 'expired') return toBackup(row);
  await ctx.services.storage.delete(backupPrefix(row.tenant_id, row.target_id ?? 'none', row.id));
  const deleted = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one<BackupRow>(markBackupDeleted(id)));
  return toBackup(deleted ?? (await loadBackupRow(ctx, id)));
}

export interface BackupPostureFacts {
  newestBackupAt: Date | null;
  newestDrill: { at: Date; verified: boolean; backupId: string } | null;
}

/**
 * What health reports read about a target's backups, inside the caller's tenant transaction: when its
 * newest available backup completed, and its newest restore drill with whether it verified.
 */
export async function backupPostureOf(tx: Tx, targetId: string): Promise<BackupPostureFacts> {
  const row = await tx.one<{
    newest_backup_at: Date | null;
    drilled_backup_id: string | null;
    last_verified_at: Date | null;
    verified: boolean | null;
  }>(selectBackupPosture(targetId));
  return {
    newestBackupAt: row?.newest_backup_at ?? null,
    newestDrill:
      row?.drilled_backup_id && row.last_verified_at
        ? { at: row.last_verified_at, verified: row.verified === true, backupId: row.drilled_backup_id }
        : null,
  };
}
