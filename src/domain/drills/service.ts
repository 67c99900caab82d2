import { inTenantScope, type Tx } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { enqueueTask } from '../../jobs/task.js';
import type { Job } from '../../jobs/types.js';
import { nextTick, parseSchedule } from '../../schedules/cron.js';
import { type BackupRow, findBackupRow } from '../backups/service.js';
import { type Ctx, ownTenant, requireScopes } from '../context.js';
import { isUuid } from '../ids.js';
import { type JobView, toJobView } from '../jobs/view.js';
import { loadTargetRow } from '../targets/service.js';
import {
  type DrillPolicyRow,
  deleteDrillPolicy as deleteDrillPolicySql,
  selectDrillPoliciesByTargets,
  selectDrillPolicy,
  upsertDrillPolicy,
} from './queries.js';
import { verifyTask } from './verify-task.js';

export interface DrillPolicy {
  targetId: string;
  schedule: string;
  timezone: string;
  /** The last tick the scheduler acted on (or when the policy was set). */
  lastTick: string | null;
  /** When the next drill is due; null if the schedule never fires again. */
  nextTick: string | null;
  createdAt: string;
  updatedAt: string;
}

export const toDrillPolicy = (r: DrillPolicyRow): DrillPolicy => {
  const next = nextTick(parseSchedule(r.schedule, r.timezone), r.last_tick ?? r.created_at);
  return {
    targetId: r.target_id,
    schedule: r.schedule,
    timezone: r.timezone,
    lastTick: r.last_tick?.toISOString() ?? null,
    nextTick: next?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
};

/**
 * Queue a drill of one backup inside the caller's transaction: a job of kind `verify` that restores it
 * into a scratch database and checks it. The backup must be available.
 */
export async function enqueueVerification(
  tx: Tx,
  backup: Pick<BackupRow, 'id' | 'tenant_id' | 'target_id'>,
  trigger: { by: 'api' } | { by: 'schedule'; tick: string },
): Promise<Job> {
  return enqueueTask(tx, verifyTask, {
    tenantId: backup.tenant_id,
    targetId: backup.target_id,
    subjects: { backup: backup.id },
    payload:
      trigger.by === 'schedule'
        ? { backupId: backup.id, trigger: 'schedule', tick: trigger.tick }
        : { backupId: backup.id, trigger: 'api' },
  });
}

/**
 * Start a restore drill of a backup: 202 with the verify job. Needs backups:write (a drill is work done
 * for a backup, like taking it). Another tenant's backup answers PGS_BACKUP_NOT_FOUND; one that is not
 * available answers PGS_BACKUP_NOT_AVAILABLE.
 */
export async function verifyBackup(ctx: Ctx, backupId: string): Promise<JobView> {
  requireScopes(ctx, 'backups:write');
  if (!isUuid(backupId)) throw Errors.backupNotFound(backupId);
  return inTenantScope(ctx.pool, ownTenant(ctx), async (tx) => {
    const backup = await findBackupRow(tx, backupId);
    if (!backup) throw Errors.backupNotFound(backupId);
    if (backup.status !== 'available') throw Errors.backupNotRestorable(backupId, backup.status);
    return toJobView(await enqueueVerification(tx, backup, { by: 'api' }));
  });
}

/** A target's drill policy; PGS_DRILL_POLICY_NOT_FOUND when it has none. Needs backups:read. */
export async function getDrillPolicy(ctx: Ctx, targetId: string): Promise<DrillPolicy> {
  requireScopes(ctx, 'backups:read');
  const target = await loadTargetRow(ctx, targetId);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.one<DrillPolicyRow>(selectDrillPolicy(target.id)),
  );
  if (!row) throw Errors.drillPolicyNotFound(targetId);
  return toDrillPolicy(row);
}

/**
 * Policies by target id (for batch loads): targets without one are absent from the map. Needs
 * backups:read, like getDrillPolicy.
 */
export async function getDrillPoliciesByTargets(ctx: Ctx, targetIds: string[]): Promise<Map<string, DrillPolicy>> {
  requireScopes(ctx, 'backups:read');
  const wanted = [...new Set(targetIds.filter(isUuid))];
  if (wanted.length === 0) return new Map();
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.rows<DrillPolicyRow>(selectDrillPoliciesByTargets(wanted)),
  );
  return new Map(rows.map((r) => [r.target_id, toDrillPolicy(r)]));
}

/**
 * Set (create or replace) a target's drill schedule: five-field cron in an IANA time zone (UTC by
 * default). The scheduler then drills the target's newest available backup at every tick. Needs
 * backups:write. Bad cron answers PGS_INVALID_SCHEDULE, a bad zone PGS_INVALID_TIMEZONE (both 400).
 */
export async function setDrillPolicy(
  ctx: Ctx,
  targetId: string,
  input: { schedule: string; timezone?: string | undefined },
): Promise<DrillPolicy> {
  requireScopes(ctx, 'backups:write');
  const scope = ownTenant(ctx);
  const timezone = input.timezone ?? 'UTC';
  parseSchedule(input.schedule, timezone);
  const target = await loadTargetRow(ctx, targetId);
  const row = await inTenantScope(ctx.pool, scope, (tx) =>
    tx.one<DrillPolicyRow>(upsertDrillPolicy(scope.tenantId, target.id, input.schedule.trim(), timezone)),
  );
  if (!row) throw Errors.internal();
  return toDrillPolicy(row);
}

/** Remove a target's drill policy; PGS_DRILL_POLICY_NOT_FOUND when it has none. Needs backups:write. */
export async function deleteDrillPolicy(ctx: Ctx, targetId: string): Promise<void> {
  requireScopes(ctx, 'backups:write');
  const target = await loadTargetRow(ctx, targetId);
  const gone = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one(deleteDrillPolicySql(target.id)));
  if (!gone) throw Errors.drillPolicyNotFound(targetId);
}
