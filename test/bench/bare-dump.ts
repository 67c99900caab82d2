import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** How the bench reaches the source database on its own, with the same login and TLS as pgsteward. */
export interface BareConnection {
  bindir: string;
  /** `host=... port=... dbname=... user=... sslmode=require`; the password is in PGPASSFILE. */
  conninfo: string;
  /** The same, naming another database of the cluster (B3's fresh ones); PGPASSFILE covers them. */
  conninfoOf(database: string): string;
  passfile: string;
}

function toolEnv(conn: BareConnection): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', PGPASSFILE: conn.passfile };
}

function exited(child: ChildProcess, what: string): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} ended with ${signal ?? `code ${code}`}: ${stderr.trim()}`));
    });
  });
}

/** `pg_dump -Fc -f <file>`: the baseline, pg_dump's default compression (gzip level 6 in 15). */
export async function runBareDump(conn: BareConnection, file: string): Promise<number> {
  const started = performance.now();
  const dump = spawn(join(conn.bindir, 'pg_dump'), ['--format=custom', `--file=${file}`, `--dbname=${conn.conninfo}`], {
    env: toolEnv(conn),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await exited(dump, 'pg_dump');
  return performance.now() - started;
}

/**
 * `pg_dump -Fc | tee <file> | pg_restore --format=custom --file=/dev/null`, wired through OS pipes (no
 * shell, no bytes through node): what pgsteward's verifying read costs on its own, without pgsteward.
 * tee does not fsync; pg_dump -f does (since PostgreSQL 10), as does pgsteward's file storage.
 */
export async function runTeeVerifiedDump(conn: BareConnection, file: string): Promise<number> {
  const started = performance.now();
  const env = toolEnv(conn);
  const dump = spawn(join(conn.bindir, 'pg_dump'), ['--format=custom', `--dbname=${conn.conninfo}`], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tee = spawn('tee', [file], { env, stdio: [dump.stdout, 'pipe', 'pipe'] });
  const restore = spawn(join(conn.bindir, 'pg_restore'), ['--format=custom', '--file=/dev/null'], {
    env,
    stdio: [tee.stdout, 'ignore', 'pipe'],
  });
  await Promise.all([exited(dump, 'pg_dump'), exited(tee, 'tee'), exited(restore, 'pg_restore')]);
  return performance.now() - started;
}

/**
 * B3's baseline: `createdb` (connected to the source database, as the same role) and then
 * `pg_restore --exit-on-error -j <parallel>` of a custom dump into it. Each tool is timed on its own.
 */
export async function runBareRestore(
  conn: BareConnection,
  file: string,
  database: string,
  parallel: number,
): Promise<{ createdbMs: number; pgRestoreMs: number }> {
  const env = toolEnv(conn);
  const started = performance.now();
  const createdb = spawn(join(conn.bindir, 'createdb'), [`--maintenance-db=${conn.conninfo}`, '--', database], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await exited(createdb, 'createdb');
  const created = performance.now();
  const restore = spawn(
    join(conn.bindir, 'pg_restore'),
    ['--exit-on-error', `--jobs=${parallel}`, `--dbname=${conn.conninfoOf(database)}`, file],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await exited(restore, 'pg_restore');
  return { createdbMs: created - started, pgRestoreMs: performance.now() - created };
}
