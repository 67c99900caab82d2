import type pg from 'pg';
import type { Config } from './config.js';
import type { ConnectionSettings } from './db/pool.js';
import { capabilities } from './domain/capabilities.js';
import type { CapabilityDeps } from './domain/capability.js';
import type { Services } from './domain/services.js';
import { taskHandlers } from './jobs/task.js';
import { type JobEvents, JobWorker, type WorkerLog } from './jobs/worker.js';
import { Leader, type LeaderLog } from './schedules/leader.js';

/** The job worker with every capability's tasks, configured from PGSTEWARD_WORKERS and friends. */
export function createJobWorker(o: {
  config: Config;
  /** What tasks use for their own records (the API's pool). */
  pool: pg.Pool;
  /** The engine's own pool (claims, heartbeats, progress); the tasks' pool if not given. */
  enginePool?: pg.Pool;
  listen: ConnectionSettings;
  services: Services;
  log?: WorkerLog;
  events?: JobEvents;
}): JobWorker {
  const deps: CapabilityDeps = { pool: o.pool, services: o.services, config: o.config };
  return new JobWorker({
    pool: o.enginePool ?? o.pool,
    listen: o.listen,
    handlers: taskHandlers(
      capabilities.flatMap((c) => c.tasks),
      deps,
    ),
    concurrency: o.config.jobs.workers,
    tenantMaxRunning: o.config.jobs.tenantMaxRunning,
    leaseMs: o.config.jobs.leaseMs,
    ...(o.log ? { log: o.log } : {}),
    ...(o.events ? { events: o.events } : {}),
  });
}

/**
 * The leader candidate with every capability's periodic passes, every PGSTEWARD_LEADER_INTERVAL_SECONDS
 * by default. Run one in each process that runs jobs; replicas agree on one leader by advisory lock.
 */
export function createLeader(o: {
  config: Config;
  pool: pg.Pool;
  settings: ConnectionSettings;
  services: Services;
  log?: LeaderLog;
}): Leader<CapabilityDeps> {
  return new Leader<CapabilityDeps>({
    settings: o.settings,
    intervalMs: o.config.leader.intervalMs,
    deps: { pool: o.pool, services: o.services, config: o.config },
    passes: capabilities.flatMap((c) => c.passes),
    ...(o.log ? { log: o.log } : {}),
  });
}
