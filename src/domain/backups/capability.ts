import type { Capability } from '../capability.js';
import { abandonedBackupsPass } from './abandoned.js';
import { backupTask } from './run-backup.js';

export const backups: Capability = { name: 'backups', tasks: [backupTask], passes: [abandonedBackupsPass] };
