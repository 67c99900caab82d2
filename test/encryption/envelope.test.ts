import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import t from 'tap';
import { DecryptStream, EncryptStream, HEADER_BYTES, newDataKey } from '../../src/domain/encryption/envelope.js';

const CHUNK = 1024;
const RECORD = CHUNK + 16;

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Feeds `input` in pieces of `piece` bytes (so records cross chunk boundaries). */
function pieces(input: Buffer, piece: number): Readable {
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i += piece) out.push(input.subarray(i, i + piece));
  return Readable.from(out);
}

async function encrypt(key: Buffer, plain: Buffer, piece = 333): Promise<{ sealed: Buffer; enc: EncryptStream }> {
  const enc = new EncryptStream(key, { chunkBytes: CHUNK });
  const sealedP = collect(enc);
  await pipeline(pieces(plain, piece), enc);
  return { sealed: await sealedP, enc };
}

async function decrypt(key: Buffer, sealed: Buffer, piece = 517): Promise<{ plain: Buffer; dec: DecryptStream }> {
  const dec = new DecryptStream(key);
  const plainP = collect(dec);
  plainP.catch(() => {}); // the pipeline reports the same error
  await pipeline(pieces(sealed, piece), dec);
  return { plain: await plainP, dec };
}

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
};

t.test('round trip at every size around the chunk boundaries, with the plaintext digest both ways', async (t) => {
  const key = newDataKey();
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7]) {
    const plain = randomBytes(size);
    const { sealed, enc } = await encrypt(key, plain);
    t.not(sealed.subarray(0, 5).toString('latin1'), 'PGDMP');
    t.equal(sealed.subarray(0, 6).toString('latin1'), 'PGSENC');
    t.equal(sealed.length, HEADER_BYTES + Math.max(1, Math.ceil(size / CHUNK)) * 16 + size, `size ${size}`);
    const { plain: back, dec } = await decrypt(key, sealed);
    t.ok(back.equals(plain), `size ${size} round-trips`);
    const sha = createHash('sha256').update(plain).digest('hex');
    t.same(enc.plaintext, { sizeBytes: size, sha256: sha });
    t.same(dec.plaintext, { sizeBytes: size, sha256: sha });
  }
});

t.test('the same plaintext encrypts differently each time (a random prefix per object)', async (t) => {
  const key = newDataKey();
  const plain = Buffer.from('COPY public.t (id) FROM stdin;\n1\n\\.\n');
  const a = (await encrypt(key, plain)).sealed;
  const b = (await encrypt(key, plain)).sealed;
  t.not(a.toString('hex'), b.toString('hex'));
  t.notOk(a.includes(plain.subarray(0, 12)), 'no plaintext in the object');
});

t.test(
  'a wrong key, a truncation, a flipped bit, reordered or dropped records and trailing bytes all fail',
  async (t) => {
    const key = newDataKey();
    const plain = randomBytes(3 * CHUNK + 100);
    const { sealed } = await encrypt(key, plain);
    t.equal(await codeOf(decrypt(newDataKey(), sealed)), 'PGS_ARTIFACT_CORRUPT', 'wrong key');
    t.equal(
      await codeOf(decrypt(key, sealed.subarray(0, HEADER_BYTES + 2 * RECORD))),
      'PGS_ARTIFACT_CORRUPT',
      'cut at a record boundary',
    );
    t.equal(
      await codeOf(decrypt(key, sealed.subarray(0, sealed.length - 1))),
      'PGS_ARTIFACT_CORRUPT',
      'last byte missing',
    );
    t.equal(await codeOf(decrypt(key, sealed.subarray(0, 10))), 'PGS_ARTIFACT_CORRUPT', 'cut inside the header');
    t.equal(await codeOf(decrypt(key, sealed.subarray(0, HEADER_BYTES))), 'PGS_ARTIFACT_CORRUPT', 'header only');
    t.equal(
      await codeOf(decrypt(key, Buffer.concat([sealed, Buffer.from([0])]))),
      'PGS_ARTIFACT_CORRUPT',
      'a byte appended',
    );
    const r0 = sealed.subarray(HEADER_BYTES, HEADER_BYTES + RECORD);
    const r1 = sealed.subarray(HEADER_BYTES + RECORD, HEADER_BYTES + 2 * RECORD);
    const swapped = Buffer.concat([
      sealed.subarray(0, HEADER_BYTES),
      r1,
      r0,
      sealed.subarray(HEADER_BYTES + 2 * RECORD),
    ]);
    t.equal(await codeOf(decrypt(key, swapped)), 'PGS_ARTIFACT_CORRUPT', 'two records swapped');
    const dropped = Buffer.concat([sealed.subarray(0, HEADER_BYTES), sealed.subarray(HEADER_BYTES + RECORD)]);
    t.equal(await codeOf(decrypt(key, dropped)), 'PGS_ARTIFACT_CORRUPT', 'first record dropped');
    const pgdump = Buffer.concat([Buffer.from('PGDMP'), randomBytes(100)]);
    t.equal(await codeOf(decrypt(key, pgdump)), 'PGS_ARTIFACT_CORRUPT', 'a plain dump is not an envelope');
  },
);

t.test('any single flipped bit anywhere in the object is detected', async (t) => {
  const key = newDataKey();
  const plain = randomBytes(2 * CHUNK + 50);
  const { sealed } = await encrypt(key, plain);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: sealed.length * 8 - 1 }), async (bit) => {
      const bad = Buffer.from(sealed);
      bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
      return (await codeOf(decrypt(key, bad))) === 'PGS_ARTIFACT_CORRUPT';
    }),
    { numRuns: 300 },
  );
  t.pass('300 flips detected');
});

t.test('nothing of a record whose tag fails is passed on', async (t) => {
  const key = newDataKey();
  const plain = randomBytes(CHUNK * 2 + 1);
  const { sealed } = await encrypt(key, plain);
  const bad = Buffer.from(sealed);
  const at = HEADER_BYTES + RECORD + 5; // inside the second record
  bad[at] = (bad[at] as number) ^ 1;
  const dec = new DecryptStream(key);
  const seen: Buffer[] = [];
  dec.on('data', (d: Buffer) => seen.push(d));
  await t.rejects(pipeline(pieces(bad, 4096), dec), { code: 'PGS_ARTIFACT_CORRUPT' });
  t.equal(Buffer.concat(seen).length, CHUNK, 'only the first (verified) record came out');
});
