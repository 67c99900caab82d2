import type { Capability } from '../capability.js';
import { rewrapTask } from './rewrap-task.js';

export const encryption: Capability = { name: 'encryption', tasks: [rewrapTask], passes: [] };
