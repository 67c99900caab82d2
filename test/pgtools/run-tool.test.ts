import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { buildConninfo, dbnameArgument } from '../../src/pgtools/conninfo.js';
import { withPassfile } from '../../src/pgtools/passfile.js';
import { PgToolError, redactSecrets, runPgTool } from '../../src/pgtools/run-tool.js';
import { createTestDatabase } from '../helpers/database.js';

const node = process.execPath;

/** Polls `check` every 25 ms until it returns true or `ms` pass; returns whether it did. */
async function eventually(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await sleep(25);
  }
  return check();
}

t.test('the child gets a minimal environment: no inherited PG* variables, no PGPASSWORD', async (t) => {
  const saved = { PGPASSWORD: process.env.PGPASSWORD, PGHOST: process.env.PGHOST, SECRET: process.env.SECRET };
  process.env.PGPASSWORD = 'inherited-secret';
  process.env.PGHOST = '/var/run/elsewhere';
  process.env.SECRET = 'x';
  t.teardown(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  const run = runPgTool({ path: '/usr/bin/env', args: [], env: { PGPASSFILE: '/tmp/x' }, stdout: 'pipe' });
  const [output] = await Promise.all([text(run.stdout as Readable), run.done]);
  const env = Object.fromEntries(
    output
      .trim()
      .split('\n')
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  );
  // tap hooks spawn to add its coverage bookkeeping (NODE_OPTIONS, _TAPJS_*); that is the harness, not us.
  const ours = Object.keys(env).filter(
    (key) => !key.startsWith('_TAPJS_') && key !== 'NODE_OPTIONS' && !key.startsWith('/'),
  );
  t.same(ours.sort(), ['LANG', 'PATH', 'PGAPPNAME', 'PGCONNECT_TIMEOUT', 'PGPASSFILE', 'PSQLRC']);
  t.notMatch(output, /inherited-secret|elsewhere|SECRET/);
  t.equal(env.LANG, 'C.UTF-8');
  t.equal(env.PGCONNECT_TIMEOUT, '10');
  t.equal(env.PGAPPNAME, 'pgsteward');
  t.throws(() => runPgTool({ path: '/usr/bin/env', args: [], env: { PGPASSWORD: 'x' } }), /PGPASSWORD/);
});

t.test('a non-zero exit rejects with the tool name, exit code and a redacted stderr tail', async (t) => {
  const lines: string[] = [];
  const script =
    "console.error('starting'); console.error('bad conninfo: host=h password=hunter2 user=u'); process.exit(3)";
  const run = runPgTool({ path: node, args: ['-e', script], env: {}, onStderrLine: (line) => lines.push(line) });
  const err = (await run.done.catch((e: unknown) => e)) as PgToolError;
  t.ok(err instanceof PgToolError);
  t.equal(err.name, 'PgToolError');
  t.equal(err.exitCode, 3);
  t.match(err.message, /^node exited with code 3: starting\nbad conninfo: host=h password=\[redacted\] user=u$/);
  t.notMatch(err.message + err.stderrTail + lines.join('\n'), /hunter2/);
  t.same(lines, ['starting', 'bad conninfo: host=h password=[redacted] user=u']);
});

t.test('redactSecrets masks password values but keeps the messages that mention passwords', async (t) => {
  t.equal(redactSecrets("password='a b\\'c' x"), 'password=[redacted] x');
  t.equal(redactSecrets('postgresql://u:s3cret@h/db'), 'postgresql://u:[redacted]@h/db');
  t.equal(redactSecrets("CREATE ROLE a PASSWORD 'SCRAM-SHA-256$4096:abc'"), "CREATE ROLE a PASSWORD '[redacted]'");
  t.equal(
    redactSecrets('FATAL:  password authentication failed for user "u"'),
    'FATAL:  password authentication failed for user "u"',
  );
});

t.test('stderr memory is bounded: a flood keeps only the last ~64 KB', async (t) => {
  const script = "for (let i = 0; i < 40000; i++) process.stderr.write('line ' + i + ' ' + 'x'.repeat(40) + '\\n');";
  let count = 0;
  const run = runPgTool({ path: node, args: ['-e', script], env: {}, onStderrLine: () => count++ });
  const { stderrTail } = await run.done;
  t.equal(count, 40_000, 'every line reached onStderrLine');
  t.ok(stderrTail.length <= 64 * 1024, `tail is ${stderrTail.length} chars`);
  t.match(stderrTail, /line 39999 x+$/, 'the tail ends with the last line');
});

t.test('a spawn failure rejects with a clear message', async (t) => {
  const run = runPgTool({ path: '/nonexistent/pg_dump', args: [], env: {} });
  await t.rejects(run.done, { name: 'PgToolError', message: /could not start pg_dump: .*ENOENT/ });
});

t.test('abort escalates to SIGKILL for a tool that ignores SIGINT and SIGTERM, and reaches its children', async (t) => {
  const script = `
    const { spawn } = require('node:child_process');
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    process.on('SIGINT', () => {}); process.on('SIGTERM', () => {});
    console.log(child.pid); setInterval(() => {}, 1000);`;
  const controller = new AbortController();
  const run = runPgTool({ path: node, args: ['-e', script], env: {}, signal: controller.signal, stdout: 'pipe' });
  const grandchild = await new Promise<number>((resolve) => {
    run.stdout?.setEncoding('utf8').once('data', (chunk: string) => resolve(Number.parseInt(chunk, 10)));
  });
  run.stdout?.resume();
  const started = Date.now();
  controller.abort();
  const err = (await run.done.catch((e: unknown) => e)) as PgToolError;
  const elapsed = Date.now() - started;
  t.equal(err.name, 'AbortError');
  t.equal(err.signal, 'SIGKILL');
  t.ok(elapsed >= 1_400 && elapsed < 3_000, `killed after ${elapsed} ms`);
  t.ok(await eventually(() => !existsSync(`/proc/${grandchild}`), 1_000), 'the forked sleep died too');
});

t.test('timeoutMs stops the tool with a TimeoutError', async (t) => {
  const run = runPgTool({ path: '/bin/sleep', args: ['30'], env: {}, timeoutMs: 200 });
  await t.rejects(run.done, { name: 'TimeoutError', message: /sleep timed out after 200 ms/ });
});

t.test('real psql', async (t) => {
  const db = await createTestDatabase(t);
  const { cluster } = db;
  const psql = join(cluster.bindir, 'psql');
  const appName = `pgsteward-test-${process.pid}`;
  const conninfo = buildConninfo({
    host: 'localhost',
    hostaddr: cluster.host,
    port: cluster.port,
    dbname: db.name,
    user: cluster.superuser,
    sslmode: 'verify-full',
    sslrootcert: cluster.caCertPath,
    applicationName: appName,
  });
  const passfileEntry = {
    host: 'localhost',
    port: cluster.port,
    database: db.name,
    user: cluster.superuser,
    password: cluster.password,
  };
  const backends = async () =>
    (
      await db.ownerQuery<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName])
    ).map((row) => row.pid);

  await t.test('the password is in neither /proc/<pid>/cmdline nor /proc/<pid>/environ', async (t) => {
    await withPassfile(passfileEntry, async (env) => {
      const controller = new AbortController();
      const run = runPgTool({
        path: psql,
        args: ['-X', dbnameArgument(conninfo), '-c', 'select pg_sleep(30)'],
        env,
        signal: controller.signal,
      });
      t.ok(await eventually(async () => (await backends()).length === 1, 5_000), 'psql is connected');
      const cmdline = await readFile(`/proc/${run.child.pid}/cmdline`, 'utf8');
      const environ = await readFile(`/proc/${run.child.pid}/environ`, 'utf8');
      t.match(cmdline, /hostaddr='127\.0\.0\.1'/, 'read the right process');
      t.match(environ, /PGPASSFILE=/);
      t.notOk(cmdline.includes(cluster.password), 'no password in argv');
      t.notOk(environ.includes(cluster.password), 'no password in the environment');
      controller.abort();
      await run.done.catch(() => {});
    });
  });

  await t.test('abort kills a long psql within 2 s and the server backend goes away', async (t) => {
    await withPassfile(passfileEntry, async (env) => {
      const controller = new AbortController();
      const run = runPgTool({
        path: psql,
        args: ['-X', dbnameArgument(conninfo), '-c', 'select pg_sleep(30)'],
        env,
        signal: controller.signal,
      });
      t.ok(await eventually(async () => (await backends()).length === 1, 5_000), 'the query is running');
      const started = Date.now();
      controller.abort();
      const err = (await run.done.catch((e: unknown) => e)) as PgToolError;
      const exited = Date.now() - started;
      t.equal(err.name, 'AbortError');
      t.match(err.message, /psql was cancelled/);
      t.ok(exited < 2_000, `psql gone after ${exited} ms`);
      t.notOk(existsSync(`/proc/${run.child.pid}`), 'no process left');
      t.ok(await eventually(async () => (await backends()).length === 0, 2_000), 'the backend ended');
      t.comment(`psql exited ${exited} ms after abort; backend gone ${Date.now() - started} ms after abort`);
    });
  });

  await t.test('a failing query rejects with exit code 1 and the server message', async (t) => {
    await withPassfile(passfileEntry, async (env) => {
      const run = runPgTool({
        path: psql,
        args: ['-X', '-v', 'ON_ERROR_STOP=1', dbnameArgument(conninfo), '-c', 'select 1/0'],
        env,
      });
      await t.rejects(run.done, {
        name: 'PgToolError',
        exitCode: 1,
        message: /psql exited with code 1: .*division by zero/s,
      });
    });
  });
});
