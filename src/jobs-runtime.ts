import type pg from 'pg';
import type { Config } from './config.js';
import type { ConnectionSettings } from './db/pool.js';
import { backupTask } from './domain/backups/run-backup.js';
import { BACKUP_JOB_KIND } from './domain/backups/service.js';
import { VERIFY_JOB_KIND } from './domain/drills/service.js';
import { verifyTask } from './domain/drills/verify-task.js';
import { restoreTask } from './domain/restores/run-restore.js';
import { RESTORE_JOB_KIND } from './domain/restores/service.js';
import type { Services } from './domain/services.js';
import { JobWorker, type WorkerLog } from './jobs/worker.js';

/** The job worker with every task pgsteward knows, configured from PGSTEWARD_WORKERS and friends. */
export function createJobWorker(o: {
  config: Config;
  pool: pg.Pool;
  listen: ConnectionSettings;
  services: Services;
  log?: WorkerLog;
}): JobWorker {
  return new JobWorker({
    pool: o.pool,
    listen: o.listen,
    handlers: {
      [BACKUP_JOB_KIND]: backupTask({ pool: o.pool, services: o.services }),
      [RESTORE_JOB_KIND]: restoreTask({
        pool: o.pool,
        services: o.services,
        keepHours: o.config.restores.replaceKeepHours,
      }),
      [VERIFY_JOB_KIND]: verifyTask({
        pool: o.pool,
        services: o.services,
        ...(o.config.drills.server ? { drillServer: o.config.drills.server } : {}),
      }),
    },
    concurrency: o.config.jobs.workers,
    tenantMaxRunning: o.config.jobs.tenantMaxRunning,
    leaseMs: o.config.jobs.leaseMs,
    ...(o.log ? { log: o.log } : {}),
  });
}
