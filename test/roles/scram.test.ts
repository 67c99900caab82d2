import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import t from 'tap';
import { generatePassword, PASSWORD_ALPHABET } from '../../src/domain/roles/password.js';
import { parseScramVerifier, scramVerifier, verifierMatches } from '../../src/secrets/scram.js';
import { quoteIdent, quoteLiteral } from '../../src/sql/identifiers.js';
import { testCluster } from '../helpers/database.js';

const cluster = await testCluster(t);
const admin = new pg.Client(cluster.clientConfig());
await admin.connect();
t.teardown(() => admin.end());

const roleName = () => `scram_${randomBytes(4).toString('hex')}`;
async function dropLater(name: string) {
  t.teardown(() => admin.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`));
}
async function storedVerifier(name: string): Promise<string> {
  const { rows } = await admin.query<{ v: string }>('SELECT rolpassword AS v FROM pg_authid WHERE rolname = $1', [
    name,
  ]);
  return rows[0]?.v ?? '';
}
async function logsIn(name: string, password: string): Promise<boolean> {
  const client = new pg.Client(cluster.clientConfig('postgres', name, password));
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query('SELECT 1 AS one');
    return rows[0]?.one === 1;
  } catch (err) {
    if ((err as { code?: string }).code === '28P01') return false;
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

t.test('the verifier equals the one PostgreSQL computes for the same password and salt', async (t) => {
  const name = roleName();
  await dropLater(name);
  const password = generatePassword();
  await admin.query("SET password_encryption = 'scram-sha-256'");
  // The plaintext reaches this (test-only) statement on purpose: PostgreSQL computes the reference verifier.
  await admin.query(`CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD ${quoteLiteral(password)}`);
  const theirs = await storedVerifier(name);
  const parsed = parseScramVerifier(theirs);
  t.ok(parsed, 'PostgreSQL stored a SCRAM-SHA-256 verifier');
  t.equal(parsed?.iterations, 4096);
  t.equal(scramVerifier(password, parsed?.salt), theirs, 'byte for byte the same text');
  t.ok(verifierMatches(theirs, password));
  t.notOk(verifierMatches(theirs, `${password}x`));
});

t.test('a role given our verifier logs in with the password, and not with another', async (t) => {
  const name = roleName();
  await dropLater(name);
  const password = generatePassword();
  const verifier = scramVerifier(password);
  await admin.query(`CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD ${quoteLiteral(verifier)}`);
  t.equal(await storedVerifier(name), verifier, 'stored unchanged: the server never saw the plaintext');
  t.ok(await logsIn(name, password), 'the password logs in');
  t.notOk(await logsIn(name, generatePassword()), 'another password is refused');
  t.notOk(await logsIn(name, verifier), 'the verifier itself is no password');
});

t.test('a fresh salt every time: two verifiers of one password differ, both match it', async (t) => {
  const password = generatePassword();
  const [a, b] = [scramVerifier(password), scramVerifier(password)];
  t.not(a, b);
  t.ok(verifierMatches(a, password) && verifierMatches(b, password));
  t.equal(parseScramVerifier(a)?.salt.length, 16, '16-byte salt');
});

t.test('only printable ASCII is hashed: SASLprep would change anything else', async (t) => {
  for (const bad of ['', 'pass word', 'pässword', 'tab\there', 'nul\0']) {
    t.throws(() => scramVerifier(bad), /printable ASCII/, JSON.stringify(bad));
  }
  t.equal(parseScramVerifier('md5abcdef'), undefined, 'an MD5 hash is no SCRAM verifier');
  t.equal(parseScramVerifier('SCRAM-SHA-256$4096:c2FsdA==$YQ==:Yg=='), undefined, 'short keys are refused');
});

t.test('generated passwords: 32+ characters, URL- and shell-safe alphabet, every class', async (t) => {
  t.equal(PASSWORD_ALPHABET.length, 67);
  for (const forbidden of `'"\`\\/@:?#%& $;|<>(){}[]*!~^=`) {
    t.notOk(PASSWORD_ALPHABET.includes(forbidden), `no ${JSON.stringify(forbidden)}`);
  }
  fc.assert(
    fc.property(fc.integer({ min: 32, max: 128 }), (length) => {
      const password = generatePassword(length);
      return (
        password.length === length &&
        [...password].every((c) => PASSWORD_ALPHABET.includes(c)) &&
        encodeURIComponent(password) === password.replaceAll(',', '%2C').replaceAll('+', '%2B') &&
        /[A-Z]/.test(password) &&
        /[a-z]/.test(password) &&
        /[0-9]/.test(password)
      );
    }),
    { numRuns: 200 },
  );
  t.throws(() => generatePassword(31), RangeError);
  const seen = new Set(Array.from({ length: 1000 }, () => generatePassword()));
  t.equal(seen.size, 1000, 'no repeats');
});
