import type pg from 'pg';
import type { Config } from '../config.js';
import type { Task } from '../jobs/task.js';
import type { Services } from './services.js';

/** What a capability's task handlers are given by the process that runs them. */
export interface CapabilityDeps {
  pool: pg.Pool;
  services: Services;
  config: Config;
}

/**
 * What a capability contributes to the runtime, exported from its own folder (<capability>/capability.ts)
 * and listed once in capabilities.ts: the job kinds it runs. A task may ask for less than
 * CapabilityDeps; it is given all of it.
 */
export interface Capability {
  readonly name: string;
  readonly tasks: readonly Task<CapabilityDeps>[];
}
