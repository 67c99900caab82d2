import { isPgStewardError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { requireScopes } from '../context.js';
import { boundText, MAX_STORED_VERSION } from '../stored-text.js';
import { type ConnectFailure, categoryOf } from './connect-failure.js';
import { selectSessionFacts } from './server-queries.js';
import { loadTargetRow } from './service.js';
import { withTargetAccess, withTargetClient } from './session.js';

export interface TargetCheck {
  ok: boolean;
  serverVersion: string | null;
  latencyMs: number | null;
  ssl: boolean | null;
  /** `category` (auth, tls, timeout, refused, dns, network) when the connection itself failed. */
  error?: { code: string; message: string; category?: ConnectFailure };
}

/**
 * Connect to a target the way a backup would (same secret, address checks and TLS) and say what
 * happened. A failure is an answer, not an error: `ok: false` with a coded reason.
 */
export async function checkTarget(ctx: Ctx, id: string): Promise<TargetCheck> {
  requireScopes(ctx, 'targets:read');
  const target = await loadTargetRow(ctx, id);
  const started = performance.now();
  try {
    return await withTargetAccess(ctx.services, target, (access) =>
      withTargetClient(access, async (client) => {
        const latencyMs = Math.round(performance.now() - started);
        const { rows } = await client.query<{ version: string; ssl: boolean | null }>(selectSessionFacts());
        const version = rows[0]?.version;
        const serverVersion = version === undefined ? null : boundText(version, MAX_STORED_VERSION);
        return { ok: true, serverVersion, latencyMs, ssl: rows[0]?.ssl ?? null };
      }),
    );
  } catch (err) {
    if (!isPgStewardError(err)) throw err;
    return {
      ok: false,
      serverVersion: null,
      latencyMs: null,
      ssl: null,
      error: { code: err.code, message: err.message, ...withCategory(categoryOf(err)) },
    };
  }
}

const withCategory = (category: ConnectFailure | undefined) => (category === undefined ? {} : { category });
