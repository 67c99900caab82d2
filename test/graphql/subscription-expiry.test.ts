import type { AddressInfo } from 'node:net';
import t from 'tap';
import WebSocket from 'ws';
import { bearer, buildTestApp } from '../helpers/app.js';

const { app, db, token, seedTenants } = await buildTestApp(t);
await seedTenants('acme');
const [job] = await db.ownerQuery<{ id: string }>(
  `INSERT INTO jobs (tenant_id, kind, run_at) VALUES ('acme', 'backup', now() + interval '1 hour') RETURNING id`,
);
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as AddressInfo;

/** Opens a jobUpdated subscription; resolves with how the socket ended, or 'open' after `watchMs`. */
function subscribe(tok: string, watchMs: number) {
  return new Promise<{ acked: boolean; closed: number | 'open'; afterMs: number }>((resolve, reject) => {
    const started = Date.now();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws', { headers: bearer(tok) });
    let acked = false;
    const timer = setTimeout(() => {
      ws.removeAllListeners('close');
      ws.close();
      resolve({ acked, closed: 'open', afterMs: Date.now() - started });
    }, watchMs);
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw));
      if (msg.type !== 'connection_ack') return;
      acked = true;
      ws.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: { query: `subscription { jobUpdated(id: "${job?.id}") { status } }` },
        }),
      );
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ acked, closed: code, afterMs: Date.now() - started });
    });
  });
}

t.test('a subscription opened with a short-lived token is closed when the token expires', async (t) => {
  const [shortLived, longLived] = await Promise.all([
    subscribe(token('acme', ['jobs:read'], { ttlSeconds: 2 }), 6_000),
    subscribe(token('acme', ['jobs:read'], { ttlSeconds: 600 }), 4_000),
  ]);
  t.ok(shortLived.acked, 'the subscription was accepted while the token was valid');
  t.equal(shortLived.closed, 4401, 'closed with graphql-ws Unauthorized');
  t.ok(shortLived.afterMs < 3_500, `closed ${shortLived.afterMs} ms after opening`);
  t.same([longLived.acked, longLived.closed], [true, 'open'], 'a valid token keeps its subscription');
});
