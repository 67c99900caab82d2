import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import pg from 'pg';
import t from 'tap';
import { isPgStewardError } from '../../src/errors.js';
import { buildConninfo, type ConninfoParams, dbnameArgument, SSL_MODES } from '../../src/pgtools/conninfo.js';
import { withPassfile } from '../../src/pgtools/passfile.js';
import { runPgTool } from '../../src/pgtools/run-tool.js';
import { quoteIdent } from '../../src/sql/identifiers.js';
import { createTestDatabase } from '../helpers/database.js';

/**
 * A conninfo parser following libpq's conninfo_parse (fe-connect.c): keyword, optional blanks, '=',
 * optional blanks, then a value that is either bare (up to a blank) or single-quoted; in both a backslash
 * takes the next character literally.
 */
function parseConninfo(text: string): Map<string, string> {
  const result = new Map<string, string>();
  let i = 0;
  const blank = (c: string | undefined) => c !== undefined && /\s/.test(c);
  while (i < text.length) {
    while (blank(text[i])) i++;
    if (i >= text.length) break;
    let key = '';
    while (i < text.length && text[i] !== '=' && !blank(text[i])) key += text[i++];
    while (blank(text[i])) i++;
    if (text[i] !== '=') throw new Error(`missing "=" after ${key}`);
    i++;
    while (blank(text[i])) i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted string');
        const c = text[i++];
        if (c === '\\') value += text[i++] ?? '';
        else if (c === "'") break;
        else value += c;
      }
    } else {
      while (i < text.length && !blank(text[i])) {
        const c = text[i++];
        value += c === '\\' ? (text[i++] ?? '') : c;
      }
    }
    if (result.has(key)) throw new Error(`duplicate keyword ${key}`);
    result.set(key, value);
  }
  return result;
}

const anyText = fc
  .array(fc.oneof(fc.constantFrom("'", '\\', ' ', '=', '\t', '\n', '"', 'x'), fc.string({ maxLength: 3 })))
  .map((parts) => parts.join(''))
  .filter((s) => !s.includes('\0'));
const nonEmpty = anyText.filter((s) => s !== '');
const params: fc.Arbitrary<ConninfoParams> = fc.record(
  {
    host: nonEmpty,
    hostaddr: anyText,
    port: fc.integer({ min: 1, max: 65_535 }),
    dbname: nonEmpty.filter((s) => !s.includes('=') && !s.startsWith('-')),
    user: nonEmpty,
    sslmode: fc.constantFrom(...SSL_MODES),
    sslrootcert: anyText,
    sslcert: anyText,
    applicationName: anyText,
  },
  { requiredKeys: ['host', 'port', 'dbname', 'user', 'sslmode'] },
);

t.test('every value survives a round trip through a libpq-rules parser', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(params, (p) => {
        const parsed = parseConninfo(buildConninfo(p));
        const expected = new Map<string, string>(
          Object.entries({
            host: p.host,
            hostaddr: p.hostaddr,
            port: String(p.port),
            dbname: p.dbname,
            user: p.user,
            sslmode: p.sslmode,
            sslrootcert: p.sslrootcert,
            sslcert: p.sslcert,
            application_name: p.applicationName ?? 'pgsteward',
          }).filter((entry): entry is [string, string] => entry[1] !== undefined),
        );
        return isDeepStrictEqual(parsed, expected);
      }),
      { numRuns: 500 },
    ),
  );
});

t.test('a password handed in by mistake never reaches the string', async (t) => {
  const sneaky = { host: 'h', port: 5432, dbname: 'd', user: 'u', sslmode: 'require', password: 'hunter2' };
  const conninfo = buildConninfo(sneaky as ConninfoParams);
  t.notMatch(conninfo, /password|hunter2/);
});

t.test('unusable values are refused with a coded error', async (t) => {
  const base: ConninfoParams = { host: 'h', port: 5432, dbname: 'd', user: 'u', sslmode: 'require' };
  const refused: Array<[string, Partial<ConninfoParams>, RegExp]> = [
    ['database name with =', { dbname: 'host=evil' }, /contains '='/],
    ['database name starting with -', { dbname: '-c' }, /starts with '-'/],
    ['empty database name', { dbname: '' }, /empty/],
    ['NUL in the database name', { dbname: 'a\0b' }, /NUL/],
    ['NUL in the user', { user: 'a\0' }, /NUL/],
    ['NUL in the host', { host: 'h\0' }, /NUL/],
    ['port 0', { port: 0 }, /port/],
    ['port 70000', { port: 70_000 }, /port/],
    ['unknown sslmode', { sslmode: 'allow' as ConninfoParams['sslmode'] }, /sslmode/],
  ];
  for (const [name, change, message] of refused) {
    const err = (() => {
      try {
        buildConninfo({ ...base, ...change });
      } catch (thrown) {
        return thrown;
      }
    })();
    t.ok(isPgStewardError(err) && err.code === 'PGS_TARGET_INCOMPLETE', `${name}: coded error`);
    t.match((err as Error | undefined)?.message, message, name);
  }
  t.equal(dbnameArgument("host='h'"), "--dbname=host='h'");
});

t.test('real psql reaches databases with odd names through --dbname=<conninfo>', async (t) => {
  const db = await createTestDatabase(t);
  const { cluster } = db;
  const suffix = Math.random().toString(36).slice(2, 8);
  const names = [`a'b ${suffix}`, `we ird ${suffix}`, `back\\slash ${suffix}`, `"dq" é ${suffix}`];
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  t.teardown(async () => {
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
    await admin.end();
  });
  for (const name of names) await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);

  const entry = { host: 'localhost', port: cluster.port, database: '*', user: cluster.superuser };
  await withPassfile({ ...entry, password: cluster.password }, async (env) => {
    for (const name of names) {
      const conninfo = buildConninfo({
        host: 'localhost',
        hostaddr: cluster.host,
        port: cluster.port,
        dbname: name,
        user: cluster.superuser,
        sslmode: 'verify-full',
        sslrootcert: cluster.caCertPath,
      });
      const run = runPgTool({
        path: `${cluster.bindir}/psql`,
        args: ['-X', '-A', '-t', dbnameArgument(conninfo), '-c', 'select current_database()'],
        env,
        stdout: 'pipe',
      });
      const [output] = await Promise.all([text(run.stdout as Readable), run.done]);
      t.equal(output.replace(/\n$/, ''), name, JSON.stringify(name));
    }
  });
});
