import type pg from 'pg';
import type { PeriodicPass } from '../../schedules/leader.js';
import type { Capability } from '../capability.js';
import { scheduleDueDrills } from './scheduler.js';
import { verifyTask } from './verify-task.js';

/** Enqueues a drill for every drill policy whose tick is due (see scheduleDueDrills). */
export const drillSchedulingPass: PeriodicPass<{ pool: pg.Pool }> = {
  name: 'drill-scheduling',
  async run(deps, now, log) {
    const done = await scheduleDueDrills(deps.pool, now, log);
    const enqueued = done.filter((d) => d.outcome === 'enqueued').length;
    if (enqueued > 0) log.info({ enqueued }, 'drills enqueued');
  },
};

export const drills: Capability = { name: 'drills', tasks: [verifyTask], passes: [drillSchedulingPass] };
