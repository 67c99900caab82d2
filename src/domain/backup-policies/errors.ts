import { defineError } from '../../errors.js';

/** The backup-policies capability's own codes (the shared ones stay in src/errors.ts). */
export const PolicyErrors = {
  backupPolicyNotFound: defineError(
    'PGS_BACKUP_POLICY_NOT_FOUND',
    404,
    'Not Found',
    (targetId: string) => `Target '${targetId}' has no backup policy.`,
  ),
};
