/**
 * The messaging benchmark's open-loop writer: creates orders through `POST` at a fixed rate, paced
 * by a 5 ms timer that sends whatever is due since the start (as bench/live-writer.ts does), and keeps
 * each acknowledged create by log position with the time it was sent and the time its response was
 * read; failed creates are counted by reason (status or error), so that an overloaded run says why.
 */
import { clock } from './live-sse.js';
import { collectionPath, order } from './orders.js';
import { sendPaced } from './pacing.js';

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
  let inFlight = 0;

  async function create(n: number): Promise<void> {
    const sentAt = clock();
    inFlight++;
    written.maxInFlight = Math.max(written.maxInFlight, inFlight);
    try {
      const response = await fetch(`${url}${collectionPath(tenant.id)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.writer}`, 'content-type': 'application/json' },
        body: JSON.stringify(order(n)),
      });
      const text = await response.text();
      const ackAt = clock();
      if (response.status !== 201) return fail(`HTTP ${response.status}`);
      written.acks.set(Number((JSON.parse(text) as { position: string }).position), { sentAt, ackAt });
    } catch (error) {
      fail(reasonOf(error));
    } finally {
      inFlight--;
    }
  }

  written.seconds = await sendPaced(total, rate, create);
  return written;
}
