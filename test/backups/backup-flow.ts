import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ArtifactStorage } from '../../src/domain/backups/storage/artifact-storage.js';
import { bearer } from '../helpers/app.js';

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

/** Wait until a job is running (its dump started). */
export async function waitForRunning(app: FastifyInstance, token: string, jobId: string, timeoutMs = 20_000) {
  const started = Date.now();
  for (;;) {
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${jobId}`, headers: bearer(token) });
    if ((res.json() as JobView).status === 'running') return;
    if (Date.now() - started > timeoutMs) throw new Error(`job ${jobId} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function sha256Of(storage: ArtifactStorage, key: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await storage.read(key)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
