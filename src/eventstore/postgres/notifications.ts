import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../../kernel/index.js';

const CHANNEL = 'backoffice_events';
const RECONNECT_MS = 1000;

/**
 * Wakes local listeners when any process commits events (LISTEN/NOTIFY). The connection is
 * opened on the first listener and re-opened after a failure; readers still poll, so a lost
 * notification only delays them.
 */
export function createAppendNotifier(connectionString: string, logger?: Logger) {
  const emitter = new EventEmitter().setMaxListeners(0);
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  async function connect(): Promise<void> {
    if (closed || client) return;
    const next = new pg.Client({ connectionString });
    client = next;
    next.on('notification', (message) => emitter.emit('appended', BigInt(message.payload ?? '0')));
    next.on('error', (error) => reconnect(next, error));
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      reconnect(next, error);
    }
  }

  function reconnect(failed: pg.Client, error: unknown): void {
    if (client !== failed) return;
    client = undefined;
    failed.end().catch(() => undefined);
    if (closed) return;
    logger?.warn({ err: error }, 'event notification connection lost; reconnecting');
    retry = setTimeout(() => void connect(), RECONNECT_MS);
  }

  return {
    /** Local appends are announced at once, without waiting for the round trip. */
    announce(position: bigint): void {
      emitter.emit('appended', position);
    },
    subscribe(listener: (position: bigint) => void): () => void {
      emitter.on('appended', listener);
      void connect();
      return () => emitter.off('appended', listener);
    },
    async close(): Promise<void> {
      closed = true;
      clearTimeout(retry);
      emitter.removeAllListeners();
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
