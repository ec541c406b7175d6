import { postOrder, sendPaced } from './pacing.js';

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

  async function create(n: number): Promise<void> {
    const tenant = tenants[n % tenants.length] as { id: string; writer: string };
    try {
      const { status, position, sentAt, ackAt } = await postOrder(url, tenant, n);
      if (status !== 201) {
        failed++;
        return;
      }
      acks.set(position, { tenant: tenant.id, sentAt, ackAt });
      last[tenant.id] = Math.max(last[tenant.id] ?? 0, position);
    } catch {
      failed++;
    }
  }

  const { seconds: elapsed, maxInFlight } = await sendPaced(total, rate, create);
  return { acks, failed, last, seconds: elapsed, maxInFlight };
}
