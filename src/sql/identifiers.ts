/**
 * The one place SQL identifiers and literals are quoted. Every identifier that reaches SQL text goes
 * through quoteIdent; values normally travel as `$n` parameters, and quoteLiteral exists only for the
 * statements that cannot take parameters (CREATE ROLE ... PASSWORD, SET ..., COMMENT ON ...).
 */

function refuseNul(what: string, value: string): void {
  // PostgreSQL text cannot hold NUL; a NUL reaching the wire would truncate the statement in C code.
  if (value.includes('\0')) throw new Error(`${what} must not contain a NUL character`);
}

/**
 * Always quotes, even when PostgreSQL would not need it: `users` -> `"users"`, `a"b` -> `"a""b"`. Quoting
 * unconditionally keeps the case exactly as given and makes keywords (`"select"`) safe.
 * Note that PostgreSQL truncates identifiers longer than 63 bytes (NAMEDATALEN - 1).
 */
export function quoteIdent(name: string): string {
  if (name === '') throw new Error('an SQL identifier must not be empty');
  refuseNul('an SQL identifier', name);
  return `"${name.replaceAll('"', '""')}"`;
}

/** `schema.name`, each part quoted: quoteQualified('public', 'Order') -> `"public"."Order"`. */
export function quoteQualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * A string literal. Quotes are doubled (standard_conforming_strings style). A value containing a
 * backslash is written as an escape string, E'...', with backslashes doubled, because a plain '...' would
 * mean something else on a session with standard_conforming_strings = off (and could end the literal
 * early); E'...' means the same under both settings. This is what PostgreSQL's quote_literal() does.
 * Assumes a UTF-8 client encoding (never SJIS/BIG5, whose multi-byte characters may contain 0x5C).
 */
export function quoteLiteral(value: string): string {
  refuseNul('an SQL literal', value);
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}
