import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import type { ArtifactStorage } from '../../../src/domain/backups/storage/artifact-storage.js';

/** One backend's storage, fresh and empty for one subtest, plus a way to corrupt its temporary area. */
export interface StorageUnderTest {
  storage: ArtifactStorage;
  /** Change the stored bytes of the temporary object `name` (keeping its size). */
  tamperTemporary(name: string): Promise<void>;
}

export type OpenStorage = (t: Test) => Promise<StorageUnderTest>;

export const MiB = 1024 * 1024;

/**
 * `totalBytes` of random data in `chunkBytes` pieces, generated as it is read (never held whole), with
 * an independent sha256 computed on the side. `failAfterBytes` makes the source throw part-way, like
 * a pg_dump that dies; `onProgress` runs before each chunk.
 */
export function randomSource(
  totalBytes: number,
  options: { chunkBytes?: number; failAfterBytes?: number; onProgress?: (sent: number) => void } = {},
) {
  const chunkBytes = options.chunkBytes ?? 16 * 1024;
  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  const keep = totalBytes <= 8 * MiB;
  let sent = 0;
  const readable = Readable.from(
    (async function* () {
      while (sent < totalBytes) {
        if (options.failAfterBytes !== undefined && sent >= options.failAfterBytes) {
          throw new Error('pg_dump died');
        }
        options.onProgress?.(sent);
        const chunk = randomBytes(Math.min(chunkBytes, totalBytes - sent));
        hash.update(chunk);
        if (keep) kept.push(chunk);
        sent += chunk.length;
        yield chunk;
        // Let timers and I/O callbacks (signals, uploads) interleave with the writer, as with a real dump.
        if (sent % (1 * MiB) < chunkBytes) await sleep(0);
      }
    })(),
    { objectMode: false },
  );
  return {
    readable,
    sha256: () => hash.digest('hex'),
    /** The bytes sent, for sources up to 8 MiB. */
    bytes: () => Buffer.concat(kept),
  };
}

export async function readAll(readable: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Nothing under the final key, nothing committed at all, and no temporary object left. */
export async function assertNothingStored(t: Test, storage: ArtifactStorage, key: string): Promise<void> {
  t.equal(await storage.stat(key), null, 'nothing under the final key');
  t.same(await storage.list(''), [], 'no committed object at all');
  t.same(await storage.listTemporary(), [], 'no temporary object left');
}

async function waitForTemporary(storage: ArtifactStorage): Promise<string> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const names = await storage.listTemporary();
    if (names.length === 1 && names[0]) return names[0];
    await sleep(10);
  }
  throw new Error('the temporary object never appeared');
}

const KEY = 'acme/prod-db/0b9c7a3e-1f2d-4c5b-9a8e-7d6c5b4a3f2e/dump.custom';

/** The behaviour every ArtifactStorage must show, run once per backend. */
export function storageContract(t: Test, open: OpenStorage): void {
  t.test('a 5 MB stream in small chunks commits with the streamed size and sha256 and reads back equal', async (t) => {
    const { storage } = await open(t);
    const source = randomSource(5 * MiB + 123, { chunkBytes: 16 * 1024 });
    const writer = await storage.createWriter(KEY);
    await pipeline(source.readable, writer.stream);
    t.equal(writer.bytesWritten, 5 * MiB + 123, 'bytesWritten counts every byte');
    const stored = await writer.commit();
    t.same(stored, { key: KEY, sizeBytes: 5 * MiB + 123, sha256: source.sha256() });
    t.same(await storage.stat(KEY), { sizeBytes: 5 * MiB + 123 });
    const readBack = await readAll(await storage.read(KEY));
    t.ok(readBack.equals(source.bytes()), 'the stored bytes equal the streamed bytes');
    t.same(await storage.listTemporary(), [], 'the temporary area is empty');
    t.same(await storage.list(''), [KEY]);
    t.same(await storage.list('acme/prod-db/'), [KEY]);
    t.same(await storage.list('acme/other-db/'), []);
    await writer.abort();
    t.same(await storage.stat(KEY), { sizeBytes: 5 * MiB + 123 }, 'abort() after commit() leaves the object alone');
    await t.rejects(writer.commit(), /already committed/, 'a second commit() is refused');
  });

  t.test('an empty stream commits an empty object', async (t) => {
    const { storage } = await open(t);
    const writer = await storage.createWriter('acme/db/empty');
    await pipeline(Readable.from([]), writer.stream);
    t.same(await writer.commit(), {
      key: 'acme/db/empty',
      sizeBytes: 0,
      sha256: createHash('sha256').digest('hex'),
    });
    t.same(await storage.stat('acme/db/empty'), { sizeBytes: 0 });
  });

  t.test('a source that fails part-way leaves nothing once aborted, and cannot be committed', async (t) => {
    const { storage } = await open(t);
    // More than one 8 MiB part, so an S3 multipart upload is under way when the source dies.
    const source = randomSource(20 * MiB, { chunkBytes: 64 * 1024, failAfterBytes: 10 * MiB });
    const writer = await storage.createWriter(KEY);
    await t.rejects(pipeline(source.readable, writer.stream), /pg_dump died/);
    await t.rejects(writer.commit(), 'commit() after a failed stream throws');
    await writer.abort();
    await writer.abort(); // idempotent
    await assertNothingStored(t, storage, KEY);
  });

  t.test('an AbortSignal fired mid-write stops the stream and leaves nothing', async (t) => {
    const { storage } = await open(t);
    const controller = new AbortController();
    const source = randomSource(20 * MiB, {
      chunkBytes: 64 * 1024,
      onProgress: (sent) => {
        if (sent >= 9 * MiB) controller.abort();
      },
    });
    const writer = await storage.createWriter(KEY, { signal: controller.signal });
    await t.rejects(pipeline(source.readable, writer.stream), { name: 'AbortError' });
    t.ok(writer.bytesWritten < 20 * MiB, `stopped after ${writer.bytesWritten} bytes`);
    await t.rejects(writer.commit());
    await writer.abort();
    await assertNothingStored(t, storage, KEY);
  });

  t.test('an already-aborted signal refuses to start a write', async (t) => {
    const { storage } = await open(t);
    await t.rejects(storage.createWriter(KEY, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    await assertNothingStored(t, storage, KEY);
  });

  t.test('commit() before the stream has finished throws and removes the temporary object', async (t) => {
    const { storage } = await open(t);
    const writer = await storage.createWriter(KEY);
    writer.stream.on('error', () => undefined);
    writer.stream.write(randomBytes(1024));
    await t.rejects(writer.commit(), /before the artifact stream finished/);
    await writer.abort();
    await assertNothingStored(t, storage, KEY);
  });

  t.test('bytes changed in the temporary object before commit() make it throw and leave nothing', async (t) => {
    const { storage, tamperTemporary } = await open(t);
    const source = randomSource(5 * MiB);
    const writer = await storage.createWriter(KEY);
    await pipeline(source.readable, writer.stream);
    await tamperTemporary(await waitForTemporary(storage));
    await t.rejects(writer.commit(), { code: 'PGS_ARTIFACT_INTEGRITY', message: /different sha256/ });
    await assertNothingStored(t, storage, KEY);
  });

  t.test('committing a key again replaces the object whole', async (t) => {
    const { storage } = await open(t);
    for (const size of [3 * MiB, 1000]) {
      const source = randomSource(size);
      const writer = await storage.createWriter(KEY);
      await pipeline(source.readable, writer.stream);
      await writer.commit();
      t.ok((await readAll(await storage.read(KEY))).equals(source.bytes()), `holds the ${size}-byte version`);
    }
  });

  t.test('deleting a prefix removes every object beneath it and nothing beside it', async (t) => {
    const { storage } = await open(t);
    const keys = [
      'acme/db/b1/dir/toc.dat',
      'acme/db/b1/dir/3456.dat.gz',
      'acme/db/b1/dir/3457.dat.gz',
      'acme/db/b1/manifest.json',
      'acme/db/b10/dump.custom',
      'acme/db/b2/dump.custom',
    ];
    for (const key of keys) {
      const writer = await storage.createWriter(key);
      await pipeline(Readable.from([Buffer.from(key)]), writer.stream);
      await writer.commit();
    }
    t.same(await storage.list('acme/db/b1/'), keys.slice(0, 4).sort());
    await storage.delete('acme/db/b1/');
    t.same(await storage.list(''), ['acme/db/b10/dump.custom', 'acme/db/b2/dump.custom'], 'b10 is not under b1/');
    await storage.delete('acme/db/b2/dump.custom');
    await storage.delete('acme/db/b2/dump.custom'); // deleting what is gone is fine
    await storage.delete('acme/nothing-here/');
    t.same(await storage.list(''), ['acme/db/b10/dump.custom']);
    t.equal((await readAll(await storage.read('acme/db/b10/dump.custom'))).toString(), 'acme/db/b10/dump.custom');
    await t.rejects(storage.delete(''), { code: 'PGS_ARTIFACT_KEY_INVALID' }, 'the whole store is not a prefix');
  });

  t.test('reading or stating a missing key says so', async (t) => {
    const { storage } = await open(t);
    await t.rejects(storage.read('acme/db/missing'), { code: 'PGS_ARTIFACT_NOT_FOUND' });
    t.equal(await storage.stat('acme/db/missing'), null);
  });

  t.test('every operation refuses keys outside the store', async (t) => {
    const { storage } = await open(t);
    for (const key of ['../escape', '/etc/passwd', '.tmp/x', 'a/../../b']) {
      await t.rejects(storage.createWriter(key), { code: 'PGS_ARTIFACT_KEY_INVALID' }, `createWriter ${key}`);
      await t.rejects(storage.read(key), { code: 'PGS_ARTIFACT_KEY_INVALID' }, `read ${key}`);
      await t.rejects(storage.stat(key), { code: 'PGS_ARTIFACT_KEY_INVALID' }, `stat ${key}`);
      await t.rejects(storage.delete(key), { code: 'PGS_ARTIFACT_KEY_INVALID' }, `delete ${key}`);
      await t.rejects(storage.delete(`${key}/`), { code: 'PGS_ARTIFACT_KEY_INVALID' }, `delete ${key}/`);
      await t.rejects(storage.list(`${key}/`), { code: 'PGS_ARTIFACT_KEY_INVALID' }, `list ${key}/`);
    }
  });
}
