import { defineError, isPgStewardError } from '../../errors.js';

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
