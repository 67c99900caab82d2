// A server that asks for the password in cleartext or as MD5 never gets it: node-postgres refuses the
// request before answering. Tested against a raw TCP listener that records every byte it receives, and
// against a real PostgreSQL whose pg_hba.conf uses the `password` and `md5` methods for two roles.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { connectToTarget, targetClientConfig, withToolCredentials } from '../../src/domain/targets/connect.js';
import { REQUIRE_AUTH_MIN_MAJOR, requireAuthFor } from '../../src/pgtools/conninfo.js';
import { startTestCluster } from '../helpers/pg-cluster.js';

const PASSWORD = `weak-auth-${randomBytes(12).toString('hex')}`;

/** An AuthenticationRequest message: 'R', length, method (3 cleartext, 5 MD5 + salt). */
function authRequest(method: 3 | 5): Buffer {
  const body = method === 5 ? Buffer.concat([int32(5), randomBytes(4)]) : int32(3);
  return Buffer.concat([Buffer.from('R'), int32(4 + body.length), body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/**
 * Pretends to be PostgreSQL: declines TLS ('N'), then answers the startup message with a request for
 * the password by `method`, and records everything the client sends afterwards.
 */
async function fakeServer(method: 3 | 5) {
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let startupSeen = false;
    socket.on('data', (chunk) => {
      received.push(chunk);
      // SSLRequest: length 8, code 80877103.
      if (!startupSeen && chunk.length === 8 && chunk.readInt32BE(4) === 80877103) {
        socket.write('N');
        return;
      }
      if (!startupSeen) {
        startupSeen = true;
        socket.write(authRequest(method));
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    bytes: () => Buffer.concat(received),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

for (const [method, name, reason] of [
  [3, 'cleartext', /in cleartext/],
  [5, 'MD5', /as an MD5 hash/],
] as const) {
  for (const sslMode of ['disable', 'prefer'] as const) {
    t.test(`a server asking for a ${name} password (sslmode=${sslMode}) receives no byte of it`, async (t) => {
      const server = await fakeServer(method);
      t.teardown(() => server.close());
      const config = targetClientConfig(
        { host: '127.0.0.1', port: server.port, database: 'app', sslMode },
        { host: '127.0.0.1', address: '127.0.0.1', family: 4 },
        { username: 'victim', password: PASSWORD },
      );
      const err = await connectToTarget(config).then(
        () => undefined,
        (e: unknown) => e,
      );
      t.match(err, { code: 'PGS_AUTH_FAILED', message: reason }, 'the connection fails, saying why');
      t.notMatch(String((err as Error).message), PASSWORD, 'and the error does not carry the password');
      // Give a late write the chance to arrive before looking.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const bytes = server.bytes();
      t.ok(bytes.length > 0, 'the startup message arrived');
      t.notOk(bytes.includes(Buffer.from(PASSWORD)), 'the password never arrived');
      t.notOk(bytes.includes(Buffer.from(md5(`${PASSWORD}victim`))), 'nor its MD5 hash');
      // After the startup packet the client may send only Terminate ('X'), never a PasswordMessage ('p').
      t.notOk(bytes.includes(Buffer.from([0x70, 0, 0, 0])), 'no PasswordMessage was sent at all');
    });
  }
}

t.test('a real PostgreSQL with password and md5 in pg_hba.conf: no login, SCRAM still works', async (t) => {
  const cluster = await startTestCluster({
    hbaFirst: ['hostssl all cleartext_user 127.0.0.1/32 password', 'hostssl all md5_user 127.0.0.1/32 md5'],
    settings: { log_connections: 'on' },
  });
  t.teardown(() => cluster.stop());
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  // An md5-stored password, or the server would run SCRAM for the md5 line anyway.
  await admin.query(`SET password_encryption = 'md5'`);
  await admin.query(`CREATE ROLE md5_user LOGIN PASSWORD '${PASSWORD}'`);
  await admin.query(`SET password_encryption = 'scram-sha-256'`);
  await admin.query(`CREATE ROLE cleartext_user LOGIN PASSWORD '${PASSWORD}'`);
  await admin.query(`CREATE ROLE scram_user LOGIN PASSWORD '${PASSWORD}'`);
  await admin.end();

  const connectAs = (username: string) =>
    connectToTarget(
      targetClientConfig(
        {
          host: 'localhost',
          port: cluster.port,
          database: 'postgres',
          sslMode: 'verify-full',
          sslrootcert: cluster.caCert,
        },
        { host: 'localhost', address: '127.0.0.1', family: 4 },
        { username, password: PASSWORD },
      ),
    );
  await t.rejects(connectAs('cleartext_user'), { code: 'PGS_AUTH_FAILED', message: /in cleartext/ });
  await t.rejects(connectAs('md5_user'), { code: 'PGS_AUTH_FAILED', message: /as an MD5 hash/ });
  const scram = await connectAs('scram_user');
  t.equal((await scram.query('SELECT current_user AS u')).rows[0]?.u, 'scram_user', 'SCRAM logs in as before');
  await scram.end();

  const log = await readFile(join(cluster.dataDir, '..', 'server.log'), 'utf8');
  t.notMatch(log, /connection authorized: user=(cleartext_user|md5_user)/, 'neither weak role ever logged in');
  t.match(log, /connection authorized: user=scram_user/, 'the log does record logins');
});

t.test(
  'the tools get require_auth=scram-sha-256,none from libpq 16 on, and nothing older tools would refuse',
  async (t) => {
    const endpoint = { host: 'localhost', port: 5432, database: 'app', sslMode: 'disable' as const };
    const checked = { host: 'localhost', address: '127.0.0.1', family: 4 as const };
    const conninfoFor = (major?: number) =>
      withToolCredentials(
        endpoint,
        checked,
        { username: 'u', password: PASSWORD },
        async (tool) => tool.conninfo,
        major,
      );
    t.match(await conninfoFor(16), / require_auth='scram-sha-256,none'$/);
    t.match(await conninfoFor(18), /require_auth='scram-sha-256,none'/);
    for (const major of [15, undefined]) t.notMatch(await conninfoFor(major), /require_auth/, `tool major ${major}`);
    t.equal(requireAuthFor(REQUIRE_AUTH_MIN_MAJOR - 1), undefined);
    t.notMatch(await conninfoFor(16), PASSWORD, 'the conninfo never carries the password');
  },
);
