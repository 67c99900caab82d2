import type { FastifyInstance } from 'fastify';
import type { IResolvers } from 'mercurius';
import type { ConnectionSettings } from '../db/pool.js';
import { getJob } from '../domain/jobs/service.js';
import { JOB_EVENTS_CHANNEL, type JobEvent } from '../jobs/channels.js';
import { NotificationListener } from '../jobs/listener.js';

const topic = (jobId: string) => `job:${jobId}`;

/**
 * jobUpdated(id): the job engine's trigger NOTIFYs every status and progress change; one LISTEN
 * connection per process forwards them to mercurius's pubsub, and each subscriber re-reads the job
 * through the service (so tenancy and scopes apply to every update, not just the first).
 */
export const jobUpdateResolvers: IResolvers = {
  Subscription: {
    jobUpdated: {
      subscribe: async (_root, { id }: { id: string }, { ctx, pubsub }) => {
        await getJob(ctx, id); // another tenant's id, or no jobs:read, fails here
        return pubsub.subscribe(topic(id));
      },
      resolve: (event: JobEvent, _args: unknown, { ctx }) => getJob(ctx, event.id),
    },
  },
};

export async function forwardJobEvents(app: FastifyInstance, settings: ConnectionSettings): Promise<void> {
  const listener = new NotificationListener({
    settings,
    channels: [JOB_EVENTS_CHANNEL],
    onNotification: (_channel, payload) => {
      let event: JobEvent;
      try {
        event = JSON.parse(payload) as JobEvent;
      } catch {
        return;
      }
      app.graphql.pubsub.publish({ topic: topic(event.id), payload: event });
    },
    onConnected: () => {},
    log: { info: (o, m) => app.log.info(o, m), warn: (o, m) => app.log.warn(o, m) },
  });
  await listener.start();
  app.addHook('onClose', () => listener.stop());
}

/** graphql-ws's close code for an unauthorised socket; a client re-authenticates with a fresh token. */
export const TOKEN_EXPIRED_CLOSE_CODE = 4401;
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * Closes a subscription socket when the token that opened it expires, so a revoked or short-lived
 * grant cannot keep streaming for as long as the connection lasts. Closing ends every subscription on it.
 */
export function closeAtTokenExpiry(
  socket: { close(code: number, reason: string): void; once(event: 'close', f: () => void): unknown },
  expiresAt: number | null,
): void {
  if (expiresAt === null) return;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = expiresAt - Date.now();
    if (left <= 0) {
      socket.close(TOKEN_EXPIRED_CLOSE_CODE, 'Token expired');
      return;
    }
    timer = setTimeout(arm, Math.min(left, LONGEST_TIMER_MS));
    timer.unref();
  };
  socket.once('close', () => clearTimeout(timer));
  arm();
}
