// Issue 9 §5: the names pgsteward gives roles, and the marker it writes on them.
import fc from 'fast-check';
import t from 'tap';
import {
  assertRoleName,
  assertRoleSetName,
  isMarkedAs,
  MAX_ROLE_SET_NAME_BYTES,
  parseRoleMarker,
  roleMarker,
  roleNameProblem,
  roleSetRoleName,
} from '../../src/domain/roles/names.js';

t.test('ordinary names pass', async (t) => {
  for (const name of ['app', 'app_rw', 'reporting2', 'a']) t.equal(roleNameProblem(name), undefined, name);
});

t.test('hostile and reserved names are refused with PGS_ROLE_NAME_INVALID', async (t) => {
  const refused = [
    '',
    'App', // upper case would need quoting to mean what it says
    '1app',
    '_app',
    'app"; DROP ROLE x; --',
    "app'",
    'app;',
    'a b',
    'app\\',
    'аpp', // Cyrillic а
    'app\u200b', // zero-width space
    'ａｐｐ', // full-width
    'pg_monitor',
    'pg_app',
    'postgres',
    'rdsadmin',
    'rds_superuser',
    'rdsx',
    'public',
    'none',
    'current_user',
    'session_user',
    'x'.repeat(64),
  ];
  for (const name of refused) {
    t.not(roleNameProblem(name), undefined, JSON.stringify(name));
    t.throws(() => assertRoleName(name), { code: 'PGS_ROLE_NAME_INVALID', statusCode: 400 });
  }
  t.not(roleNameProblem('master', { adminRole: 'master' }), undefined, 'the admin role');
  t.not(roleNameProblem(42), undefined, 'not a string');
});

t.test("a role set's name leaves room for its longest role", async (t) => {
  const longest = 'a'.repeat(MAX_ROLE_SET_NAME_BYTES);
  t.equal(assertRoleSetName(longest), longest);
  t.equal(Buffer.byteLength(roleSetRoleName(longest, 'migrations')), 63);
  t.throws(() => assertRoleSetName(`${longest}a`), { code: 'PGS_ROLE_NAME_INVALID' });
});

t.test('every accepted name is plain lower-case ASCII of at most 63 bytes (property)', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
      if (roleNameProblem(s) !== undefined) return true;
      return /^[a-z][a-z0-9_]*$/.test(s) && Buffer.byteLength(s) <= 63 && !s.startsWith('pg_');
    }),
  );
  t.pass('held');
});

t.test('the marker round-trips and names tenant, target and owner', async (t) => {
  const m = { tenantId: 'acme', targetId: '0b6c0d3e-8d8b-4b5e-9a51-4c1f0f7b0e11', owner: 'role-set:app' };
  t.same(parseRoleMarker(roleMarker(m)), m);
  t.ok(isMarkedAs(roleMarker(m), m));
  t.notOk(isMarkedAs(roleMarker({ ...m, tenantId: 'umbrella' }), m), 'another tenant');
  t.notOk(isMarkedAs('made by hand', m));
  t.notOk(isMarkedAs(null, m));
});
