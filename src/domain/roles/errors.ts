import { defineError } from '../../errors.js';

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
    (field: string) => ({ field }),
  ),
};
