import type { Capability } from '../capability.js';
import { verifyTask } from './verify-task.js';

export const drills: Capability = { name: 'drills', tasks: [verifyTask] };
