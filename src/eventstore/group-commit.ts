import type { PreparedAppend } from './prepare.js';

/** A group's serialised data stays well below what one statement or one string can carry. */
const MAX_GROUP_BYTES = 16 * 1024 * 1024;

function appendBytes(append: PreparedAppend): number {
  return append.events.reduce((sum, event) => sum + event.dataJson.length, append.document?.dataJson.length ?? 0);
}

/** The outcome of one append inside a group: its result, or the error that concerns it alone. */
export type GroupOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export type GroupWriter<R> = (batch: PreparedAppend[]) => Promise<GroupOutcome<R>[]>;

interface Pending<R> {
  append: PreparedAppend;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: appends that arrive while a transaction is being written wait and are then
 * written together in the next one. One transaction (one fsync) serves many callers, and
 * each caller still gets its own result or error. At most one group is in flight.
 */
export function createGroupCommitter<R>(write: GroupWriter<R>, maxEventsPerGroup: number) {
  let queue: Pending<R>[] = [];
  let writing = false;

  /**
   * The next group: queued appends in order, up to the size limit, leaving for a later group any
   * append whose stream or idempotency key is already in this one (so that a group's appends are
   * independent of each other, and those of one stream stay in order).
   */
  function takeGroup(): Pending<R>[] {
    const group: Pending<R>[] = [];
    const rest: Pending<R>[] = [];
    const claimed = new Set<string>();
    let events = 0;
    let bytes = 0;
    for (const pending of queue) {
      const { tenant, streamId, idempotencyKey } = pending.append;
      const keys = [`s:${tenant}:${streamId}`, ...(idempotencyKey === null ? [] : [`k:${tenant}:${idempotencyKey}`])];
      const size = pending.append.events.length;
      const weight = appendBytes(pending.append);
      const fits = group.length === 0 || (events + size <= maxEventsPerGroup && bytes + weight <= MAX_GROUP_BYTES);
      if (!fits || keys.some((key) => claimed.has(key))) {
        rest.push(pending);
        for (const key of keys) claimed.add(key);
        continue;
      }
      for (const key of keys) claimed.add(key);
      group.push(pending);
      events += size;
      bytes += weight;
    }
    queue = rest;
    return group;
  }

  async function drain(): Promise<void> {
    writing = true;
    try {
      while (queue.length > 0) await writeGroup(takeGroup());
    } finally {
      writing = false;
    }
  }

  async function writeGroup(group: Pending<R>[]): Promise<void> {
    try {
      const outcomes = await write(group.map((pending) => pending.append));
      group.forEach((pending, index) => {
        settle(pending, outcomes[index]);
      });
    } catch (error) {
      for (const pending of group) pending.reject(error);
    }
  }

  return {
    submit(append: PreparedAppend): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ append, resolve, reject });
        if (!writing) setImmediate(() => void (writing ? undefined : drain()));
      });
    },
    get idle(): boolean {
      return !writing && queue.length === 0;
    },
  };
}

function settle<R>(pending: Pending<R>, outcome: GroupOutcome<R> | undefined): void {
  if (outcome === undefined) pending.reject(new Error('group writer returned too few outcomes'));
  else if (outcome.ok) pending.resolve(outcome.value);
  else pending.reject(outcome.error);
}
