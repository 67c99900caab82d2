import type { Sql } from '../../db/tenant-scope.js';

// SQL role work runs on a tenant's own server. Every name travels as a parameter here; the statements
// that cannot take parameters (CREATE ROLE, GRANT, ...) are built by the role-set planner with quoteIdent.

export const selectSessionUser = (): Sql => ({ text: 'SELECT session_user AS role', values: [] });
