import type { Capability } from '../capability.js';

/** Role work (issue 9): role sets run in the request; rotation tasks and passes join here. */
export const roles: Capability = { name: 'roles', tasks: [], passes: [] };
