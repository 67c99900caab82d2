import type { Capability } from '../capability.js';
import { abandonedRunsPass } from './abandoned.js';
import { maintenanceTask } from './run-maintenance.js';

/** VACUUM and friends as jobs, and the maintenance window that gates the ones that lock tables. */
export const maintenance: Capability = { name: 'maintenance', tasks: [maintenanceTask], passes: [abandonedRunsPass] };
