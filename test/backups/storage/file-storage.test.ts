import { execFileSync } from 'node:child_process';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import t, { type Test } from 'tap';
import { createArtifactStorage } from '../../../src/domain/backups/storage/create-storage.js';
import { assertNothingStored, MiB, randomSource, storageContract } from './storage-contract.js';

async function scratchDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgsteward-artifacts-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('file storage contract', async (t) => {
  storageContract(t, async (t) => {
    const root = join(await scratchDir(t), 'artifacts');
    return {
      storage: createArtifactStorage({ url: `file://${root}` }),
      async tamperTemporary(name) {
        const handle = await open(join(root, '.tmp', name), 'r+');
        try {
          const byte = Buffer.alloc(1);
          await handle.read(byte, 0, 1, 12345);
          byte[0] = (byte[0] ?? 0) ^ 0xff;
          await handle.write(byte, 0, 1, 12345);
        } finally {
          await handle.close();
        }
      },
    };
  });
});

t.test('a missing root is created 0700, committed files are 0600 in 0700 directories', async (t) => {
  const root = join(await scratchDir(t), 'deep', 'artifacts');
  const storage = createArtifactStorage({ url: `file://${root}` });
  t.equal(storage.description, `file://${root}`);
  const writer = await storage.createWriter('acme/db/b1/dump.custom');
  await pipeline(randomSource(1000).readable, writer.stream);
  await writer.commit();
  const mode = async (path: string) => (await stat(path)).mode & 0o777;
  t.equal(await mode(root), 0o700, 'root');
  t.equal(await mode(join(root, '.tmp')), 0o700, 'temporary area');
  t.equal(await mode(join(root, 'acme')), 0o700, 'key directories');
  t.equal(await mode(join(root, 'acme/db/b1')), 0o700, 'key directories');
  t.equal(await mode(join(root, 'acme/db/b1/dump.custom')), 0o600, 'artifact');
});

// We run as root, so permission bits stop nothing: these failures come from the kernel regardless of uid.

t.test('a root beneath a regular file fails to start a write and creates nothing', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'not-a-directory'), 'x');
  const storage = createArtifactStorage({ url: `file://${join(dir, 'not-a-directory', 'artifacts')}` });
  await t.rejects(storage.createWriter('acme/db/dump'), { code: 'ENOTDIR' });
  t.equal(await readFile(join(dir, 'not-a-directory'), 'utf8'), 'x', 'the file in the way is untouched');
  await assertNothingStored(t, storage, 'acme/db/dump');
});

const prlimit = (...args: string[]) =>
  execFileSync('prlimit', ['--pid', String(process.pid), ...args], { encoding: 'utf8' }).trim();
const readFileSizeLimit = (): string | null => {
  try {
    return prlimit('--fsize', '--raw', '--noheadings', '--output=SOFT');
  } catch {
    return null;
  }
};
const originalSoftLimit = readFileSizeLimit();

t.test(
  'a write that fails in the kernel part-way (EFBIG) leaves nothing',
  { skip: originalSoftLimit === null && 'prlimit (util-linux) is not installed' },
  async (t) => {
    const root = join(await scratchDir(t), 'artifacts');
    const storage = createArtifactStorage({ url: `file://${root}` });
    const writer = await storage.createWriter('acme/db/dump');
    // RLIMIT_FSIZE makes write(2) fail with EFBIG past 3 MiB, as a full disk fails with ENOSPC. Node
    // ignores SIGXFSZ, but tap's signal-exit re-raises it unless someone else listens: hence the listener.
    const keepRunning = () => undefined;
    process.on('SIGXFSZ', keepRunning);
    prlimit(`--fsize=${3 * MiB}:`);
    try {
      await t.rejects(pipeline(randomSource(8 * MiB).readable, writer.stream), { code: 'EFBIG' });
    } finally {
      prlimit(`--fsize=${originalSoftLimit}:`);
      process.off('SIGXFSZ', keepRunning);
    }
    await t.rejects(writer.commit());
    await writer.abort();
    await assertNothingStored(t, storage, 'acme/db/dump');
  },
);

t.test('a commit whose destination cannot be created throws and leaves no temporary file', async (t) => {
  const root = join(await scratchDir(t), 'artifacts');
  const storage = createArtifactStorage({ url: `file://${root}` });
  const writer = await storage.createWriter('acme/db/dump');
  await pipeline(randomSource(MiB).readable, writer.stream);
  // A regular file where the key needs a directory: mkdir fails with EEXIST/ENOTDIR.
  await writeFile(join(root, 'acme'), 'in the way');
  await t.rejects(writer.commit(), { code: /^(EEXIST|ENOTDIR)$/ });
  t.equal(await storage.stat('acme/db/dump'), null);
  t.same(await storage.listTemporary(), []);
  t.same(await storage.list(''), ['acme'], 'only the file in the way');
});

t.test('a temporary file that vanished before commit() fails the commit', async (t) => {
  const root = join(await scratchDir(t), 'artifacts');
  const storage = createArtifactStorage({ url: `file://${root}` });
  const writer = await storage.createWriter('acme/db/dump');
  await pipeline(randomSource(MiB).readable, writer.stream);
  const [name] = await storage.listTemporary();
  await rm(join(root, '.tmp', name ?? ''));
  await t.rejects(writer.commit(), { code: 'ENOENT' });
  await assertNothingStored(t, storage, 'acme/db/dump');
});
