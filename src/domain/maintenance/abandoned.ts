import { abandonedWorkPass, settleAbandoned } from '../abandoned-work.js';
import type { CapabilityDeps } from '../capability.js';
import { MaintenanceFailures } from './errors.js';

/**
 * Maintenance runs whose job ended unsettled (src/domain/abandoned-work.ts): `cancelled` when the job was
 * cancelled before it ran a statement, else `failed`; never pending or running for ever.
 */
export async function settleAbandonedRuns(deps: Pick<CapabilityDeps, 'pool'>): Promise<string[]> {
  const settled = await settleAbandoned<{ id: string }>(
    deps.pool,
    {
      table: 'maintenance_runs',
      jobColumn: 'id',
      open: ['pending', 'running'],
      settle: "status = CASE WHEN j.status = 'cancelled' THEN 'cancelled' ELSE 'failed' END, completed_at = now()",
      errorColumn: 'error',
    },
    MaintenanceFailures.cancelled('The maintenance was cancelled before it ran a statement.'),
    's.id',
  );
  return settled.map((r) => r.id);
}

export const abandonedRunsPass = abandonedWorkPass('abandoned-maintenance-runs', settleAbandonedRuns);
