import type { Test } from 'tap';
import { bearer, type TestApp } from './app.js';
import type { TestCluster } from './pg-cluster.js';
import { createSourceDatabase } from './source-database.js';

/** A database `name` and the `role` and `password` that log in to it (a source database is one). */
export interface ClusterLogin {
  name: string;
  role: string;
  password: string;
}

/** The TLS a target asks for: verify-full checks the cluster's certificate, require only encrypts. */
export type TargetTls = 'require' | 'verify-full';

/**
 * The connection secret for a login on a test cluster, as the file and Secrets Manager providers hold
 * it. verify-full needs the host name on the cluster's certificate and its CA. require names the
 * loopback address and carries no CA: given one, require verifies the chain (libpq's rule, and ours).
 */
export function clusterSecret(
  cluster: Pick<TestCluster, 'port' | 'caCert'>,
  login: ClusterLogin,
  tls: TargetTls = 'require',
): Record<string, unknown> {
  const account = { username: login.role, password: login.password, port: cluster.port, dbname: login.name };
  return tls === 'verify-full'
    ? { ...account, host: 'localhost', sslrootcert: cluster.caCert }
    : { ...account, host: '127.0.0.1' };
}

/**
 * Writes the login's secret as file:<tenant>/<name> and registers target <name> with it. Answers the
 * registration's response, for the test to check or take the id from.
 */
export async function registerTarget(
  test: Pick<TestApp, 'app' | 'db' | 'writeSecrets'>,
  token: string,
  login: ClusterLogin,
  opts: { tenant?: string; name?: string; tls?: TargetTls } = {},
) {
  const { tenant = 'acme', name = 'main', tls = 'require' } = opts;
  test.writeSecrets({ [`${tenant}/${name}`]: clusterSecret(test.db.cluster, login, tls) });
  return test.app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(token),
    payload: { name, secretRef: `file:${tenant}/${name}`, sslMode: tls },
  });
}

/**
 * Tenant acme with a seeded source database, its secret (file:acme/main) and a registered target named
 * main: the start of most backup tests. Returns the source, a token with the backup scopes, the target id.
 */
export async function acmeTarget(t: Test, test: TestApp, opts: { rows?: number } = {}) {
  await test.seedTenants('acme');
  const source = await createSourceDatabase(t, test.db.cluster, opts);
  const token = test.token('acme', ['targets:write', 'backups:read', 'backups:write', 'jobs:read']);
  const target = await registerTarget(test, token, source);
  t.equal(target.statusCode, 201, 'the target is registered');
  return { source, token, targetId: target.json().id as string };
}
