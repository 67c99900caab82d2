import type { RoleUserRow } from './queries.js';

/** A login user as the API shows it: where its credentials are, never what they are. */
export interface LoginUser {
  name: string;
  roleSet: string;
  access: RoleUserRow['access'];
  secretRef: string;
  strategy: RoleUserRow['strategy'];
  state: RoleUserRow['state'];
  activeUsername: string;
  connectionLimit: number | null;
  validUntil: string | null;
  rotationEveryDays: number | null;
  lastRotatedAt: string | null;
  nextRotationAt: string | null;
  createdAt: string;
}

export const toLoginUser = (r: RoleUserRow): LoginUser => ({
  name: r.name,
  roleSet: r.role_set,
  access: r.access,
  secretRef: r.secret_ref,
  strategy: r.strategy,
  state: r.state,
  activeUsername: r.active_username,
  connectionLimit: r.connection_limit,
  validUntil: r.valid_until?.toISOString() ?? null,
  rotationEveryDays: r.rotation_every_days,
  lastRotatedAt: r.last_rotated_at?.toISOString() ?? null,
  nextRotationAt: r.next_rotation_at?.toISOString() ?? null,
  createdAt: r.created_at.toISOString(),
});

/** `<name>_clone`: the twin an alternating user rotates onto. */
export const CLONE_SUFFIX = '_clone';
export const cloneOf = (name: string) => `${name}${CLONE_SUFFIX}`;

/** The server roles a user is made of. */
export const rolesOf = (r: Pick<RoleUserRow, 'name' | 'strategy'>): string[] =>
  r.strategy === 'alternating' ? [r.name, cloneOf(r.name)] : [r.name];
