/**
 * Role names in SQL as pg_dump writes it (OWNER TO, GRANT ... TO, REVOKE ... FROM, FOR ROLE): the roles a
 * restore needs on its target. Used for plain dumps (as the guard scans them) and for pg_restore's SQL.
 *
 * The text is the tenant's, and one line may be a gigabyte long, so this is a hand-written scanner that
 * looks at each character a bounded number of times. The regular expressions it replaced backtracked:
 * a 40 KB `GRANT ... TO ... TO ...` line took a second, a 1 MiB one minutes, while the event loop (and
 * every job lease it renews) waited.
 */

/** `\s` as pg_dump's SQL can contain it: space, tab, line breaks, form feed, vertical tab. */
const isSpace = (c: string | undefined): boolean => c === ' ' || (c !== undefined && c >= '\t' && c <= '\r');
const isIdentStart = (code: number): boolean =>
  (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || (code >= 0x80 && code <= 0xff);
const isIdentChar = (code: number): boolean => isIdentStart(code) || (code >= 48 && code <= 57) || code === 36;
const isWordChar = (code: number): boolean =>
  (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 95;
const NOT_ROLES = new Set(['public', 'current_user', 'session_user', 'current_role']);

export function unquoteRoleName(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase();
}

/** The end of a role name (quoted or plain) starting at `at`, or -1 when none starts there. */
function roleNameEnd(text: string, at: number): number {
  if (text[at] === '"') {
    let i = at + 1;
    for (;;) {
      const q = text.indexOf('"', i);
      if (q === -1) return -1;
      if (text[q + 1] === '"') {
        i = q + 2;
        continue;
      }
      return q === at + 1 ? -1 : q + 1; // `""` alone is no name
    }
  }
  if (at >= text.length || !isIdentStart(text.charCodeAt(at))) return -1;
  let i = at + 1;
  while (i < text.length && isIdentChar(text.charCodeAt(i))) i++;
  return i;
}

/** Is `text` exactly one role name? */
function isOneRoleName(text: string): boolean {
  return text.length > 0 && roleNameEnd(text, 0) === text.length;
}

/** Is there a word boundary just before `at` (as `\b` before a word character)? */
const boundaryBefore = (text: string, at: number): boolean => at === 0 || !isWordChar(text.charCodeAt(at - 1));

/** `<keyword> <role>` anywhere on the line (OWNER TO, FOR ROLE): one pass of indexOf. */
function namesAfter(line: string, keyword: string, into: Set<string>): void {
  let from = 0;
  for (;;) {
    const at = line.indexOf(keyword, from);
    if (at === -1) return;
    from = at + keyword.length;
    if (!boundaryBefore(line, at)) continue;
    const end = roleNameEnd(line, from);
    if (end !== -1) {
      into.add(unquoteRoleName(line.slice(from, end)));
      from = end;
    }
  }
}

/** The first `<space>WORD<space>` at or after `from` (WORD exactly, upper case), or -1. */
function spacedWord(text: string, word: string, from: number): number {
  let at = text.indexOf(word, from);
  while (at !== -1) {
    if (at > 0 && isSpace(text[at - 1]) && isSpace(text[at + word.length])) return at;
    at = text.indexOf(word, at + 1);
  }
  return -1;
}

/** Where GRANT or REVOKE (as whole words) start the statement: at 0, or after ALTER DEFAULT PRIVILEGES. */
function grantStart(line: string): number {
  const keywordAt = (at: number) =>
    (line.startsWith('GRANT', at) && !isWordChar(line.charCodeAt(at + 5))) ||
    (line.startsWith('REVOKE', at) && !isWordChar(line.charCodeAt(at + 6)));
  if (keywordAt(0)) return 0;
  const prefix = 'ALTER DEFAULT PRIVILEGES ';
  if (!line.startsWith(prefix)) return -1;
  for (let i = prefix.length; i < line.length; i++) {
    if (isSpace(line[i - 1]) && keywordAt(i)) return i;
  }
  return -1;
}

/** `text` ends with the words `words` separated (and preceded) by whitespace: where that run starts, or -1. */
function trailingWords(text: string, words: string[]): number {
  let end = text.length;
  for (let w = words.length - 1; w >= 0; w--) {
    const word = words[w] as string;
    if (!text.endsWith(word, end)) return -1;
    let i = end - word.length;
    if (!isSpace(text[i - 1])) return -1;
    while (i > 0 && isSpace(text[i - 1])) i--;
    end = i;
  }
  return end;
}

/** The grantee list of `GRANT ... TO <list> [WITH GRANT|ADMIN OPTION | GRANTED BY ... | CASCADE];`. */
function granteeList(line: string): string | null {
  const body = line.trimEnd();
  if (!body.endsWith(';')) return null;
  const start = grantStart(body);
  if (start === -1) return null;
  const stmt = body.slice(0, -1);
  const to = spacedWord(stmt, 'TO', start);
  const from = spacedWord(stmt, 'FROM', start);
  const at = to === -1 ? from : from === -1 ? to : Math.min(to, from);
  if (at === -1) return null;
  let i = at + (at === to ? 2 : 4);
  while (i < stmt.length && isSpace(stmt[i])) i++;
  const rest = stmt.slice(i);
  // The list ends where the first trailing clause begins (as the lazy match of the old expression did).
  const ends = [rest.length];
  const withOption = Math.max(
    trailingWords(rest, ['WITH', 'GRANT', 'OPTION']),
    trailingWords(rest, ['WITH', 'ADMIN', 'OPTION']),
  );
  if (withOption > 0) ends.push(withOption);
  const cascade = trailingWords(rest, ['CASCADE']);
  if (cascade > 0) ends.push(cascade);
  const grantedBy = grantedByStart(rest);
  if (grantedBy > 0) ends.push(grantedBy);
  const list = rest.slice(0, Math.min(...ends));
  return list === '' ? null : list;
}

/** Where the whitespace before the first `GRANTED <space> BY <space>` begins, or -1. */
function grantedByStart(text: string): number {
  let at = spacedWord(text, 'GRANTED', 0);
  while (at !== -1) {
    let i = at + 7;
    while (isSpace(text[i])) i++;
    if (text.startsWith('BY', i) && isSpace(text[i + 2])) {
      let s = at;
      while (s > 0 && isSpace(text[s - 1])) s--;
      return s;
    }
    at = spacedWord(text, 'GRANTED', at + 1);
  }
  return -1;
}

/** Role names a line of plain SQL (or of pg_restore's SQL output) refers to; PUBLIC is no role. */
export function rolesInSqlLine(line: string, into: Set<string>): void {
  namesAfter(line, 'OWNER TO ', into);
  namesAfter(line, 'FOR ROLE ', into);
  const list = granteeList(line);
  if (list === null) return;
  for (const raw of list.split(',')) {
    const part = raw.trim();
    if (isOneRoleName(part) && !NOT_ROLES.has(part.toLowerCase())) into.add(unquoteRoleName(part));
  }
}
