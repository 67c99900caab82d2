import type { Capability } from '../capability.js';
import { rotateTask } from './users/rotate-task.js';
import { rotationPass } from './users/rotation-pass.js';

/** Role work (issue 9): role sets run in the request; rotation tasks and passes join here. */
export const roles: Capability = { name: 'roles', tasks: [rotateTask], passes: [rotationPass] };
