/**
 * The live benchmark's writer: creates orders through `POST` at a fixed rate, round robin over the
 * tenants (each with its own service token), paced by a 5 ms timer that sends whatever is due since
 * the start, so that a late tick catches up instead of lowering the rate. Each acknowledged create is
 * kept by its log position with the time it was sent and the time its response was read.
 */
import { clock } from './live-sse.js';
import { collectionPath, order } from './orders.js';
import { sendPaced } from './pacing.js';

export interface Ack {
  tenant: string;
  sentAt: number;
  ackAt: number;
}

export interface Written {
  /** Acknowledged creates by log position. */
  acks: Map<number, Ack>;
  /** Creates that were not acknowledged with 201. */
  failed: number;
  /** The highest acknowledged position per tenant. */
  last: Record<string, number>;
  seconds: number;
  /** Most requests in flight at once. */
  maxInFlight: number;
}

/** Sends `rate × seconds` creates at `rate` per second; resolves when every response is in. */
export async function writeAt(url: string, tenants: { id: string; writer: string }[], rate: number, seconds: number): Promise<Written> {
  const total = Math.round(rate * seconds);
  const acks = new Map<number, Ack>();
  const last: Record<string, number> = {};
  let failed = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  async function create(n: number): Promise<void> {
    const tenant = tenants[n % tenants.length] as { id: string; writer: string };
    const sentAt = clock();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const response = await fetch(`${url}${collectionPath(tenant.id)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.writer}`, 'content-type': 'application/json' },
        body: JSON.stringify(order(n)),
      });
      const text = await response.text();
      const ackAt = clock();
      if (response.status !== 201) {
        failed++;
        return;
      }
      const position = Number((JSON.parse(text) as { position: string }).position);
      acks.set(position, { tenant: tenant.id, sentAt, ackAt });
      last[tenant.id] = Math.max(last[tenant.id] ?? 0, position);
    } catch {
      failed++;
    } finally {
      inFlight--;
    }
  }

  const elapsed = await sendPaced(total, rate, create);
  return { acks, failed, last, seconds: elapsed, maxInFlight };
}
