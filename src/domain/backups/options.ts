import { Errors } from '../../errors.js';

export const BACKUP_FORMATS = ['custom', 'plain', 'directory', 'tar'] as const;
export type BackupFormat = (typeof BACKUP_FORMATS)[number];
export const COMPRESSION_METHODS = ['gzip', 'lz4', 'zstd', 'none'] as const;
export type CompressionMethod = (typeof COMPRESSION_METHODS)[number];

/** A table or schema name exactly as it is in the catalog (no patterns, no case folding). */
export interface QualifiedName {
  schema: string;
  name: string;
}

export interface BackupOptionsInput {
  format?: string;
  tables?: string[];
  excludeTables?: string[];
  schemas?: string[];
  excludeSchemas?: string[];
  schemaOnly?: boolean;
  dataOnly?: boolean;
  compression?: { method: string; level?: number };
  parallel?: number;
  includeGlobals?: boolean;
}

/** The options as applied: defaults filled in, so the record says exactly what was done. */
export interface BackupOptions {
  format: BackupFormat;
  tables: string[];
  excludeTables: string[];
  schemas: string[];
  excludeSchemas: string[];
  schemaOnly: boolean;
  dataOnly: boolean;
  compression: { method: CompressionMethod; level?: number } | null;
  parallel: number | null;
  includeGlobals: boolean;
}

const LEVELS: Record<CompressionMethod, [number, number]> = { gzip: [0, 9], lz4: [1, 12], zstd: [1, 22], none: [0, 0] };
/** pg_dump learned lz4 and zstd, and the --compress=method:level form, in PostgreSQL 16. */
export const MIN_MAJOR_FOR_METHOD: Record<CompressionMethod, number> = { gzip: 10, none: 10, lz4: 16, zstd: 16 };

/**
 * Parse `schema.table`, `table` (meaning public.table) or double-quoted parts (`"my.schema"."Odd ""name"""`)
 * into exact names. Unquoted parts are taken as written: these are names, not patterns.
 */
export function parseQualifiedName(text: string, defaultSchema = 'public'): QualifiedName {
  const parts: string[] = [];
  let i = 0;
  const fail = () => Errors.validation(`'${text.slice(0, 100)}' is not a name like schema.table or "Schema"."Table"`);
  while (i <= text.length) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw fail();
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== '.') {
        if (text[i] === '"') throw fail();
        part += text[i++];
      }
    }
    if (part.length === 0 || part.length > 63 || part.includes('\0')) throw fail();
    parts.push(part);
    if (i === text.length) break;
    if (text[i] !== '.') throw fail();
    i++;
  }
  if (parts.length === 1) return { schema: defaultSchema, name: parts[0] as string };
  if (parts.length === 2) return { schema: parts[0] as string, name: parts[1] as string };
  throw fail();
}

const schemaName = (text: string): string => {
  const parsed = parseQualifiedName(`x.${text.startsWith('"') ? text : `"${text.replaceAll('"', '""')}"`}`);
  return parsed.name;
};

/** Validate and normalise; every rule that does not need the target's catalog is checked here. */
export function normaliseBackupOptions(input: BackupOptionsInput): BackupOptions {
  const format = (input.format ?? 'custom') as BackupFormat;
  if (!BACKUP_FORMATS.includes(format)) throw Errors.validation(`format must be one of ${BACKUP_FORMATS.join(', ')}`);
  if (input.schemaOnly && input.dataOnly) throw Errors.validation('schemaOnly and dataOnly cannot both be true');
  if (input.parallel !== undefined && input.parallel !== 1 && format !== 'directory') {
    throw Errors.validation('parallel (pg_dump -j) needs format directory');
  }
  if (
    input.parallel !== undefined &&
    (!Number.isInteger(input.parallel) || input.parallel < 1 || input.parallel > 16)
  ) {
    throw Errors.validation('parallel must be a whole number from 1 to 16');
  }
  let compression: BackupOptions['compression'] = null;
  if (input.compression) {
    const method = input.compression.method as CompressionMethod;
    if (!COMPRESSION_METHODS.includes(method)) {
      throw Errors.validation(`compression.method must be one of ${COMPRESSION_METHODS.join(', ')}`);
    }
    if (format === 'tar' && method !== 'none')
      throw Errors.validation('the tar format cannot be compressed by pg_dump');
    const [min, max] = LEVELS[method];
    const level = input.compression.level;
    if (level !== undefined && (!Number.isInteger(level) || level < min || level > max)) {
      throw Errors.validation(`compression.level for ${method} must be from ${min} to ${max}`);
    }
    compression = level === undefined || method === 'none' ? { method } : { method, level };
  }
  const names = (list: string[] | undefined, what: string) => {
    if ((list?.length ?? 0) > 1000) throw Errors.validation(`${what} may list at most 1000 names`);
    if (list?.some((name) => name.length > 300)) throw Errors.validation(`${what}: a name is at most 300 characters`);
    return list ?? [];
  };
  const tables = names(input.tables, 'tables');
  const excludeTables = names(input.excludeTables, 'excludeTables');
  const schemas = names(input.schemas, 'schemas');
  const excludeSchemas = names(input.excludeSchemas, 'excludeSchemas');
  // Parse now so a malformed name is a 400 before anything runs.
  for (const t of [...tables, ...excludeTables]) parseQualifiedName(t);
  for (const s of [...schemas, ...excludeSchemas]) schemaName(s);
  return {
    format,
    tables,
    excludeTables,
    schemas,
    excludeSchemas,
    schemaOnly: input.schemaOnly ?? false,
    dataOnly: input.dataOnly ?? false,
    compression,
    parallel: format === 'directory' ? (input.parallel ?? null) : null,
    includeGlobals: input.includeGlobals ?? true,
  };
}

export const parseSchemaName = schemaName;
