import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { queuedJobsByKind } from '../jobs/attempts.js';
import type { JobEvents } from '../jobs/worker.js';

/**
 * pgsteward's job metrics. Labels are bounded: a job's kind (the registered tasks) and how an attempt
 * ended (JobOutcome), never a tenant, job or target id. Answers the JobEvents the worker reports to.
 * `pool` serves the queue depth, read once per scrape (it counts every tenant's queued jobs).
 */
export function registerJobMetrics(registry: Registry, o: { pool: pg.Pool }): JobEvents {
  const registers = [registry];
  const started = new Counter({
    name: 'pgsteward_jobs_started_total',
    help: 'Job attempts started by this process, by kind',
    labelNames: ['kind'] as const,
    registers,
  });
  const finished = new Counter({
    name: 'pgsteward_jobs_finished_total',
    help: 'Job attempts ended in this process, by kind and outcome (succeeded, failed, retrying, cancelled, released, lost)',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const running = new Gauge({
    name: 'pgsteward_jobs_running',
    help: 'Jobs running in this process now, by kind',
    labelNames: ['kind'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'pgsteward_job_duration_seconds',
    help: 'How long job attempts ran in this process, by kind',
    labelNames: ['kind'] as const,
    // Jobs run for seconds (a small dump) to hours (a large restore).
    buckets: [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21600],
    registers,
  });
  const renewalsFailed = new Counter({
    name: 'pgsteward_job_lease_renewals_failed_total',
    help: 'Lease renewals that failed (one per running job whose renewal failed)',
    registers,
  });
  new Gauge({
    name: 'pgsteward_jobs_queued',
    help: 'Jobs waiting in the queue, across tenants, by kind (read from the metadata store at scrape time)',
    labelNames: ['kind'] as const,
    registers,
    async collect() {
      try {
        const depth = await queuedJobsByKind(o.pool);
        this.reset();
        for (const [kind, n] of depth) this.set({ kind }, n);
      } catch {
        // The metadata store is unreachable: /readyz says so; the gauge keeps its last value.
      }
    },
  });
  return {
    started(kind) {
      started.inc({ kind });
      running.inc({ kind });
    },
    finished(kind, outcome, seconds) {
      finished.inc({ kind, outcome });
      running.dec({ kind });
      duration.observe({ kind }, seconds);
    },
    leaseRenewalFailed(attempts) {
      renewalsFailed.inc(attempts);
    },
  };
}
