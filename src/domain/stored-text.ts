/**
 * Text pgsteward keeps from a tenant's server or tools (error messages, version strings) is bounded
 * where it is stored: a hostile or broken server must not fill the metadata store, an API response or
 * the job row with megabytes of text. Cut on a code point, never inside a surrogate pair (which
 * PostgreSQL could not store), and marked with an ellipsis so a reader knows it was cut.
 */
export function boundText(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}

/** An error message as stored on a job, backup or restore. */
export const MAX_STORED_MESSAGE = 2000;
/** A server's or tool's version string. */
export const MAX_STORED_VERSION = 200;
