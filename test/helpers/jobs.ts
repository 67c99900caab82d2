import type { FastifyInstance } from 'fastify';
import { bearer } from './app.js';

/** A job as GET /v1/jobs/{id} answers it: what the polling helpers hand back. */
export interface JobView {
  id: string;
  status: string;
  backupId: string | null;
  error: { code: string; message: string } | null;
  progress: Record<string, unknown>;
  result: Record<string, unknown> | null;
}

/** Poll a job the way a chatops bot does, until it finishes (or the time runs out). */
export async function waitForJob(
  app: FastifyInstance,
  token: string,
  jobId: string,
  timeoutMs = 60_000,
): Promise<JobView> {
  const started = Date.now();
  for (;;) {
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${jobId}`, headers: bearer(token) });
    const job = res.json() as JobView;
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    if (Date.now() - started > timeoutMs) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Wait until a job is running (its tool started). */
export async function waitForRunning(app: FastifyInstance, token: string, jobId: string, timeoutMs = 20_000) {
  const started = Date.now();
  for (;;) {
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${jobId}`, headers: bearer(token) });
    if ((res.json() as JobView).status === 'running') return;
    if (Date.now() - started > timeoutMs) throw new Error(`job ${jobId} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
