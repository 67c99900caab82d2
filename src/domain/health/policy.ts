import { inTenantScope } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { nextTick, parseSchedule } from '../../schedules/cron.js';
import { type Ctx, ownTenant, requireScopes } from '../context.js';
import { loadTargetRow } from '../targets/service.js';
import { effectiveThresholds, type Thresholds, thresholdProblems } from './checks/index.js';
import { HealthErrors } from './errors.js';
import {
  deleteHealthPolicy as deleteHealthPolicySql,
  type HealthPolicyRow,
  selectHealthPolicy,
  upsertHealthPolicy,
} from './queries.js';

export const DEFAULT_KEEP_DAYS = 30;

export interface HealthPolicy {
  targetId: string;
  /** The overrides as set. */
  thresholds: Thresholds;
  /** Every check's thresholds in force: PgHero-style defaults with the overrides on top. */
  effectiveThresholds: Thresholds;
  schedule: string | null;
  timezone: string;
  keepDays: number;
  nextTick: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface HealthPolicyInput {
  thresholds?: Record<string, Record<string, unknown>> | undefined;
  schedule?: string | null | undefined;
  timezone?: string | undefined;
  keepDays?: number | undefined;
}

export function toHealthPolicy(r: HealthPolicyRow): HealthPolicy {
  const next = r.schedule ? nextTick(parseSchedule(r.schedule, r.timezone), r.last_tick ?? r.created_at) : null;
  return {
    targetId: r.target_id,
    thresholds: r.thresholds,
    effectiveThresholds: effectiveThresholds(r.thresholds),
    schedule: r.schedule,
    timezone: r.timezone,
    keepDays: r.keep_days,
    nextTick: next?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** A target's health policy; PGS_HEALTH_POLICY_NOT_FOUND when it has none. Needs health:read. */
export async function getHealthPolicy(ctx: Ctx, targetId: string): Promise<HealthPolicy> {
  requireScopes(ctx, 'health:read');
  const target = await loadTargetRow(ctx, targetId);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.one<HealthPolicyRow>(selectHealthPolicy(target.id)),
  );
  if (!row) throw HealthErrors.policyNotFound(targetId);
  return toHealthPolicy(row);
}

/**
 * Set (create or replace) a target's health policy: threshold overrides per check id, an optional
 * report schedule (five-field cron in an IANA zone, validated like drill policies) and how many days of
 * history to keep. Needs health:write. Unknown check ids or keys answer PGS_INVALID_THRESHOLDS.
 */
export async function setHealthPolicy(ctx: Ctx, targetId: string, input: HealthPolicyInput): Promise<HealthPolicy> {
  requireScopes(ctx, 'health:write');
  const scope = ownTenant(ctx);
  const thresholds = input.thresholds ?? {};
  const problems = thresholdProblems(thresholds);
  if (problems.length > 0) throw HealthErrors.invalidThresholds(problems);
  const timezone = input.timezone ?? 'UTC';
  const schedule = input.schedule?.trim() || null;
  if (schedule !== null) parseSchedule(schedule, timezone);
  const keepDays = input.keepDays ?? DEFAULT_KEEP_DAYS;
  if (!Number.isInteger(keepDays) || keepDays < 1 || keepDays > 3650) {
    throw Errors.validation('keepDays must be a whole number from 1 to 3650');
  }
  const target = await loadTargetRow(ctx, targetId);
  const row = await inTenantScope(ctx.pool, scope, (tx) =>
    tx.one<HealthPolicyRow>(
      upsertHealthPolicy(scope.tenantId, target.id, { thresholds, schedule, timezone, keepDays }),
    ),
  );
  if (!row) throw Errors.internal();
  return toHealthPolicy(row);
}

/** Remove a target's health policy (defaults apply again, no schedule). Needs health:write. */
export async function deleteHealthPolicy(ctx: Ctx, targetId: string): Promise<void> {
  requireScopes(ctx, 'health:write');
  const target = await loadTargetRow(ctx, targetId);
  const gone = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one(deleteHealthPolicySql(target.id)));
  if (!gone) throw HealthErrors.policyNotFound(targetId);
}
