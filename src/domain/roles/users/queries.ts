import type { Sql } from '../../../db/tenant-scope.js';

export type Access = 'readonly' | 'readwrite' | 'migrations';

export interface RoleUserRow {
  id: string;
  tenant_id: string;
  target_id: string;
  name: string;
  role_set: string;
  access: Access;
  secret_ref: string;
  strategy: 'single' | 'alternating';
  state: 'creating' | 'active';
  creation_token: string;
  active_username: string;
  connection_limit: number | null;
  valid_until: Date | null;
  rotation_every_days: number | null;
  last_rotated_at: Date | null;
  next_rotation_at: Date | null;
  created_at: Date;
}

const COLUMNS = `id, tenant_id, target_id, name, role_set, access, secret_ref, strategy, state, creation_token,
  active_username, connection_limit, valid_until, rotation_every_days, last_rotated_at, next_rotation_at, created_at`;

export interface NewRoleUser {
  tenantId: string;
  targetId: string;
  name: string;
  roleSet: string;
  access: Access;
  secretRef: string;
  strategy: 'single' | 'alternating';
  connectionLimit: number | null;
  validUntil: Date | null;
  rotationEveryDays: number | null;
}

/** Step 1 of the create order: the row, in state creating. Nothing when the name is taken (the caller reads it). */
export const insertRoleUser = (u: NewRoleUser): Sql => ({
  text: `INSERT INTO role_users (tenant_id, target_id, name, role_set, access, secret_ref, strategy, active_username,
           connection_limit, valid_until, rotation_every_days)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $3, $8, $9, $10)
         ON CONFLICT (target_id, name) DO NOTHING
         RETURNING ${COLUMNS}`,
  values: [
    u.tenantId,
    u.targetId,
    u.name,
    u.roleSet,
    u.access,
    u.secretRef,
    u.strategy,
    u.connectionLimit,
    u.validUntil,
    u.rotationEveryDays,
  ],
});

export const selectRoleUser = (targetId: string, name: string): Sql => ({
  text: `SELECT ${COLUMNS} FROM role_users WHERE target_id = $1 AND name = $2`,
  values: [targetId, name],
});

export const selectRoleUserById = (id: string): Sql => ({
  text: `SELECT ${COLUMNS} FROM role_users WHERE id = $1`,
  values: [id],
});

/** A page of a target's users by name (unique per target). */
export const selectRoleUserPage = (targetId: string, afterName: string | undefined, limit: number): Sql => ({
  text: `SELECT ${COLUMNS} FROM role_users WHERE target_id = $1 AND ($2::text IS NULL OR name > $2)
         ORDER BY name LIMIT $3`,
  values: [targetId, afterName ?? null, limit + 1],
});

/** Users of many targets (GraphQL's Target.users), at most `perTarget` each, by name. */
export const selectRoleUsersByTargets = (targetIds: string[], perTarget: number): Sql => ({
  text: `SELECT ${COLUMNS} FROM (
           SELECT *, row_number() OVER (PARTITION BY target_id ORDER BY name) AS n
             FROM role_users WHERE target_id = ANY($1::uuid[])) ranked
         WHERE n <= $2 ORDER BY target_id, name`,
  values: [targetIds, perTarget],
});

/** The last step of the create order: the role and the secret both exist. */
export const markRoleUserActive = (id: string): Sql => ({
  text: `UPDATE role_users SET state = 'active', last_rotated_at = now(),
           next_rotation_at = now() + make_interval(days => rotation_every_days)
         WHERE id = $1 RETURNING ${COLUMNS}`,
  values: [id],
});

/**
 * A finished rotation: who AWSCURRENT names now, and when the next one is due. Fenced by the attempt: a
 * stale worker whose lease was taken over writes nothing (the attempt that owns the job records it).
 */
export const recordRotation = (id: string, activeUsername: string, jobId: string, attemptId: string): Sql => ({
  text: `UPDATE role_users SET active_username = $2, last_rotated_at = now(),
           next_rotation_at = now() + make_interval(days => rotation_every_days)
         WHERE id = $1
           AND EXISTS (SELECT 1 FROM jobs WHERE jobs.id = $3 AND jobs.attempt_id = $4 AND jobs.status = 'running')
         RETURNING ${COLUMNS}`,
  values: [id, activeUsername, jobId, attemptId],
});

export const deleteRoleUser = (id: string): Sql => ({
  text: 'DELETE FROM role_users WHERE id = $1 RETURNING id',
  values: [id],
});

/** Every tenant's users whose rotation is due (the leader's pass runs across tenants). */
export const selectDueRoleUsers = (now: Date, limit: number): Sql => ({
  text: `SELECT ${COLUMNS} FROM role_users
         WHERE state = 'active' AND next_rotation_at IS NOT NULL AND next_rotation_at <= $1
         ORDER BY next_rotation_at LIMIT $2`,
  values: [now, limit],
});

/** A queued or running rotation of this user, if any. */
export const selectRunningRotation = (userId: string): Sql => ({
  text: `SELECT id FROM jobs WHERE kind = 'role.rotate' AND status IN ('queued', 'running')
           AND subjects ->> 'loginUser' = $1 LIMIT 1`,
  values: [userId],
});

export interface RoleSetRef {
  name: string;
  database: string;
  roles: string[];
}

/** The role set a user joins (declared by PUT .../role-sets/{name}). */
export const selectRoleSetRef = (targetId: string, name: string): Sql => ({
  text: 'SELECT name, database, roles FROM role_sets WHERE target_id = $1 AND name = $2',
  values: [targetId, name],
});

/** A scheduled rotation was enqueued: push the due time out, so a failing rotation is retried hourly, not every pass. */
export const deferRotation = (id: string): Sql => ({
  text: `UPDATE role_users SET next_rotation_at = now() + interval '1 hour' WHERE id = $1`,
  values: [id],
});
