import { execFile, spawn } from 'node:child_process';
import { chmod, chown, lchown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The OS account PostgreSQL server programs run as when we are root (initdb refuses root). */
export const SERVER_OS_USER = 'postgres';

const DEFAULT_TIMEOUT_MS = 120_000;
// After the program exits, how long to wait for its pipes to drain. A grandchild (a postmaster started
// without -l) may hold them open forever, so 'close' alone could hang the caller.
const PIPE_DRAIN_GRACE_MS = 250;
const STDERR_TAIL_LINES = 12;

/** A server program exited non-zero, was killed, or timed out. Carries no argv: callers may inspect code. */
export class ServerProgramError extends Error {
  constructor(
    readonly program: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
    detail: string,
  ) {
    super(`${program} ${detail}`);
    this.name = 'ServerProgramError';
  }
}

/** True when we must drop to the postgres OS user (we are root). */
export function mustDropRoot(): boolean {
  return process.getuid?.() === 0;
}

let serverUserIdsPromise: Promise<{ uid: number; gid: number }> | undefined;

async function lookUpServerUserIds(): Promise<{ uid: number; gid: number }> {
  // /etc/passwd answers without a child process; `id` covers NSS sources such as LDAP.
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === SERVER_OS_USER && uid !== undefined && gid !== undefined) {
      return { uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) };
    }
  }
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', SERVER_OS_USER]),
      execFileAsync('id', ['-g', SERVER_OS_USER]),
    ]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    throw new Error(
      `running as root, but there is no "${SERVER_OS_USER}" OS user to run PostgreSQL as; ` +
        'create it (useradd --system postgres) or run pgsteward as a non-root user',
    );
  }
}

/** uid/gid of the postgres OS user, looked up once per process. */
export function serverUserIds(): Promise<{ uid: number; gid: number }> {
  serverUserIdsPromise ??= lookUpServerUserIds();
  serverUserIdsPromise.catch(() => {
    serverUserIdsPromise = undefined; // let a later call retry, e.g. after the user is created
  });
  return serverUserIdsPromise;
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  // lchown: never follow a symlink planted inside the tree to chown something outside it.
  await lchown(path, uid, gid);
  const entries = await readdir(path, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOTDIR') return [];
    throw err;
  });
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await lchown(child, uid, gid);
  }
}

/** chown -R `path` to the postgres OS user when we are root; a no-op otherwise. */
export async function giveToServerUser(path: string): Promise<void> {
  if (!mustDropRoot()) return;
  const { uid, gid } = await serverUserIds();
  await chownTree(path, uid, gid);
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/**
 * Runs a PostgreSQL server program (initdb, pg_ctl, ...) with an argv array, as the postgres OS user via
 * runuser when we are root. `opts.env` is merged over process.env. Never pass secrets in `args`: they are
 * visible in the process table (use --pwfile and friends).
 *
 * For `pg_ctl start`, pass `-l logfile`: the postmaster then writes there instead of inheriting our pipes.
 * Even without it this resolves once the program itself exits (see PIPE_DRAIN_GRACE_MS).
 */
export async function runServerProgram(
  path: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  const program = basename(path);
  const dropRoot = mustDropRoot();
  if (dropRoot) await serverUserIds(); // fail with a clear message before runuser's cryptic one
  const [command, argv] = dropRoot ? ['runuser', ['-u', SERVER_OS_USER, '--', path, ...args]] : [path, args];
  // The server user may not be able to enter our working directory; "/" is always reachable.
  const cwd = opts.cwd ?? (dropRoot ? '/' : undefined);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });

    let settled = false;
    let timedOut = false;
    const killTimer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, timeoutMs);

    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      child.stdout.destroy();
      child.stderr.destroy();
      if (code === 0 && !timedOut) {
        resolve({ stdout, stderr });
        return;
      }
      const output = lastLines(stderr.trim() === '' ? stdout : stderr, STDERR_TAIL_LINES);
      const how = timedOut
        ? `timed out after ${timeoutMs} ms`
        : signal !== null
          ? `was killed by ${signal}`
          : `exited with code ${code}`;
      reject(new ServerProgramError(program, code, signal, stderr, `${how}${output ? `:\n${output}` : ''}`));
    };

    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      reject(new Error(`could not start ${dropRoot ? 'runuser' : program}: ${err.message}`));
    });
    child.once('close', finish);
    child.once('exit', (code, signal) => {
      setTimeout(() => finish(code, signal), PIPE_DRAIN_GRACE_MS);
    });
  });
}

/**
 * Throws a clear error when we are root and the postgres OS user cannot traverse into `dir` (for
 * instance because a parent is a 0700 directory of ours); initdb would only say "Permission denied".
 */
export async function assertServerUserCanEnter(dir: string): Promise<void> {
  if (!mustDropRoot()) return;
  try {
    await runServerProgram('test', ['-x', dir], { timeoutMs: 10_000 });
  } catch (err) {
    if (!(err instanceof ServerProgramError) || err.exitCode !== 1) throw err;
    throw new Error(
      `the ${SERVER_OS_USER} OS user, which runs PostgreSQL because we are root, cannot enter ${dir}; ` +
        'make every parent directory traversable by it (chmod o+x, or group postgres with g+x)',
    );
  }
}

/**
 * Writes `password` to a 0600 file the server user can read, hands its path to `use` (e.g. as initdb
 * --pwfile), and deletes it afterwards even when `use` fails.
 */
export async function withServerReadablePasswordFile<T>(
  password: string,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'pgsteward-pw-'));
  try {
    const file = join(dir, 'password');
    await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(dir, 0o700);
    if (mustDropRoot()) {
      const { uid, gid } = await serverUserIds();
      await chown(dir, uid, gid);
      await chown(file, uid, gid);
    }
    return await use(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
