import { join } from 'node:path';
import { Errors } from '../errors.js';
import { discoverPgInstallations, hasBinary, type PgInstallation } from './installations.js';

export type ClientTool = 'pg_dump' | 'pg_restore' | 'psql' | 'pg_dumpall';

export interface SelectedTool {
  path: string;
  major: number;
  version: string;
}

/**
 * The client tool to use against a server of `serverMajor`. pg_dump refuses servers newer than itself,
 * and an older pg_restore cannot read a newer archive, so the tool's major must be at least the server's.
 * Among those, the closest major wins: its output (and its SQL) stays closest to what that server
 * understands when restoring. Within one major, the installations' order decides (discovery puts
 * PGSTEWARD_PG_BINDIR first).
 *
 * `installations` defaults to discovery; callers pass the list discovered with PGSTEWARD_PG_BINDIR.
 * Throws Errors.toolVersion when no installed tool is new enough.
 */
export async function selectClientTool(
  tool: ClientTool,
  serverMajor: number,
  installations?: PgInstallation[],
): Promise<SelectedTool> {
  const candidates = (installations ?? (await discoverPgInstallations())).filter((inst) => hasBinary(inst, tool));
  let best: PgInstallation | undefined;
  for (const inst of candidates) {
    if (inst.major >= serverMajor && (best === undefined || inst.major < best.major)) best = inst;
  }
  if (best === undefined) {
    const newest = candidates.reduce<number | null>(
      (max, inst) => (max === null ? inst.major : Math.max(max, inst.major)),
      null,
    );
    throw Errors.toolVersion(tool, newest, serverMajor);
  }
  return { path: join(best.bindir, tool), major: best.major, version: best.version };
}
