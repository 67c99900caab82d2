import { Errors } from '../../errors.js';
import { dbnameArgument } from '../../pgtools/conninfo.js';
import { quoteIdent } from '../../sql/identifiers.js';
import { type BackupOptions, MIN_MAJOR_FOR_METHOD, type QualifiedName } from './options.js';

/** Names checked against the target's catalog, ready to become pg_dump patterns. */
export interface ResolvedSelection {
  tables: QualifiedName[];
  excludeTables: QualifiedName[];
  schemas: string[];
  excludeSchemas: string[];
}

const FORMAT_LETTER = { custom: 'c', plain: 'p', directory: 'd', tar: 't' } as const;

/**
 * pg_dump patterns treat text inside double quotes literally (no wildcards, no case folding), so a
 * quoted identifier is an exact name: "public"."order*" matches only the table named order*.
 */
const exactTable = (t: QualifiedName) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * The pg_dump argv (after the program name), every option in its --opt=value form. The conninfo
 * carries no password (that is in the passfile), and the snapshot ties the dump to the row counts.
 */
export function pgDumpArgs(
  options: BackupOptions,
  selection: ResolvedSelection,
  run: { conninfo: string; snapshot: string; toolMajor: number; directory?: string },
): string[] {
  const args = [
    dbnameArgument(run.conninfo),
    `--format=${FORMAT_LETTER[options.format]}`,
    `--snapshot=${run.snapshot}`,
    '--verbose',
    '--no-password',
  ];
  for (const t of selection.tables) args.push(`--table=${exactTable(t)}`);
  for (const t of selection.excludeTables) args.push(`--exclude-table=${exactTable(t)}`);
  for (const s of selection.schemas) args.push(`--schema=${quoteIdent(s)}`);
  for (const s of selection.excludeSchemas) args.push(`--exclude-schema=${quoteIdent(s)}`);
  // A name that matches nothing must fail the dump, not silently shrink it.
  if (selection.tables.length > 0 || selection.schemas.length > 0) args.push('--strict-names');
  if (options.schemaOnly) args.push('--schema-only');
  if (options.dataOnly) args.push('--data-only');
  if (options.compression) args.push(compressArg(options.compression, run.toolMajor));
  if (options.parallel !== null) args.push(`--jobs=${options.parallel}`);
  if (options.format === 'directory') {
    if (!run.directory) throw new Error('a directory-format dump needs an output directory');
    args.push(`--file=${run.directory}`);
  }
  return args;
}

function compressArg(c: NonNullable<BackupOptions['compression']>, toolMajor: number): string {
  if (toolMajor < MIN_MAJOR_FOR_METHOD[c.method]) {
    throw Errors.compressionUnsupported(c.method, toolMajor);
  }
  if (toolMajor >= 16) return `--compress=${c.method}${c.level === undefined ? '' : `:${c.level}`}`;
  // pg_dump 15 and older take a gzip level only; 0 means no compression.
  if (c.method === 'none') return '--compress=0';
  return `--compress=${c.level ?? 6}`;
}
