import t from 'tap';
import { readArtifact, writeArtifact } from '../helpers/artifacts.js';
import { restoreFixture } from './restore-fixture.js';

// Every artifact is hashed while pg_restore runs (the B3 path above 64 MiB), however small.
const f = await restoreFixture(t, { env: { PGSTEWARD_RESTORE_VERIFY_FIRST_MB: '0' } });
const expected = await f.fingerprint(f.source.name);

t.test('custom and tar backups restore from the stored file itself, hashed beside pg_restore', async (t) => {
  for (const [format, extra] of [
    ['custom', { parallel: 2 }],
    ['tar', {}],
  ] as const) {
    const b = await f.backup({ format, includeGlobals: false });
    const database = f.newName(format);
    const r = await f.restore(b.id, { database, ...extra });
    t.equal(r.job?.status, 'succeeded', `${format}: ${JSON.stringify(r.job?.error)}`);
    t.same(await f.fingerprint(database), expected, `${format}: the source's rows`);
  }
});

/**
 * One e-mail address changed in an uncompressed archive, same length: pg_restore loads it without a
 * complaint, so only the hash can refuse it. Without the check this restore succeeds.
 */
async function silentlyCorrupted(format: 'custom' | 'tar') {
  const b = await f.backup({
    format,
    includeGlobals: false,
    ...(format === 'custom' ? { compression: { method: 'none' } } : {}),
  });
  const key = await f.artifactKey(b.id);
  const bytes = await readArtifact(f.services.storage, key);
  const at = bytes.indexOf('user7@example.com');
  if (at < 0) throw new Error('the row is not in the archive as text');
  bytes.write('user7@exbmple.com', at, 'latin1');
  await writeArtifact(f.services.storage, key, bytes);
  return b;
}

t.test('a silently corrupted artifact never becomes a database under the requested name', async (t) => {
  for (const format of ['custom', 'tar'] as const) {
    const b = await silentlyCorrupted(format);
    const database = f.newName(`bad${format}`);
    const r = await f.restore(b.id, { database, ...(format === 'custom' ? { parallel: 2 } : {}) });
    t.equal(r.job?.status, 'failed', format);
    t.equal(r.job?.error?.code, 'PGS_ARTIFACT_CORRUPT', format);
    t.same(await f.databases(`${database}%`), [], `${format}: neither the name nor a work database exists`);
  }
});

t.test('a replace from a silently corrupted artifact leaves the original database in place', async (t) => {
  const good = await f.backup({ format: 'custom', includeGlobals: false });
  const database = f.newName('keep');
  const first = await f.restore(good.id, { database });
  t.equal(first.job?.status, 'succeeded', JSON.stringify(first.job?.error));
  await f.onDb(database, (c) => c.query('DELETE FROM orders WHERE id > 10'));
  const before = await f.fingerprint(database);
  const bad = await silentlyCorrupted('custom');
  const r = await f.restore(bad.id, { database, mode: 'replace', confirm: database, parallel: 2 });
  t.equal(r.job?.error?.code, 'PGS_ARTIFACT_CORRUPT');
  t.same(await f.fingerprint(database), before, 'the original, untouched');
  t.same(await f.databases(`${database}_pgs%`), [], 'no work or aside database left');
});
