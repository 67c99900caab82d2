import pg from 'pg';
import t from 'tap';
import { startTestCluster } from '../helpers/pg-cluster.js';

const started = Date.now();
const cluster = await startTestCluster();
t.comment(`initdb + start took ${Date.now() - started} ms`);
t.teardown(() => cluster.stop());

async function query<R extends pg.QueryResultRow>(config: pg.ClientConfig, text: string): Promise<R[]> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

t.test('a TLS connection verified against the CA with scram authenticates', async (t) => {
  const config = {
    ...cluster.clientConfig(),
    ssl: { ca: cluster.caCert, rejectUnauthorized: true, servername: 'localhost' },
  };
  const rows = await query<{ ssl: boolean }>(config, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  t.same(rows, [{ ssl: true }]);
});

t.test('clientConfig also verifies against host 127.0.0.1 without a servername', async (t) => {
  const config = { ...cluster.clientConfig(), ssl: { ca: cluster.caCert, rejectUnauthorized: true } };
  const rows = await query<{ one: number }>(config, 'SELECT 1 AS one');
  t.same(rows, [{ one: 1 }]);
});

t.test('a connection without TLS is rejected', async (t) => {
  await t.rejects(query({ ...cluster.clientConfig(), ssl: false }, 'SELECT 1'), {
    code: '28000', // invalid_authorization_specification: pg_hba "hostnossl ... reject"
  });
});

t.test('a certificate from another CA is rejected by the client', async (t) => {
  const other = await startTestCluster();
  t.teardown(() => other.stop());
  const config = { ...cluster.clientConfig(), ssl: { ca: other.caCert, rejectUnauthorized: true } };
  await t.rejects(query(config, 'SELECT 1'), /self[- ]signed|unable to verify|certificate/i);
});

t.test('a wrong password is rejected', async (t) => {
  await t.rejects(query(cluster.clientConfig('postgres', 'postgres', 'not-the-password'), 'SELECT 1'), {
    code: '28P01', // invalid_password
  });
});

t.test('passwords are stored as scram-sha-256', async (t) => {
  const rows = await query<{ password_encryption: string }>(cluster.clientConfig(), 'SHOW password_encryption');
  t.same(rows, [{ password_encryption: 'scram-sha-256' }]);
  const secret = await query<{ rolpassword: string }>(
    cluster.clientConfig(),
    "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'",
  );
  t.match(secret[0]?.rolpassword, /^SCRAM-SHA-256\$/);
});

t.test('stop with keepData leaves the directory for inspection', async (t) => {
  const kept = await startTestCluster({ settings: { log_min_messages: "'warning'" } });
  const { existsSync } = await import('node:fs');
  const { rm } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  t.teardown(() => rm(dirname(kept.dataDir), { recursive: true, force: true }));
  const rows = await query<{ log_min_messages: string }>(kept.clientConfig(), 'SHOW log_min_messages');
  t.same(rows, [{ log_min_messages: 'warning' }], 'extra settings apply');
  await kept.stop({ keepData: true });
  t.ok(existsSync(kept.dataDir));
  await kept.stop(); // idempotent
});
