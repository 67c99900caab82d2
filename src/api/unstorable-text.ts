/**
 * U+0000 and UTF-16 surrogates without their pair: PostgreSQL's text cannot hold them (SQLSTATE
 * 22021), so they must be refused with the input, not discovered by the database as a 500.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what this looks for.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a string holds a character PostgreSQL text cannot store. */
export const isUnstorableText = (s: string): boolean => UNSTORABLE.test(s);

/** The JSON-pointer path of the first string (value or key) PostgreSQL cannot store, or null. */
export function findUnstorableText(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return isUnstorableText(value) ? path : null;
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], `${path}/${i}`);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, v] of Object.entries(value)) {
    const here = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (isUnstorableText(key)) return here;
    const found = findUnstorableText(v, here);
    if (found !== null) return found;
  }
  return null;
}
