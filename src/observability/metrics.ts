import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { backupPolicyMetrics } from './backup-policy-metrics.js';
import { registerHealthMetrics } from './health-metrics.js';

/**
 * A registry with the process and Node.js runtime metrics under their standard, unprefixed names
 * (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...), which the usual dashboards and alerts
 * expect. pgsteward's own metrics are prefixed pgsteward_.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registry.registerMetric(backupPolicyMetrics.scheduled);
  registry.registerMetric(backupPolicyMetrics.expired);
  return registry;
}

/**
 * Prometheus metrics at GET /metrics: process metrics plus HTTP request counts and latencies, on
 * `registry` (where the job metrics may be registered too) or a new one.
 */
export function registerMetrics(app: FastifyInstance, registry: Registry = createMetricsRegistry()): Registry {
  const labelNames = ['method', 'route', 'status_code'] as const;
  const duration = new Histogram({
    name: 'pgsteward_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const total = new Counter({
    name: 'pgsteward_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames,
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the raw URL, keeps label cardinality bounded.
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    total.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });
  registerHealthMetrics(registry, () => (app.hasDecorator('pool') ? app.pool : undefined));
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return registry;
}
