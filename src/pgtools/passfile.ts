import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Per-job credential files for PostgreSQL tools. The password reaches pg_dump & co. only through a
 * passfile (PGPASSFILE) in a private directory that lives exactly as long as the job: never argv, which
 * every local user can read in /proc, and never the child's environment.
 */

export interface PassfileEntry {
  /** The conninfo `host` value: libpq matches the passfile against it, even when `hostaddr` is set. */
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

// The pid and a per-process token in the name let sweepOrphanedToolDirs tell a dead process's leftovers
// from a live job's, even when a restarted container reuses the pid (pid 1).
const DIR_PREFIX = 'pgsteward-job-';
const PROCESS_TOKEN = randomBytes(4).toString('hex');
const OWN_PREFIX = `${DIR_PREFIX}${process.pid}-${PROCESS_TOKEN}-`;
const PASSFILE_NAME = 'pgpass';

const liveDirs = new Set<string>();
let exitHookInstalled = false;

/**
 * 'exit' runs on process.exit() and on a normal end, including after a signal handler (close-with-grace)
 * decided to exit, so an aborted process still removes the directories of jobs it was running. Only
 * synchronous work is possible there. SIGKILL leaves them behind; sweepOrphanedToolDirs covers that.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * Runs `use` with a fresh directory only we can enter (0700) and removes it with everything in it
 * afterwards, whether `use` resolves or throws.
 */
export async function withPrivateToolDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), OWN_PREFIX));
  liveDirs.add(dir);
  try {
    await chmod(dir, 0o700); // mkdtemp already uses 0700; be explicit in case of an odd umask or platform
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  }
}

function refuseLineBreaks(field: string, value: string): void {
  // libpq reads the file line by line and strips a trailing CR/LF; such a value cannot be represented.
  if (/[\r\n\0]/.test(value)) throw new Error(`the ${field} for the passfile contains a line break or NUL`);
}

/** A field libpq compares: `\` and `:` escaped; `*` too, which alone would be a wildcard. */
function matchField(field: string, value: string): string {
  refuseLineBreaks(field, value);
  const escaped = value.replace(/[\\:*]/g, (c) => `\\${c}`);
  // A line starting with '#' is a comment to libpq; an escaped '#' compares as itself.
  return escaped.startsWith('#') ? `\\${escaped}` : escaped;
}

/**
 * One `.pgpass` line, `host:port:*:user:password`. The database is `*` so one line serves pg_dumpall,
 * which connects to every database in turn. See libpq's passwordFromFile/pwdfMatchesString.
 */
export function passfileLine(entry: PassfileEntry): string {
  refuseLineBreaks('password', entry.password);
  const password = entry.password.replace(/[\\:]/g, (c) => `\\${c}`);
  return `${matchField('host', entry.host)}:${matchField('port', String(entry.port))}:*:${matchField('user', entry.user)}:${password}`;
}

/** Writes the passfile (0600, which libpq insists on) into `dir`; returns its path. */
export async function writePassfile(dir: string, entry: PassfileEntry): Promise<string> {
  const path = join(dir, PASSFILE_NAME);
  await writeFile(path, `${passfileLine(entry)}\n`, { mode: 0o600, flag: 'wx' });
  return path;
}

/**
 * Runs `use` with `{ PGPASSFILE }` pointing at a private passfile for `entry`, and removes the file and
 * its directory afterwards, even when `use` throws.
 */
export async function withPassfile<T>(
  entry: PassfileEntry,
  use: (env: { PGPASSFILE: string }) => Promise<T>,
): Promise<T> {
  return withPrivateToolDir(async (dir) => use({ PGPASSFILE: await writePassfile(dir, entry) }));
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, just not ours
  }
}

/**
 * Removes credential directories left by processes that died without cleaning up (SIGKILL, OOM kill,
 * power loss). Call at start-up. Returns the paths it removed.
 */
export async function sweepOrphanedToolDirs(root: string = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    const match = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name);
    const pid = Number(match?.[1]);
    // Ours (a live job, or one whose mkdtemp has just returned), or another live process's.
    if (match === null || !Number.isSafeInteger(pid) || name.startsWith(OWN_PREFIX)) continue;
    if (pid !== process.pid && processIsAlive(pid)) continue;
    const path = join(root, name);
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}
