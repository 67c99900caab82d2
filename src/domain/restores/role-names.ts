/**
 * Role names in SQL as pg_dump writes it (OWNER TO, GRANT ... TO, REVOKE ... FROM, FOR ROLE): the roles a
 * restore needs on its target. Used for plain dumps (as the guard scans them) and for pg_restore's SQL.
 */
const ROLE_NAME = String.raw`("(?:[^"]|"")+"|[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*)`;
const OWNER_TO = new RegExp(String.raw`\bOWNER TO ${ROLE_NAME}`, 'g');
const FOR_ROLE = new RegExp(String.raw`\bFOR ROLE ${ROLE_NAME}`, 'g');
const ONLY_ROLE_NAME = new RegExp(`^${ROLE_NAME}$`);
const GRANT_TO =
  /^(?:ALTER DEFAULT PRIVILEGES .*?\s)?(?:GRANT|REVOKE)\b.*?\s(?:TO|FROM)\s+(.+?)(?:\s+WITH\s+(?:GRANT|ADMIN)\s+OPTION|\s+GRANTED\s+BY\s+.*|\s+CASCADE)?;\s*$/;

export function unquoteRoleName(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase();
}

/** Role names a line of plain SQL (or of pg_restore's SQL output) refers to; PUBLIC is no role. */
export function rolesInSqlLine(line: string, into: Set<string>): void {
  for (const re of [OWNER_TO, FOR_ROLE]) {
    for (const m of line.matchAll(re)) if (m[1]) into.add(unquoteRoleName(m[1]));
  }
  const grant = GRANT_TO.exec(line.trimEnd());
  if (grant?.[1]) {
    for (const part of grant[1].split(/\s*,\s*/)) {
      const m = ONLY_ROLE_NAME.exec(part.trim());
      if (m?.[1] && !/^(public|current_user|session_user|current_role)$/i.test(m[1])) into.add(unquoteRoleName(m[1]));
    }
  }
}
