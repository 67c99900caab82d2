import { join, relative, resolve, sep } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import {
  assertArtifactKey,
  assertArtifactPrefix,
  TEMPORARY_AREA,
} from '../../../src/domain/backups/storage/artifact-key.js';
import { parseStorageUrl } from '../../../src/domain/backups/storage/storage-url.js';

const accepts = (key: string): boolean => {
  try {
    assertArtifactKey(key);
    return true;
  } catch {
    return false;
  }
};

t.test('assertArtifactKey accepts the keys backups use', async (t) => {
  for (const key of [
    'acme/prod-db/0b9c7a3e-1f2d-4c5b-9a8e-7d6c5b4a3f2e/dump.custom',
    'acme/prod-db/0b9c7a3e/dir/toc.dat',
    'acme/prod-db/0b9c7a3e/dir/3456.dat.gz',
    'x',
    'a..b',
    `${'a'.repeat(200)}/b`,
  ]) {
    t.ok(accepts(key), key);
  }
});

t.test('assertArtifactKey rejects keys that could escape the root or name the temporary area', async (t) => {
  for (const key of [
    '',
    '/etc/passwd',
    '../x',
    'a/../../x',
    'a/./b',
    '.',
    '..',
    `${TEMPORARY_AREA}/abc`,
    '.hidden',
    'a//b',
    'a/',
    'a\\..\\b',
    'a b',
    'a/%2e%2e/b',
    'caf\u00e9',
    'a\0b',
    'a'.repeat(201),
    Array.from({ length: 300 }, () => 'ab').join('/'),
  ]) {
    t.throws(() => assertArtifactKey(key), { code: 'PGS_ARTIFACT_KEY_INVALID' }, JSON.stringify(key));
  }
});

t.test('assertArtifactPrefix takes "" or a key followed by "/"', async (t) => {
  assertArtifactPrefix('');
  assertArtifactPrefix('acme/prod-db/');
  for (const prefix of ['acme', '/', '../', 'acme//', `${TEMPORARY_AREA}/`]) {
    t.throws(() => assertArtifactPrefix(prefix), { code: 'PGS_ARTIFACT_KEY_INVALID' }, prefix);
  }
});

t.test('no accepted key resolves outside the root directory or into the temporary area', async () => {
  const root = '/var/lib/pgsteward/artifacts';
  // Mostly the characters that matter for traversal, so that the generator finds the dangerous shapes.
  const character = fc.constantFrom('.', '/', '\\', 'a', 'b', '-', '_', '0', '~', ' ', '%', '\0', 'é');
  fc.assert(
    fc.property(fc.string({ unit: character, maxLength: 40 }), (key) => {
      if (!accepts(key)) return true;
      const resolved = resolve(root, join(...key.split('/')));
      const inside = relative(root, resolved);
      return (
        resolved.startsWith(`${root}${sep}`) &&
        !inside.startsWith('..') &&
        inside.split(sep)[0] !== TEMPORARY_AREA &&
        inside === key.split('/').join(sep)
      );
    }),
    { numRuns: 5000 },
  );
});

t.test('parseStorageUrl reads file and s3 URLs', async (t) => {
  t.same(parseStorageUrl('file:///var/lib/pgsteward/artifacts'), {
    kind: 'file',
    root: '/var/lib/pgsteward/artifacts',
  });
  t.same(parseStorageUrl('file:///var/lib/pgsteward/artifacts/'), {
    kind: 'file',
    root: '/var/lib/pgsteward/artifacts',
  });
  t.same(parseStorageUrl('file:///srv/with%20space'), { kind: 'file', root: '/srv/with space' });
  t.same(parseStorageUrl('s3://my-backups'), { kind: 's3', bucket: 'my-backups', prefix: '' });
  t.same(parseStorageUrl('s3://my-backups/'), { kind: 's3', bucket: 'my-backups', prefix: '' });
  t.same(parseStorageUrl('s3://my.backups/pg/steward/'), { kind: 's3', bucket: 'my.backups', prefix: 'pg/steward' });
});

t.test('parseStorageUrl refuses anything else, naming the setting and never echoing the value', async (t) => {
  for (const url of [
    '',
    '/var/lib/pgsteward',
    'relative/path',
    'http://example.com/x',
    'file://host/var/x',
    'file:///',
    'file:///a?b=c',
    's3://',
    's3://AKIAEXAMPLE:hunter2secret@bucket/p',
    's3://Upper/x',
    's3://ab',
    's3://bucket//double',
    's3://bucket/../up',
    's3://bucket/.tmp',
    's3://bucket/p?x=1',
    'gs://bucket/p',
  ]) {
    const err = t.throws(() => parseStorageUrl(url), /PGSTEWARD_STORAGE_URL/, JSON.stringify(url)) as Error;
    t.notMatch(err.message, /hunter2secret|AKIAEXAMPLE/, 'no credentials in the message');
  }
});
