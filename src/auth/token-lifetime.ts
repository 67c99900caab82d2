/**
 * Token lifetime: PGSTEWARD_JWT_MAX_TTL_SECONDS caps exp - iat, so a leaked token cannot outlive the
 * cap however far out its issuer set exp. fast-jwt's own maxAge counts from iat only and skips tokens
 * without iat, and it never looks at an iat in the future, which would let a token stretch its life
 * by claiming to be issued later; hence this check.
 */

/** How far in the future an iat may lie: clocks of issuer and server drift a little. */
export const IAT_CLOCK_SKEW_SECONDS = 60;

/**
 * Why a verified token's lifetime is not acceptable, or null when it is (or there is no cap).
 * `now` is in seconds since the epoch.
 */
export function lifetimeProblem(
  claims: { iat?: unknown; exp?: unknown },
  maxTtlSeconds: number | undefined,
  now: number,
): string | null {
  if (maxTtlSeconds === undefined) return null;
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    return 'The token has no issued-at time (iat), so its lifetime cannot be checked.';
  }
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'The token has no expiry (exp).';
  if (iat > now + IAT_CLOCK_SKEW_SECONDS) return 'The token claims to be issued in the future (iat).';
  if (exp - iat > maxTtlSeconds) {
    return `The token's lifetime (exp - iat) is ${Math.round(exp - iat)} s; at most ${maxTtlSeconds} s is accepted.`;
  }
  return null;
}

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "15m", "1h", "7d" -> seconds, at most a year, and at most `maxTtlSeconds` when there is a cap. */
export function parseTtl(text: string, maxTtlSeconds?: number): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * (TTL_UNITS[match[2] || 's'] ?? 1) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 366 * 86400) {
    throw new Error(`--ttl '${text}' is not a duration like 90, 15m, 1h or 7d (at most a year)`);
  }
  if (maxTtlSeconds !== undefined && seconds > maxTtlSeconds) {
    throw new Error(
      `--ttl '${text}' is ${seconds} s, longer than PGSTEWARD_JWT_MAX_TTL_SECONDS (${maxTtlSeconds} s); ` +
        'pgsteward would refuse the token. Ask for a shorter ttl.',
    );
  }
  return seconds;
}
