import { PgStewardError } from '../../../errors.js';

// Candidates for the shared catalogue in src/errors.ts; kept here until they move there.

export const artifactKeyInvalid = (why: string) =>
  new PgStewardError('PGS_ARTIFACT_KEY_INVALID', 400, 'Bad Request', `Invalid artifact key: ${why}.`);

export const artifactNotFound = (key: string) =>
  new PgStewardError('PGS_ARTIFACT_NOT_FOUND', 404, 'Not Found', `Artifact '${key}' does not exist in storage.`);

/** The storage holds different bytes than were streamed to it: the artifact must not be used. */
export const artifactIntegrity = (key: string, why: string) =>
  new PgStewardError(
    'PGS_ARTIFACT_INTEGRITY',
    502,
    'Bad Gateway',
    `Artifact '${key}' failed verification after upload: ${why}.`,
  );
