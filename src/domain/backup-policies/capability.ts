import type pg from 'pg';
import { inTenantScope } from '../../db/tenant-scope.js';
import type { PeriodicPass } from '../../schedules/leader.js';
import type { Capability } from '../capability.js';
import { type SweptPolicy, sweepRetention } from '../retention/sweep.js';
import type { Services } from '../services.js';
import { type BackupPolicyRow, selectAllPolicies } from './queries.js';
import { scheduleDueBackups } from './scheduler.js';

/** Takes one backup per due tick of every enabled backup policy (see scheduleDueBackups). */
export const backupSchedulingPass: PeriodicPass<{ pool: pg.Pool }> = {
  name: 'backup-scheduling',
  async run(deps, now, log) {
    const done = await scheduleDueBackups(deps.pool, now, log);
    const enqueued = done.filter((d) => d.outcome === 'enqueued').length;
    if (enqueued > 0) log.info({ enqueued }, 'scheduled backups enqueued');
  },
};

/** Expires what each enabled policy's retention no longer keeps (see sweepRetention); once a minute. */
export const retentionSweepPass: PeriodicPass<{ pool: pg.Pool; services: Services }> = {
  name: 'retention-sweep',
  everyMs: 60_000,
  async run(deps, now, log) {
    const policies = await inTenantScope(deps.pool, { allTenants: true }, (tx) =>
      tx.rows<BackupPolicyRow>(selectAllPolicies()),
    );
    return sweepRetention(deps, policies satisfies SweptPolicy[], now, log);
  },
};

export const backupPolicies: Capability = {
  name: 'backup-policies',
  tasks: [],
  passes: [backupSchedulingPass, retentionSweepPass],
};
