import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface PgInstallation {
  /** 15 for 15.x; 9 for 9.x (pre-10 majors like 9.6 collapse to their first number). */
  major: number;
  /** e.g. "15.18", "9.6.24", "18beta1" */
  version: string;
  bindir: string;
}

/** Any one of these makes a directory count as an installation (client-only packages lack postgres). */
const MARKER_BINARIES = ['postgres', 'pg_dump', 'psql'] as const;
const SERVER_BINARIES = ['initdb', 'pg_ctl', 'postgres'] as const;

// A hung or broken binary must not stall start-up; `--version` answers in milliseconds.
const VERSION_TIMEOUT_MS = 10_000;

/**
 * Parses the first line printed by `<program> --version`, e.g.
 * "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> { major: 15, version: "15.18" }.
 * Throws when the text is not a PostgreSQL version banner.
 */
export function parsePgVersion(output: string): { major: number; version: string } {
  // Anchored on "(PostgreSQL)" so that unrelated numbers in garbage output never pass as a version.
  const match = /\(PostgreSQL\)\s+(\d+)((?:\.\d+)*)((?:devel|alpha\d*|beta\d*|rc\d*)?)/.exec(output);
  const first = match?.[1];
  if (match === null || first === undefined) {
    throw new Error(`not a PostgreSQL version banner: ${JSON.stringify(output.slice(0, 200))}`);
  }
  const major = Number.parseInt(first, 10);
  if (!Number.isSafeInteger(major) || major < 1) {
    throw new Error(`implausible PostgreSQL major version in ${JSON.stringify(output.slice(0, 200))}`);
  }
  return { major, version: `${first}${match[2] ?? ''}${match[3] ?? ''}` };
}

export function hasBinary(inst: PgInstallation, name: string): boolean {
  return existsSync(join(inst.bindir, name));
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Sub-directories of `parent` whose names start with `prefix`, or none when `parent` is absent. */
async function childrenStartingWith(parent: string, prefix: string): Promise<string[]> {
  try {
    const entries = await readdir(parent);
    return entries.filter((name) => name.startsWith(prefix)).map((name) => join(parent, name));
  } catch {
    return [];
  }
}

async function pgConfigBindir(): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('pg_config', ['--bindir'], { timeout: VERSION_TIMEOUT_MS });
    const dir = stdout.trim();
    return dir === '' ? undefined : dir;
  } catch {
    return undefined; // no pg_config on PATH is normal on servers with only versioned packages
  }
}

/** Candidate bindirs in priority order; duplicates and absent paths are filtered later. */
async function candidateBindirs(): Promise<string[]> {
  const fromPgConfig = await pgConfigBindir();
  const [debian, homebrew, pgdg] = await Promise.all([
    childrenStartingWith('/usr/lib/postgresql', ''),
    childrenStartingWith('/opt/homebrew/opt', 'postgresql@'),
    childrenStartingWith('/usr', 'pgsql-'),
  ]);
  return [
    ...(fromPgConfig === undefined ? [] : [fromPgConfig]),
    ...debian.map((dir) => join(dir, 'bin')),
    '/usr/local/pgsql/bin',
    ...homebrew.map((dir) => join(dir, 'bin')),
    ...pgdg.map((dir) => join(dir, 'bin')),
  ];
}

/** Reads the version of the installation in `bindir`, or explains why it does not count as one. */
async function inspectBindir(bindir: string): Promise<PgInstallation | string> {
  if (!(await isDirectory(bindir))) return `${bindir} is not a directory`;
  const marker = MARKER_BINARIES.find((name) => existsSync(join(bindir, name)));
  if (marker === undefined) return `${bindir} holds none of ${MARKER_BINARIES.join(', ')}`;
  try {
    const { stdout } = await execFileAsync(join(bindir, marker), ['--version'], {
      timeout: VERSION_TIMEOUT_MS,
    });
    return { ...parsePgVersion(stdout), bindir };
  } catch (err) {
    return `${join(bindir, marker)} --version failed: ${(err as Error).message}`;
  }
}

async function inspectExplicitBindir(bindir: string): Promise<PgInstallation> {
  const found = await inspectBindir(bindir);
  if (typeof found === 'string') {
    throw new Error(`PGSTEWARD_PG_BINDIR=${bindir} is not a usable PostgreSQL bin directory: ${found}`);
  }
  return found;
}

/**
 * Every PostgreSQL installation found, newest major first, de-duplicated by the realpath of its bindir.
 * An explicit `opts.bindir` (PGSTEWARD_PG_BINDIR) must be usable or this throws; it sorts first among
 * installations of its major.
 */
export async function discoverPgInstallations(opts: { bindir?: string } = {}): Promise<PgInstallation[]> {
  const explicit = opts.bindir === undefined ? undefined : await inspectExplicitBindir(opts.bindir);
  const candidates = await candidateBindirs();
  const inspected = await Promise.all(candidates.map((dir) => inspectBindir(dir)));

  const seen = new Set<string>();
  const installations: PgInstallation[] = [];
  for (const inst of [explicit, ...inspected]) {
    if (inst === undefined || typeof inst === 'string') continue;
    const key = await realpath(inst.bindir).catch(() => inst.bindir);
    if (seen.has(key)) continue;
    seen.add(key);
    installations.push(inst);
  }
  // Array.prototype.sort is stable, so source priority survives within one major.
  return installations.sort((a, b) => b.major - a.major);
}

/**
 * The installation used to run our own servers: `opts.bindir` when it has initdb, pg_ctl and postgres,
 * otherwise the newest discovered installation that has all three.
 */
export async function resolveServerInstallation(opts: { bindir?: string } = {}): Promise<PgInstallation> {
  const isServer = (inst: PgInstallation) => SERVER_BINARIES.every((name) => hasBinary(inst, name));
  const installations = await discoverPgInstallations(opts);
  if (opts.bindir !== undefined) {
    const explicit = installations.find((inst) => inst.bindir === opts.bindir);
    if (explicit !== undefined && isServer(explicit)) return explicit;
  }
  const server = installations.find(isServer);
  if (server !== undefined) return server;

  const looked = installations.length === 0 ? 'none found' : installations.map((i) => i.bindir).join(', ');
  throw new Error(
    `no PostgreSQL server installation (${SERVER_BINARIES.join(', ')}) found; looked in ` +
      `${opts.bindir ?? 'PGSTEWARD_PG_BINDIR (unset)'}, pg_config --bindir, /usr/lib/postgresql/*/bin, ` +
      `/usr/local/pgsql/bin, /opt/homebrew/opt/postgresql@*/bin, /usr/pgsql-*/bin (installations: ${looked}). ` +
      'Install the PostgreSQL server package or set PGSTEWARD_PG_BINDIR.',
  );
}
