import type pg from 'pg';
import { appSessionClient, type ConnectionSettings } from '../db/pool.js';
import { quoteIdent } from '../sql/identifiers.js';

export interface ListenerLog {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
}

export interface NotificationListenerOptions {
  settings: ConnectionSettings;
  channels: string[];
  onNotification(channel: string, payload: string): void;
  /** Called after every (re)connection: notifications sent while disconnected are lost, so look around. */
  onConnected(): void;
  log: ListenerLog;
  /** How often the idle connection is checked; a dead peer is otherwise noticed only by TCP keepalive. */
  pingMs?: number;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

/**
 * One dedicated connection that LISTENs (a pooled connection would be handed to someone else between
 * queries, and its LISTENs with it). It reconnects with backoff whenever it drops, for as long as it runs.
 */
export class NotificationListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private retryMs = FIRST_RETRY_MS;

  constructor(private readonly opts: NotificationListenerOptions) {}

  /** Connect and LISTEN; rejects if the first connection fails (misconfiguration should be loud). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
    const pingMs = this.opts.pingMs ?? 30_000;
    this.pingTimer = setInterval(() => void this.ping(pingMs), pingMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('notification');
      await client.end().catch(() => {});
    }
  }

  /** Whether the LISTEN connection is up right now. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  private async connect(): Promise<void> {
    const client = appSessionClient(this.opts.settings, 'pgsteward-listen');
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => this.opts.onNotification(msg.channel, msg.payload ?? ''));
    try {
      await client.connect();
      for (const channel of this.opts.channels) await client.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.retryMs = FIRST_RETRY_MS;
    this.opts.onConnected();
  }

  private lost(client: pg.Client, err?: Error): void {
    if (client !== this.client) return; // an old client's late events, or one still connecting
    this.client = undefined;
    client.removeAllListeners('notification');
    void client.end().catch(() => {});
    if (this.stopped) return;
    this.opts.log.warn({ err: err?.message }, 'the LISTEN connection dropped; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.stopped) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = undefined;
      if (this.stopped) return;
      try {
        await this.connect();
        this.opts.log.info('the LISTEN connection is back');
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'reconnecting the LISTEN connection failed');
        this.scheduleReconnect();
      }
    }, delay);
  }

  private async ping(timeoutMs: number): Promise<void> {
    const client = this.client;
    if (!client) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the LISTEN connection did not answer a ping')), timeoutMs);
    });
    try {
      await Promise.race([client.query('SELECT 1'), timeout]);
    } catch (err) {
      this.lost(client, err as Error);
    } finally {
      clearTimeout(timer);
    }
  }
}
