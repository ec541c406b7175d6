import type { Logger } from '../kernel/index.js';

/**
 * Exclusive right to run one piece of work (the relay) among the processes sharing a database.
 * On PostgreSQL it is a session advisory lock on a connection of its own: a process that dies or
 * loses its connection loses the lease with it, and another takes over at its next attempt. On
 * SQLite the database belongs to one process, so the lease is always held.
 */
export interface Lease {
  /** Takes the lease if it is free; true while this process holds it. */
  tryAcquire(): Promise<boolean>;
  /** True while the lease is still held (its connection answers). */
  check(): Promise<boolean>;
  release(): Promise<void>;
}

export type LeaseDatabase = { kind: 'sqlite' } | { kind: 'postgres'; url: string };

export async function openLease(database: LeaseDatabase, name: string, logger?: Logger): Promise<Lease> {
  if (database.kind === 'sqlite') return { tryAcquire: async () => true, check: async () => true, release: async () => {} };
  const { default: pg } = await import('pg');
  let client: InstanceType<typeof pg.Client> | undefined;
  let held = false;

  async function drop(): Promise<void> {
    const old = client;
    client = undefined;
    held = false;
    await old?.end().catch(() => undefined);
  }

  return {
    async tryAcquire() {
      try {
        if (!client) {
          const fresh = new pg.Client({ connectionString: database.url, keepAlive: true, statement_timeout: 10_000 });
          fresh.on('error', (error) => {
            logger?.warn({ err: error, lease: name }, 'lease connection lost');
            held = false;
          });
          client = fresh;
          await fresh.connect();
        }
        const result = await client.query<{ held: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS held', [name]);
        held = result.rows[0]?.held === true;
        return held;
      } catch (error) {
        logger?.warn({ err: error, lease: name }, 'lease could not be taken');
        await drop();
        return false;
      }
    },
    async check() {
      if (!held || !client) return false;
      try {
        await client.query('SELECT 1');
        return held;
      } catch {
        await drop();
        return false;
      }
    },
    release: drop,
  };
}

/**
 * Runs `work` only while the lease is held: tries to take it every `intervalMs`, starts the work when
 * it has it, stops the work at once when the lease is lost. Returns a function that stops everything.
 */
export function whileLeased(lease: Lease, work: () => Promise<{ stop(): Promise<void> }>, intervalMs: number, logger?: Logger) {
  let running: { stop(): Promise<void> } | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function tick(): Promise<void> {
    try {
      if (running) {
        if (await lease.check()) return;
        logger?.warn('lease lost: stopping its work');
        const old = running;
        running = undefined;
        await old.stop();
      } else if (await lease.tryAcquire()) {
        if (stopped) return;
        running = await work();
      }
    } catch (error) {
      logger?.error({ err: error }, 'leased work failed to start');
    } finally {
      if (!stopped) timer = setTimeout(() => (pending = tick()), intervalMs);
    }
  }

  let pending = tick();
  return {
    /** True while this process runs the work. */
    get active() {
      return running !== undefined;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pending;
      await running?.stop();
      running = undefined;
      await lease.release();
    },
  };
}
