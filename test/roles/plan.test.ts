// The role-set planner is pure: a catalog snapshot and a declaration in, ordered SQL and drift out.
import fc from 'fast-check';
import t from 'tap';
import { roleMarker } from '../../src/domain/roles/names.js';
import type { CatalogRole, CatalogSnapshot } from '../../src/domain/roles/role-sets/catalog.js';
import { planRoleSet, type RoleSetDeclaration } from '../../src/domain/roles/role-sets/plan.js';
import { quoteQualified } from '../../src/sql/identifiers.js';

const TARGET = '0b6c0d3e-8d8b-4b5e-9a51-4c1f0f7b0e11';
const declared: RoleSetDeclaration = {
  name: 'app',
  database: 'app_db',
  schemas: ['public'],
  roles: ['readonly', 'readwrite', 'migrations'],
};

const snapshot = (over: Partial<CatalogSnapshot> = {}): CatalogSnapshot => ({
  database: 'app_db',
  serverMajor: 15,
  adminRole: 'master',
  roles: new Map(),
  schemas: new Set(['public']),
  relations: [],
  grants: [],
  members: [],
  ...over,
});

const ours = (name: string): CatalogRole => ({
  name,
  login: false,
  superuser: false,
  createRole: false,
  createDb: false,
  replication: false,
  bypassRls: false,
  comment: roleMarker({ tenantId: 'acme', targetId: TARGET, owner: 'role-set:app' }),
  adminUsage: true,
  adminSet: true,
});

const plan = (s: CatalogSnapshot, previous?: RoleSetDeclaration) =>
  planRoleSet({ declared, previous, snapshot: s, tenantId: 'acme', targetId: TARGET });

t.test('an empty server gets roles, memberships, container grants, then relation grants, then defaults', async (t) => {
  const p = plan(
    snapshot({
      relations: [
        { schema: 'public', name: 'users', kind: 'table', owner: 'master', linked: false },
        { schema: 'public', name: 'users_id_seq', kind: 'sequence', owner: 'master', linked: true },
      ],
    }),
  );
  t.same(p.statements, [
    'CREATE ROLE "app_readonly" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
    `COMMENT ON ROLE "app_readonly" IS 'pgsteward:managed tenant=acme target=${TARGET} owner=role-set:app'`,
    'CREATE ROLE "app_readwrite" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
    `COMMENT ON ROLE "app_readwrite" IS 'pgsteward:managed tenant=acme target=${TARGET} owner=role-set:app'`,
    'CREATE ROLE "app_migrations" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
    `COMMENT ON ROLE "app_migrations" IS 'pgsteward:managed tenant=acme target=${TARGET} owner=role-set:app'`,
    'GRANT "app_migrations" TO "master"',
    'GRANT CONNECT ON DATABASE "app_db" TO "app_readonly"',
    'GRANT USAGE ON SCHEMA "public" TO "app_readonly"',
    'GRANT CONNECT ON DATABASE "app_db" TO "app_readwrite"',
    'GRANT USAGE ON SCHEMA "public" TO "app_readwrite"',
    'GRANT CONNECT ON DATABASE "app_db" TO "app_migrations"',
    'GRANT CREATE, USAGE ON SCHEMA "public" TO "app_migrations"',
    'ALTER TABLE "public"."users" OWNER TO "app_migrations"',
    'GRANT SELECT ON TABLE "public"."users" TO "app_readonly"',
    'GRANT USAGE, SELECT ON SEQUENCE "public"."users_id_seq" TO "app_readonly"',
    'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."users" TO "app_readwrite"',
    'GRANT USAGE, SELECT ON SEQUENCE "public"."users_id_seq" TO "app_readwrite"',
    'ALTER DEFAULT PRIVILEGES FOR ROLE "app_migrations" IN SCHEMA "public" GRANT SELECT ON TABLES TO "app_readonly"',
    'ALTER DEFAULT PRIVILEGES FOR ROLE "app_migrations" IN SCHEMA "public" GRANT USAGE, SELECT ON SEQUENCES TO "app_readonly"',
    'ALTER DEFAULT PRIVILEGES FOR ROLE "app_migrations" IN SCHEMA "public" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "app_readwrite"',
    'ALTER DEFAULT PRIVILEGES FOR ROLE "app_migrations" IN SCHEMA "public" GRANT USAGE, SELECT ON SEQUENCES TO "app_readwrite"',
  ]);
  t.equal(p.drift.inSync, false);
});

t.test('from 16 on, new roles come with a usable self-grant instead of a GRANT', async (t) => {
  const p = plan(snapshot({ serverMajor: 18 }));
  t.equal(p.statements[0], `SET LOCAL createrole_self_grant = 'set, inherit'`);
  t.notOk(p.statements.some((s) => s.startsWith('GRANT "app_migrations"')));
});

t.test('an existing role pgsteward does not know is refused, even with a forged marker', async (t) => {
  t.throws(() => plan(snapshot({ roles: new Map([['app_readonly', ours('app_readonly')]]) })), {
    code: 'PGS_ROLE_NOT_MANAGED',
  });
  const foreign = { ...ours('app_readonly'), comment: 'made by hand' };
  t.throws(() => plan(snapshot({ roles: new Map([['app_readonly', foreign]]) }), declared), {
    code: 'PGS_ROLE_NOT_MANAGED',
  });
  const report = planRoleSet({
    declared,
    previous: declared,
    snapshot: snapshot({ roles: new Map([['app_readonly', foreign]]) }),
    tenantId: 'acme',
    targetId: TARGET,
    report: true,
  });
  t.same(report.drift.foreignRoles, ['app_readonly']);
  t.same(report.statements, [], 'nothing planned');
});

t.test('power attributes on a managed role are drift and are removed', async (t) => {
  const roles = new Map(
    ['app_readonly', 'app_readwrite', 'app_migrations'].map((n) => [n, ours(n)] as [string, CatalogRole]),
  );
  roles.set('app_readwrite', { ...ours('app_readwrite'), login: true, createDb: true });
  const p = plan(snapshot({ roles }), declared);
  t.same(p.drift.roleAttributes, [{ role: 'app_readwrite', attributes: ['LOGIN', 'CREATEDB'] }]);
  t.ok(p.statements.includes('ALTER ROLE "app_readwrite" NOLOGIN NOCREATEDB'));
});

t.test('every relation name reaches SQL quoted, whatever it holds (property)', async (t) => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 63 }).filter((s) => !s.includes('\0')),
      fc.string({ minLength: 1, maxLength: 63 }).filter((s) => !s.includes('\0')),
      (schema, name) => {
        const p = planRoleSet({
          declared: { ...declared, schemas: [schema] },
          previous: undefined,
          snapshot: snapshot({
            schemas: new Set([schema]),
            relations: [{ schema, name, kind: 'table', owner: 'master', linked: false }],
          }),
          tenantId: 'acme',
          targetId: TARGET,
        });
        const mentions = p.statements.filter((s) => s.includes(quoteQualified(schema, name)));
        // ALTER OWNER, readonly's and readwrite's GRANTs.
        return mentions.length === 3;
      },
    ),
  );
  t.pass('held');
});

t.test('a schema left out of the declaration loses the privileges of the set there', async (t) => {
  const roles = new Map(
    ['app_readonly', 'app_readwrite', 'app_migrations'].map((n) => [n, ours(n)] as [string, CatalogRole]),
  );
  const before = { ...declared, schemas: ['public', 'billing'] };
  const p = plan(
    snapshot({
      roles,
      schemas: new Set(['public', 'billing']),
      grants: [
        { on: 'schema', object: 'billing', grantee: 'app_readonly', privilege: 'USAGE' },
        {
          on: 'table',
          object: 'billing.invoices',
          relation: { schema: 'billing', name: 'invoices' },
          grantee: 'app_readonly',
          privilege: 'SELECT',
        },
        { on: 'default-tables', object: 'billing', grantee: 'app_readonly', privilege: 'SELECT' },
      ],
    }),
    before,
  );
  t.ok(p.statements.includes('REVOKE USAGE ON SCHEMA "billing" FROM "app_readonly"'));
  t.ok(p.statements.includes('REVOKE SELECT ON TABLE "billing"."invoices" FROM "app_readonly"'));
  t.ok(
    p.statements.includes(
      'ALTER DEFAULT PRIVILEGES FOR ROLE "app_migrations" IN SCHEMA "billing" REVOKE SELECT ON TABLES FROM "app_readonly"',
    ),
  );
});
