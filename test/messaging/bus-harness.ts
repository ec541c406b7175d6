import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Bus, BusError } from '../../src/messaging/port.js';

/** A fresh namespace (root, file) per test; `open` may be called again for another bus instance on the same one. */
export interface BusHarness {
  open(): Promise<Bus>;
  cleanup(): Promise<void>;
}

export type BusFactory = (label: string) => Promise<BusHarness>;

/** Long enough to fail instead of hanging; never a timing assertion. */
export const PATIENCE_MS = 15_000;
/** How long a test keeps listening to prove that nothing more arrives. */
export const QUIET_MS = 1_500;

export const newRoot = () => `t${randomBytes(5).toString('hex')}`;

export async function waitFor(what: string, condition: () => boolean, patienceMs = PATIENCE_MS): Promise<void> {
  const deadline = Date.now() + patienceMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`);
    await sleep(10);
  }
}

export async function rejectsWith(work: Promise<unknown>, reason: BusError['reason']): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof BusError, `expected a BusError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return true;
  });
}

export const text = (value: string) => Buffer.from(value);
export const read = (delivery: { data: Uint8Array }) => Buffer.from(delivery.data).toString();

/** Runs a test on a fresh namespace; every bus it opens is closed and the namespace removed afterwards. */
export function withBus(factory: BusFactory, label: string, test: (bus: Bus, reopen: () => Promise<Bus>) => Promise<void>) {
  return async () => {
    const harness = await factory(label);
    const buses: Bus[] = [];
    const reopen = async () => {
      const bus = await harness.open();
      buses.push(bus);
      return bus;
    };
    try {
      await test(await reopen(), reopen);
    } finally {
      for (const bus of buses) await bus.close();
      await harness.cleanup();
    }
  };
}
