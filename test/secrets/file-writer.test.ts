import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FileSecretProvider } from '../../src/secrets/file.js';
import { PLAIN_ENTRY_VERSION_ID } from '../../src/secrets/file-versions.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../../src/secrets/secret-writer.js';
import { tsNodeArgs, tsNodeEnv } from '../helpers/ts-node-args.js';
import { assertNoPassword, newPassword, rejection, writableProviderContract } from './writable-provider-contract.js';

const dir = await mkdtemp(join(tmpdir(), 'pgsteward-file-writer-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const newKey = () => `tenant-${randomBytes(3).toString('hex')}/db.${randomBytes(3).toString('hex')}`;

t.test('the file provider keeps the writable provider contract', async (t) => {
  const path = join(dir, 'contract.json'); // does not exist yet: the first create makes it
  writableProviderContract(t, {
    providers: [new FileSecretProvider({ path }), new FileSecretProvider({ path })],
    refOf: (key) => `file:${key}`,
    newId: newKey,
  });
});

t.test(
  'a plain entry reads as one AWSCURRENT version; the first write converts it, other entries untouched',
  async (t) => {
    const path = join(dir, 'plain.json');
    const [a, b, c] = [newPassword(), newPassword(), newPassword()];
    const untouched = JSON.stringify({ username: 'other', password: c });
    await writeFile(
      path,
      JSON.stringify({
        'acme/main': { username: 'app', password: a, host: 'db', port: 5432 },
        'acme/string': untouched,
      }),
      { mode: 0o600 },
    );
    const provider = new FileSecretProvider({ path });
    t.same(await provider.describeSecret('acme/main'), {
      versions: { [PLAIN_ENTRY_VERSION_ID]: [AWSCURRENT] },
      tags: {},
    });
    t.same(await provider.describeSecret('acme/string'), {
      versions: { [PLAIN_ENTRY_VERSION_ID]: [AWSCURRENT] },
      tags: {},
    });
    t.ok((await provider.getSecretValue('acme/string')).value.password === c, 'a JSON-string entry reads too');

    const job = randomUUID();
    await provider.putSecretValue(
      'acme/main',
      { username: 'app', password: b, host: 'db', port: 5432 },
      {
        clientRequestToken: job,
        stages: [AWSPENDING],
      },
    );
    await provider.updateVersionStage('acme/main', AWSCURRENT, {
      moveToVersionId: job,
      removeFromVersionId: PLAIN_ENTRY_VERSION_ID,
    });
    t.same((await provider.describeSecret('acme/main')).versions, {
      [PLAIN_ENTRY_VERSION_ID]: [AWSPREVIOUS],
      [job]: [AWSPENDING, AWSCURRENT],
    });
    t.ok((await provider.fetch('acme/main', 'file:acme/main')).password === b);

    const file = JSON.parse(await readFile(path, 'utf8'));
    t.equal(file['acme/string'], untouched, 'the other entry is byte for byte the same');
    t.ok(file['acme/main'].versions[job].value.password === b, 'the converted entry holds its versions');
    t.notOk('password' in file['acme/main'], 'a versioned entry has no top-level password');
  },
);

t.test('writes leave the file 0600 and no temp file behind, and follow a symlink', async (t) => {
  const real = join(dir, 'real.json');
  const link = join(dir, 'link.json');
  await writeFile(real, '{}', { mode: 0o400 });
  await symlink(real, link);
  const provider = new FileSecretProvider({ path: link });
  await provider.createSecret('k', { username: 'u', password: newPassword() });
  t.equal((await stat(real)).mode & 0o777, 0o600);
  t.ok((await stat(link, {})).isFile() && (await readFile(real, 'utf8')).includes('"k"'), 'the target was written');
  const leftovers = (await readdir(dir)).filter((name) => name.endsWith('.tmp') || name.endsWith('.lock'));
  t.same(leftovers, [], 'no temp or lock file left');
});

t.test('a write to a file group or others may read is refused, and the file is not changed', async (t) => {
  const path = join(dir, 'loose.json');
  const before = JSON.stringify({ k: { username: 'u', password: newPassword() } });
  await writeFile(path, before);
  await chmod(path, 0o640);
  const provider = new FileSecretProvider({ path });
  const err = await rejection(
    t,
    provider.putSecretValue('k', { username: 'u', password: newPassword() }, { clientRequestToken: randomUUID() }),
  );
  t.match(err, { code: 'PGS_SECRET_UNAVAILABLE', statusCode: 503, message: /could not be written: .*mode 0640/ });
  t.equal(await readFile(path, 'utf8'), before);
});

t.test('a file that is not JSON is refused for writes without quoting it', async (t) => {
  const path = join(dir, 'broken.json');
  const password = newPassword();
  await writeFile(path, `{"k": {"username": "u", "password": "${password}"`, { mode: 0o600 });
  const err = await rejection(
    t,
    new FileSecretProvider({ path }).createSecret('x', { username: 'u', password: newPassword() }),
  );
  t.match(err, { code: 'PGS_SECRET_UNAVAILABLE', message: /is not valid JSON/ });
});

t.test('a malformed versioned entry is PGS_SECRET_MALFORMED naming the rule', async (t) => {
  const path = join(dir, 'bad-versions.json');
  const password = newPassword();
  await writeFile(
    path,
    JSON.stringify({
      twice: {
        versions: {
          a: { value: { username: 'u', password }, stages: [AWSCURRENT] },
          b: { value: {}, stages: [AWSCURRENT] },
        },
      },
      novalue: { versions: { a: { stages: [AWSCURRENT] } } },
    }),
    { mode: 0o600 },
  );
  const provider = new FileSecretProvider({ path });
  t.match(await rejection(t, provider.fetch('twice', 'file:twice')), {
    code: 'PGS_SECRET_MALFORMED',
    message: /AWSCURRENT is on more than one version/,
  });
  t.match(await rejection(t, provider.getSecretValue('novalue')), { message: /needs a value object/ });
});

t.test('a stale lock left by a crashed writer is taken over', async (t) => {
  const path = join(dir, 'stale.json');
  await writeFile(path, '{}', { mode: 0o600 });
  const lock = `${path}.lock`;
  await mkdir(lock);
  const longAgo = new Date(Date.now() - 60_000);
  await utimes(lock, longAgo, longAgo);
  await new FileSecretProvider({ path }).createSecret('k', { username: 'u', password: newPassword() });
  t.ok(JSON.parse(await readFile(path, 'utf8')).k, 'written');
});

t.test('old unlabelled versions are pruned, labelled ones kept', async (t) => {
  const path = join(dir, 'prune.json');
  const provider = new FileSecretProvider({ path });
  const first = randomUUID();
  await provider.createSecret('k', { username: 'u', password: newPassword() }, { clientRequestToken: first });
  const tokens: string[] = [];
  for (let i = 0; i < 10; i++) {
    tokens.push(randomUUID());
    await provider.putSecretValue(
      'k',
      { username: 'u', password: newPassword() },
      { clientRequestToken: tokens.at(-1) ?? '' },
    );
  }
  const stored = Object.keys(JSON.parse(await readFile(path, 'utf8')).k.versions);
  t.equal(stored.length, 7, 'AWSCURRENT, AWSPREVIOUS and the five newest deprecated versions');
  t.same(stored.slice(-2), tokens.slice(-2));
  t.notOk(stored.includes(first), 'the oldest is gone');
});

/** Runs the child writer: `count` creates of keys `<prefix>-<i>`, then exits. */
function childWriter(path: string, prefix: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...tsNodeArgs(), join(import.meta.dirname, 'fixtures', 'file-writer-child.ts'), path, prefix, String(count)],
      { env: { ...process.env, ...tsNodeEnv() }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`))));
  });
}

t.test('two processes writing at once lose nothing, and a reader never sees a half-written file', async (t) => {
  const path = join(dir, 'processes.json');
  await writeFile(path, JSON.stringify({ pad: { username: 'u', password: 'x', pad: 'p'.repeat(200_000) } }), {
    mode: 0o600,
  });
  let writing = true;
  let reads = 0;
  const torn: string[] = [];
  const reader = (async () => {
    while (writing) {
      const text = await readFile(path, 'utf8');
      reads++;
      try {
        JSON.parse(text);
      } catch {
        torn.push(`${text.length} bytes`);
      }
    }
  })();
  const writers = Promise.all([childWriter(path, 'a', 20), childWriter(path, 'b', 20)]);
  try {
    await writers;
  } finally {
    writing = false;
    await reader;
  }
  const entries = JSON.parse(await readFile(path, 'utf8'));
  const keys = Object.keys(entries).filter((key) => key !== 'pad');
  t.equal(keys.length, 40, 'all forty creates from both processes are in the file');
  t.same(torn, [], `none of ${reads} reads saw a half-written file`);
  assertNoPassword(t, (await readdir(dir)).join(' '), 'the directory listing');
});
