import pg from 'pg';
import type { Test } from 'tap';
import { quoteIdent } from '../../src/sql/identifiers.js';
import { bearer, type TestApp } from '../helpers/app.js';
import { type AdminDatabase, adminSecret, createAdminDatabase, withClient } from './fixture.js';

export const USER_SCOPES = ['targets:read', 'targets:write', 'roles:read', 'roles:write', 'jobs:read'] as const;

/**
 * A role set as PUT .../role-sets/{name} leaves it (the rolesets helper's part): NOLOGIN group roles
 * `<set>_readonly` and `<set>_readwrite` made by the admin role with their grants, and the role_sets row.
 * Written here directly so the login-user tests do not depend on the role-set endpoint.
 */
export async function declareRoleSet(test: Pick<TestApp, 'db'>, admin: AdminDatabase, targetId: string, set: string) {
  await withClient(admin.cluster.clientConfig(admin.name, admin.admin.role, admin.admin.password), async (c) => {
    const ro = quoteIdent(`${set}_readonly`);
    const rw = quoteIdent(`${set}_readwrite`);
    await c.query(`CREATE ROLE ${ro} NOLOGIN; CREATE ROLE ${rw} NOLOGIN`);
    await c.query(`GRANT CONNECT ON DATABASE ${quoteIdent(admin.name)} TO ${ro}, ${rw}`);
    await c.query(`GRANT USAGE ON SCHEMA public TO ${ro}, ${rw}`);
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${ro}`);
    await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${rw}`);
    await c.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${rw}`);
  });
  const tenant = (
    await test.db.ownerQuery<{ tenant_id: string }>('SELECT tenant_id FROM targets WHERE id = $1', [targetId])
  )[0]?.tenant_id;
  await test.db.ownerQuery(
    `INSERT INTO role_sets (tenant_id, target_id, name, database, schemas, roles)
     VALUES ($1, $2, $3, $4, ARRAY['public'], ARRAY['readonly', 'readwrite'])`,
    [tenant, targetId, set, admin.name],
  );
}

/** A target on `admin`'s database with its admin secret, and role set `app_<suffix>` declared. */
export async function userTarget(
  t: Test,
  test: TestApp,
  opts: { cluster?: AdminDatabase['cluster']; tenant?: string; name?: string } = {},
) {
  const tenant = opts.tenant ?? 'acme';
  const admin = await createAdminDatabase(t, opts.cluster ?? test.db.cluster);
  const key = `${tenant}/admin-${admin.suffix}`;
  test.writeSecrets({ [key]: adminSecret(admin) });
  const token = test.token(tenant, [...USER_SCOPES]);
  const res = await test.app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(token),
    payload: { name: opts.name ?? `t-${admin.suffix}`, secretRef: `file:${key}`, adminSecretRef: `file:${key}` },
  });
  if (res.statusCode !== 201) throw new Error(`target: ${res.body}`);
  const targetId = res.json().id as string;
  const roleSet = `app_${admin.suffix}`;
  await declareRoleSet(test, admin, targetId, roleSet);
  return { admin, token, targetId, roleSet, suffix: admin.suffix };
}

export async function login(admin: AdminDatabase, username: string, password: string): Promise<pg.Client> {
  const client = new pg.Client(admin.cluster.clientConfig(admin.name, username, password));
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Whether the credentials log in: false for a refused password (28P01) or login (28000). */
export async function logsIn(admin: AdminDatabase, username: string, password: string): Promise<boolean> {
  try {
    await (await login(admin, username, password)).end();
    return true;
  } catch (err) {
    if (['28P01', '28000'].includes((err as { code?: string }).code ?? '')) return false;
    throw err;
  }
}
