/**
 * The dump that fooled the plain-dump guard (issue 8): psql counts only real identifiers towards its
 * CREATE FUNCTION ... BEGIN ATOMIC heuristic, so at the first `;` it is still inside the body and reads
 * the "COPY data" as script, running the `\!` line (reproduced with psql 15.18). The old guard counted
 * the E of E'' as an identifier, saw the statement end and skipped the next lines as COPY data.
 */
export const ATOMIC_ESCAPE = (prefix: string, marker: string): string =>
  `CREATE ${prefix} FUNCTION BEGIN;\nCOPY t FROM stdin;\n\\! touch ${marker}\n\\.\n`;
