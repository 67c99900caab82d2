import type pg from 'pg';
import { PgToolError, runPgTool } from '../../pgtools/run-tool.js';
import type { SelectedTool } from '../../pgtools/select-tool.js';
import { type ArchiveRef, archiveFds, archivePath } from './restore-tools.js';
import { rolesInSqlLine, unquoteRoleName } from './role-names.js';
import { createRole, dropRole, selectExistingRoles } from './server-queries.js';
import type { TocEntry } from './toc.js';

export interface RolesOutcome {
  /** Roles the dump refers to that the target lacks (after any were created). */
  missing: string[];
  /** Roles created from the globals file (includeGlobals). */
  created: string[];
  /** What was deliberately not carried over, e.g. "alice: SUPERUSER", "alice: PASSWORD". */
  skipped: string[];
}

/** Attributes a restore may give a role it creates: nothing that reaches beyond ordinary use. */
const SAFE_ATTRIBUTES = new Set([
  'LOGIN',
  'NOLOGIN',
  'INHERIT',
  'NOINHERIT',
  'CREATEDB',
  'NOCREATEDB',
  'NOSUPERUSER',
  'NOCREATEROLE',
  'NOREPLICATION',
  'NOBYPASSRLS',
]);
const REFUSED_ATTRIBUTES = new Set(['SUPERUSER', 'CREATEROLE', 'REPLICATION', 'BYPASSRLS']);
const NAME = String.raw`("(?:[^"]|"")+"|[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*)`;
const CREATE_ROLE = new RegExp(`^CREATE ROLE ${NAME};$`);
const ALTER_ROLE = new RegExp(`^ALTER ROLE ${NAME} WITH (.*);$`);

export interface GlobalRole {
  name: string;
  attributes: string[];
  skipped: string[];
}

/**
 * The roles in a pg_dumpall --globals-only file, with the attributes a restore may set. Passwords,
 * VALID UNTIL and the powerful attributes are left out and named in `skipped`; memberships, role
 * settings and tablespaces are not carried over at all.
 */
export function parseGlobalRoles(sql: string): GlobalRole[] {
  const roles = new Map<string, GlobalRole>();
  for (const raw of sql.split('\n')) {
    const line = raw.trim();
    const created = CREATE_ROLE.exec(line);
    if (created?.[1]) {
      const name = unquoteRoleName(created[1]);
      if (!roles.has(name)) roles.set(name, { name, attributes: [], skipped: [] });
      continue;
    }
    const altered = ALTER_ROLE.exec(line);
    if (!altered?.[1] || altered[2] === undefined) continue;
    const role = roles.get(unquoteRoleName(altered[1]));
    if (!role) continue;
    // Strip quoted values (PASSWORD '...', VALID UNTIL '...') before splitting into words.
    const words = altered[2].replace(/'(?:[^']|'')*'/g, "''").split(/\s+/);
    for (let i = 0; i < words.length; i++) {
      const word = (words[i] as string).toUpperCase();
      if (SAFE_ATTRIBUTES.has(word)) role.attributes.push(word);
      else if (REFUSED_ATTRIBUTES.has(word)) role.skipped.push(`${role.name}: ${word}`);
      else if (word === 'PASSWORD') {
        role.skipped.push(`${role.name}: PASSWORD`);
        i++;
      } else if (word === 'VALID' || word === 'CONNECTION') {
        i += 2;
      }
    }
  }
  return [...roles.values()];
}

/** The names among `names` that are not roles on the target. */
export async function missingRoles(client: pg.ClientBase, names: Iterable<string>): Promise<string[]> {
  const wanted = [...new Set(names)].filter((n) => n !== '');
  if (wanted.length === 0) return [];
  const { rows } = await client.query<{ rolname: string }>(selectExistingRoles(wanted));
  const found = new Set(rows.map((r) => r.rolname));
  return wanted.filter((n) => !found.has(n)).sort();
}

/**
 * Create the globals file's roles that the target lacks. Existing roles are never altered. Appends each
 * role to `created` as soon as it exists (for the caller to drop if the restore fails); returns what was
 * skipped.
 */
export async function createMissingRoles(
  client: pg.ClientBase,
  roles: GlobalRole[],
  created: string[],
): Promise<{ skipped: string[] }> {
  const missing = new Set(
    await missingRoles(
      client,
      roles.map((r) => r.name),
    ),
  );
  const skipped: string[] = [];
  for (const role of roles) {
    if (!missing.has(role.name)) continue;
    await client.query(createRole(role.name, role.attributes));
    created.push(role.name);
    skipped.push(...role.skipped);
  }
  return { skipped };
}

/** Drop roles this restore created, best effort (after a failed restore). */
export async function dropCreatedRoles(client: pg.ClientBase, names: string[]): Promise<void> {
  for (const name of names) await client.query(dropRole(name)).catch(() => {});
}

/**
 * The roles an archive refers to: every entry's owner, and the grantees of its ACL entries (read from
 * pg_restore's SQL for just those entries).
 */
export async function rolesInArchive(o: {
  pgRestore: SelectedTool;
  archive: ArchiveRef;
  entries: TocEntry[];
  listFile: (entries: TocEntry[]) => Promise<string>;
  signal: AbortSignal;
}): Promise<Set<string>> {
  const roles = new Set(o.entries.map((e) => e.owner).filter((r) => r !== ''));
  const acls = o.entries.filter((e) => e.desc === 'ACL' || e.desc === 'DEFAULT ACL');
  if (acls.length === 0) return roles;
  const run = runPgTool({
    path: o.pgRestore.path,
    args: ['--file=-', `--use-list=${await o.listFile(acls)}`, archivePath(o.archive)],
    inheritFds: archiveFds(o.archive),
    env: {},
    signal: o.signal,
    stdout: 'pipe',
  });
  let text = '';
  run.stdout?.setEncoding('utf8');
  run.stdout?.on('data', (chunk: string) => {
    if (text.length < 16 * 1024 * 1024) text += chunk;
  });
  try {
    await run.done;
  } catch (err) {
    if (err instanceof PgToolError && err.name !== 'PgToolError') throw err;
    return roles; // an unreadable ACL section is reported by the restore itself
  }
  for (const line of text.split('\n')) rolesInSqlLine(line, roles);
  return roles;
}
