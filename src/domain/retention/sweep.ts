import type pg from 'pg';
import { inTenantScope } from '../../db/tenant-scope.js';
import { backupPolicyMetrics } from '../../observability/backup-policy-metrics.js';
import type { LeaderLog } from '../../schedules/leader.js';
import { recordAuditEvent } from '../audit/service.js';
import { backupPrefix } from '../backups/artifact-prefix.js';
import type { Services } from '../services.js';
import { planTarget } from './candidates.js';
import type { Retention } from './plan.js';
import { claimForExpiry, markExpired, markLeftoversSwept, selectClaimed, selectFailedLeftovers } from './queries.js';

/** Who the audit trail names for retention's deletions. */
export const RETENTION_ACTOR = 'pgsteward:retention';

export interface SweptPolicy {
  id: string;
  tenant_id: string;
  target_id: string;
  timezone: string;
  retention: Retention;
  enabled: boolean;
}

export interface SweepResult {
  backupId: string;
  rule: string;
  outcome: 'expired' | 'swept' | 'failed';
}

/**
 * One retention sweep over the given policies (the leader passes every enabled one): plan each target,
 * claim what the plan deletes (recording the rule on the row), then for every claimed backup delete its
 * objects (the dump and the globals file, everything under its prefix) and only then mark the record
 * expired. A crash between the two leaves the claim, and the next sweep finishes it; deleting an object
 * already gone is a no-op, so a repeat is harmless. One backup's storage failure is logged and retried
 * next sweep; the others go on. Failed backups' leftovers (objects a dying attempt wrote) go the same way,
 * the record keeping its failed status. Every expiry is audited with its rule.
 */
export async function sweepRetention(
  deps: { pool: pg.Pool; services: Services },
  policies: readonly SweptPolicy[],
  now: Date,
  log?: Pick<LeaderLog, 'info' | 'warn'>,
): Promise<SweepResult[]> {
  const results: SweepResult[] = [];
  for (const policy of policies) {
    if (!policy.enabled) continue;
    const scope = { tenantId: policy.tenant_id };
    const pending = await inTenantScope(deps.pool, scope, async (tx) => {
      const { plan } = await planTarget(tx, policy, now);
      for (const entry of plan) {
        if (entry.action === 'delete') await tx.rows(claimForExpiry(entry.id, entry.rule));
      }
      return [
        ...(await tx.rows<Leftover>(selectClaimed(policy.target_id))),
        ...(await tx.rows<Leftover>(selectFailedLeftovers(policy.target_id))),
      ];
    });
    for (const backup of pending) {
      const rule = backup.expired_rule;
      try {
        await deps.services.storage.delete(backupPrefix(backup.tenant_id, backup.target_id, backup.id));
        if (backup.status === 'failed') await deps.services.storage.discardStaged(backup.id);
        const marked = await inTenantScope(deps.pool, scope, (tx) =>
          tx.one(backup.status === 'failed' ? markLeftoversSwept(backup.id) : markExpired(backup.id)),
        );
        if (!marked) continue; // another sweep finished it first
        const outcome = backup.status === 'failed' ? 'swept' : 'expired';
        results.push({ backupId: backup.id, rule, outcome });
        if (outcome === 'expired') backupPolicyMetrics.expired.inc({ rule });
        await recordAuditEvent(deps.pool, {
          tenantId: backup.tenant_id,
          actor: RETENTION_ACTOR,
          action: outcome === 'expired' ? `expireBackup:${rule}` : 'sweepFailedBackup',
          resource: `backups/${backup.id}`,
          outcome: 'success',
          statusCode: 200,
          requestId: null,
        });
      } catch (err) {
        results.push({ backupId: backup.id, rule, outcome: 'failed' });
        log?.warn(
          { backup: backup.id, tenant: backup.tenant_id, err },
          'retention could not delete a backup; retried next pass',
        );
      }
    }
  }
  const expired = results.filter((r) => r.outcome === 'expired').length;
  if (expired > 0) log?.info({ expired }, 'retention expired backups');
  return results;
}

interface Leftover {
  id: string;
  tenant_id: string;
  target_id: string;
  status: 'available' | 'failed';
  expired_rule: string;
}
