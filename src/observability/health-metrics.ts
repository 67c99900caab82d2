import type pg from 'pg';
import { Gauge, type Registry } from 'prom-client';
import { latestHealthForMetrics } from '../domain/health/service.js';

// The worst-first order of a report's status, as a number a dashboard can threshold on.
const STATUS_VALUE: Record<string, number> = { pass: 0, unknown: 1, warn: 2, fail: 3, error: 4 };
// Both gauges are collected in one scrape, concurrently: they share one read of the metadata database.
const SHARED_READ_MS = 1_000;

/**
 * Per target, the newest finished health report's status and how many checks fail or warn per category.
 * Labels stay bounded: target id and one of five categories, never a table or a check's evidence. Read
 * from the metadata database at scrape time, so every replica exports the same numbers.
 */
export function registerHealthMetrics(registry: Registry, pool: () => pg.Pool | undefined): void {
  let read: { at: number; latest: ReturnType<typeof latestHealthForMetrics> } | undefined;
  const latest = () => {
    const p = pool();
    if (!p) return Promise.resolve([]);
    if (!read || Date.now() - read.at > SHARED_READ_MS) {
      // A scrape must not fail because the metadata database is briefly away: the gauges go empty.
      read = { at: Date.now(), latest: latestHealthForMetrics(p).catch(() => []) };
    }
    return read.latest;
  };
  const status: Gauge<'target_id'> = new Gauge({
    name: 'pgsteward_health_report_status',
    help: "The newest health report's status per target: 0 pass, 1 unknown, 2 warn, 3 fail, 4 error",
    labelNames: ['target_id'] as const,
    registers: [registry],
    async collect() {
      const rows = await latest();
      status.reset();
      for (const r of rows) status.set({ target_id: r.targetId }, STATUS_VALUE[r.status] ?? 1);
    },
  });
  const failing: Gauge<'target_id' | 'category'> = new Gauge({
    name: 'pgsteward_health_failing_checks',
    help: 'Checks that fail or warn in the newest health report, per target and category',
    labelNames: ['target_id', 'category'] as const,
    registers: [registry],
    async collect() {
      const rows = await latest();
      failing.reset();
      for (const r of rows) {
        for (const [category, n] of Object.entries(r.failing)) failing.set({ target_id: r.targetId, category }, n);
      }
    },
  });
}
