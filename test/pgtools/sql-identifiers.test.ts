import fc from 'fast-check';
import pg from 'pg';
import t from 'tap';
import { quoteIdent, quoteLiteral, quoteQualified } from '../../src/sql/identifiers.js';
import { createTestDatabase } from '../helpers/database.js';

/** Characters that break naive quoting, mixed with arbitrary Unicode. */
const nastyChar = fc.oneof(
  fc.constantFrom('"', "'", '\\', ' ', '.', ';', '-', '$', '\n', 'A', 'z', 'é', 'ß', '😀', '\u00a0', '\t'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const text = (maxLength: number) =>
  fc
    .array(nastyChar, { maxLength })
    .map((chars) => chars.join(''))
    // Valid UTF-16 only (a lone surrogate cannot reach PostgreSQL intact), no NUL (refused by design).
    .filter((s) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s);
// PostgreSQL truncates identifiers to 63 bytes; longer names would not round-trip by design.
const identifier = text(20).filter((s) => s !== '' && Buffer.byteLength(s, 'utf8') <= 63);

t.test('quoteIdent always quotes and doubles inner double quotes', async (t) => {
  t.equal(quoteIdent('users'), '"users"');
  t.equal(quoteIdent('a"b'), '"a""b"');
  t.equal(quoteIdent('Select'), '"Select"');
  t.equal(quoteQualified('public', 'Order "x"'), '"public"."Order ""x"""');
});

t.test('quoteIdent refuses an empty name and NUL', async (t) => {
  t.throws(() => quoteIdent(''), /must not be empty/);
  t.throws(() => quoteIdent('a\0b'), /NUL/);
  t.throws(() => quoteQualified('s\0', 'n'), /NUL/);
  t.throws(() => quoteLiteral('x\0'), /NUL/);
});

t.test('quoteLiteral uses E-strings only when a backslash is present', async (t) => {
  t.equal(quoteLiteral("it's"), "'it''s'");
  t.equal(quoteLiteral('a\\b'), "E'a\\\\b'");
  t.equal(quoteLiteral(''), "''");
});

t.test('round trips through a real PostgreSQL', async (t) => {
  const db = await createTestDatabase(t);
  const client = new pg.Client(db.cluster.clientConfig(db.name));
  await client.connect();
  t.teardown(() => client.end());

  await t.test('any name quoted by quoteIdent comes back as the column name, unchanged', async (t) => {
    await t.resolves(
      fc.assert(
        fc.asyncProperty(identifier, async (name) => {
          const result = await client.query(`SELECT 1 AS ${quoteIdent(name)}`);
          return result.fields.length === 1 && result.fields[0]?.name === name;
        }),
        { numRuns: 300 },
      ),
    );
  });

  await t.test(
    'a table created under quoteQualified(schema, name) is found in pg_class by its raw names',
    async (t) => {
      await t.resolves(
        fc.assert(
          fc.asyncProperty(identifier, identifier, async (schema, name) => {
            await client.query('BEGIN');
            try {
              await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
              await client.query(`CREATE TABLE ${quoteQualified(schema, name)} (id int)`);
              const { rows } = await client.query(
                `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1`,
                [schema],
              );
              return rows.length === 1 && rows[0].nspname === schema && rows[0].relname === name;
            } finally {
              await client.query('ROLLBACK');
            }
          }),
          { numRuns: 60 },
        ),
      );
    },
  );

  for (const conforming of ['on', 'off']) {
    await t.test(`quoteLiteral round-trips any text with standard_conforming_strings = ${conforming}`, async (t) => {
      await client.query(`SET standard_conforming_strings = ${conforming}`);
      await client.query('SET escape_string_warning = off');
      await t.resolves(
        fc.assert(
          fc.asyncProperty(text(40), async (value) => {
            const { rows } = await client.query(`SELECT ${quoteLiteral(value)}::text AS v`);
            return rows[0].v === value;
          }),
          { numRuns: 200 },
        ),
      );
      await client.query('RESET standard_conforming_strings');
    });
  }
});
