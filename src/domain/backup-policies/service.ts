import { inTenantScope } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { nextTick, parseSchedule } from '../../schedules/cron.js';
import type { BackupOptions } from '../backups/options.js';
import type { Backup } from '../backups/service.js';
import { type Ctx, ownTenant, requireScopes } from '../context.js';
import { isUuid } from '../ids.js';
import { planTarget } from '../retention/candidates.js';
import type { DeleteReason, KeepReason, Retention } from '../retention/plan.js';
import { loadTargetRow } from '../targets/service.js';
import { PolicyErrors } from './errors.js';
import { type BackupPolicyInput, normalisePolicyInput } from './policy-input.js';
import {
  type BackupPolicyRow,
  deletePolicy,
  type PolicyRunRow,
  selectLastRuns,
  selectPoliciesByTargets,
  selectPolicy,
  upsertPolicy,
} from './queries.js';

export type { BackupPolicyInput };

/** How the newest tick went: skipped, or the status of the backup it started. */
export type RunOutcome = 'skipped' | 'pending' | 'running' | 'succeeded' | 'failed';

export interface BackupPolicy {
  targetId: string;
  schedule: string;
  timezone: string;
  options: BackupOptions;
  retention: Retention;
  verifyEvery: number | null;
  enabled: boolean;
  /** The last tick the scheduler acted on (or when the policy was set). */
  lastTick: string | null;
  /** When the next backup is due; null when disabled or when the schedule never fires again. */
  nextRun: string | null;
  lastRun: { tick: string; outcome: RunOutcome; reason: string | null; backupId: string | null } | null;
  createdAt: string;
  updatedAt: string;
}

const outcomeOf = (run: PolicyRunRow): RunOutcome => {
  if (run.outcome === 'skipped') return 'skipped';
  if (run.backup_status === 'pending' || run.backup_status === 'running') return run.backup_status;
  return run.backup_status === 'failed' ? 'failed' : 'succeeded';
};

const toPolicy = (r: BackupPolicyRow, run: PolicyRunRow | undefined): BackupPolicy => {
  const next = r.enabled ? nextTick(parseSchedule(r.schedule, r.timezone), r.last_tick ?? r.created_at) : null;
  return {
    targetId: r.target_id,
    schedule: r.schedule,
    timezone: r.timezone,
    options: r.options,
    retention: r.retention,
    verifyEvery: r.verify_every,
    enabled: r.enabled,
    lastTick: r.last_tick?.toISOString() ?? null,
    nextRun: next?.toISOString() ?? null,
    lastRun: run
      ? { tick: run.tick.toISOString(), outcome: outcomeOf(run), reason: run.reason, backupId: run.backup_id }
      : null,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
};

async function withLastRuns(ctx: Ctx, rows: BackupPolicyRow[]): Promise<BackupPolicy[]> {
  if (rows.length === 0) return [];
  const runs = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.rows<PolicyRunRow>(selectLastRuns(rows.map((r) => r.id))),
  );
  const byPolicy = new Map(runs.map((r) => [r.policy_id, r]));
  return rows.map((r) => toPolicy(r, byPolicy.get(r.id)));
}

async function loadPolicyRow(ctx: Ctx, targetId: string): Promise<BackupPolicyRow> {
  const target = await loadTargetRow(ctx, targetId);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one<BackupPolicyRow>(selectPolicy(target.id)));
  if (!row) throw PolicyErrors.backupPolicyNotFound(targetId);
  return row;
}

/** A target's backup policy with its next and last run; PGS_BACKUP_POLICY_NOT_FOUND without one. Needs backups:read. */
export async function getBackupPolicy(ctx: Ctx, targetId: string): Promise<BackupPolicy> {
  requireScopes(ctx, 'backups:read');
  const [policy] = await withLastRuns(ctx, [await loadPolicyRow(ctx, targetId)]);
  if (!policy) throw Errors.internal();
  return policy;
}

/** Policies by target id (GraphQL batch loads); targets without one are absent. Needs backups:read. */
export async function getBackupPoliciesByTargets(ctx: Ctx, targetIds: string[]): Promise<Map<string, BackupPolicy>> {
  requireScopes(ctx, 'backups:read');
  const wanted = [...new Set(targetIds.filter(isUuid))];
  if (wanted.length === 0) return new Map();
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.rows<BackupPolicyRow>(selectPoliciesByTargets(wanted)),
  );
  return new Map((await withLastRuns(ctx, rows)).map((p) => [p.targetId, p]));
}

/**
 * Set (create or replace) a target's backup policy. The schedule and zone are checked as for drills
 * (PGS_INVALID_SCHEDULE, PGS_INVALID_TIMEZONE), the options as for POST .../backups; named tables are
 * checked by each backup when it runs. The schedule counts from now. Needs backups:write.
 */
export async function setBackupPolicy(ctx: Ctx, targetId: string, input: BackupPolicyInput): Promise<BackupPolicy> {
  requireScopes(ctx, 'backups:write');
  const scope = ownTenant(ctx);
  const fields = normalisePolicyInput(input);
  const target = await loadTargetRow(ctx, targetId);
  const row = await inTenantScope(ctx.pool, scope, (tx) =>
    tx.one<BackupPolicyRow>(upsertPolicy(scope.tenantId, target.id, fields)),
  );
  if (!row) throw Errors.internal();
  const [policy] = await withLastRuns(ctx, [row]);
  if (!policy) throw Errors.internal();
  return policy;
}

/**
 * Remove a target's backup policy: no more scheduled backups, and no more retention (nothing is deleted
 * without a policy). Its backups stay, still marked with their tick. Needs backups:write.
 */
export async function deleteBackupPolicy(ctx: Ctx, targetId: string): Promise<void> {
  requireScopes(ctx, 'backups:write');
  const target = await loadTargetRow(ctx, targetId);
  const gone = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one(deletePolicy(target.id)));
  if (!gone) throw PolicyErrors.backupPolicyNotFound(targetId);
}

export interface RetentionPlanEntry {
  backupId: string;
  createdAt: string;
  status: Backup['status'];
  scheduled: boolean;
  action: 'keep' | 'delete';
  /** Every rule that keeps it (keepDaily, newest, pinned, ...), or the one rule that deletes it. */
  rules: (KeepReason | DeleteReason | 'in-progress')[];
}

export interface RetentionPlan {
  targetId: string;
  timezone: string;
  retention: Retention;
  /** False when the policy is disabled: then the sweep deletes nothing, whatever the plan says. */
  enabled: boolean;
  evaluatedAt: string;
  items: RetentionPlanEntry[];
}

/**
 * Dry run of retention now: every live backup of the target, newest first, kept (by which rules) or
 * deleted (by which rule). Backups still pending or running are listed as kept ('in-progress'). Needs
 * backups:read.
 */
export async function getRetentionPlan(ctx: Ctx, targetId: string, now: Date = new Date()): Promise<RetentionPlan> {
  requireScopes(ctx, 'backups:read');
  const policy = await loadPolicyRow(ctx, targetId);
  const { plan, rows } = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => planTarget(tx, policy, now));
  const fate = new Map(plan.map((e) => [e.id, e]));
  const items = rows.map((r): RetentionPlanEntry => {
    const e = fate.get(r.id);
    const base = {
      backupId: r.id,
      createdAt: r.created_at.toISOString(),
      status: r.status as Backup['status'],
      scheduled: r.scheduled,
    };
    if (!e) return { ...base, action: 'keep', rules: ['in-progress'] };
    return e.action === 'keep'
      ? { ...base, action: 'keep', rules: e.rules }
      : { ...base, action: 'delete', rules: [e.rule] };
  });
  return {
    targetId: policy.target_id,
    timezone: policy.timezone,
    retention: policy.retention,
    enabled: policy.enabled,
    evaluatedAt: now.toISOString(),
    items,
  };
}
