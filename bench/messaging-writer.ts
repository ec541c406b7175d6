import { postOrder, sendPaced } from './pacing.js';

export interface Ack {
  sentAt: number;
  ackAt: number;
}

export interface Written {
  /** Acknowledged creates by log position. */
  acks: Map<number, Ack>;
  /** Creates not acknowledged with 201, by reason (`HTTP 503`, `TypeError: fetch failed (ECONNRESET)`…). */
  failures: Map<string, number>;
  failed: number;
  seconds: number;
  maxInFlight: number;
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return 'error';
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? `${error.name}: ${error.message} (${cause.code})` : `${error.name}: ${error.message}`;
}

/** Sends `rate × seconds` creates to the tenant at `rate` per second; resolves when every response is in. */
export async function writeAt(url: string, tenant: { id: string; writer: string }, rate: number, seconds: number): Promise<Written> {
  const total = Math.round(rate * seconds);
  const written: Written = { acks: new Map(), failures: new Map(), failed: 0, seconds: 0, maxInFlight: 0 };
  const fail = (reason: string) => {
    written.failed++;
    written.failures.set(reason, (written.failures.get(reason) ?? 0) + 1);
  };

  async function create(n: number): Promise<void> {
    try {
      const { status, position, sentAt, ackAt } = await postOrder(url, tenant, n);
      if (status !== 201) return fail(`HTTP ${status}`);
      written.acks.set(position, { sentAt, ackAt });
    } catch (error) {
      fail(reasonOf(error));
    }
  }

  Object.assign(written, await sendPaced(total, rate, create));
  return written;
}
