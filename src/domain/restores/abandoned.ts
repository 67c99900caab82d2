import { TaskFailures } from '../../task-failures.js';
import { abandonedWorkPass, settleAbandoned } from '../abandoned-work.js';
import type { CapabilityDeps } from '../capability.js';

/**
 * Restores whose job ended unsettled (src/domain/abandoned-work.ts) end `failed`. One cancelled while
 * queued created nothing. One whose last worker died may have left its work database on the target: the
 * record keeps its name (workDatabase) so it can be found; nothing was ever renamed to the requested name
 * unless the restore had finished, since that rename is its last step.
 */
export async function settleAbandonedRestores(deps: Pick<CapabilityDeps, 'pool'>): Promise<string[]> {
  const settled = await settleAbandoned<{ id: string }>(
    deps.pool,
    {
      table: 'restores',
      jobColumn: 'job_id',
      open: ['pending', 'running'],
      settle: "status = 'failed', completed_at = now()",
      errorColumn: 'error',
    },
    TaskFailures.cancelled('restore'),
    's.id',
  );
  return settled.map((r) => r.id);
}

export const abandonedRestoresPass = abandonedWorkPass('abandoned-restores', settleAbandonedRestores);
