import { format, inspect } from 'node:util';
import t from 'tap';
import {
  canonicalSecretText,
  redactedSecretFields,
  sameSecretText,
  secretTextToWrite,
} from '../../src/secrets/secret-fields.js';

const PASSWORD = 'pw-5b1d0e77-do-not-log';

t.test(
  'a read value hides its password from JSON, inspect, format and spreading, not from a property read',
  async (t) => {
    const value = redactedSecretFields({ username: 'u', password: PASSWORD, port: 5432 });
    t.ok(value.password === PASSWORD);
    for (const text of [JSON.stringify(value), inspect(value), format('%o %O %j', value, value, value)]) {
      t.notMatch(text, PASSWORD);
    }
    t.match(JSON.stringify(value), '"password":"[redacted]"');
    t.notOk('password' in { ...value }, 'spreading drops it: fails closed');
    t.ok(Object.isFrozen(value));
    t.same(JSON.parse(JSON.stringify(redactedSecretFields({ username: 'u' }))), { username: 'u' });
  },
);

t.test('writing back a read value stores the real password, never the redaction marker', async (t) => {
  const value = redactedSecretFields({ username: 'u', password: PASSWORD });
  const text = secretTextToWrite('file:k', value);
  t.equal(JSON.parse(text).password, PASSWORD);
});

t.test('canonical text sorts keys at every depth, so a rebuilt value matches the stored one', async (t) => {
  const a = { username: 'u', password: PASSWORD, extra: { b: 1, a: [{ d: 1, c: 2 }] } };
  const b = { extra: { a: [{ c: 2, d: 1 }], b: 1 }, password: PASSWORD, username: 'u' };
  t.equal(canonicalSecretText(a), canonicalSecretText(b));
  t.ok(sameSecretText(JSON.stringify(b), canonicalSecretText(a)), 'a stored copy in another order is the same value');
  t.notOk(sameSecretText('not json', canonicalSecretText(a)));
  t.notOk(sameSecretText(JSON.stringify({ ...a, password: 'other' }), canonicalSecretText(a)));
});

t.test('a value that is not a plain object is refused without quoting it', async (t) => {
  class Credentials {
    username = 'u';
    password = PASSWORD;
  }
  const cyclic: Record<string, unknown> = { username: 'u', password: PASSWORD };
  cyclic.self = cyclic;
  for (const [value, reason] of [
    [new Credentials(), /not a plain JSON object/],
    [cyclic, /not representable as JSON/],
    [null, /not a JSON object/],
  ] as const) {
    t.throws(() => secretTextToWrite('file:k', value), { code: 'PGS_SECRET_MALFORMED', message: reason });
    try {
      secretTextToWrite('file:k', value);
    } catch (err) {
      t.notMatch(String((err as Error).message), PASSWORD);
    }
  }
});
