import type pg from 'pg';
import { UserErrors } from '../errors.js';
import { isMarkedAs } from '../names.js';
import { type ServerRole, selectRoles } from './server-queries.js';

export interface UserOwner {
  tenantId: string;
  targetId: string;
  name: string;
}

export const userMarker = (u: UserOwner) => ({ tenantId: u.tenantId, targetId: u.targetId, owner: `user:${u.name}` });

/**
 * Which of `names` exist on the server, refusing (409 PGS_ROLE_NOT_MANAGED) any that exists without this
 * user's marker or with a power attribute: pgsteward never alters or drops a role it did not create.
 * The metadata row is what says a user is ours; the marker is the server-side cross-check.
 */
export async function ownRolesOnServer(client: pg.ClientBase, owner: UserOwner, names: string[]): Promise<Set<string>> {
  const { rows } = await client.query<ServerRole>(selectRoles(names));
  for (const role of rows) {
    if (role.powerful || !isMarkedAs(role.comment, userMarker(owner))) throw UserErrors.roleTaken(role.name);
  }
  return new Set(rows.map((r) => r.name));
}
