import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/**
 * A loopback TCP port that forwards to another. pgsteward refuses targets at its metadata store's
 * address, so a test whose metadata database and tenant databases share the one harness cluster gives
 * the server process the metadata database through this second port.
 */
export async function startTcpForwarder(toPort: number, toHost = '127.0.0.1') {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(toPort, toHost);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
