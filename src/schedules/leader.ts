import type pg from 'pg';
import { appSessionClient, type ConnectionSettings } from '../db/pool.js';

export interface LeaderLog {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

const silent: LeaderLog = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * Periodic work that must happen once across all replicas (scheduling drills, dropping expired kept
 * databases, ...), registered by the capability that owns it. A pass should be safe to run twice at
 * the same moment: leadership is checked before each pass, but a leader can lose its session while a
 * pass runs, and its successor may start the same pass before the old one notices.
 */
export interface PeriodicPass<D> {
  /** Names the pass in logs. */
  readonly name: string;
  /** How often it runs; default the leader's interval. */
  readonly everyMs?: number;
  run(deps: D, now: Date, log: LeaderLog): Promise<unknown>;
}

/**
 * The session-level advisory lock whose holder is the one leader ("pgstdrll" as a bigint). The drill
 * scheduler held the same key before the leader was generic, so during a rolling upgrade old and new
 * processes still agree on a single leader.
 */
export const LEADER_LOCK = '8098989418457525356';

export const LEADER_APPLICATION_NAME = 'pgsteward-leader';

export interface LeaderOptions<D> {
  /** Settings for the dedicated lock connection (never a pooled one). */
  settings: ConnectionSettings;
  /** The default cadence of a pass, and how often a follower asks for the lock. */
  intervalMs: number;
  deps: D;
  passes: readonly PeriodicPass<D>[];
  log?: LeaderLog;
}

/**
 * Runs registered passes in one process across all replicas: the leader is whoever holds a
 * session-level advisory lock on a dedicated connection. Leadership ends with that connection, so
 * before each pass the leader checks its session is alive; if it is not, it stops and competes for
 * the lock again like everyone else. Passes run one after another, each on its own cadence; a pass
 * that fails is logged and holds up none of the others.
 */
export class Leader<D> {
  /** The dedicated session; it holds the lock while `leading`, and asks for it each round while not. */
  private client: pg.Client | undefined;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = true;
  /** When each pass is next due (epoch ms); cleared whenever leadership is gained or lost. */
  private readonly due = new Map<PeriodicPass<D>, number>();
  private readonly tickMs: number;
  private readonly log: LeaderLog;

  constructor(private readonly opts: LeaderOptions<D>) {
    const names = new Set<string>();
    for (const pass of opts.passes) {
      if (names.has(pass.name)) throw new Error(`two periodic passes are named '${pass.name}'`);
      names.add(pass.name);
      if (pass.everyMs !== undefined && !(pass.everyMs > 0)) throw new RangeError(`pass '${pass.name}': everyMs`);
    }
    if (!(opts.intervalMs > 0)) throw new RangeError('intervalMs must be a positive number');
    this.tickMs = Math.min(opts.intervalMs, ...opts.passes.map((p) => p.everyMs ?? opts.intervalMs));
    this.log = opts.log ?? silent;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.plan(0);
  }

  /** Stop: waits for a round in progress, then gives up the lock by closing its session. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    await this.disconnect();
  }

  private plan(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.round = this.runDuePasses().finally(() => {
        this.round = undefined;
        if (!this.stopped) this.plan(this.tickMs);
      });
    }, delayMs);
  }

  private async runDuePasses(): Promise<void> {
    for (const pass of this.opts.passes) {
      if (this.stopped) return;
      const now = Date.now();
      if ((this.due.get(pass) ?? 0) > now) continue;
      try {
        if (!(await this.lead())) return;
      } catch (err) {
        this.log.error({ err }, 'the leader could not check its lock session');
        return;
      }
      this.due.set(pass, now + (pass.everyMs ?? this.opts.intervalMs));
      try {
        await pass.run(this.opts.deps, new Date(now), this.log);
      } catch (err) {
        this.log.error({ err, pass: pass.name }, 'a periodic pass failed');
      }
    }
  }

  /**
   * True while this process holds the leader lock. The leader's check is a query on the locking
   * session: if it answers, the session (and with it the lock) is alive. A failed session is closed,
   * and the next round starts over with a new one.
   */
  private async lead(): Promise<boolean> {
    try {
      if (!this.client) {
        const client = appSessionClient(this.opts.settings, LEADER_APPLICATION_NAME);
        client.on('error', () => {}); // a dropped session is noticed by the next query
        this.client = client;
        await client.connect();
      }
      if (this.leading) {
        await this.client.query('SELECT 1');
        return true;
      }
      const { rows } = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
        LEADER_LOCK,
      ]);
      this.leading = rows[0]?.ok === true;
      if (this.leading) {
        this.due.clear(); // whatever ran under the previous leader, this one starts with every pass due
        this.log.info('this process is the leader');
      }
      return this.leading;
    } catch (err) {
      if (this.leading) this.log.warn({ err }, 'the leader lost its lock session');
      await this.disconnect();
      throw err;
    }
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.leading = false;
    this.due.clear();
    await client?.end().catch(() => {});
  }
}
