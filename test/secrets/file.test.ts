import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { isPgStewardError, type PgStewardError } from '../../src/errors.js';
import { FileSecretProvider } from '../../src/secrets/file.js';

const dir = await mkdtemp(join(tmpdir(), 'pgsteward-secrets-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const newPassword = () => `pw-${randomBytes(12).toString('hex')}`;
const passwords: string[] = [];

/** Writes a secrets file with the given mode; remembers every password so no message may show one. */
async function writeSecrets(path: string, entries: Record<string, unknown>, mode = 0o600): Promise<void> {
  for (const entry of Object.values(entries)) {
    const text = typeof entry === 'string' ? entry : JSON.stringify(entry);
    const password = /"password":"([^"]+)"/.exec(text)?.[1];
    if (password !== undefined) passwords.push(password);
  }
  await writeFile(path, JSON.stringify(entries), { mode });
  await chmod(path, mode); // writeFile's mode applies only when it creates the file, and under umask
}

async function rejection(promise: Promise<unknown>): Promise<PgStewardError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPgStewardError(err)) throw new Error(`expected a PgStewardError, got ${String(err)}`);
  for (const password of passwords) {
    if (err.message.includes(password)) throw new Error(`${err.code}: the message contains a password`);
  }
  return err;
}

t.test('a 0600 file is read: entries as objects or as JSON strings', async (t) => {
  const path = join(dir, 'ok.json');
  const [a, b] = [newPassword(), newPassword()];
  await writeSecrets(path, {
    'tenant-a/orders': { username: 'orders_app', password: a, host: 'db.internal', port: 5432 },
    'tenant-b/billing': JSON.stringify({ username: 'billing', password: b }),
  });
  const provider = new FileSecretProvider({ path });
  const orders = await provider.fetch('tenant-a/orders', 'file:tenant-a/orders');
  t.equal(orders.username, 'orders_app');
  t.ok(orders.password === a, 'object entry password');
  t.equal(orders.port, 5432);
  const billing = await provider.fetch('tenant-b/billing', 'file:tenant-b/billing');
  t.ok(billing.password === b, 'string entry password');
});

t.test('a file group or others may read is refused, naming the path, the mode and the fix', async (t) => {
  const path = join(dir, 'loose.json');
  await writeSecrets(path, { k: { username: 'u', password: newPassword() } }, 0o644);
  const provider = new FileSecretProvider({ path });
  const err = await rejection(provider.fetch('k', 'file:k'));
  t.match(err, { code: 'PGS_SECRET_UNAVAILABLE', statusCode: 503 });
  t.match(err.message, path);
  t.match(err.message, /mode 0644/);
  t.match(err.message, `chmod 600 ${path}`);

  await chmod(path, 0o620); // group-writable only: still refused
  t.match(await rejection(provider.fetch('k', 'file:k')), { message: /mode 0620/ });
  await chmod(path, 0o400);
  t.equal((await provider.fetch('k', 'file:k')).username, 'u', 'owner read-only is fine');
});

t.test('a file loosened after a good read is refused from then on', async (t) => {
  const path = join(dir, 'loosened.json');
  await writeSecrets(path, { k: { username: 'u', password: newPassword() } });
  const provider = new FileSecretProvider({ path });
  t.equal((await provider.fetch('k', 'file:k')).username, 'u');
  await chmod(path, 0o604);
  t.match(await rejection(provider.fetch('k', 'file:k')), { code: 'PGS_SECRET_UNAVAILABLE', message: /mode 0604/ });
});

t.test('an edited file is re-read when its mtime changes, and not re-read while it does not', async (t) => {
  const path = join(dir, 'rotating.json');
  const [first, second, third] = [newPassword(), newPassword(), newPassword()];
  const pinned = new Date('2030-01-01T00:00:00Z');
  await writeSecrets(path, { k: { username: 'u', password: first } });
  await utimes(path, pinned, pinned);
  const provider = new FileSecretProvider({ path });
  t.ok((await provider.fetch('k', 'file:k')).password === first, 'first read');

  // Same length, same inode, mtime put back: the provider must trust its parsed copy.
  await writeSecrets(path, { k: { username: 'u', password: second } });
  await utimes(path, pinned, pinned);
  t.ok((await provider.fetch('k', 'file:k')).password === first, 'unchanged mtime: the parsed copy is reused');

  await utimes(path, new Date(), new Date());
  t.ok((await provider.fetch('k', 'file:k')).password === second, 'new mtime: the rotated password is read');

  // An atomic replace (write a temp file, rename over) is how editors and config tools rotate.
  const temp = join(dir, 'rotating.json.tmp');
  await writeSecrets(temp, { k: { username: 'u', password: third } });
  await rename(temp, path);
  t.ok((await provider.fetch('k', 'file:k')).password === third, 'renamed-over file is read');
});

t.test('a missing key is PGS_SECRET_NOT_FOUND, also for keys Object.prototype has', async (t) => {
  const path = join(dir, 'keys.json');
  await writeSecrets(path, { present: { username: 'u', password: newPassword() } });
  const provider = new FileSecretProvider({ path });
  for (const key of ['absent', 'constructor', 'toString', '__proto__']) {
    t.match(
      await rejection(provider.fetch(key, `file:${key}`)),
      { code: 'PGS_SECRET_NOT_FOUND', statusCode: 422 },
      key,
    );
  }
});

t.test('a missing file is PGS_SECRET_UNAVAILABLE saying it does not exist', async (t) => {
  const path = join(dir, 'nope.json');
  const err = await rejection(new FileSecretProvider({ path }).fetch('k', 'file:k'));
  t.match(err, { code: 'PGS_SECRET_UNAVAILABLE' });
  t.match(err.message, `${path} does not exist`);
});

t.test('a file that is not JSON is refused without quoting it', async (t) => {
  const path = join(dir, 'broken.json');
  const password = newPassword();
  passwords.push(password);
  await writeFile(path, `{"k": {"username": "u", "password": "${password}"}`, { mode: 0o600 });
  const err = await rejection(new FileSecretProvider({ path }).fetch('k', 'file:k'));
  t.match(err, { code: 'PGS_SECRET_UNAVAILABLE', message: /is not valid JSON/ });
});

t.test('a malformed entry is PGS_SECRET_MALFORMED without its values', async (t) => {
  const path = join(dir, 'malformed.json');
  const password = newPassword();
  await writeSecrets(path, { nouser: { password }, number: 42, text: `not json ${password}` });
  const provider = new FileSecretProvider({ path });
  t.match(await rejection(provider.fetch('nouser', 'file:nouser')), {
    code: 'PGS_SECRET_MALFORMED',
    message: /username is missing/,
  });
  t.match(await rejection(provider.fetch('number', 'file:number')), { message: /must be an object or a JSON string/ });
  t.match(await rejection(provider.fetch('text', 'file:text')), { code: 'PGS_SECRET_MALFORMED', message: /not JSON/ });
});
