import fc from 'fast-check';
import t from 'tap';
import { PlainDumpGuard, PlainDumpRefused } from '../../src/domain/restores/plain-guard.js';
import { majorOf } from '../../src/domain/restores/restore-into.js';
import { parseGlobalRoles } from '../../src/domain/restores/roles.js';
import { derivedDatabaseName } from '../../src/domain/restores/run-restore.js';
import { parseToc, parseTocLine, selectEntries } from '../../src/domain/restores/toc.js';
import { ATOMIC_ESCAPE } from './hostile-dumps.js';

/** Scan a script in small chunks (so every state crosses chunk boundaries); the refusal, or null. */
function scan(sql: string, chunk = 5): { kind: string; line: number } | null {
  const guard = new PlainDumpGuard();
  const bytes = Buffer.from(sql, 'utf8');
  try {
    for (let i = 0; i < bytes.length; i += chunk) guard.feed(bytes.subarray(i, i + chunk));
    guard.end();
    return null;
  } catch (err) {
    if (err instanceof PlainDumpRefused) return err.refusal;
    throw err;
  }
}

t.test('refused: meta-commands anywhere psql would run them', async (t) => {
  const refused: [string, RegExp][] = [
    ['SELECT 1;\n\\! touch /tmp/x\n', /meta-command \\!/],
    ['SELECT 1; \\! ls\n', /meta-command \\!/],
    ['SELECT 1 \\g\n', /meta-command \\g/],
    ["\\copy t from program 'ls'\n", /meta-command \\copy/],
    ['\\connect other\n', /meta-command \\connect/],
    ['\\restrict abc\nSELECT 1;\n\\i /etc/passwd\n', /meta-command \\i/],
    ["COPY t TO PROGRAM 'ls';\n", /COPY other than/],
    ["COPY t FROM '/etc/passwd';\n", /COPY other than/],
    ['COPY (SELECT 1 FROM stdin) TO stdout;\n', /COPY other than/],
    ['COPY t FROM stdin; SELECT 1;\n', /text after COPY/],
    ["SELECT 'a\\';\n", /ambiguous/],
    ['SELECT :foo;\n', /variable/],
    ["SELECT :'foo';\n", /variable/],
    ["SET client_encoding = 'SJIS';\n", /client encoding SJIS/],
    ['CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$\nCOPY x FROM stdin;\n$$;\n\\! touch p\n\\.\n', /\\!/],
  ];
  for (const [sql, kind] of refused) t.match(scan(sql), { kind }, JSON.stringify(sql));
  t.match(scan('SELECT 1;\n\n\\! x\n'), { line: 3 });
});

t.test('accepted: what pg_dump writes, including backslashes inside data, strings and comments', async (t) => {
  const accepted = [
    '\\restrict Ab12\n-- c \\! not a command\nSELECT 1;\n\\unrestrict Ab12\n',
    // COPY data: a backslash inside a line is data (a line may not start with one since issue 8, see below).
    'COPY public.t (a, "B") FROM stdin;\nx \\! this is data\n\\\\.\nx\\ty\n\\.\nSELECT 2;\n',
    "SELECT E'a\\'b\\\\', 'c''d', $x$ \\! $ $y$ $x$, $$ \\q $$;\n",
    '/* outer /* nested \\! */ still */ SELECT "we\\ird""q";\n',
    'SELECT x::text, a[1:2], f(b := 1) FROM t;\n',
    "SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n",
    'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;\nSELECT 3;\n',
    'COPY t FROM stdin;\r\n1\r\n\\.\r\n',
    'COPY t FROM stdin;\n1\n', // a dump ending inside COPY data: psql stops at end of input
    'SELECT 1', // no final newline
  ];
  for (const sql of accepted) t.equal(scan(sql), null, JSON.stringify(sql));
  for (const sql of accepted) t.equal(scan(sql, 1), null, `byte by byte: ${JSON.stringify(sql)}`);
});

t.test('refused: a prefixed string hiding a BEGIN ATOMIC body, and other places the lexers disagreed', async (t) => {
  for (const prefix of ["E''", "e''", "N''", "B''", "X''", "U&''", 'U&""', "u&'x'"]) {
    t.match(scan(ATOMIC_ESCAPE(prefix, '/tmp/x')), { kind: /meta-command \\!/, line: 3 }, prefix);
  }
  const refused: [string, RegExp][] = [
    // psql: 1, then the dollar quote `$a$ $a$`; the old guard opened a dollar quote at the second `$a$`.
    ['SELECT 1$a$ $a$;\n\\! touch /tmp/x\n$a$;\n', /meta-command \\!/],
    ["SELECT 1E'\\';\n", /number directly followed by a letter/],
    ['SELECT 0x1F, 1_000;\n', /number directly followed by a letter/],
    ['SELECT 1abc;\n', /number directly followed by a letter/],
    ['COPY t FROM stdin;\n\\! touch /tmp/x\n\\.\n', /COPY data line starting with a backslash/],
    ['COPY t FROM stdin;\n1\n\\copy x\n\\.\n', /COPY data line starting with a backslash/],
    ['COPY t FROM stdin;\n\\.x\n\\.\n', /COPY data line starting with a backslash/],
    ['COPY t FROM stdin;\n\\o /tmp/x', /COPY data line starting with a backslash/], // last line, no newline
    // psql < 15.19 expands backquotes in \\unrestrict's argument even when restricted: only pg_dump's own line.
    ["SELECT '\n\\unrestrict `touch /tmp/x`\n';\n", /\\unrestrict in text or data/],
    ['SELECT $$ \\unrestrict `touch /tmp/x` $$;\n', /\\unrestrict inside a line/],
    ['COPY t FROM stdin;\nx\\unrestrict `id`\n\\.\n', /\\unrestrict inside a line/],
    ['\\unrestrict `touch /tmp/x`\n', /meta-command \\unrestrict/],
    ['/*\n\\unrestrict k\n*/ SELECT 1;\n', /\\unrestrict in text or data/],
  ];
  for (const [sql, kind] of refused) t.match(scan(sql), { kind }, JSON.stringify(sql));
  for (const [sql, kind] of refused) t.match(scan(sql, 1), { kind }, `byte by byte: ${JSON.stringify(sql)}`);
  t.match(scan('COPY t FROM stdin;\n1\n\\! x\n\\.\n'), { line: 3 });
});

t.test('accepted: prefixed strings, numbers and the COPY lines pg_dump writes', async (t) => {
  const accepted = [
    "SELECT E'\\'', N'x', B'101', X'1F', U&'d\\0061t' UESCAPE '!', U&\"d!0061t\", 1.5e-3, .5, 1..2;\n",
    'SELECT 1$a$ \\! inside a dollar quote $a$;\n',
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT E'a;b'; SELECT N'c;' || x'1f'::text; END;\nSELECT 3;\n",
    'COPY t FROM stdin;\n\\N\t1\n\\\\x\t2\n\\.\n',
    'SELECT $1, $2::int;\n',
  ];
  for (const sql of accepted) t.equal(scan(sql), null, JSON.stringify(sql));
  for (const sql of accepted) t.equal(scan(sql, 1), null, `byte by byte: ${JSON.stringify(sql)}`);
});

t.test("pg_dump's own \\restrict and \\unrestrict lines are recorded, to be left out when fed", async (t) => {
  const sql = '\\restrict Ab12\nSELECT 1;\n\\unrestrict Ab12\n';
  const guard = new PlainDumpGuard();
  for (let i = 0; i < sql.length; i += 3) guard.feed(Buffer.from(sql.slice(i, i + 3)));
  const outline = guard.end();
  t.same(outline.restrictLines, [
    { start: 0, end: 15 },
    { start: 25, end: 42 },
  ]);
  t.same(
    outline.restrictLines.map((r) => sql.slice(r.start, r.end)),
    ['\\restrict Ab12\n', '\\unrestrict Ab12\n'],
  );
});

t.test('the outline: statements, COPY blocks and the roles the script refers to', async (t) => {
  const guard = new PlainDumpGuard();
  guard.feed(
    Buffer.from(
      [
        'ALTER TABLE public.t OWNER TO alice;',
        'COPY public.t (a) FROM stdin;',
        '1',
        '\\.',
        'GRANT SELECT ON TABLE public.t TO bob, "Carol X", PUBLIC;',
        'ALTER DEFAULT PRIVILEGES FOR ROLE dave GRANT ALL ON TABLES TO erin WITH GRANT OPTION;',
        'REVOKE ALL ON SCHEMA public FROM frank CASCADE;',
        '',
      ].join('\n'),
    ),
  );
  const outline = guard.end();
  t.equal(outline.statementEnds.length, 5);
  t.same(
    outline.copies.map((c) => c.table),
    ['public.t'],
  );
  t.same([...outline.roles].sort(), ['Carol X', 'alice', 'bob', 'dave', 'erin', 'frank']);
});

t.test('property: text inside quotes, dollar quotes, comments or COPY data is never refused', async () => {
  const body = fc.string({ maxLength: 40 });
  fc.assert(
    fc.property(body, (s) => {
      const noQuote = s.replaceAll("'", "''").replace(/\\+(?='|$)/g, '');
      const dollar = s.replaceAll('$q$', '');
      const comment = s.replaceAll('*/', '').replaceAll('/*', '');
      const data = s.replace(/\n/g, ' ');
      return (
        scan(`SELECT '${noQuote}';\n`) === null &&
        scan(`SELECT $q$${dollar}$q$;\n`) === null &&
        scan(`/* ${comment} */\n`) === null &&
        scan(`COPY t FROM stdin;\n${data.startsWith('\\') ? `x${data}` : data}\n\\.\n`) === null
      );
    }),
  );
});

t.test('property: a backslash command after any complete statement is refused', async () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z ]{0,20}$/), fc.constantFrom('!', 'o', 'i', 'w', 'copy', 'set'), (s, cmd) => {
      return scan(`SELECT 1 ${s};\n\\${cmd} x\n`) !== null;
    }),
  );
});

t.test('globals: roles and the attributes a restore may set', async (t) => {
  const roles = parseGlobalRoles(
    [
      'CREATE ROLE alice;',
      "ALTER ROLE alice WITH NOSUPERUSER INHERIT NOCREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$x' VALID UNTIL 'infinity';",
      'CREATE ROLE "Big Boss";',
      'ALTER ROLE "Big Boss" WITH SUPERUSER CREATEROLE NOLOGIN CONNECTION LIMIT 3;',
      'ALTER ROLE nobody WITH LOGIN;',
      'GRANT alice TO "Big Boss" GRANTED BY postgres;',
    ].join('\n'),
  );
  t.same(roles, [
    {
      name: 'alice',
      attributes: ['NOSUPERUSER', 'INHERIT', 'NOCREATEROLE', 'CREATEDB', 'LOGIN'],
      skipped: ['alice: REPLICATION', 'alice: BYPASSRLS', 'alice: PASSWORD'],
    },
    { name: 'Big Boss', attributes: ['NOLOGIN'], skipped: ['Big Boss: SUPERUSER', 'Big Boss: CREATEROLE'] },
  ]);
});

t.test('TOC lines and table/schema selections', async (t) => {
  t.match(parseTocLine('3372; 0 16418 TABLE DATA public Odd "Name".x owner_1'), {
    id: 3372,
    desc: 'TABLE DATA',
    namespace: 'public',
    tag: 'Odd "Name".x',
    owner: 'owner_1',
  });
  t.match(parseTocLine('6; 2615 16410 SCHEMA - billing postgres'), { namespace: null, tag: 'billing' });
  t.equal(parseTocLine('; a comment'), null);
  t.equal(parseTocLine('1; 2 3 MYSTERY x y z'), null);
  t.equal(parseTocLine('1; 2 3 TABLE'), null);
  const entries = parseToc(
    [
      '6; 2615 16410 SCHEMA - billing postgres',
      '220; 1259 16412 TABLE billing invoices postgres',
      '216; 1259 16386 TABLE public users postgres',
      '218; 1259 16397 TABLE public orders postgres',
      '3381; 0 0 ACL public TABLE users postgres',
      '3218; 2606 16393 CONSTRAINT public users users_pkey postgres',
      '3223; 2606 16405 FK CONSTRAINT public orders orders_user_id_fkey postgres',
      '3367; 0 16386 TABLE DATA public users postgres',
    ].join('\n'),
  );
  t.equal(selectEntries(entries, { tables: [], schemas: [] }), null);
  t.same(
    selectEntries(entries, { tables: [{ schema: 'public', name: 'users' }], schemas: [] })?.map((e) => e.id),
    [216, 3381, 3218, 3367],
  );
  t.same(
    selectEntries(entries, { tables: [], schemas: ['billing'] })?.map((e) => e.id),
    [6, 220],
  );
});

t.test('names derived from the database stay within 63 bytes', async (t) => {
  t.equal(derivedDatabaseName('app', '_pgs_0011aabb'), 'app_pgs_0011aabb');
  const long = derivedDatabaseName('é'.repeat(31), '_pgs_0011aabb');
  t.ok(Buffer.byteLength(long) <= 63);
  t.ok(long.endsWith('_pgs_0011aabb'));
  t.equal(majorOf('15.18 (Debian 15.18-0+deb12u1)'), 15);
  t.equal(majorOf(null), 0);
});
