import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClientConfig } from 'pg';
import { resolveServerInstallation } from '../../src/pgtools/installations.js';
import { giveToServerUser, runServerProgram, withServerReadablePasswordFile } from '../../src/pgtools/server-user.js';

const execFileAsync = promisify(execFile);

export interface TestCluster {
  host: string;
  port: number;
  superuser: string;
  password: string;
  /** The self-signed server certificate, which is its own CA: verify-full against localhost/127.0.0.1. */
  caCertPath: string;
  caCert: string;
  dataDir: string;
  bindir: string;
  major: number;
  /** node-postgres config over TLS, verifying the server against caCert. */
  clientConfig(database?: string, user?: string, password?: string): ClientConfig;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/** What another process needs to use (and stop) a running test cluster; JSON-serialisable. */
export interface TestClusterInfo {
  dir: string;
  dataDir: string;
  port: number;
  password: string;
  caCertPath: string;
  caCert: string;
  bindir: string;
  major: number;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const PORT_ATTEMPTS = 5;

/** Binds an ephemeral loopback port and frees it; the caller races others for it, hence retries. */
async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the ephemeral port'));
      });
    });
  });
}

async function writeSelfSignedCertificate(certPath: string, keyPath: string): Promise<void> {
  // EC P-256 is generated in milliseconds, RSA-2048 in up to a second.
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-nodes',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]); // prettier-ignore
  await chmod(keyPath, 0o600); // postgres refuses a group- or world-readable key
}

const HBA = [
  '# Written by the test harness: TLS and scram everywhere, so tests exercise what production requires.',
  'local all all scram-sha-256',
  'hostssl all all 127.0.0.1/32 scram-sha-256',
  'hostssl all all ::1/128 scram-sha-256',
  'hostnossl all all all reject',
  '',
].join('\n');

function clusterSettings(dir: string, certPath: string, keyPath: string, extra: Record<string, string>) {
  const quote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  const settings: Record<string, string> = {
    ssl: 'on',
    ssl_cert_file: quote(certPath),
    ssl_key_file: quote(keyPath),
    listen_addresses: quote(HOST),
    unix_socket_directories: quote(dir),
    password_encryption: 'scram-sha-256',
    // Durability is worthless for throwaway clusters and costs most of the test time.
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '100',
    ...extra,
  };
  return `\n# test harness\n${Object.entries(settings)
    .map(([name, value]) => `${name} = ${value}`)
    .join('\n')}\n`;
}

/**
 * Starts a throwaway PostgreSQL cluster on a free loopback port with TLS (self-signed, verify-full
 * against localhost) and scram-sha-256 only. `settings` values are written to postgresql.conf
 * verbatim, so quote strings yourself: { log_statement: "'all'" }.
 */
export async function startTestCluster(
  opts: { bindir?: string; settings?: Record<string, string>; hbaFirst?: string[] } = {},
): Promise<TestCluster> {
  const inst = await resolveServerInstallation({ bindir: opts.bindir });
  const pgCtl = join(inst.bindir, 'pg_ctl');
  const dir = await mkdtemp(join(tmpdir(), 'pgsteward-test-'));
  const dataDir = join(dir, 'data');
  const caCertPath = join(dir, 'server.crt');
  const keyPath = join(dir, 'server.key');
  const logPath = join(dir, 'server.log');
  const password = randomBytes(18).toString('base64url');
  let started = false;
  const stopServer = async () => {
    if (!started) return;
    started = false;
    await runServerProgram(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w']).catch(() => {
      // Already down (crashed, or stopped by the test itself).
    });
  };

  try {
    await mkdir(dataDir, { mode: 0o700 });
    await giveToServerUser(dir);
    const initdb = withServerReadablePasswordFile(
      password,
      (pwfile) =>
        runServerProgram(join(inst.bindir, 'initdb'), [
          '-D',
          dataDir,
          '-U',
          SUPERUSER,
          '--auth=scram-sha-256',
          `--pwfile=${pwfile}`,
          '-E',
          'UTF8',
          '--no-locale',
          '--no-sync', // fsync of a cluster deleted minutes later is pure waste
        ]), // prettier-ignore
    );
    await Promise.all([initdb, writeSelfSignedCertificate(caCertPath, keyPath)]);
    // The first matching line wins: hbaFirst lets a test give one role another method.
    await writeFile(join(dataDir, 'pg_hba.conf'), [...(opts.hbaFirst ?? []), HBA].join('\n'));
    await appendFile(join(dataDir, 'postgresql.conf'), clusterSettings(dir, caCertPath, keyPath, opts.settings ?? {}));
    await giveToServerUser(dir); // the files written above, and the key the server must read

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freeLoopbackPort();
      // Later lines win, so each retry just appends a new port.
      await appendFile(join(dataDir, 'postgresql.conf'), `port = ${port}\n`);
      // Set before starting: a start that times out may still leave a postmaster to stop.
      started = true;
      try {
        await runServerProgram(pgCtl, ['start', '-D', dataDir, '-l', logPath, '-w', '-t', '30']);
        break;
      } catch (err) {
        const log = await readFile(logPath, 'utf8').catch(() => '');
        if (attempt < PORT_ATTEMPTS && /could not bind|Address already in use/.test(log)) continue;
        throw new Error(`test cluster did not start: ${(err as Error).message}\n${log.slice(-2000)}`);
      }
    }

    const caCert = await readFile(caCertPath, 'utf8');
    return attachTestCluster({
      dir,
      dataDir,
      port,
      password,
      caCertPath,
      caCert,
      bindir: inst.bindir,
      major: inst.major,
    });
  } catch (err) {
    await stopServer();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A handle on a running cluster, possibly started by another process (tap's `before` script). */
export function attachTestCluster(info: TestClusterInfo): TestCluster & { info: TestClusterInfo } {
  let stopped: Promise<void> | undefined;
  return {
    info,
    host: HOST,
    port: info.port,
    superuser: SUPERUSER,
    password: info.password,
    caCertPath: info.caCertPath,
    caCert: info.caCert,
    dataDir: info.dataDir,
    bindir: info.bindir,
    major: info.major,
    clientConfig(database = 'postgres', user = SUPERUSER, userPassword = info.password) {
      return {
        host: HOST,
        port: info.port,
        user,
        password: userPassword,
        database,
        ssl: { ca: info.caCert, rejectUnauthorized: true, servername: 'localhost' },
      };
    },
    stop(stopOpts = {}) {
      stopped ??= (async () => {
        await runServerProgram(join(info.bindir, 'pg_ctl'), [
          'stop',
          '-D',
          info.dataDir,
          '-m',
          'immediate',
          '-w',
        ]).catch(
          () => {}, // already down (crashed, or stopped by the test itself)
        );
        if (!stopOpts.keepData) await rm(info.dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
