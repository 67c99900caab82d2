import pg from 'pg';
import t from 'tap';
import { isAuthFailure, sqlStateOf, translatePgError } from '../../src/db/pg-errors.js';
import { Errors } from '../../src/errors.js';
import { createTestDatabase } from '../helpers/database.js';

const db = await createTestDatabase(t);

/** The error a real server sends for `text`, run as the owner. */
async function serverError(text: string): Promise<unknown> {
  try {
    await db.ownerQuery(text);
  } catch (err) {
    return err;
  }
  throw new Error(`${text} did not fail`);
}

t.test('sqlStateOf reads the SQLSTATE of errors the server sent', async (t) => {
  t.equal(sqlStateOf(await serverError('SELECT 1/0')), '22012');
  t.equal(sqlStateOf(await serverError('SELECT * FROM no_such_table')), '42P01');
  t.equal(sqlStateOf(await serverError("SELECT 'x'::int")), '22P02');
});

t.test('sqlStateOf finds none in what is not a server error', async (t) => {
  for (const err of [undefined, null, 'XX000', 42, new Error('plain'), { code: 'PGS_VALIDATION' }, { code: '2201' }]) {
    t.equal(sqlStateOf(err), undefined, String(err));
  }
  // Node system errors can look like a SQLSTATE (five upper-case letters); they are not one.
  const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
  t.equal(sqlStateOf(epipe), undefined);
  t.equal(sqlStateOf(Errors.conflict('x')), undefined);
});

t.test('isAuthFailure is true for a refused login and false for other errors', async (t) => {
  const client = new pg.Client(db.cluster.clientConfig(db.name, db.cluster.superuser, 'not-the-password'));
  const refused = await client.connect().then(
    () => undefined,
    (err: unknown) => err,
  );
  await client.end().catch(() => {});
  t.equal(sqlStateOf(refused), '28P01');
  t.ok(isAuthFailure(refused));
  t.ok(isAuthFailure({ code: '28000' }), 'invalid_authorization_specification (no pg_hba.conf entry)');
  t.notOk(isAuthFailure(await serverError('SELECT 1/0')));
  t.notOk(isAuthFailure(Object.assign(new Error('x'), { code: '28P01', syscall: 'connect' })));
});

t.test('translatePgError maps by SQLSTATE and leaves what it does not know', async (t) => {
  const duplicate = await serverError("INSERT INTO tenants (id, name) VALUES ('dup', 'a'), ('dup', 'b')");
  t.match(translatePgError(duplicate), { code: 'PGS_CONFLICT' });
  t.match(translatePgError(duplicate, { '23505': Errors.tenantExists('dup') }), { code: 'PGS_TENANT_EXISTS' });
  const divide = await serverError('SELECT 1/0');
  t.equal(translatePgError(divide), divide);
  const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
  t.equal(translatePgError(epipe), epipe);
});
