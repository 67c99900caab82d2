import fc from 'fast-check';
import t from 'tap';
import { isPgStewardError } from '../../src/errors.js';
import { formatSecretRef, parseSecretRef, type SecretRef } from '../../src/secrets/secret-ref.js';

/** The error parseSecretRef threw for `ref`, or undefined if it accepted it. */
function refusal(ref: unknown) {
  try {
    parseSecretRef(ref);
    return undefined;
  } catch (err) {
    if (!isPgStewardError(err)) throw err;
    return err;
  }
}

t.test('well-formed refs split into scheme and id', async (t) => {
  t.same(parseSecretRef('aws-sm:prod/orders-db'), { scheme: 'aws-sm', id: 'prod/orders-db' });
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders-db-AbCdEf';
  t.same(parseSecretRef(`aws-sm:${arn}`), { scheme: 'aws-sm', id: arn });
  t.same(parseSecretRef('file:tenant-a/orders.main_db'), { scheme: 'file', id: 'tenant-a/orders.main_db' });
});

t.test('malformed refs are refused with PGS_SECRET_REF_INVALID', async (t) => {
  const refused = [
    '',
    'aws-sm:',
    'file:',
    'aws-sm',
    'vault:secret/db',
    'AWS-SM:db',
    ' aws-sm:db',
    'aws-sm:db name',
    'aws-sm:db\n',
    'aws-sm:db\u0000x',
    'aws-sm:db\u009b[31m',
    'file:a b',
    'file:key:with:colons',
    'file:ключ',
    `file:${'k'.repeat(201)}`,
    `aws-sm:${'a'.repeat(2048)}`,
  ];
  for (const ref of refused) {
    t.match(refusal(ref), { code: 'PGS_SECRET_REF_INVALID', statusCode: 400 }, JSON.stringify(ref.slice(0, 40)));
  }
  for (const notAString of [undefined, null, 42, { scheme: 'file', id: 'x' }]) {
    t.match(refusal(notAString), { code: 'PGS_SECRET_REF_INVALID' }, String(notAString));
  }
  t.equal(refusal(`file:${'k'.repeat(200)}`), undefined, 'a 200-character key is the longest accepted');
  t.equal(refusal(`aws-sm:${'a'.repeat(2041)}`), undefined, 'a 2048-character ref is the longest accepted');
});

t.test('a ref that may be a password pasted into the wrong field is never echoed', async (t) => {
  const err = refusal('Tr0ub4dor&3-correct-horse');
  t.ok(err);
  t.notMatch(err?.message ?? '', 'Tr0ub4dor');
  t.match(err?.message, /25 characters without a known prefix, not shown/);
});

t.test('control characters in a refused ref are escaped in the message, so it cannot forge log lines', async (t) => {
  const err = refusal('aws-sm:db\nlevel=error msg=forged');
  t.notMatch(err?.message ?? '', '\n');
  t.match(err?.message, 'aws-sm:db\\nlevel=error');
});

const knownPrefix = (s: string) => s.startsWith('aws-sm:') || s.startsWith('file:');

t.test('property: any string without a known prefix is refused, and not echoed', async () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })), (ref) => {
      fc.pre(!knownPrefix(ref));
      const err = refusal(ref);
      if (err?.code !== 'PGS_SECRET_REF_INVALID') return false;
      return ref.length < 4 || !err.message.includes(ref);
    }),
    { numRuns: 1000 },
  );
});

t.test('property: a control character anywhere is refused', async () => {
  const control = fc
    .integer({ min: 0, max: 0x9f })
    .filter((c) => c < 0x20 || c >= 0x7f)
    .map(String.fromCharCode);
  fc.assert(
    fc.property(fc.constantFrom('aws-sm:', 'file:'), fc.string(), control, fc.string(), (prefix, a, c, b) => {
      return refusal(`${prefix}${a}${c}${b}`)?.code === 'PGS_SECRET_REF_INVALID';
    }),
  );
});

const awsId = fc.stringMatching(/^[A-Za-z0-9/_+=.@:-]{1,512}$/);
const fileKey = fc.stringMatching(/^[A-Za-z0-9._/-]{1,200}$/);
const validRef: fc.Arbitrary<SecretRef> = fc.oneof(
  awsId.map((id) => ({ scheme: 'aws-sm' as const, id })),
  fileKey.map((id) => ({ scheme: 'file' as const, id })),
);

t.test('property: valid refs round-trip through format and parse', async () => {
  fc.assert(
    fc.property(validRef, (ref) => {
      const text = formatSecretRef(ref);
      const parsed = parseSecretRef(text);
      return parsed.scheme === ref.scheme && parsed.id === ref.id && formatSecretRef(parsed) === text;
    }),
    { numRuns: 1000 },
  );
});
