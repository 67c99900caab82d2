import type pg from 'pg';
import type { PeriodicPass } from '../../schedules/leader.js';
import type { Capability } from '../capability.js';
import type { Services } from '../services.js';
import { abandonedRestoresPass } from './abandoned.js';
import { expirePreviousDatabases } from './expire-previous.js';
import { restoreTask } from './run-restore.js';

/**
 * Drops the databases replace restores kept past keepUntil (PGSTEWARD_REPLACE_KEEP_HOURS). Once across
 * replicas, by the leader; a database with open connections is left for a later pass.
 */
export const keptDatabaseExpiryPass: PeriodicPass<{ pool: pg.Pool; services: Services }> = {
  name: 'kept-database-expiry',
  run: (deps, now, log) => expirePreviousDatabases(deps, now, log),
};

export const restores: Capability = {
  name: 'restores',
  tasks: [restoreTask],
  passes: [keptDatabaseExpiryPass, abandonedRestoresPass],
};
