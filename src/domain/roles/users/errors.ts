import { defineError, defineTaskFailure } from '../../../errors.js';

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
  userGone: defineTaskFailure(
    'PGS_LOGIN_USER_NOT_FOUND',
    (name: string) => `Login user '${name}' no longer exists; the rotation was dropped.`,
    final,
  ),
};
