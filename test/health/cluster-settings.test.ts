import pg from 'pg';
import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';
import { startTestCluster } from '../helpers/pg-cluster.js';
import { check, HEALTH_SCOPES, runReport } from './fixtures.js';

// The cluster-wide violations need a cluster of their own: ssl off, password_encryption = md5, and a
// pg_hba line that trusts every address (the harness's cluster has TLS, scram and loopback-only lines,
// and the clean-cluster side of these checks is asserted in checks-flip.test.ts).

const test = await buildTestApp(t, {}, { worker: true });
await test.seedTenants('acme');
const token = test.token('acme', [...HEALTH_SCOPES]);

const loose = await startTestCluster({
  settings: { ssl: 'off', password_encryption: 'md5' },
  hbaFirst: ['host all all 0.0.0.0/0 trust'],
});
t.teardown(() => loose.stop());

t.test('ssl off, md5 passwords and a trust line open to every address fail or warn', async (t) => {
  const admin = new pg.Client({ ...loose.clientConfig(), ssl: false });
  await admin.connect();
  t.teardown(() => admin.end());
  // Stored while password_encryption = md5: an MD5 hash.
  await admin.query("CREATE ROLE legacy_app LOGIN PASSWORD 'legacy-password-1'");
  test.writeSecrets({
    'acme/loose': {
      username: 'postgres',
      password: loose.password,
      host: '127.0.0.1',
      port: loose.port,
      dbname: 'postgres',
    },
  });
  const created = await test.app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(token),
    payload: { name: 'loose', secretRef: 'file:acme/loose', sslMode: 'disable' },
  });
  t.equal(created.statusCode, 201, 'the target is registered');
  const report = await runReport(test, token, created.json().id);
  const expect: Record<string, string> = {
    'security.ssl': 'fail',
    'security.password_encryption': 'fail',
    'security.md5_passwords': 'warn',
    'security.hba_auth_methods': 'fail',
    'security.hba_open_ranges': 'warn',
    'security.hba_hostssl': 'warn',
    'security.hba_all_all': 'warn',
    'security.target_role_superuser': 'fail',
  };
  for (const [id, status] of Object.entries(expect)) {
    const c = check(report, id);
    t.equal(c.status, status, `${id} is ${status}: ${c.summary}`);
  }
  t.match(
    check(report, 'security.hba_open_ranges').summary,
    /line 1: host all all 0\.0\.0\.0\/0\.0\.0\.0 trust/,
    'the summary names the pg_hba line',
  );
  t.match(check(report, 'security.md5_passwords').evidence, [{ name: 'legacy_app' }]);
  t.notMatch(JSON.stringify(report), loose.password, 'no password in the report');
});
