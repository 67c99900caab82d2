import { defineError, isPgStewardError } from '../../errors.js';
import { defineTaskFailure } from '../../task-failures.js';

/** Role work's own error codes (issue 9). Shared codes (validation, not found) stay in src/errors.ts. */
export const RoleErrors = {
  adminSecretRequired: defineError(
    'PGS_ADMIN_SECRET_REQUIRED',
    409,
    'Conflict',
    (target: string) =>
      `Target '${target}' has no adminSecretRef. Role work needs a credential of a role with CREATEROLE (on RDS, the master user); set adminSecretRef on the target.`,
  ),
  roleNameInvalid: defineError(
    'PGS_ROLE_NAME_INVALID',
    400,
    'Bad Request',
    (field: string, why: string) => `${field} is not a name pgsteward gives a role: ${why}.`,
  ),
  roleNotManaged: defineError(
    'PGS_ROLE_NOT_MANAGED',
    409,
    'Conflict',
    (role: string, why: string) => `Role '${role}' ${why}; pgsteward never alters or drops a role it did not create.`,
  ),
  roleSetNotFound: defineError(
    'PGS_ROLE_SET_NOT_FOUND',
    404,
    'Not Found',
    (name: string) => `Role set '${name}' was not found on this target.`,
  ),
  roleSetHasMembers: defineError(
    'PGS_ROLE_SET_HAS_MEMBERS',
    409,
    'Conflict',
    (members: { role: string; member: string }[]) =>
      `These roles are still members: ${members.map((m) => `${m.member} (of ${m.role})`).join(', ')}. Remove or delete them first.`,
    (members: { role: string; member: string; login: boolean }[]) => ({ members }),
  ),
  schemaNotFound: defineError(
    'PGS_SCHEMA_NOT_FOUND',
    400,
    'Bad Request',
    (schemas: string[], database: string) =>
      `No schema ${schemas.map((s) => `'${s}'`).join(', ')} in database '${database}'.`,
  ),
  databaseNotFound: defineError(
    'PGS_DATABASE_NOT_FOUND',
    400,
    'Bad Request',
    (database: string) => `Database '${database}' does not exist on the target's server.`,
  ),
  roleChangeRefused: defineError(
    'PGS_ROLE_CHANGE_REFUSED',
    422,
    'Unprocessable Content',
    (why: string) => `The server refused the change, and none of it was applied: ${why}`,
  ),
  roleSetBusy: defineError(
    'PGS_ROLE_SET_BUSY',
    409,
    'Conflict',
    () =>
      'The server held a lock the change needs for longer than its lock_timeout (or it ran past its statement_timeout); nothing was applied. Retry.',
  ),
  targetNotReached: defineError(
    'PGS_TARGET_NOT_REACHED',
    422,
    'Unprocessable Content',
    (why: string, _cause: string) =>
      `The target's server could not be worked on: ${why} Check the target and its secrets (POST /v1/targets/{id}/check).`,
    (_why: string, cause: string) => ({ cause }),
  ),
};

/**
 * A request that works on the tenant's server synchronously answers a refused login or a failed
 * connection as 422 PGS_TARGET_NOT_REACHED (the cause's code in `cause`): it is the target's
 * configuration, which the tenant fixes, not a fault of pgsteward's (a job keeps the original codes).
 */
export function asRequestFailure(err: unknown): unknown {
  if (isPgStewardError(err) && (err.code === 'PGS_AUTH_FAILED' || err.code === 'PGS_CONNECTION_FAILED')) {
    return RoleErrors.targetNotReached(err.message, err.code);
  }
  return err;
}

/** The login users' own codes (§3 and §4 of issue 9). */
export const UserErrors = {
  userNotFound: defineError(
    'PGS_LOGIN_USER_NOT_FOUND',
    404,
    'Not Found',
    (name: string) => `Login user '${name}' was not found on this target.`,
  ),
  userExists: defineError(
    'PGS_LOGIN_USER_EXISTS',
    409,
    'Conflict',
    (name: string) => `Login user '${name}' already exists on this target.`,
  ),
  roleSetMissing: defineError(
    'PGS_ROLE_SET_NOT_FOUND',
    404,
    'Not Found',
    (roleSet: string, access: string) =>
      `Role set '${roleSet}' with its ${access} role is not declared on this target; PUT the role set first.`,
  ),
  roleTaken: defineError(
    'PGS_ROLE_NOT_MANAGED',
    409,
    'Conflict',
    (role: string) =>
      `Role '${role}' already exists on the server and pgsteward did not create it; it is never altered or dropped.`,
  ),
  ownsObjects: defineError(
    'PGS_LOGIN_USER_OWNS_OBJECTS',
    409,
    'Conflict',
    (name: string, objects: string[]) =>
      `Login user '${name}' owns ${objects.length} object(s) (${objects.slice(0, 20).join(', ')}${objects.length > 20 ? ', …' : ''}); give reassignTo to hand them to another role.`,
    (_name: string, objects: string[]) => ({ ownedObjects: objects.slice(0, 100) }),
  ),
  terminateDenied: defineError(
    'PGS_TERMINATE_DENIED',
    409,
    'Conflict',
    (name: string) =>
      `The admin role may not end the sessions of '${name}'; grant it pg_signal_backend, or delete without terminateSessions.`,
  ),
  reassignDenied: defineError(
    'PGS_REASSIGN_DENIED',
    409,
    'Conflict',
    (to: string) => `The admin role may not hand objects to '${to}'; it needs that role's privileges.`,
  ),
  rotationRunning: defineError(
    'PGS_ROTATION_RUNNING',
    409,
    'Conflict',
    (name: string, jobId: string) => `A rotation of login user '${name}' is already queued or running (job ${jobId}).`,
  ),
};

const final = { retryable: false };
const retry = { retryable: true };

/** What a rotation job fails with; messages name roles and refs, never a password. */
export const RotationFailures = {
  foreignCurrent: defineTaskFailure(
    'PGS_ROTATION_SECRET_FOREIGN',
    (ref: string, username: string) =>
      `Secret '${ref}' names '${username}' as AWSCURRENT, which is not this login user's role; nothing was changed.`,
    final,
  ),
  loginRefused: defineTaskFailure(
    'PGS_ROTATION_LOGIN_FAILED',
    (username: string, why: string) =>
      `Logging in as '${username}' with the pending password failed (${why}); AWSCURRENT was not moved.`,
    retry,
  ),
  serverRefused: defineTaskFailure(
    'PGS_ROTATION_FAILED',
    (sqlState: string) =>
      `The target refused a rotation step (SQLSTATE ${sqlState}); it is retried from where it stopped.`,
    retry,
  ),
  userGone: defineTaskFailure(
    'PGS_LOGIN_USER_NOT_FOUND',
    (name: string) => `Login user '${name}' no longer exists; the rotation was dropped.`,
    final,
  ),
};
