import t from 'tap';
import { normaliseBackupOptions } from '../../src/domain/backups/options.js';
import { normaliseRestoreOptions } from '../../src/domain/restores/options.js';
import { bearer, buildTestApp } from '../helpers/app.js';

const { app, token, seedTenants } = await buildTestApp(t);
await seedTenants('acme');
const acme = token('acme', ['targets:read', 'backups:read', 'backups:write', 'restores:write', 'jobs:read']);
const gql = (query: string, variables: object = {}) =>
  app.inject({ method: 'POST', url: '/graphql', headers: bearer(acme), payload: { query, variables } });
const someId = '00000000-0000-4000-8000-000000000000';
const names = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);

t.test('a list argument over 1000 items is a 400 before any resolver runs, in variables or inline', async (t) => {
  const viaVariables = await gql(
    'mutation($b: ID!, $i: RestoreInput!) { startRestore(backupId: $b, input: $i) { id } }',
    { b: someId, i: { database: 'copy', tables: names(1001) } },
  );
  t.equal(viaVariables.statusCode, 400);
  t.match(viaVariables.json().errors[0], {
    extensions: { code: 'PGS_VALIDATION' },
    message: /variables\.i\.tables holds more than 1000 items/,
  });
  const inline = await gql(
    `mutation { startBackup(targetId: "${someId}", options: { tables: ${JSON.stringify(names(1001))} }) { id } }`,
  );
  t.equal(inline.statusCode, 400);
  t.equal(inline.json().errors[0].extensions.code, 'PGS_VALIDATION');
  // At the limit the guard lets it through, and the service answers for the (absent) backup.
  const atLimit = await gql('mutation($b: ID!, $i: RestoreInput!) { startRestore(backupId: $b, input: $i) { id } }', {
    b: someId,
    i: { database: 'copy', tables: names(1000) },
  });
  t.equal(atLimit.json().errors[0].extensions.code, 'PGS_BACKUP_NOT_FOUND');
});

t.test('every caller of the services meets the same name bounds as REST', async (t) => {
  const long = `public.${'x'.repeat(300)}`;
  t.throws(
    () => normaliseRestoreOptions({ database: 'copy', tables: [long] }, { format: 'custom', otherTarget: false }),
    {
      code: 'PGS_VALIDATION',
    },
  );
  t.throws(
    () => normaliseRestoreOptions({ database: 'copy', schemas: names(1001) }, { format: 'custom', otherTarget: false }),
    { code: 'PGS_VALIDATION', message: /at most 1000 names/ },
  );
  t.throws(() => normaliseBackupOptions({ tables: [long] }), { code: 'PGS_VALIDATION', message: /300 characters/ });
});

t.test('free-text GraphQL arguments are checked, never left to a CHECK constraint', async (t) => {
  const schedule = await gql(
    'mutation($t: ID!, $s: String!) { setDrillPolicy(targetId: $t, schedule: $s) { schedule } }',
    {
      t: someId,
      s: `0 0 * * ${'1,'.repeat(5000)}1`,
    },
  );
  t.equal(schedule.statusCode, 400);
  t.equal(schedule.json().errors[0].extensions.code, 'PGS_INVALID_SCHEDULE');
  const timezone = await gql(
    'mutation($t: ID!, $z: String) { setDrillPolicy(targetId: $t, schedule: "@daily", timezone: $z) { schedule } }',
    { t: someId, z: 'Europe/'.repeat(100) },
  );
  t.equal(timezone.json().errors[0].extensions.code, 'PGS_INVALID_TIMEZONE');
  const key = await gql('mutation($t: ID!, $k: String) { startBackup(targetId: $t, idempotencyKey: $k) { id } }', {
    t: someId,
    k: 'k'.repeat(201),
  });
  t.equal(key.statusCode, 400);
  t.equal(key.json().errors[0].extensions.code, 'PGS_VALIDATION');
});
