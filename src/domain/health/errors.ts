import { defineError } from '../../errors.js';
import { defineTaskFailure } from '../../task-failures.js';

/** Health reports' own codes (issue 10). */
export const HealthErrors = {
  reportNotFound: defineError(
    'PGS_HEALTH_REPORT_NOT_FOUND',
    404,
    'Not Found',
    (id: string) => `Health report '${id}' was not found.`,
  ),
  policyNotFound: defineError(
    'PGS_HEALTH_POLICY_NOT_FOUND',
    404,
    'Not Found',
    (targetId: string) => `Target '${targetId}' has no health policy.`,
  ),
  invalidThresholds: defineError(
    'PGS_INVALID_THRESHOLDS',
    400,
    'Bad Request',
    (problems: string[]) => `The thresholds are not usable: ${problems.join('; ')}.`,
    (problems: string[]) => ({ problems }),
  ),
};

const final = { retryable: false };

export const HealthFailures = {
  reportGone: defineTaskFailure(
    'PGS_HEALTH_REPORT_NOT_FOUND',
    (id: string) => `Health report '${id}' is gone (its target was deleted).`,
    final,
  ),
  cancelled: defineTaskFailure('PGS_CANCELLED', () => 'The health report was stopped before it finished.', final),
  serverRefused: defineTaskFailure(
    'PGS_HEALTH_REPORT_FAILED',
    (sqlState: string) => `The target refused the report's session (SQLSTATE ${sqlState}).`,
    final,
  ),
};
