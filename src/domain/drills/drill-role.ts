import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { Errors } from '../../errors.js';
import { createDbSecret } from '../../secrets/db-secret.js';
import { scramVerifier } from '../../secrets/scram.js';
import { quoteIdent, quoteLiteral } from '../../sql/identifiers.js';
import type { TargetAccess } from '../targets/session.js';

/**
 * On a drill server, the tenant's SQL (functions fired by CHECK constraints and triggers while rows load,
 * RLS policies while they are counted) runs as a role made for this one drill: LOGIN with a random
 * password, owner of the scratch database and of nothing else, no SUPERUSER, CREATEDB, CREATEROLE,
 * REPLICATION or BYPASSRLS, member of no role. Never as the drill secret's role, which needs CREATEDB
 * and CREATEROLE to set this up and may hold more (pg_read_server_files, membership in other roles).
 * The role carries the scratch database's name (roles and databases are separate namespaces), so a
 * retry finds what a dead attempt left, and dropScratchDatabase drops both.
 */

export interface DrillRole {
  username: string;
  password: string;
}

/**
 * Refuses a drill server whose role is a superuser (it could do anything a drill's SQL asks, and the
 * per-drill role would gain nothing), or lacks CREATEDB or CREATEROLE.
 */
export async function assertDrillServerRole(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ name: string; super: boolean; createrole: boolean; createdb: boolean }>(
    `SELECT rolname AS name, rolsuper AS super, rolcreaterole AS createrole, rolcreatedb AS createdb
       FROM pg_catalog.pg_roles WHERE rolname = current_user`,
  );
  const role = rows[0];
  if (!role) throw Errors.drillServerRole('its role is not in pg_roles');
  if (role.super) throw Errors.drillServerSuperuser(role.name);
  const missing = [role.createdb ? null : 'CREATEDB', role.createrole ? null : 'CREATEROLE'].filter(Boolean);
  if (missing.length > 0) throw Errors.drillServerRole(`role '${role.name}' lacks ${missing.join(' and ')}`);
}

/**
 * Creates the drill's role (named `name`) on the drill server, and lets the drill secret's role act as it
 * (GRANT ... TO CURRENT_USER), which CREATE DATABASE ... OWNER needs. Returns its credentials, which reach
 * the tools only through the per-job passfile.
 */
export async function createDrillRole(client: pg.ClientBase, name: string): Promise<DrillRole> {
  await assertDrillServerRole(client);
  const password = randomBytes(32).toString('hex');
  await client.query(
    // INHERIT: the database owner reaches the public schema through its implicit pg_database_owner role.
    `CREATE ROLE ${quoteIdent(name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS
       CONNECTION LIMIT 16 PASSWORD ${quoteLiteral(scramVerifier(password))}`,
  );
  await client.query(`GRANT ${quoteIdent(name)} TO CURRENT_USER`);
  return { username: name, password };
}

/** Drops the drill's role if it exists (after its database: a role that owns one cannot be dropped). */
export async function dropDrillRole(client: pg.ClientBase, name: string): Promise<void> {
  const { rows } = await client.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [name]);
  // Only where it exists: DROP ROLE IF EXISTS still needs CREATEROLE, which a target's role may lack.
  if (rows.length > 0) await client.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
}

/** The same server and database, logged in as the drill's role (a log-safe secret, as fetched ones are). */
export function asDrillRole(access: TargetAccess, role: DrillRole): TargetAccess {
  const secret = createDbSecret({ ...access.secret, username: role.username, password: role.password });
  return { ...access, secret };
}
