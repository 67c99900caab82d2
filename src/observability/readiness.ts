import type pg from 'pg';

export interface Readiness {
  status: 'ready' | 'not_ready';
  database: 'ok' | 'unreachable';
  migrations: { applied: number; known: number };
}

/** Ready means: the metadata database answers, and it has exactly the migrations this code knows. */
export async function checkReadiness(pool: pg.Pool, knownMigrations: number): Promise<Readiness> {
  try {
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pgsteward_migrations');
    const applied = rows[0]?.n ?? 0;
    return {
      status: applied === knownMigrations ? 'ready' : 'not_ready',
      database: 'ok',
      migrations: { applied, known: knownMigrations },
    };
  } catch {
    return { status: 'not_ready', database: 'unreachable', migrations: { applied: 0, known: knownMigrations } };
  }
}
