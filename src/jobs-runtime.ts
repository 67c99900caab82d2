import type pg from 'pg';
import type { Config } from './config.js';
import type { ConnectionSettings } from './db/pool.js';
import { capabilities } from './domain/capabilities.js';
import type { CapabilityDeps } from './domain/capability.js';
import type { Services } from './domain/services.js';
import { taskHandlers } from './jobs/task.js';
import { JobWorker, type WorkerLog } from './jobs/worker.js';

/** The job worker with every capability's tasks, configured from PGSTEWARD_WORKERS and friends. */
export function createJobWorker(o: {
  config: Config;
  pool: pg.Pool;
  listen: ConnectionSettings;
  services: Services;
  log?: WorkerLog;
}): JobWorker {
  const deps: CapabilityDeps = { pool: o.pool, services: o.services, config: o.config };
  return new JobWorker({
    pool: o.pool,
    listen: o.listen,
    handlers: taskHandlers(
      capabilities.flatMap((c) => c.tasks),
      deps,
    ),
    concurrency: o.config.jobs.workers,
    tenantMaxRunning: o.config.jobs.tenantMaxRunning,
    leaseMs: o.config.jobs.leaseMs,
    ...(o.log ? { log: o.log } : {}),
  });
}
