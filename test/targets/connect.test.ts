import { existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import tls from 'node:tls';
import t from 'tap';
import {
  connectToTarget,
  type SslMode,
  type TargetEndpoint,
  targetClientConfig,
  withToolCredentials,
} from '../../src/domain/targets/connect.js';
import type { CheckedAddress } from '../../src/domain/targets/network-guard.js';
import { isPgStewardError } from '../../src/errors.js';
import { dbnameArgument } from '../../src/pgtools/conninfo.js';
import { PgToolError, runPgTool } from '../../src/pgtools/run-tool.js';
import { runServerProgram } from '../../src/pgtools/server-user.js';
import { createTestDatabase } from '../helpers/database.js';
import { startTestCluster, type TestCluster } from '../helpers/pg-cluster.js';

const SSL_IN_USE = 'SELECT CASE WHEN ssl THEN $$tls$$ ELSE $$plain$$ END FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
/** A real CA that did not sign the test cluster's certificate. */
const WRONG_CA = tls.rootCertificates[0] ?? '';

type Outcome = { result: 'tls' | 'plain' } | { result: 'failed'; message: string; code?: string };

interface Case {
  host: string;
  sslMode: SslMode;
  ca?: 'right' | 'wrong';
}

function describe(c: Case): string {
  return `${c.sslMode}${c.ca === undefined ? '' : ` with the ${c.ca} CA`} to ${c.host}`;
}

/** Both stacks, same inputs: node-postgres via connectToTarget, psql via withToolCredentials + runPgTool. */
function stacks(cluster: TestCluster, database: string, address: string) {
  const endpointFor = (c: Case): TargetEndpoint => ({
    host: c.host,
    port: cluster.port,
    database,
    sslMode: c.sslMode,
    ...(c.ca === undefined ? {} : { sslrootcert: c.ca === 'right' ? cluster.caCert : WRONG_CA }),
  });
  const checkedFor = (c: Case): CheckedAddress => ({ host: c.host, address, family: 4 });
  const credentials = { username: cluster.superuser, password: cluster.password };

  const viaNode = async (c: Case, password = credentials.password): Promise<Outcome> => {
    try {
      const config = targetClientConfig(endpointFor(c), checkedFor(c), { ...credentials, password });
      const client = await connectToTarget(config);
      try {
        const { rows } = await client.query({ text: SSL_IN_USE, rowMode: 'array' });
        return { result: rows[0]?.[0] };
      } finally {
        await client.end();
      }
    } catch (err) {
      if (!isPgStewardError(err)) throw err;
      return { result: 'failed', message: err.message, code: err.code };
    }
  };

  const viaPsql = async (c: Case, password = credentials.password): Promise<Outcome> => {
    try {
      return await withToolCredentials(endpointFor(c), checkedFor(c), { ...credentials, password }, async (tool) => {
        if (tool.conninfo.includes(password)) throw new Error('the conninfo carries the password');
        const run = runPgTool({
          path: join(cluster.bindir, 'psql'),
          args: ['-X', '-A', '-t', '-w', dbnameArgument(tool.conninfo), '-c', SSL_IN_USE],
          env: tool.env,
          stdout: 'pipe',
        });
        const [output] = await Promise.all([text(run.stdout as Readable), run.done]);
        return { result: output.trim() as 'tls' | 'plain' };
      });
    } catch (err) {
      if (!(err instanceof PgToolError)) throw err;
      return { result: 'failed', message: err.message };
    }
  };
  return { viaNode, viaPsql, endpointFor, checkedFor, credentials };
}

t.test('node-postgres and psql agree on every sslmode against a TLS-only server', async (t) => {
  const db = await createTestDatabase(t);
  const { viaNode, viaPsql } = stacks(db.cluster, db.name, db.cluster.host);

  // The cluster's certificate: self-signed, CN=localhost, SAN DNS:localhost and IP:127.0.0.1; pg_hba rejects
  // plaintext ("hostnossl ... reject"). 'wrong-name.test' is connected to 127.0.0.1 all the same.
  const cases: Array<[Case, 'tls' | RegExp]> = [
    [{ host: 'localhost', sslMode: 'verify-full', ca: 'right' }, 'tls'],
    [{ host: '127.0.0.1', sslMode: 'verify-full', ca: 'right' }, 'tls'], // IP SAN, no SNI
    [{ host: 'localhost', sslMode: 'verify-full', ca: 'wrong' }, /certificate/i],
    [{ host: 'localhost', sslMode: 'verify-full' }, /certificate/i], // default bundle does not hold it
    [{ host: 'wrong-name.test', sslMode: 'verify-full', ca: 'right' }, /wrong-name\.test|does not match/i],
    [{ host: 'wrong-name.test', sslMode: 'verify-ca', ca: 'right' }, 'tls'], // the name is not checked
    [{ host: 'localhost', sslMode: 'verify-ca', ca: 'wrong' }, /certificate/i],
    [{ host: 'localhost', sslMode: 'require' }, 'tls'],
    [{ host: 'wrong-name.test', sslMode: 'require' }, 'tls'],
    [{ host: 'localhost', sslMode: 'require', ca: 'wrong' }, /certificate/i], // libpq: a root cert means verify-ca
    [{ host: 'localhost', sslMode: 'prefer' }, 'tls'],
    // TLS fails verification, the plaintext retry is refused by pg_hba: proof that both fell back.
    [{ host: 'localhost', sslMode: 'prefer', ca: 'wrong' }, /no encryption/],
    [{ host: 'localhost', sslMode: 'disable' }, /no encryption/],
  ];
  for (const [c, expected] of cases) {
    const [node, psql] = await Promise.all([viaNode(c), viaPsql(c)]);
    if (expected === 'tls') {
      t.same(node, { result: 'tls' }, `node-postgres: ${describe(c)}`);
      t.same(psql, { result: 'tls' }, `psql: ${describe(c)}`);
    } else {
      t.match(
        node,
        { result: 'failed', message: expected, code: /^PGS_(CONNECTION|AUTH)_FAILED$/ },
        `node: ${describe(c)}`,
      );
      t.match(psql, { result: 'failed', message: expected }, `psql: ${describe(c)}`);
    }
  }
});

t.test('a wrong password fails on both stacks, and the password appears in no message', async (t) => {
  const db = await createTestDatabase(t);
  const { viaNode, viaPsql } = stacks(db.cluster, db.name, db.cluster.host);
  const c: Case = { host: 'localhost', sslMode: 'verify-full', ca: 'right' };
  const wrong = 'not-the-password-x9';
  const [node, psql] = await Promise.all([viaNode(c, wrong), viaPsql(c, wrong)]);
  t.match(node, { result: 'failed', code: 'PGS_AUTH_FAILED', message: /password authentication failed/ });
  t.match(psql, { result: 'failed', message: /password authentication failed/ });
  t.notMatch(JSON.stringify([node, psql]), new RegExp(`${wrong}|${db.cluster.password}`));
});

t.test('withToolCredentials keeps its files private and removes them afterwards', async (t) => {
  const db = await createTestDatabase(t);
  const { endpointFor, checkedFor, credentials } = stacks(db.cluster, db.name, db.cluster.host);
  const c: Case = { host: 'localhost', sslMode: 'verify-full', ca: 'right' };
  let dir = '';
  await withToolCredentials(endpointFor(c), checkedFor(c), credentials, async (tool) => {
    dir = dirname(tool.env.PGPASSFILE);
    t.match(tool.conninfo, /^host='localhost' hostaddr='127\.0\.0\.1' port='\d+' dbname='[^']+' user='postgres'/);
    t.match(tool.conninfo, new RegExp(`sslrootcert='${dir}/root.crt'`));
    t.equal((await stat(join(dir, 'root.crt'))).mode & 0o777, 0o600);
    t.notOk(tool.conninfo.includes(credentials.password), 'no password in the conninfo');
    for (const absent of ['absent-client.crt', 'absent-client.key', 'absent-root.crl']) {
      t.match(tool.conninfo, absent, `${absent}: ~/.postgresql defaults are shut out`);
      t.notOk(existsSync(join(dir, absent)));
    }
  });
  t.notOk(existsSync(dir), 'removed');

  t.throws(
    () => targetClientConfig(endpointFor(c), { host: 'other', address: '127.0.0.1', family: 4 }, credentials),
    /different host/,
  );
  await t.rejects(
    withToolCredentials({ ...endpointFor(c), sslrootcert: 'not a pem' }, checkedFor(c), credentials, async () => 1),
    { code: 'PGS_TARGET_INCOMPLETE' },
  );
});

t.test('prefer falls back to plaintext on both stacks when the server has no TLS', async (t) => {
  const cluster = await startTestCluster({ settings: { ssl: 'off' } });
  t.teardown(() => cluster.stop());
  // This cluster accepts plaintext over TCP only.
  await writeFile(join(cluster.dataDir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 scram-sha-256\n');
  await runServerProgram(join(cluster.bindir, 'pg_ctl'), ['reload', '-D', cluster.dataDir, '-s']);
  const { viaNode, viaPsql } = stacks(cluster, 'postgres', cluster.host);
  for (const [c, expected] of [
    [{ host: 'localhost', sslMode: 'prefer' }, { result: 'plain' }],
    [{ host: 'localhost', sslMode: 'disable' }, { result: 'plain' }],
    [
      { host: 'localhost', sslMode: 'require' },
      { result: 'failed', message: /SSL|TLS/ },
    ],
    [
      { host: 'localhost', sslMode: 'verify-full', ca: 'right' },
      { result: 'failed', message: /SSL|TLS/ },
    ],
  ] as Array<[Case, Outcome | { result: 'failed'; message: RegExp }]>) {
    const [node, psql] = await Promise.all([viaNode(c), viaPsql(c)]);
    t.match(node, expected, `node-postgres: ${describe(c)}`);
    t.match(psql, expected, `psql: ${describe(c)}`);
  }
});
