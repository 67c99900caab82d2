/**
 * The lexical pieces of psql's scanner (psqlscan.l) that the plain-dump guard mirrors: character classes
 * on latin1 code units, the string prefixes, dollar tags, pg_dump's `\\restrict` lines, the client
 * encodings whose multibyte characters may hold a backslash byte, and the one statement shape a COPY
 * may have. Kept apart from the guard's state machine so each can be read against psql on its own.
 */

export type Token =
  | { kind: 'word'; text: string }
  | { kind: 'ident'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'sym'; text: string };

// psqlscan.l's ident_start and ident_cont, on latin1 code units.
export const isIdentStart = (code: number): boolean =>
  (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || (code >= 0x80 && code <= 0xff);
export const isDigit = (code: number): boolean => code >= 48 && code <= 57;
export const isIdentChar = (code: number): boolean => isIdentStart(code) || isDigit(code) || code === 36;
/** psql's whitespace: space, \t, \n, \r, \f (and \v, which it takes as an operator; never in a dump). */
export const isSpace = (code: number): boolean => code === 32 || (code >= 9 && code <= 13);
/** Letters that, directly before a quote, start a string (E'', N'', B'', X'') rather than an identifier. */
export const STRING_PREFIXES = new Set(['e', 'n', 'b', 'x']);
export const ROUTINE_WORDS = new Set(['create', 'function', 'procedure', 'or', 'replace']);
export const DOLLAR_TAG = /^\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$/;
export const RESTRICT_LINE = /^\\(?:restrict|unrestrict) [A-Za-z0-9]+\r?\n?$/;
/** Client-only encodings whose second bytes include 0x5C (backslash): psql would scan them differently. */
const UNSAFE_ENCODINGS = new Set([
  'SJIS',
  'SHIFTJIS',
  'SHIFTJIS2004',
  'BIG5',
  'GBK',
  'UHC',
  'GB18030',
  'JOHAB',
  'WIN932',
  'WIN936',
  'WIN949',
  'WIN950',
  'MSKANJI',
]);

/** `COPY name[.name...] [(cols)] FROM STDIN ...` -> the table as written; anything else -> null. */
export function copyFromStdinTable(tokens: Token[]): string | null {
  let i = 1;
  const name: string[] = [];
  for (;;) {
    const t = tokens[i];
    if (t?.kind === 'word') name.push(t.text.toLowerCase());
    else if (t?.kind === 'ident') name.push(t.text);
    else return null;
    i++;
    if (tokens[i]?.kind === 'sym' && tokens[i]?.text === '.') {
      i++;
      continue;
    }
    break;
  }
  if (tokens[i]?.kind === 'sym' && tokens[i]?.text === '(') {
    // Column names only: words, quoted identifiers and commas, up to the closing parenthesis.
    i++;
    while (tokens[i] && !(tokens[i]?.kind === 'sym' && tokens[i]?.text === ')')) {
      const t = tokens[i];
      if (!(t?.kind === 'word' || t?.kind === 'ident' || (t?.kind === 'sym' && t.text === ','))) return null;
      i++;
    }
    i++;
  }
  const from = tokens[i];
  const stdin = tokens[i + 1];
  if (from?.kind !== 'word' || from.text !== 'FROM' || stdin?.kind !== 'word' || stdin.text !== 'STDIN') return null;
  return name.join('.');
}

/** A `SET client_encoding` / `SET NAMES` statement naming an encoding psql would scan differently. */
export function unsafeClientEncoding(tokens: Token[]): string | null {
  if (!tokens.some((t) => t.kind === 'word' && (t.text === 'CLIENT_ENCODING' || t.text === 'NAMES'))) return null;
  const value = tokens.find(
    (t) =>
      t.kind === 'string' ||
      (t.kind === 'word' && !['SET', 'CLIENT_ENCODING', 'NAMES', 'TO', 'SESSION', 'LOCAL'].includes(t.text)),
  );
  const name = (value?.text ?? '').toUpperCase().replace(/[^A-Z0-9]/g, '');
  return UNSAFE_ENCODINGS.has(name) ? name : null;
}
