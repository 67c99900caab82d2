import type { Capability } from '../capability.js';
import { restoreTask } from './run-restore.js';

export const restores: Capability = { name: 'restores', tasks: [restoreTask] };
