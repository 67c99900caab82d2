/** What the operator can do about the common failures; our own words, so safe to show. */
const HINTS: Record<string, string> = {
  AccessDeniedException: 'the AWS identity may not read this secret',
  DecryptionFailure: 'KMS could not decrypt it',
  InvalidRequestException: 'the secret may be scheduled for deletion',
  CredentialsProviderError: 'no AWS credentials were found',
  TimeoutError: 'AWS Secrets Manager did not answer in time',
};

/**
 * The short, safe reason for a failed call: the error's type name (an AWS exception name or a
 * Node network code), never its message, which for some services echoes request content.
 */
export function awsFailureReason(err: unknown): string {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' && /^E[A-Z0-9_]{2,40}$/.test(e.code) ? e.code : undefined;
  const name = typeof e.name === 'string' && /^[A-Za-z][A-Za-z0-9_.]{0,63}$/.test(e.name) ? e.name : undefined;
  // The SDK raises a plain Error for a missing region; recognisable only by its fixed message.
  if (name === 'Error' && e.message === 'Region is missing') return 'no AWS region is configured (set AWS_REGION)';
  const type = code ?? (name === undefined || name === 'Error' ? 'network error' : name);
  const hint = HINTS[type];
  return hint === undefined ? type : `${type}: ${hint}`;
}
