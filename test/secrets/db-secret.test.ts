import { format, inspect } from 'node:util';
import t from 'tap';
import { isPgStewardError } from '../../src/errors.js';
import { type DbSecret, parseDbSecret, parseDbSecretObject } from '../../src/secrets/db-secret.js';

const PASSWORD = 'pw-7f3a9c1e-do-not-log';
const REF = 'aws-sm:prod/db';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n';

function malformedReason(text: string): string {
  try {
    parseDbSecret(REF, text);
  } catch (err) {
    if (isPgStewardError(err) && err.code === 'PGS_SECRET_MALFORMED') return err.message;
    throw err;
  }
  throw new Error('the secret was accepted');
}

t.test('the RDS secret shape is read, unknown fields ignored, a numeric port string accepted', async (t) => {
  const secret = parseDbSecret(
    REF,
    JSON.stringify({
      username: 'app',
      password: PASSWORD,
      host: 'db.internal',
      port: '6432',
      dbname: 'orders',
      engine: 'postgres',
      sslrootcert: PEM,
      dbInstanceIdentifier: 'orders-prod',
    }),
  );
  t.ok(secret.password === PASSWORD, 'the password is readable as a property');
  t.equal(secret.username, 'app');
  t.equal(secret.host, 'db.internal');
  t.equal(secret.port, 6432);
  t.equal(secret.dbname, 'orders');
  t.equal(secret.engine, 'postgres');
  t.equal(secret.sslrootcert, PEM);
  t.notOk('dbInstanceIdentifier' in secret);
});

t.test('optional fields that are absent or null stay absent', async (t) => {
  const secret = parseDbSecretObject(REF, { username: 'app', password: PASSWORD, host: null, port: null });
  t.same(Object.keys(secret), ['username']);
  t.notOk('host' in secret);
  t.equal(secret.port, undefined);
});

t.test('a malformed secret is refused with a reason that never contains its values', async (t) => {
  const texts: Array<[string, RegExp]> = [
    [`{"username":"app","password":"${PASSWORD}"`, /not JSON/],
    [`{"username":"app","password":${PASSWORD}}`, /not JSON/],
    [PASSWORD, /not JSON/],
    ['', /not JSON/],
  ];
  const values: Array<[unknown, RegExp]> = [
    [[PASSWORD], /not a JSON object/],
    [PASSWORD, /not a JSON object/], // a JSON string, not an object
    [null, /not a JSON object/],
    [{ username: 'app' }, /password is missing/],
    [{ username: 'app', password: '' }, /password is empty/],
    [{ username: 'app', password: 12345678 }, /password must be a string/],
    [{ username: 'app', password: `${PASSWORD}\u0000tail` }, /password contains a NUL character/],
    [{ password: PASSWORD }, /username is missing/],
    [{ username: ['app'], password: PASSWORD }, /username must be a string/],
    [{ username: 'app', password: PASSWORD, port: 0 }, /port must be an integer from 1 to 65535/],
    [{ username: 'app', password: PASSWORD, port: 65536 }, /port must be an integer/],
    [{ username: 'app', password: PASSWORD, port: 5432.5 }, /port must be an integer/],
    [{ username: 'app', password: PASSWORD, port: '5432x' }, /port must be an integer/],
    [{ username: 'app', password: PASSWORD, port: ' 5432' }, /port must be an integer/],
    [{ username: 'app', password: PASSWORD, host: 5432 }, /host must be a string/],
    [{ username: 'app', password: PASSWORD, host: '' }, /host is empty/],
    [{ username: 'app', password: PASSWORD, sslrootcert: PASSWORD }, /sslrootcert must be a PEM certificate/],
  ];
  const cases = [...texts, ...values.map(([value, reason]): [string, RegExp] => [JSON.stringify(value), reason])];
  for (const [text, reason] of cases) {
    const message = malformedReason(text);
    t.match(message, reason, reason.source);
    t.notMatch(message, PASSWORD, `${reason.source}: no password in the message`);
    t.match(message, `Secret '${REF}'`, 'names the ref');
  }
});

t.test('text longer than any AWS secret is refused before parsing', async (t) => {
  const message = malformedReason(JSON.stringify({ username: 'app', password: 'x'.repeat(70_000) }));
  t.match(message, /longer than 65536 characters/);
});

t.test('JSON.stringify, util.inspect and console-style formatting redact the password', async (t) => {
  const secret: DbSecret = parseDbSecretObject(REF, { username: 'app', password: PASSWORD, host: 'db', port: 5432 });
  const renderings = {
    json: JSON.stringify(secret),
    nestedJson: JSON.stringify({ job: 1, secret }),
    inspect: inspect(secret),
    nestedInspect: inspect({ deep: { deeper: { secret } } }, { depth: 10 }),
    format: format('%o %O %j %s', secret, secret, secret, secret),
    template: `${String(secret)}`,
  };
  for (const [how, text] of Object.entries(renderings)) {
    t.notMatch(text, PASSWORD, `${how} hides the password`);
  }
  t.match(renderings.json, /"username":"app"/, 'the other fields still show');
  t.match(renderings.json, /"password":"\[redacted\]"/);
  t.match(renderings.inspect, /password: '\[redacted\]'/);
  t.match(renderings.inspect, /host: 'db'/);
  t.notOk(Object.keys(secret).includes('password'), 'password is not enumerable');
  t.ok(secret.password === PASSWORD, 'secret.password still works');
});

t.test('a secret is frozen: a caller cannot swap its credentials for other callers sharing it', async (t) => {
  const secret = parseDbSecretObject(REF, { username: 'app', password: PASSWORD });
  t.throws(() => {
    (secret as { password: string }).password = 'other';
  }, TypeError);
  t.ok(secret.password === PASSWORD);
});
