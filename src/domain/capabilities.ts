import { backupPolicies } from './backup-policies/capability.js';
import { backups } from './backups/capability.js';
import type { Capability } from './capability.js';
import { drills } from './drills/capability.js';
import { encryption } from './encryption/capability.js';
import { health } from './health/capability.js';
import { maintenance } from './maintenance/capability.js';
import { restores } from './restores/capability.js';
import { roles } from './roles/capability.js';

/** Every capability the runtime knows: adding one is its folder plus a line here. */
export const capabilities: readonly Capability[] = [
  backups,
  restores,
  drills,
  roles,
  backupPolicies,
  health,
  maintenance,
  encryption,
];
