import { Errors } from '../../errors.js';
import type { BackupFormat } from '../backups/options.js';
import { parseQualifiedName, parseSchemaName } from '../backups/options.js';

export const RESTORE_MODES = ['create', 'replace'] as const;
export type RestoreMode = (typeof RESTORE_MODES)[number];

/** The request body of POST /v1/backups/{id}/restores (and GraphQL's RestoreInput). */
export interface RestoreOptionsInput {
  database: string;
  targetId?: string | undefined;
  mode?: string | undefined;
  confirm?: string | undefined;
  tables?: string[] | undefined;
  schemas?: string[] | undefined;
  parallel?: number | undefined;
  noOwner?: boolean | undefined;
  noPrivileges?: boolean | undefined;
  includeGlobals?: boolean | undefined;
  terminateConnections?: boolean | undefined;
}

/** The options as applied, defaults filled in; stored as restores.options. */
export interface RestoreOptions {
  /** Tables as `schema.table` or `table` (public), quoted parts allowed; exact names. */
  tables: string[];
  schemas: string[];
  parallel: number;
  noOwner: boolean;
  noPrivileges: boolean;
  includeGlobals: boolean;
  terminateConnections: boolean;
}

/**
 * Why `name` cannot be a database to restore into, or null. Besides PostgreSQL's own limits (1 to 63
 * bytes, no NUL), names the PostgreSQL tools misread are refused: '=' (taken for a conninfo string) and
 * a leading '-' (taken for an option).
 */
export function restoreDatabaseNameProblem(name: string): string | null {
  if (name.length === 0) return 'database must not be empty';
  if (Buffer.byteLength(name, 'utf8') > 63)
    return 'database must be at most 63 bytes (PostgreSQL truncates longer names)';
  if (name.includes('\0')) return 'database must not contain a NUL character';
  if (name.includes('=')) return "database must not contain '=' (PostgreSQL tools read it as a connection string)";
  if (name.startsWith('-')) return "database must not start with '-' (PostgreSQL tools read it as an option)";
  if (name === 'template0' || name === 'template1') return `database must not be ${name}`;
  return null;
}

/**
 * Validate a restore request against the backup it restores. noOwner and noPrivileges default to true
 * when restoring onto another target (its roles are not the source's), else false.
 */
export function normaliseRestoreOptions(
  input: RestoreOptionsInput,
  context: { format: BackupFormat; otherTarget: boolean },
): { database: string; mode: RestoreMode; options: RestoreOptions } {
  const problem = restoreDatabaseNameProblem(input.database);
  if (problem) throw Errors.validation(problem);
  const mode = (input.mode ?? 'create') as RestoreMode;
  if (!RESTORE_MODES.includes(mode)) throw Errors.validation("mode must be 'create' or 'replace'");
  const tables = boundedNames(input.tables, 'tables');
  const schemas = boundedNames(input.schemas, 'schemas');
  for (const t of tables) parseQualifiedName(t);
  for (const s of schemas) parseSchemaName(s);
  if (context.format === 'plain' && tables.length + schemas.length > 0) {
    throw Errors.validation('tables and schemas need a custom, directory or tar backup; a plain dump restores whole');
  }
  const parallel = input.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 16) {
    throw Errors.validation('parallel must be a whole number from 1 to 16');
  }
  if (parallel > 1 && context.format !== 'custom' && context.format !== 'directory') {
    throw Errors.validation(`parallel needs a custom or directory backup; this one is ${context.format}`);
  }
  const noOwner = input.noOwner ?? context.otherTarget;
  const noPrivileges = input.noPrivileges ?? context.otherTarget;
  if (context.format === 'plain' && (input.noOwner === true || input.noPrivileges === true)) {
    throw Errors.validation('noOwner and noPrivileges need a custom, directory or tar backup');
  }
  return {
    database: input.database,
    mode,
    options: {
      tables,
      schemas,
      parallel,
      noOwner: context.format === 'plain' ? false : noOwner,
      noPrivileges: context.format === 'plain' ? false : noPrivileges,
      includeGlobals: input.includeGlobals ?? false,
      terminateConnections: input.terminateConnections ?? false,
    },
  };
}

/** REST's RelationNames bounds, for every caller: at most 1000 names of up to 300 characters. */
function boundedNames(list: string[] | undefined, what: string): string[] {
  if ((list?.length ?? 0) > 1000) throw Errors.validation(`${what} may list at most 1000 names`);
  if (list?.some((name) => name.length > 300)) throw Errors.validation(`${what}: a name is at most 300 characters`);
  return list ?? [];
}
