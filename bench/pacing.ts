import { clock } from './live-sse.js';
import { collectionPath, order } from './orders.js';

const TICK_MS = 5;

/**
 * Calls `send(0)`, `send(1)`… `send(total - 1)` at `rate` per second, open loop: a 5 ms timer sends
 * whatever is due since the start, so that a late tick catches up instead of lowering the rate.
 * Resolves once every call has settled, with the seconds that took and the most calls under way at once.
 */
export async function sendPaced(
  total: number,
  rate: number,
  send: (n: number) => Promise<void>,
): Promise<{ seconds: number; maxInFlight: number }> {
  const pending: Promise<void>[] = [];
  let sent = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const tracked = async (n: number) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      await send(n);
    } finally {
      inFlight--;
    }
  };
  const started = clock();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((clock() - started) / 1000) * rate));
      while (sent < due) pending.push(tracked(sent++));
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.all(pending);
  return { seconds: (clock() - started) / 1000, maxInFlight };
}

/** One order created through `POST` with the tenant's writer token: its status, log position (201) and times. */
export async function postOrder(
  url: string,
  tenant: { id: string; writer: string },
  n: number,
): Promise<{ status: number; position: number; sentAt: number; ackAt: number }> {
  const sentAt = clock();
  const response = await fetch(`${url}${collectionPath(tenant.id)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.writer}`, 'content-type': 'application/json' },
    body: JSON.stringify(order(n)),
  });
  const text = await response.text();
  const ackAt = clock();
  const position = response.status === 201 ? Number((JSON.parse(text) as { position: string }).position) : Number.NaN;
  return { status: response.status, position, sentAt, ackAt };
}
