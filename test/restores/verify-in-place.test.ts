import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { BackupRow } from '../../src/domain/backups/service.js';
import { createFileArtifactStorage } from '../../src/domain/backups/storage/file-storage.js';
import { listArchive } from '../../src/domain/restores/restore-tools.js';
import { openInPlace } from '../../src/domain/restores/verify-in-place.js';
import { withToolCredentials } from '../../src/domain/targets/connect.js';
import { dbnameArgument } from '../../src/pgtools/conninfo.js';
import { runPgTool } from '../../src/pgtools/run-tool.js';
import { writeArtifact } from '../helpers/artifacts.js';
import { createTestDatabase } from '../helpers/database.js';

const db = await createTestDatabase(t);
await db.ownerQuery('CREATE TABLE first_version (id int)');
const dir = mkdtempSync(join(tmpdir(), 'pgsteward-inplace-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cluster = db.cluster;
const pgRestore = { path: join(cluster.bindir, 'pg_restore'), major: 15, version: '15' };

/** A real custom archive of the test database, as bytes. */
async function dump(): Promise<Buffer> {
  const path = join(dir, `db-${Date.now()}.dump`);
  await withToolCredentials(
    { host: 'localhost', port: cluster.port, database: db.name, sslMode: 'verify-full', sslrootcert: cluster.caCert },
    { host: 'localhost', address: '127.0.0.1', family: 4 },
    { username: cluster.superuser, password: cluster.password },
    (tool) =>
      runPgTool({
        path: join(cluster.bindir, 'pg_dump'),
        args: ['-Fc', '-f', path, dbnameArgument(tool.conninfo)],
        env: tool.env,
      }).done,
  );
  return readFile(path);
}

const storage = createFileArtifactStorage(join(dir, 'store'));
const archive = await dump();
let n = 0;
/** A fresh stored artifact and the record a backup would hold for it. */
async function stored(bytes = archive, record: Partial<BackupRow> = {}) {
  const key = `acme/t/b${++n}/dump.custom`;
  await writeArtifact(storage, key, bytes);
  const backup = {
    artifact_key: key,
    format: 'custom',
    encryption: null,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size_bytes: String(bytes.length),
    ...record,
  } as unknown as BackupRow;
  return { key, backup };
}
const signal = new AbortController().signal;

t.test('the tools read the opened file through its descriptor, even once the key is gone or replaced', async (t) => {
  const { key, backup } = await stored();
  const artifact = await openInPlace(storage, backup, signal);
  if (!artifact) throw new Error('file storage, custom format: expected in place');
  t.teardown(() => artifact.close());
  t.equal(artifact.archive.path, '/proc/self/fd/3');
  await artifact.verified;
  await storage.delete(key); // a retention sweep
  t.match(await listArchive(pgRestore, artifact.archive, signal), /TABLE public first_version/);
  await db.ownerQuery('CREATE TABLE second_version (id int)');
  await writeArtifact(storage, key, await dump()); // a rename over the key
  t.notMatch(await listArchive(pgRestore, artifact.archive, signal), /second_version/, 'still the verified inode');
  await artifact.confirm();
});

t.test('a mismatch rejects verified and confirm with PGS_ARTIFACT_CORRUPT', async (t) => {
  const { backup } = await stored(archive, { sha256: '0'.repeat(64) });
  const artifact = await openInPlace(storage, backup, signal);
  t.teardown(() => artifact?.close());
  await t.rejects(artifact?.verified as Promise<void>, { code: 'PGS_ARTIFACT_CORRUPT', message: /sha256/ });
  await t.rejects(artifact?.confirm() as Promise<void>, { code: 'PGS_ARTIFACT_CORRUPT' });
  const short = await stored(archive, { size_bytes: String(archive.length + 1) });
  await t.rejects(openInPlace(storage, short.backup, signal), { code: 'PGS_ARTIFACT_CORRUPT', message: /size/ });
});

t.test('a write into the file while it is restored fails confirm, even after the hash matched', async (t) => {
  const { key, backup } = await stored();
  const artifact = await openInPlace(storage, backup, signal);
  t.teardown(() => artifact?.close());
  await artifact?.verified;
  await new Promise((resolve) => setTimeout(resolve, 20)); // a later mtime on coarse clocks
  const file = await open(join(dir, 'store', ...key.split('/')), 'r+');
  await file.write(archive.subarray(0, 5), 0, 5, 0); // the same bytes: only the write itself shows
  await file.close();
  await t.rejects(artifact?.confirm() as Promise<void>, { code: 'PGS_ARTIFACT_CORRUPT', message: /changed/ });
});

t.test('what cannot be read in place is left to the copy', async (t) => {
  const { backup } = await stored();
  for (const other of [
    { format: 'plain' },
    { format: 'directory' },
    { encryption: { plaintextSha256: 'x' } },
  ] as Partial<BackupRow>[]) {
    t.equal(await openInPlace(storage, { ...backup, ...other }, signal), null, JSON.stringify(other));
  }
  const s3Like = { ...storage, openFile: undefined };
  t.equal(await openInPlace(s3Like, backup, signal), null, 'no local file');
});
