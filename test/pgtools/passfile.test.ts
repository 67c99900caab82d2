import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import fc from 'fast-check';
import pg from 'pg';
import t from 'tap';
import { PROJECT_ROOT } from '../../src/paths.js';
import { buildConninfo, dbnameArgument } from '../../src/pgtools/conninfo.js';
import { passfileLine, sweepOrphanedToolDirs, withPassfile } from '../../src/pgtools/passfile.js';
import { PgToolError, runPgTool } from '../../src/pgtools/run-tool.js';
import { quoteIdent, quoteLiteral } from '../../src/sql/identifiers.js';
import { createTestDatabase } from '../helpers/database.js';
import { tsNodeArgs } from '../helpers/ts-node-args.js';

const entry = { host: 'db.example.com', port: 5432, database: 'app', user: 'backup', password: 'pw' };

t.test('passfileLine escapes ":" and "\\" and uses * for the database', async (t) => {
  t.equal(passfileLine(entry), 'db.example.com:5432:*:backup:pw');
  t.equal(passfileLine({ ...entry, password: 'a:b\\c' }), 'db.example.com:5432:*:backup:a\\:b\\\\c');
  t.equal(passfileLine({ ...entry, host: '::1' }), '\\:\\:1:5432:*:backup:pw');
  // A user literally named "*" must not become the wildcard.
  t.equal(passfileLine({ ...entry, user: '*' }), 'db.example.com:5432:*:\\*:pw');
  t.equal(passfileLine({ ...entry, host: '#h' }), '\\#h:5432:*:backup:pw');
  for (const bad of ['a\nb', 'a\rb', 'a\0b']) {
    t.throws(() => passfileLine({ ...entry, password: bad }), /line break or NUL/);
    t.throws(() => passfileLine({ ...entry, user: bad }), /line break or NUL/);
  }
});

t.test('withPassfile writes a 0600 file in a 0700 directory and removes it afterwards', async (t) => {
  let seen = '';
  const result = await withPassfile(entry, async (env) => {
    seen = env.PGPASSFILE;
    t.equal((await stat(env.PGPASSFILE)).mode & 0o777, 0o600, 'file mode');
    t.equal((await stat(dirname(env.PGPASSFILE))).mode & 0o777, 0o700, 'directory mode');
    t.equal(await readFile(env.PGPASSFILE, 'utf8'), `${passfileLine(entry)}\n`);
    return 42;
  });
  t.equal(result, 42);
  t.notOk(existsSync(dirname(seen)), 'directory removed after success');
});

t.test('withPassfile removes the file when `use` throws or is aborted', async (t) => {
  let seen = '';
  await t.rejects(
    withPassfile(entry, async (env) => {
      seen = env.PGPASSFILE;
      throw new Error('boom');
    }),
    /boom/,
  );
  t.notOk(existsSync(dirname(seen)), 'removed after a throw');

  const controller = new AbortController();
  const aborted = withPassfile(entry, async (env) => {
    seen = env.PGPASSFILE;
    const run = runPgTool({ path: '/bin/sleep', args: ['30'], env, signal: controller.signal });
    return run.done;
  });
  setTimeout(() => controller.abort(), 50);
  await t.rejects(aborted, { name: 'AbortError' });
  t.notOk(existsSync(dirname(seen)), 'removed after an abort');
});

/** Runs a Node child (with our TypeScript loader) that makes a passfile and then dies as told. */
async function childWithPassfile(tmp: string, death: 'exit' | 'SIGKILL'): Promise<string> {
  const module = join(PROJECT_ROOT, 'src/pgtools/passfile.ts');
  const script = `
    const { withPassfile } = await import(${JSON.stringify(module)});
    await withPassfile(${JSON.stringify(entry)}, async (env) => {
      console.log(env.PGPASSFILE);
      ${death === 'exit' ? 'process.exit(3);' : "process.kill(process.pid, 'SIGKILL');"}
      await new Promise(() => {});
    });`;
  const child = spawn(process.execPath, [...tsNodeArgs(), '--input-type=module', '-e', script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const output = await text(child.stdout as Readable);
  await new Promise((resolve) => child.once('close', resolve));
  return output.trim();
}

t.test('a process that exits mid-job removes its passfile; one that is SIGKILLed is swept later', async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'pgsteward-passfile-test-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));

  const exited = await childWithPassfile(tmp, 'exit');
  t.match(exited, /pgpass$/);
  t.notOk(existsSync(dirname(exited)), 'process.exit ran the cleanup');

  const killed = await childWithPassfile(tmp, 'SIGKILL');
  t.ok(existsSync(killed), 'SIGKILL leaves the directory behind');
  const removed = await sweepOrphanedToolDirs(tmp);
  t.same(removed, [dirname(killed)], 'the sweep removes exactly the dead process directory');
  t.notOk(existsSync(dirname(killed)));

  // Another live process's directory, and one with our pid from an earlier run (pid 1 in a container).
  const foreign = join(tmp, `pgsteward-job-${process.ppid}-00000000-abc`);
  const earlierRun = join(tmp, `pgsteward-job-${process.pid}-00000000-abc`);
  await mkdir(foreign);
  await mkdir(earlierRun);
  const savedTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = tmp; // os.tmpdir() reads it on every call
  t.teardown(() => {
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
  });
  await withPassfile(entry, async (env) => {
    t.equal(dirname(dirname(env.PGPASSFILE)), tmp);
    t.same(await sweepOrphanedToolDirs(tmp), [earlierRun], 'only the earlier run is swept');
    t.ok(existsSync(env.PGPASSFILE), 'our live job is left alone');
    t.ok(existsSync(foreign), "a live process's job is left alone");
  });
});

t.test('real psql: passwords and user names with special characters log in via the passfile', async (t) => {
  const db = await createTestDatabase(t);
  const { cluster } = db;
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  t.teardown(() => admin.end());
  const psql = join(cluster.bindir, 'psql');

  /** Logs in as `user` with only the passfile for `passfileHost`; returns the user psql reports. */
  const login = (user: string, password: string, passfileHost = 'localhost') =>
    withPassfile({ host: passfileHost, port: cluster.port, database: db.name, user, password }, async (env) => {
      const conninfo = buildConninfo({
        host: 'localhost',
        hostaddr: cluster.host,
        port: cluster.port,
        dbname: db.name,
        user,
        sslmode: 'verify-full',
        sslrootcert: cluster.caCertPath,
      });
      const run = runPgTool({
        path: psql,
        args: ['-X', '-A', '-t', '-w', dbnameArgument(conninfo), '-c', 'select current_user'],
        env,
        stdout: 'pipe',
      });
      const [output] = await Promise.all([text(run.stdout as Readable), run.done]);
      return output.replace(/\n$/, '');
    });

  const special = fc
    .array(fc.oneof(fc.constantFrom(':', '\\', '*', '#', ' ', "'", '"', '@', 'a'), fc.string({ maxLength: 2 })), {
      minLength: 1,
      maxLength: 12,
    })
    .map((parts) => parts.join(''))
    .filter((s) => s !== '' && !/[\0\r\n]/.test(s) && Buffer.byteLength(s) <= 60);
  let logins = 0;
  await t.resolves(
    fc.assert(
      fc.asyncProperty(special, special, async (userSuffix, password) => {
        const user = `pgs ${userSuffix}`;
        await admin.query(`CREATE ROLE ${quoteIdent(user)} LOGIN PASSWORD ${quoteLiteral(password)}`);
        try {
          logins++;
          return (await login(user, password)) === user;
        } finally {
          await admin.query(`DROP ROLE ${quoteIdent(user)}`);
        }
      }),
      { numRuns: 15 },
    ),
  );
  t.equal(logins, 15);

  // libpq matches the passfile against `host`, not `hostaddr`, when both are given.
  t.equal(await login(cluster.superuser, cluster.password, 'localhost'), cluster.superuser, 'host matches');
  const refused = login(cluster.superuser, cluster.password, cluster.host);
  await t.rejects(refused, { name: 'PgToolError', exitCode: 2, message: /no password supplied/ }, 'hostaddr does not');
  t.ok((await refused.catch((err: unknown) => err)) instanceof PgToolError);
});
