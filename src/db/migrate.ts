import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { MIGRATIONS_DIR } from '../paths.js';

/**
 * Forward-only SQL migrations. Written here rather than taken from a library because the rules are
 * few and exact (numbered files, one transaction each, checksum refusal, "database ahead" refusal,
 * advisory lock) and the candidates either want JS migration files or skip one of those rules.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

// Any constant works; it only has to be the same for every pgsteward process on this database.
const MIGRATION_LOCK_KEY = 7_164_020_771;
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Read `NNNN_name.sql` files in order; refuses gaps and duplicates. */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new MigrationError(`migration file name '${file}' is not NNNN_name.sql`);
    const version = Number(match[1]);
    const expected = migrations.length + 1;
    if (version !== expected) throw new MigrationError(`expected migration ${expected}, found ${file}`);
    const sql = await readFile(join(dir, file), 'utf8');
    migrations.push({ version, name: file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations;
}

export interface MigrationReport {
  applied: string[];
  current: number;
}

/**
 * Bring the database to the newest migration. Runs as the connecting (owner) user, under a session
 * advisory lock so concurrent starts wait for each other rather than race.
 */
export async function migrate(client: pg.ClientBase, migrations: Migration[]): Promise<MigrationReport> {
  // The lock comes first: even CREATE TABLE IF NOT EXISTS races with a concurrent runner.
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS pgsteward_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM pgsteward_migrations ORDER BY version',
    );
    verifyHistory(rows, migrations);
    const applied: string[] = [];
    for (const m of migrations.slice(rows.length)) {
      await client.query('BEGIN');
      try {
        // The version row goes in first: a second runner that slipped past the lock fails on the key.
        await client.query('INSERT INTO pgsteward_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          m.checksum,
        ]);
        await client.query(m.sql);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}`);
      }
      applied.push(m.name);
    }
    return { applied, current: migrations.length };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}

function verifyHistory(rows: { version: number; name: string; checksum: string }[], migrations: Migration[]): void {
  if (rows.length > migrations.length) {
    const newest = rows[rows.length - 1];
    throw new MigrationError(
      `the database is at migration ${newest?.version} (${newest?.name}) but this pgsteward knows only ` +
        `${migrations.length}; refusing to start an older version against a newer schema`,
    );
  }
  rows.forEach((row, i) => {
    const m = migrations[i];
    if (!m || m.version !== row.version) throw new MigrationError(`migration history has a gap at ${row.version}`);
    if (m.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${row.name} was edited after it was applied (recorded sha256 ${row.checksum.slice(0, 12)}…, ` +
          `file ${m.checksum.slice(0, 12)}…); add a new migration instead`,
      );
    }
  });
}
