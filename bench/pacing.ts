import { clock } from './live-sse.js';

const TICK_MS = 5;

/**
 * Calls `send(0)`, `send(1)`… `send(total - 1)` at `rate` per second, open loop: a 5 ms timer sends
 * whatever is due since the start, so that a late tick catches up instead of lowering the rate.
 * Resolves with the seconds from the start until every call has settled.
 */
export async function sendPaced(total: number, rate: number, send: (n: number) => Promise<void>): Promise<number> {
  const pending: Promise<void>[] = [];
  let sent = 0;
  const started = clock();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((clock() - started) / 1000) * rate));
      while (sent < due) pending.push(send(sent++));
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.all(pending);
  return (clock() - started) / 1000;
}
