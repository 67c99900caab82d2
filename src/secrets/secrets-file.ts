import { randomBytes } from 'node:crypto';
import { open, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { isPgStewardError, type PgStewardError } from '../errors.js';
import { MAX_SECRET_LENGTH } from './db-secret.js';

/** Many secrets plus JSON overhead; far beyond any real file, small enough to never hurt. */
export const MAX_FILE_LENGTH = 64 * MAX_SECRET_LENGTH;

export interface SecretsFileContent {
  /** inode, size and mtime (ns): an edit in place or an atomic rename changes at least one. */
  version: string;
  entries: Record<string, unknown>;
}

type Refusal = (why: string) => PgStewardError;

const errnoCode = (err: unknown) => (err as NodeJS.ErrnoException | null)?.code;

/**
 * Reads the whole secrets file through one descriptor, refusing it while group or others may read or
 * write it (like ssh refuses a loose key). `undefined` when it does not exist. `cached` is returned as is
 * when the file has not changed since it was parsed.
 */
export async function readSecretsFile(
  path: string,
  refuse: Refusal,
  cached?: SecretsFileContent,
): Promise<SecretsFileContent | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw refuse(`${path} cannot be opened (${errnoCode(err) ?? 'error'})`);
  }
  try {
    // fstat on the open descriptor: the mode we check is the mode of the file we read.
    const stat = await handle.stat({ bigint: true });
    if (!stat.isFile()) throw refuse(`${path} is not a regular file`);
    const mode = Number(stat.mode & 0o777n);
    if ((mode & 0o077) !== 0) {
      const octal = mode.toString(8).padStart(4, '0');
      throw refuse(`${path} has mode ${octal}, so group or others may read or change it; run chmod 600 ${path}`);
    }
    if (stat.size > BigInt(MAX_FILE_LENGTH)) throw refuse(`${path} is larger than ${MAX_FILE_LENGTH} bytes`);
    const version = `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
    if (cached?.version === version) return cached;
    // Writers replace the file by rename, so this descriptor sees one whole version, never a half-written one.
    const text = await handle.readFile('utf8');
    let entries: unknown;
    try {
      entries = JSON.parse(text);
    } catch {
      // Not the SyntaxError's message: it quotes the file around the fault, passwords included.
      throw refuse(`${path} is not valid JSON`);
    }
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
      throw refuse(`${path} must hold a JSON object mapping keys to secrets`);
    }
    return { version, entries: entries as Record<string, unknown> };
  } finally {
    await handle.close();
  }
}

// Writers in this process queue here instead of polling the cross-process lock against each other.
const localQueues = new Map<string, Promise<unknown>>();

/** Resolves a symlinked secrets file to its target, so the rename replaces the file and not the link. */
async function writablePath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return resolve(path);
    throw err;
  }
}

/** Lock timing: stale after 10 s (a write takes milliseconds), and retries for longer than that. */
const LOCK_OPTIONS = {
  stale: 10_000,
  retries: { retries: 60, factor: 1.3, minTimeout: 10, maxTimeout: 250, randomize: true },
  realpath: false,
} as const;

/**
 * Read-modify-write of the secrets file, safe against other processes: under an exclusive lock
 * (`<file>.lock`, a directory made with mkdir; stale after 10 s), the file is read, `change` edits the
 * entries (and may throw to abort), then the result is written to a temp file in the same directory
 * with mode 0600, fsynced, renamed over the file, and the directory is fsynced so the rename survives
 * a crash. Readers never see a half-written file. Returns what `change` returned.
 */
export async function updateSecretsFile<T>(
  path: string,
  refuse: Refusal,
  change: (entries: Record<string, unknown>) => T,
): Promise<T> {
  const target = await writablePath(path).catch(() => {
    throw refuse(`${path} cannot be resolved`);
  });
  const previous = localQueues.get(target) ?? Promise.resolve();
  const run = previous.then(
    () => lockedUpdate(target, path, refuse, change),
    () => lockedUpdate(target, path, refuse, change),
  );
  const settled = run.catch(() => {});
  localQueues.set(target, settled);
  void settled.then(() => {
    if (localQueues.get(target) === settled) localQueues.delete(target);
  });
  return run;
}

async function lockedUpdate<T>(
  target: string,
  shownPath: string,
  refuse: Refusal,
  change: (entries: Record<string, unknown>) => T,
): Promise<T> {
  let compromised = false;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      ...LOCK_OPTIONS,
      lockfilePath: `${target}.lock`,
      // Default is to throw from a timer, which would crash the server; the write checks this flag instead.
      onCompromised: () => {
        compromised = true;
      },
    });
  } catch (err) {
    if (errnoCode(err) === 'ELOCKED') throw refuse(`${shownPath} stayed locked by another writer`);
    throw refuse(`${shownPath} could not be locked (${errnoCode(err) ?? 'error'})`);
  }
  try {
    const current = await readSecretsFile(target, refuse);
    const entries = current?.entries ?? {};
    const result = change(entries);
    const text = `${JSON.stringify(entries, null, 2)}\n`;
    if (Buffer.byteLength(text) > MAX_FILE_LENGTH)
      throw refuse(`${shownPath} would grow beyond ${MAX_FILE_LENGTH} bytes`);
    await replaceFile(target, shownPath, text, refuse, () => compromised);
    return result;
  } finally {
    await release().catch(() => {}); // a compromised lock is already gone
  }
}

async function replaceFile(
  target: string,
  shownPath: string,
  text: string,
  refuse: Refusal,
  lockLost: () => boolean,
): Promise<void> {
  const dir = dirname(target);
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const failed = (err: unknown) => refuse(`${shownPath} could not be replaced (${errnoCode(err) ?? 'error'})`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.chmod(0o600); // open's mode passes through the umask; this is exact
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (lockLost()) throw refuse(`the lock on ${shownPath} was lost during the write; nothing was changed`);
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => {});
    if (isPgStewardError(err)) throw err;
    throw failed(err);
  }
  try {
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch (err) {
    throw failed(err);
  }
}
