import type pg from 'pg';
import { isAuthFailure } from '../../db/pg-errors.js';
import { Errors, isPgStewardError } from '../../errors.js';
import type { SslMode } from '../../pgtools/conninfo.js';
import type { DbSecret } from '../../secrets/db-secret.js';
import type { Services } from '../services.js';
import {
  connectToTarget,
  type TargetEndpoint,
  type ToolCredentials,
  targetClientConfig,
  withToolCredentials,
} from './connect.js';
import { type CheckedAddress, resolveTargetAddress } from './network-guard.js';
import type { TargetRow } from './queries.js';
import { assertNotReserved } from './reserved-endpoints.js';

const sameHost = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

/**
 * The secret's address wins: when a secret carries host or port, its credentials go there and nowhere
 * else. Without this, a target could keep a secret's user and password and name a host of its own.
 * Another database on the same server stays allowed: one credential often serves several databases.
 */
export function assertSecretAddress(
  target: Pick<TargetRow, 'name' | 'host' | 'port'>,
  secret: Pick<DbSecret, 'host' | 'port'>,
): void {
  if (secret.host !== undefined && target.host !== null && !sameHost(target.host, secret.host)) {
    throw Errors.secretAddressMismatch(
      `Target '${target.name}' names host '${target.host}', but its secret is for host '${secret.host}'; a secret's credentials are only sent to the secret's own host. Leave host unset or give the secret's.`,
    );
  }
  if (secret.port !== undefined && target.port !== null && target.port !== secret.port) {
    throw Errors.secretAddressMismatch(
      `Target '${target.name}' names port ${target.port}, but its secret is for port ${secret.port}; a secret's credentials are only sent to the secret's own port. Leave port unset or give the secret's.`,
    );
  }
}

/** Both of a target's secrets (backups' and role work's) must name one server where both name it. */
function assertSameServer(name: string, secret: DbSecret, admin: DbSecret): void {
  const hosts = secret.host !== undefined && admin.host !== undefined && !sameHost(secret.host, admin.host);
  const ports = secret.port !== undefined && admin.port !== undefined && secret.port !== admin.port;
  if (hosts || ports) {
    throw Errors.secretAddressMismatch(
      `Target '${name}': its admin secret is for ${admin.host ?? '(any host)'}:${admin.port ?? '(any port)'}, but its secret is for ${secret.host ?? '(any host)'}:${secret.port ?? '(any port)'}; both must name the same server.`,
    );
  }
}

/** Where a target really is: its own fields first, the secret's (RDS shape) for whatever it leaves out. */
export function targetEndpoint(target: TargetRow, secret: DbSecret): TargetEndpoint {
  assertSecretAddress(target, secret);
  const host = target.host ?? secret.host;
  if (!host) throw Errors.targetIncomplete(`Target '${target.name}' has no host, and neither has its secret.`);
  const database = target.database ?? secret.dbname;
  if (!database) {
    throw Errors.targetIncomplete(`Target '${target.name}' names no database, and neither does its secret (dbname).`);
  }
  return {
    host,
    port: target.port ?? secret.port ?? 5432,
    database,
    sslMode: target.ssl_mode as SslMode,
    ...(secret.sslrootcert ? { sslrootcert: secret.sslrootcert } : {}),
  };
}

// A refused login, whether a session saw it (SQLSTATE class 28) or connectToTarget translated it.
const loginRefused = (err: unknown) => isAuthFailure(err) || (isPgStewardError(err) && err.code === 'PGS_AUTH_FAILED');

export interface TargetAccess {
  endpoint: TargetEndpoint;
  checked: CheckedAddress;
  secret: DbSecret;
}

/**
 * Fetch the target's secret, resolve and check its address once, and run `use` with both. If the
 * credentials are refused, the secret is fetched again once (it may have been rotated) and `use` re-run.
 *
 * This is the one way to a tenant's secret: the secret must be the target's tenant's (checked before it
 * is fetched, at every use, since a tag can change), the target may not move its credentials to another
 * address, and the address may not be one of pgsteward's own servers.
 */
export async function withTargetAccess<T>(
  services: Services,
  target: TargetRow,
  use: (access: TargetAccess) => Promise<T>,
): Promise<T> {
  await services.secretBinding.assertBound(target.tenant_id, target.secret_ref);
  return withSecretAccess(services, target, target.secret_ref, use, true);
}

/**
 * withTargetAccess with another of the target's secrets (the admin credential of role work): the same
 * tenant binding, address rule, network policy and rotation retry, for `secretRef` instead of secret_ref.
 */
export async function withTargetSecretAccess<T>(
  services: Services,
  target: TargetRow,
  secretRef: string,
  use: (access: TargetAccess) => Promise<T>,
): Promise<T> {
  await services.secretBinding.assertBound(target.tenant_id, secretRef);
  return withSecretAccess(services, target, secretRef, use, true);
}

/**
 * An operator's server (the drill server): its secret belongs to no tenant, so it is not bound to one;
 * the network policy, the address rule and TLS apply as to any target.
 */
export function withOperatorServerAccess<T>(
  services: Services,
  server: TargetRow,
  use: (access: TargetAccess) => Promise<T>,
): Promise<T> {
  return withSecretAccess(services, server, server.secret_ref, use, false);
}

function withSecretAccess<T>(
  services: Services,
  target: TargetRow,
  secretRef: string,
  use: (access: TargetAccess) => Promise<T>,
  tenantOwned: boolean,
): Promise<T> {
  return services.secrets.withRotationRetry(
    secretRef,
    async (secret) => {
      const endpoint = targetEndpoint(target, secret);
      const checked = await resolveTargetAddress(endpoint.host, services.network);
      if (tenantOwned) await assertNotReserved(checked, endpoint.port, await services.reservedEndpoints());
      return use({ endpoint, checked, secret });
    },
    loginRefused,
  );
}

/**
 * Target create and update: refuse early what every use would refuse. The secret must be the tenant's
 * (PGS_SECRET_NOT_FOUND otherwise, like a missing one), the target may not move its credentials
 * (PGS_SECRET_ADDRESS_MISMATCH), and where its address resolves now, it may not be pgsteward's own.
 * An admin secret is held to the same rules, and where both secrets name a host or port, they must name
 * the same server: role work must happen on the server the target backs up.
 */
export async function vetTargetSecret(
  services: Services,
  tenantId: string,
  target: Pick<TargetRow, 'name' | 'host' | 'port' | 'secret_ref'> & { admin_secret_ref?: string | null },
): Promise<void> {
  await services.secretBinding.assertBound(tenantId, target.secret_ref);
  const secret = await services.secrets.get(target.secret_ref);
  assertSecretAddress(target, secret);
  if (target.admin_secret_ref) {
    await services.secretBinding.assertBound(tenantId, target.admin_secret_ref);
    const admin = await services.secrets.get(target.admin_secret_ref);
    assertSecretAddress(target, admin);
    assertSameServer(target.name, secret, admin);
  }
  const host = target.host ?? secret.host;
  if (host === undefined) return;
  // Unresolvable or refused by the network policy: every use refuses it, with that reason.
  const checked = await resolveTargetAddress(host, services.network).catch(() => undefined);
  if (checked === undefined) return;
  await assertNotReserved(checked, target.port ?? secret.port ?? 5432, await services.reservedEndpoints());
}

/**
 * The same target, credentials and checked address, but another database on that server: a restore
 * works on a database it creates, and manages databases from a session on another one.
 */
export function onDatabase(access: TargetAccess, database: string): TargetAccess {
  return { ...access, endpoint: { ...access.endpoint, database } };
}

/** A node-postgres session on the target, closed afterwards. */
export async function withTargetClient<T>(access: TargetAccess, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectToTarget(targetClientConfig(access.endpoint, access.checked, access.secret));
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A per-job passfile (0600) and conninfo for the PostgreSQL tools; both gone when `use` returns. */
export function withTargetTools<T>(access: TargetAccess, use: (tool: ToolCredentials) => Promise<T>): Promise<T> {
  return withToolCredentials(access.endpoint, access.checked, access.secret, use);
}

/**
 * withTargetTools for tools of a known major (the oldest among those that will use the conninfo): from
 * libpq 16 on, the conninfo carries require_auth, so the tools refuse cleartext and MD5 password requests.
 */
export function withTargetToolsFor<T>(
  access: TargetAccess,
  toolMajor: number,
  use: (tool: ToolCredentials) => Promise<T>,
): Promise<T> {
  return withToolCredentials(access.endpoint, access.checked, access.secret, use, toolMajor);
}
