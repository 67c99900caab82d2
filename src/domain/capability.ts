import type pg from 'pg';
import type { Config } from '../config.js';
import type { Task } from '../jobs/task.js';
import type { PeriodicPass } from '../schedules/leader.js';
import type { Services } from './services.js';

/** What a capability's task handlers and periodic passes are given by the process that runs them. */
export interface CapabilityDeps {
  pool: pg.Pool;
  services: Services;
  config: Config;
}

/**
 * What a capability contributes to the runtime, exported from its own folder (<capability>/capability.ts)
 * and listed once in capabilities.ts: the job kinds it runs, and the periodic work the one leader does
 * for it. A task or pass may ask for less than CapabilityDeps; it is given all of it.
 */
export interface Capability {
  readonly name: string;
  readonly tasks: readonly Task<CapabilityDeps>[];
  readonly passes: readonly PeriodicPass<CapabilityDeps>[];
}
