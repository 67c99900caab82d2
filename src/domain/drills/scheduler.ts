import type pg from 'pg';
import { appSessionClient, type ConnectionSettings } from '../../db/pool.js';
import { inTenantScope } from '../../db/tenant-scope.js';
import { dueTick, parseSchedule } from '../../schedules/cron.js';
import { expirePreviousDatabases } from '../restores/expire-previous.js';
import type { Services } from '../services.js';
import {
  advanceLastTick,
  type DrillPolicyRow,
  insertDrillTick,
  selectAllDrillPolicies,
  selectNewestAvailableBackup,
} from './queries.js';
import { enqueueVerification } from './service.js';

export interface SchedulerLog {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

const silent: SchedulerLog = { info: () => {}, warn: () => {}, error: () => {} };

/** The session-level advisory lock whose holder is the one scheduler leader ("pgstdrll" as a bigint). */
export const DRILL_SCHEDULER_LOCK = '8098989418457525356';

export type TickOutcome = 'enqueued' | 'no-backup' | 'taken';

/**
 * One pass over every tenant's drill policies: for each whose latest tick is due, in that tenant's own
 * transaction, advance last_tick (only forwards), enqueue a drill of the target's newest available
 * backup, and record the tick in drill_ticks. The tick's primary key and the forward-only update each
 * make a second drill for the same tick impossible, whoever else is scheduling at the same moment.
 * Every policy is read each pass: one indexed scan of a table with one row per target.
 */
export async function scheduleDueDrills(
  pool: pg.Pool,
  now: Date = new Date(),
  log: SchedulerLog = silent,
): Promise<{ target: string; tick: string; outcome: TickOutcome }[]> {
  const policies = await inTenantScope(pool, { allTenants: true }, (tx) =>
    tx.rows<DrillPolicyRow>(selectAllDrillPolicies()),
  );
  const done: { target: string; tick: string; outcome: TickOutcome }[] = [];
  for (const policy of policies) {
    let tick: Date | null;
    try {
      tick = dueTick(parseSchedule(policy.schedule, policy.timezone), policy.last_tick ?? policy.created_at, now);
    } catch (err) {
      log.warn({ target: policy.target_id, err }, 'drill policy has an unusable schedule');
      continue;
    }
    if (tick === null) continue;
    const at = tick;
    try {
      const outcome = await inTenantScope(pool, { tenantId: policy.tenant_id }, async (tx): Promise<TickOutcome> => {
        if (!(await tx.one(advanceLastTick(policy.target_id, at)))) return 'taken';
        const backup = await tx.one<{ id: string }>(selectNewestAvailableBackup(policy.target_id));
        const job = backup
          ? await enqueueVerification(
              tx,
              { id: backup.id, tenant_id: policy.tenant_id, target_id: policy.target_id },
              { by: 'schedule', tick: at.toISOString() },
            )
          : undefined;
        await tx.rows(insertDrillTick(policy.tenant_id, policy.target_id, at, job?.id ?? null));
        return job ? 'enqueued' : 'no-backup';
      });
      if (outcome === 'no-backup') {
        log.warn(
          { target: policy.target_id, tick: at.toISOString() },
          'drill due but the target has no available backup',
        );
      }
      done.push({ target: policy.target_id, tick: at.toISOString(), outcome });
    } catch (err) {
      // 23505: drill_ticks already holds this tick; another scheduler acted on it first.
      if ((err as { code?: string }).code === '23505') {
        done.push({ target: policy.target_id, tick: at.toISOString(), outcome: 'taken' });
        continue;
      }
      log.error({ target: policy.target_id, err }, 'scheduling a drill failed');
    }
  }
  return done;
}

/**
 * Runs scheduleDueDrills (and, given services, expirePreviousDatabases) every interval, in one process
 * across all replicas: the leader is whoever holds a session-level advisory lock on a dedicated
 * connection. Leadership ends with that connection,
 * so before each pass the leader checks its session is alive; if it is not, it stops scheduling and
 * competes for the lock again like everyone else.
 */
export class DrillScheduler {
  /** The dedicated session; it holds the lock while `leading`, and asks for it each pass while not. */
  private client: pg.Client | undefined;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly opts: {
      pool: pg.Pool;
      /** Settings for the dedicated lock connection (never a pooled one). */
      settings: ConnectionSettings;
      intervalMs: number;
      log?: SchedulerLog;
      /** With services, each leader pass also drops the databases replace restores kept past keepUntil. */
      services?: Services;
    },
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.plan(0);
  }

  /** Stop scheduling: waits for a pass in progress, then gives up the lock by closing its session. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    await this.disconnect();
  }

  private plan(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.round = this.pass().finally(() => {
        this.round = undefined;
        if (!this.stopped) this.plan(this.opts.intervalMs);
      });
    }, delayMs);
  }

  private async pass(): Promise<void> {
    const log = this.opts.log ?? silent;
    try {
      if (!(await this.lead())) return;
      const done = await scheduleDueDrills(this.opts.pool, new Date(), log);
      const enqueued = done.filter((d) => d.outcome === 'enqueued').length;
      if (enqueued > 0) log.info({ enqueued }, 'drills enqueued');
    } catch (err) {
      log.error({ err }, 'drill scheduler pass failed');
    }
    // The same leader and timer: one sweeper across replicas, and a failing sweep never holds up drills.
    if (!this.leading || !this.opts.services) return;
    try {
      await expirePreviousDatabases({ pool: this.opts.pool, services: this.opts.services }, new Date(), log);
    } catch (err) {
      log.error({ err }, 'expiring kept databases failed');
    }
  }

  /**
   * True while this process holds the leader lock. The leader's check is a query on the locking session:
   * if it answers, the session (and with it the lock) is alive. A failed session is closed, and the
   * next pass starts over with a new one.
   */
  private async lead(): Promise<boolean> {
    try {
      if (!this.client) {
        const client = appSessionClient(this.opts.settings, 'pgsteward-drill-scheduler');
        client.on('error', () => {}); // a dropped session is noticed by the next query
        this.client = client;
        await client.connect();
      }
      if (this.leading) {
        await this.client.query('SELECT 1');
        return true;
      }
      const { rows } = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
        DRILL_SCHEDULER_LOCK,
      ]);
      this.leading = rows[0]?.ok === true;
      if (this.leading) (this.opts.log ?? silent).info('drill scheduler is the leader');
      return this.leading;
    } catch (err) {
      if (this.leading) (this.opts.log ?? silent).warn({ err }, 'drill scheduler lost its lock session');
      await this.disconnect();
      throw err;
    }
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.leading = false;
    await client?.end().catch(() => {});
  }
}
