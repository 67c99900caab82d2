/** NOTIFY channels of the job engine. Payloads are small: NOTIFY caps them at 8000 bytes. */

/** Enqueue (and a shutdown's release) wake idle workers; the payload is empty. */
export const JOBS_AVAILABLE_CHANNEL = 'pgsteward_jobs_available';

/** A cancel request for a running job; the payload is the job id. */
export const JOB_CANCEL_CHANNEL = 'pgsteward_job_cancel';

/**
 * Every status or progress change, published by a trigger (migrations/0002_jobs.sql) as
 * JSON {id, tenantId, status}, for live updates.
 */
export const JOB_EVENTS_CHANNEL = 'pgsteward_job_events';

export interface JobEvent {
  id: string;
  tenantId: string;
  status: string;
}
