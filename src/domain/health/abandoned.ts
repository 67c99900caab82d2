import { TaskFailures } from '../../task-failures.js';
import { abandonedWorkPass, settleAbandoned } from '../abandoned-work.js';
import type { CapabilityDeps } from '../capability.js';

/** Health reports whose job ended unsettled (src/domain/abandoned-work.ts) end `error`, not pending for ever. */
export async function settleAbandonedReports(deps: Pick<CapabilityDeps, 'pool'>): Promise<string[]> {
  const settled = await settleAbandoned<{ id: string }>(
    deps.pool,
    {
      table: 'health_reports',
      jobColumn: 'job_id',
      open: ['pending'],
      settle: "status = 'error', finished_at = now()",
      errorColumn: 'error',
    },
    TaskFailures.cancelled('health report'),
    's.id',
  );
  return settled.map((r) => r.id);
}

export const abandonedReportsPass = abandonedWorkPass('abandoned-health-reports', settleAbandonedReports);
