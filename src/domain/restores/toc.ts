import type { QualifiedName } from '../backups/options.js';

/**
 * One line of `pg_restore --list`: `<dump id>; <catalog oid> <oid> <desc> <namespace> <tag> <owner>`.
 * The desc may hold spaces (TABLE DATA, FK CONSTRAINT), so it is matched against the known ones; the
 * namespace is one word ('-' for none); the owner is the last word; the tag is what lies between.
 */
export interface TocEntry {
  line: string;
  id: number;
  desc: string;
  namespace: string | null;
  tag: string;
  owner: string;
}

// Longest first, so "TABLE DATA" wins over "TABLE".
const DESCS = [
  'MATERIALIZED VIEW DATA',
  'SEQUENCE OWNED BY',
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'TEXT SEARCH PARSER',
  'TEXT SEARCH TEMPLATE',
  'FOREIGN DATA WRAPPER',
  'MATERIALIZED VIEW',
  'PUBLICATION TABLES IN SCHEMA',
  'PUBLICATION TABLE',
  'DEFAULT ACL',
  'FK CONSTRAINT',
  'CHECK CONSTRAINT',
  'EVENT TRIGGER',
  'FOREIGN TABLE',
  'INDEX ATTACH',
  'LARGE OBJECT',
  'OPERATOR CLASS',
  'OPERATOR FAMILY',
  'SEQUENCE SET',
  'SERVER',
  'TABLE ATTACH',
  'TABLE DATA',
  'USER MAPPING',
  'BLOB METADATA',
  'BLOBS',
].concat([
  'ACCESS METHOD',
  'ACL',
  'AGGREGATE',
  'BLOB',
  'CAST',
  'COLLATION',
  'COMMENT',
  'CONSTRAINT',
  'CONVERSION',
  'DATABASE',
  'DEFAULT',
  'DOMAIN',
  'EXTENSION',
  'FUNCTION',
  'INDEX',
  'LANGUAGE',
  'OPERATOR',
  'POLICY',
  'PROCEDURE',
  'PUBLICATION',
  'ROW SECURITY',
  'RULE',
  'SCHEMA',
  'SECURITY LABEL',
  'SEQUENCE',
  'STATISTICS',
  'SUBSCRIPTION',
  'TABLE',
  'TRANSFORM',
  'TRIGGER',
  'TYPE',
  'SHELL TYPE',
  'VIEW',
]);

export function parseTocLine(line: string): TocEntry | null {
  const m = /^(\d+); \d+ \d+ (.*)$/.exec(line);
  if (!m) return null;
  const rest = m[2] as string;
  const desc = DESCS.find((d) => rest.startsWith(`${d} `));
  if (desc === undefined) return null;
  const after = rest.slice(desc.length + 1);
  const space = after.indexOf(' ');
  if (space === -1) return null;
  const namespace = after.slice(0, space);
  const remainder = after.slice(space + 1);
  const lastSpace = remainder.lastIndexOf(' ');
  const tag = lastSpace === -1 ? remainder : remainder.slice(0, lastSpace);
  const owner = lastSpace === -1 ? '' : remainder.slice(lastSpace + 1);
  return { line, id: Number(m[1]), desc, namespace: namespace === '-' ? null : namespace, tag, owner };
}

export function parseToc(list: string): TocEntry[] {
  return list
    .split('\n')
    .map(parseTocLine)
    .filter((e): e is TocEntry => e !== null);
}

/**
 * The entries a table/schema selection restores, as exact names (pg_restore's own -t matches a table
 * name in any schema, and -n does not create the schema). A named schema brings everything in it, and
 * the schema itself. A named table brings its definition, data, its own non-foreign-key constraints and
 * its ACL, but not column defaults (which sequence a table owns is not in the list; pg_restore -t does
 * the same); its schema is created when the dump has an entry for it. With neither, null: everything.
 */
export function selectEntries(
  entries: TocEntry[],
  selection: { tables: QualifiedName[]; schemas: string[] },
): TocEntry[] | null {
  if (selection.tables.length === 0 && selection.schemas.length === 0) return null;
  const schemas = new Set(selection.schemas);
  const tables = new Set(selection.tables.map((t) => `${t.schema}\u0000${t.name}`));
  const tableSchemas = new Set(selection.tables.map((t) => t.schema));
  const hasTable = (ns: string | null, name: string) => ns !== null && tables.has(`${ns}\u0000${name}`);
  return entries.filter((e) => {
    if (e.desc === 'SCHEMA') return schemas.has(e.tag) || tableSchemas.has(e.tag);
    if (e.namespace !== null && schemas.has(e.namespace)) return true;
    switch (e.desc) {
      case 'TABLE':
      case 'TABLE DATA':
        return hasTable(e.namespace, e.tag);
      case 'ACL':
        return e.tag.startsWith('TABLE ') && hasTable(e.namespace, e.tag.slice('TABLE '.length));
      case 'CONSTRAINT':
      case 'CHECK CONSTRAINT':
        // Tag: "<table> <constraint or column>"; a table name with a space is matched by prefix.
        return selection.tables.some((t) => t.schema === e.namespace && e.tag.startsWith(`${t.name} `));
      default:
        return false;
    }
  });
}
