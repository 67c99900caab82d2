import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import {
  discoverPgInstallations,
  hasBinary,
  type PgInstallation,
  resolveServerInstallation,
} from '../pgtools/installations.js';
import {
  assertServerUserCanEnter,
  giveToServerUser,
  mustDropRoot,
  runServerProgram,
  ServerProgramError,
  serverUserIds,
  withServerReadablePasswordFile,
} from '../pgtools/server-user.js';

export interface EmbeddedPostgres {
  /** Connection settings for node-postgres; `host` is the Unix socket directory. */
  connection: { host: string; port: number; user: string; password: string; database: string };
  /** The cluster directory, `<dataDir>/meta`. */
  dataDir: string;
  /** pg_ctl stop -m fast -w, then releases the data-directory lock; safe to call more than once. */
  stop(): Promise<void>;
}

interface EmbeddedLog {
  info(msg: string): void;
  warn(msg: string): void;
}

const SUPERUSER = 'pgsteward';
const DATABASE = 'pgsteward';
// The port only names the socket file (.s.PGSQL.5432): TCP is off, and the socket lives in our own
// directory, so several embedded instances on one host never collide.
const PORT = 5432;
// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;
const PG_CTL_WAIT_SECONDS = 60;
const silentLog: EmbeddedLog = { info() {}, warn() {} };

function confString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, just not ours to signal
  }
}

interface DataDirLock {
  release(): Promise<void>;
}

/**
 * Takes `<dataDir>/pgsteward.pid`, created exclusively and holding our pid. A file left by a dead
 * process is replaced. Two processes replacing the same stale file at the same instant could both
 * win; the re-read before unlinking narrows that window to a double start within microseconds.
 */
async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const path = join(dataDir, 'pgsteward.pid');
  const ours = String(process.pid);
  const readHolder = () =>
    readFile(path, 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    );

  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await writeFile(path, `${ours}\n`, { flag: 'wx', mode: 0o644 });
      return {
        async release() {
          if ((await readHolder()) === ours) await unlink(path).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = await readHolder();
    if (holder === '') {
      // The holder may be between creating the file and writing its pid.
      await new Promise((done) => setTimeout(done, 100));
      holder = await readHolder();
    }
    const pid = Number(holder);
    if (isProcessAlive(pid)) {
      throw new Error(
        `another pgsteward (pid ${pid}) is using data directory ${dataDir}; ` +
          `stop it, or delete ${path} if that process is not pgsteward`,
      );
    }
    if ((await readHolder()) === holder) await unlink(path).catch(() => {});
  }
  throw new Error(`could not take the lock file ${path}: it keeps reappearing`);
}

/** The major recorded in an existing cluster, or undefined before initdb. */
async function clusterMajor(metaDir: string): Promise<number | undefined> {
  const text = await readFile(join(metaDir, 'PG_VERSION'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : Number.parseInt(text, 10);
}

const SERVER_BINARIES = ['initdb', 'pg_ctl', 'postgres'];

/** An existing cluster can only be started by the server major that created it. */
async function installationFor(metaDir: string, bindir: string | undefined): Promise<PgInstallation> {
  const major = await clusterMajor(metaDir);
  if (major === undefined) return resolveServerInstallation({ bindir });
  const installations = await discoverPgInstallations({ bindir });
  const match = installations.find(
    (inst) => inst.major === major && SERVER_BINARIES.every((name) => hasBinary(inst, name)),
  );
  if (match !== undefined) return match;
  const found = installations.map((inst) => `${inst.version} in ${inst.bindir}`).join(', ') || 'none';
  throw new Error(
    `the embedded database in ${metaDir} was created by PostgreSQL ${major}, but no PostgreSQL ${major} ` +
      `server is installed (found: ${found}); install it, or set PGSTEWARD_PG_BINDIR to its bin directory`,
  );
}

/** A file in the cluster directory, written by us but owned by the server user like the rest of it. */
async function writeServerFile(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
  await giveToServerUser(path);
}

async function initCluster(inst: PgInstallation, metaDir: string, password: string, log: EmbeddedLog) {
  if (existsSync(metaDir)) {
    // No PG_VERSION means initdb never finished here, so nothing in it is worth keeping.
    log.warn(`removing ${metaDir}, left behind by an interrupted initdb`);
    await rm(metaDir, { recursive: true, force: true });
  }
  await mkdir(metaDir, { mode: 0o700 });
  await giveToServerUser(metaDir);
  const initdb = join(inst.bindir, 'initdb');
  const baseArgs = ['-D', metaDir, '-U', SUPERUSER, '--auth=scram-sha-256', '-E', 'UTF8'];
  await withServerReadablePasswordFile(password, async (pwfile) => {
    try {
      await runServerProgram(initdb, [...baseArgs, `--pwfile=${pwfile}`, '--locale=C.UTF-8']);
    } catch (err) {
      // Minimal images may lack the C.UTF-8 locale; initdb has already emptied metaDir on failure.
      log.warn(`initdb with locale C.UTF-8 failed, retrying with --no-locale: ${(err as Error).message}`);
      await runServerProgram(initdb, [...baseArgs, `--pwfile=${pwfile}`, '--no-locale']);
    }
  });
  // Our own hba file rather than initdb's: only the private socket, only scram.
  await writeServerFile(
    join(metaDir, 'pg_hba.conf'),
    '# Written by pgsteward: the metadata database is reachable only over its private Unix socket.\n' +
      'local all all scram-sha-256\n',
  );
  // Settings live in an include rewritten on every start, so a moved data directory still works.
  await appendFile(join(metaDir, 'postgresql.conf'), "\n# pgsteward\ninclude = 'pgsteward.conf'\n");
}

function pgstewardConf(runDir: string): string {
  return [
    '# Rewritten by pgsteward on every start; edits here are lost.',
    "listen_addresses = ''", // no TCP: the metadata database is ours alone
    `unix_socket_directories = ${confString(runDir)}`,
    'unix_socket_permissions = 0700',
    `port = ${PORT}`,
    'password_encryption = scram-sha-256',
    // Metadata is small; stay light beside the databases we manage.
    'shared_buffers = 32MB',
    'max_connections = 50',
    '',
  ].join('\n');
}

async function isPostmasterRunning(pgCtl: string, metaDir: string): Promise<boolean> {
  try {
    await runServerProgram(pgCtl, ['status', '-D', metaDir]);
    return true;
  } catch (err) {
    // pg_ctl status: 3 = not running, 4 = no accessible data directory.
    if (err instanceof ServerProgramError && (err.exitCode === 3 || err.exitCode === 4)) return false;
    throw err;
  }
}

async function logTail(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-15).join('\n');
}

async function ensureDatabase(connection: EmbeddedPostgres['connection']): Promise<boolean> {
  // ssl: false explicitly, so a PGSSLMODE in the environment cannot break the socket connection.
  const client = new pg.Client({ ...connection, database: 'postgres', ssl: false });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount !== 0) return false;
    try {
      await client.query(`CREATE DATABASE ${DATABASE}`); // constant identifier, nothing interpolated
    } catch (err) {
      if ((err as { code?: string }).code !== '42P04') throw err; // duplicate_database: a racing start
    }
    return true;
  } finally {
    await client.end();
  }
}

/**
 * Starts (initialising on first use) the PostgreSQL that holds pgsteward's own metadata when no
 * DATABASE_URL is configured. It listens only on a Unix socket in `<dataDir>/run`; the superuser
 * password lives in `<dataDir>/meta.password`. Registers no signal handlers: the caller calls stop().
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  bindir?: string;
  log?: EmbeddedLog;
}): Promise<EmbeddedPostgres> {
  const log = opts.log ?? silentLog;
  const dataDir = resolve(opts.dataDir);
  const metaDir = join(dataDir, 'meta');
  const runDir = join(dataDir, 'run');
  const passwordPath = join(dataDir, 'meta.password');
  const logPath = join(dataDir, 'meta.log');

  const socketPath = join(runDir, `.s.PGSQL.${PORT}`);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(
      `the embedded database socket path ${socketPath} is ${Buffer.byteLength(socketPath)} bytes, over the ` +
        `${MAX_SOCKET_PATH_BYTES}-byte Unix socket limit; set PGSTEWARD_DATA_DIR to a shorter path`,
    );
  }

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (mustDropRoot()) {
    // The server user must traverse dataDir to reach meta/ and run/, but not list it or read
    // meta.password: group postgres, execute-only.
    await chown(dataDir, process.getuid?.() ?? 0, (await serverUserIds()).gid);
    await chmod(dataDir, 0o710);
    await assertServerUserCanEnter(dataDir);
  }
  const lock = await acquireDataDirLock(dataDir);
  try {
    const inst = await installationFor(metaDir, opts.bindir);
    const pgCtl = join(inst.bindir, 'pg_ctl');

    let password: string;
    if (existsSync(join(metaDir, 'PG_VERSION'))) {
      const stored = await readFile(passwordPath, 'utf8').catch(() => undefined);
      if (stored === undefined || stored.trim() === '') {
        throw new Error(
          `the embedded database in ${metaDir} exists but its password file ${passwordPath} is missing; ` +
            'restore that file, or move the data directory aside to start afresh',
        );
      }
      password = stored.trim();
    } else {
      log.info(`initialising embedded PostgreSQL ${inst.version} in ${metaDir}`);
      password = randomBytes(24).toString('base64url');
      await writeFile(passwordPath, `${password}\n`, { mode: 0o600 });
      await chmod(passwordPath, 0o600);
      await initCluster(inst, metaDir, password, log);
    }

    await mkdir(runDir, { recursive: true, mode: 0o700 });
    await chmod(runDir, 0o700);
    await giveToServerUser(runDir);
    await writeServerFile(join(metaDir, 'pgsteward.conf'), pgstewardConf(runDir));
    // The postmaster (as the server user) appends to this file; we can still read it as its owner or root.
    await appendFile(logPath, '', { mode: 0o600 });
    await giveToServerUser(logPath);

    const stopArgs = ['stop', '-D', metaDir, '-m', 'fast', '-w', '-t', `${PG_CTL_WAIT_SECONDS}`];
    if (await isPostmasterRunning(pgCtl, metaDir)) {
      // We hold the lock, so this postmaster belongs to a pgsteward that died without stopping it.
      log.warn(`stopping a PostgreSQL left running on ${metaDir} by a previous pgsteward`);
      await runServerProgram(pgCtl, stopArgs);
    }

    const startArgs = ['start', '-D', metaDir, '-l', logPath, '-w', '-t', `${PG_CTL_WAIT_SECONDS}`];
    await runServerProgram(pgCtl, startArgs).catch(async (err: Error) => {
      const tail = await logTail(logPath);
      throw new Error(`embedded PostgreSQL did not start (${err.message}); ${logPath} ends with:\n${tail}`);
    });

    const connection = { host: runDir, port: PORT, user: SUPERUSER, password, database: DATABASE };
    const stopServer = async () => {
      try {
        await runServerProgram(pgCtl, stopArgs);
      } catch (err) {
        if (await isPostmasterRunning(pgCtl, metaDir)) throw err; // otherwise it is already down
      }
    };
    try {
      if (await ensureDatabase(connection)) log.info(`created database ${DATABASE} in embedded PostgreSQL`);
    } catch (err) {
      await stopServer().catch(() => {});
      throw err;
    }
    log.info(`embedded PostgreSQL ${inst.version} listening on ${socketPath}`);

    let stopping: Promise<void> | undefined;
    return {
      connection,
      dataDir: metaDir,
      stop() {
        stopping ??= stopServer().finally(() => lock.release());
        return stopping;
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}
