import type pg from 'pg';
import { inTenantScope } from '../../../db/tenant-scope.js';
import { Errors, isPgStewardError } from '../../../errors.js';
import { scramVerifier } from '../../../secrets/scram.js';
import { parseSecretRef } from '../../../secrets/secret-ref.js';
import { type Ctx, ownTenant, requireScopes } from '../../context.js';
import { loadTenantTarget, withAdminAccess } from '../admin-session.js';
import { UserErrors } from '../errors.js';
import { assertRoleName, roleMarker } from '../names.js';
import { generatePassword } from '../password.js';
import { loginSecretValue } from './login-secret.js';
import { ownRolesOnServer, userMarker } from './ownership.js';
import {
  type Access,
  deleteRoleUser,
  insertRoleUser,
  markRoleUserActive,
  type RoleSetRef,
  type RoleUserRow,
  selectRoleSetRef,
  selectRoleUser,
} from './queries.js';
import { alterRolePassword, commentOnRole, createLoginRole } from './server-queries.js';
import { CLONE_SUFFIX, cloneOf, type LoginUser, toLoginUser } from './view.js';

export interface LoginUserInput {
  name: string;
  roleSet: string;
  access: Access;
  secretRef: string;
  strategy?: 'single' | 'alternating';
  connectionLimit?: number;
  validUntil?: string;
  rotation?: { everyDays: number };
}

/** The points between the steps of the create order, where a test stands in for a crash. */
export type CreateStep = 'recorded' | 'secretWritten' | 'rolesCreated';
export interface CreateHooks {
  afterStep?(step: CreateStep): Promise<void> | void;
}

function checkedInput(input: LoginUserInput) {
  const strategy = input.strategy ?? 'alternating';
  const name = assertRoleName(input.name, {
    field: 'name',
    reserveBytes: strategy === 'alternating' ? CLONE_SUFFIX.length : 0,
  });
  parseSecretRef(input.secretRef);
  const validUntil = input.validUntil === undefined ? null : new Date(input.validUntil);
  if (validUntil !== null && Number.isNaN(validUntil.getTime()))
    throw Errors.validation('validUntil must be a date-time.');
  return { ...input, name, strategy, validUntil };
}

const sameRequest = (row: RoleUserRow, input: ReturnType<typeof checkedInput>) =>
  row.role_set === input.roleSet &&
  row.access === input.access &&
  row.secret_ref === input.secretRef &&
  row.strategy === input.strategy;

/**
 * Creates a login user. The order survives a crash at any point; a repeated request (same body) resumes,
 * a DELETE undoes, and either way the result is the role with its working password in the secret, or
 * neither:
 *
 * 1. The metadata row, state `creating`, with a random creation token. (Crash: a retry finds it.)
 * 2. The secret, its first version named by the token, holding a new password. A retry finds the version
 *    by the token and reuses the password; a secret without that version is someone else's (409).
 * 3. The role(s), in one transaction on the server: CREATE ROLE ... PASSWORD '<verifier>' IN ROLE
 *    <group>, and the marker comment. A retry finds them marked and sets the verifier again.
 * 4. The row becomes `active`.
 *
 * The password is generated here, written only to the secret, and reaches the server only as a verifier.
 */
export async function createLoginUserWith(
  ctx: Ctx,
  targetId: string,
  raw: LoginUserInput,
  hooks: CreateHooks = {},
): Promise<LoginUser> {
  requireScopes(ctx, 'roles:write');
  const { tenantId } = ownTenant(ctx);
  const input = checkedInput(raw);
  const target = await loadTenantTarget(ctx, targetId);
  const found = await inTenantScope(ctx.pool, { tenantId }, async (tx) => {
    const roleSet = await tx.one<RoleSetRef>(selectRoleSetRef(target.id, input.roleSet));
    if (!roleSet?.roles.includes(input.access)) throw UserErrors.roleSetMissing(input.roleSet, input.access);
    const inserted = await tx.one<RoleUserRow>(
      insertRoleUser({
        tenantId,
        targetId: target.id,
        name: input.name,
        roleSet: input.roleSet,
        access: input.access,
        secretRef: input.secretRef,
        strategy: input.strategy,
        connectionLimit: input.connectionLimit ?? null,
        validUntil: input.validUntil,
        rotationEveryDays: input.rotation?.everyDays ?? null,
      }),
    );
    const row = inserted ?? (await tx.one<RoleUserRow>(selectRoleUser(target.id, input.name)));
    if (row?.state !== 'creating' || (!inserted && !sameRequest(row, input))) {
      throw UserErrors.userExists(input.name);
    }
    return { roleSet, row, resumed: !inserted };
  });
  const { roleSet, row, resumed } = found;
  if (parseSecretRef(input.secretRef).scheme === 'file') {
    // A file key must be in the tenant's namespace before anything is written there.
    await ctx.services.secretBinding.assertBound(tenantId, input.secretRef);
  }
  await hooks.afterStep?.('recorded');

  await withAdminAccess(ctx, target, roleSet.database, async (client, session) => {
    assertRoleName(input.name, { adminRole: session.adminRole, field: 'name' });
    const owner = { tenantId, targetId: target.id, name: input.name };
    const roles = input.strategy === 'alternating' ? [input.name, cloneOf(input.name)] : [input.name];
    const present = await ownRolesOnServer(client, owner, roles).catch(async (err) => {
      await forgetIfNothingWritten(ctx, row);
      throw err;
    });
    const address = {
      host: session.access.endpoint.host,
      port: session.access.endpoint.port,
      dbname: roleSet.database,
    };
    const password = await writeFirstSecret(ctx, row, address, resumed).catch(async (err) => {
      if (isPgStewardError(err) && err.code === 'PGS_SECRET_EXISTS') await forgetIfNothingWritten(ctx, row);
      throw err;
    });
    await hooks.afterStep?.('secretWritten');
    await createRoles(client, {
      roles,
      present,
      group: `${roleSet.name}_${input.access}`,
      verifier: scramVerifier(password),
      marker: roleMarker(userMarker(owner)),
      connectionLimit: input.connectionLimit ?? null,
      validUntil: input.validUntil,
    });
  });
  await hooks.afterStep?.('rolesCreated');
  await ctx.services.secretBinding.assertBound(tenantId, input.secretRef);
  const active = await inTenantScope(ctx.pool, { tenantId }, (tx) => tx.one<RoleUserRow>(markRoleUserActive(row.id)));
  if (!active) throw UserErrors.userNotFound(input.name);
  return toLoginUser(active);
}

/** The secret's version with this user's creation token: written by pgsteward for this user, or absent. */
export function ourSecretVersion(ctx: Pick<Ctx, 'services'>, row: RoleUserRow) {
  return ctx.services.secrets.getSecretValue(row.secret_ref, { versionId: row.creation_token }).catch((err) => {
    if (isPgStewardError(err) && ['PGS_SECRET_NOT_FOUND', 'PGS_SECRET_VERSION_NOT_FOUND'].includes(err.code)) {
      return undefined;
    }
    throw err;
  });
}

/** Step 2: the secret's first version, or the one an interrupted attempt wrote (found by its token). */
async function writeFirstSecret(
  ctx: Ctx,
  row: RoleUserRow,
  address: { host: string; port: number; dbname: string },
  resumed: boolean,
): Promise<string> {
  const secrets = ctx.services.secrets;
  // Only a resumed create can have written it; a fresh one never reads a secret it did not make.
  const earlier = resumed ? await ourSecretVersion(ctx, row) : undefined;
  if (earlier !== undefined && typeof earlier.value.password === 'string') return earlier.value.password;
  const password = generatePassword();
  const tags = { [ctx.services.secretBinding.awsTagKey]: row.tenant_id };
  await secrets.createSecret(row.secret_ref, loginSecretValue(address, row.name, password), {
    clientRequestToken: row.creation_token,
    ...(parseSecretRef(row.secret_ref).scheme === 'aws-sm' ? { tags } : {}),
  });
  return password;
}

/** Step 3, one transaction: a crash leaves all of the user's roles, marked, or none. */
async function createRoles(
  client: pg.ClientBase,
  spec: {
    roles: string[];
    present: Set<string>;
    group: string;
    verifier: string;
    marker: string;
    connectionLimit: number | null;
    validUntil: Date | null;
  },
): Promise<void> {
  await client.query('BEGIN');
  try {
    for (const [i, role] of spec.roles.entries()) {
      // The first role holds the secret's password; an alternating twin gets one at its first rotation.
      const verifier = i === 0 ? spec.verifier : null;
      if (spec.present.has(role)) {
        if (verifier !== null) await client.query(alterRolePassword(role, verifier));
        continue;
      }
      await client.query(
        createLoginRole({
          name: role,
          group: spec.group,
          verifier,
          connectionLimit: spec.connectionLimit,
          validUntil: spec.validUntil,
        }),
      );
      await client.query(commentOnRole(role, spec.marker));
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** A create refused before anything of ours was written: the row goes, so the name is free again. */
async function forgetIfNothingWritten(ctx: Ctx, row: RoleUserRow): Promise<void> {
  if ((await ourSecretVersion(ctx, row)) !== undefined) return; // an earlier attempt wrote the secret: keep both
  await inTenantScope(ctx.pool, { tenantId: row.tenant_id }, (tx) => tx.one(deleteRoleUser(row.id)));
}
