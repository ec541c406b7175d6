import { createWaker, type Logger } from '../../kernel/index.js';
import type { Consumers, RetrySettings, RouteCounters } from './consumers.js';
import { ROUTE_LIMITS } from './definition.js';
import type { DeliverDeps } from './deliver.js';
import { asFailure, backoffMs, deadLetter, type RouteFailure } from './failures.js';
import type { Item } from './filter.js';
import { sendToTargets } from './pipeline.js';
import type { ClaimedGroup, RouteStore } from './port.js';
import { groupItem } from './stages.js';

const CLAIM_LIMIT = 20;
/** A due group of a route this process does not run (paused, or not seen yet) is looked at again after this. */
const NOT_RUNNING_DELAY_MS = 5000;
const DAY_MS = 24 * 60 * 60 * 1000;
const PURGE_EVERY_MS = 60 * 60 * 1000;

export interface CompletionSettings extends RetrySettings {
  /** How often due groups are looked for (a group filled by size is looked at at once). */
  intervalMs: number;
  /** An HTTP call's timeout: a claim lasts long enough for every target's. */
  timeoutMs: number;
}

/**
 * Emits completed groups: those filled by size and those whose timeout passed. Every process runs
 * it; a group is claimed by one of them under a lease, emitted to the route's targets, then
 * finished. Emission failures are retried with backoff, then the group is dead-lettered.
 */
export function startCompletion(deps: {
  store: RouteStore;
  consumers: Consumers;
  deliver: DeliverDeps;
  settings: CompletionSettings;
  counters: RouteCounters;
  logger: Logger;
}) {
  const { store, consumers, settings, counters, logger } = deps;
  const waker = createWaker();
  const leaseMs = 60_000 + settings.timeoutMs * ROUTE_LIMITS.targets;
  let purgedAt = 0;

  async function failed(group: ClaimedGroup, item: Item, failure: RouteFailure): Promise<void> {
    const attempt = group.failures + 1;
    const delay = backoffMs(attempt, settings.backoffBaseMs, settings.backoffMaxMs);
    if (!failure.permanent && attempt < settings.maxAttempts) return store.release(group, Date.now() + delay, true);
    try {
      const { bus } = deps.deliver;
      await bus.publish([deadLetter(bus.root, group.tenant, group.route, { subject: null, id: item.id, body: item.value }, failure)]);
      await store.finish(group, Date.now());
      counters.deadLettered++;
      logger.warn({ tenant: group.tenant, route: group.route, group: group.groupId, code: failure.code }, 'route: dead-lettered a group');
    } catch (error) {
      logger.error({ err: error, route: group.route }, 'route: dead-lettering a group failed; retrying');
      await store.release(group, Date.now() + delay, false);
    }
  }

  async function emit(group: ClaimedGroup): Promise<void> {
    const route = consumers.get(group.tenant, group.route);
    if (!route) return store.release(group, Date.now() + NOT_RUNNING_DELAY_MS, false);
    const item = groupItem(group.groupId, group.key, group.messages);
    try {
      await sendToTargets(route, item, deps.deliver, { id: item.id, hops: 0 });
      await store.finish(group, Date.now());
      counters.groupsEmitted++;
    } catch (error) {
      await failed(group, item, asFailure(error, 'targets'));
    }
  }

  async function step(): Promise<boolean> {
    const now = Date.now();
    if (now - purgedAt > PURGE_EVERY_MS) {
      purgedAt = now;
      await store.purgeMembers(now - DAY_MS);
    }
    const claimed = await store.claimDue(now, now + leaseMs, CLAIM_LIMIT);
    await Promise.all(
      claimed.map((group) => emit(group).catch((error: unknown) => logger.error({ err: error }, 'route: emitting a group failed'))),
    );
    return claimed.length === CLAIM_LIMIT;
  }

  async function run(): Promise<void> {
    while (!waker.stopped) {
      try {
        waker.clear();
        if (!(await step())) await waker.sleep(settings.intervalMs);
      } catch (error) {
        logger.error({ err: error }, 'routes: completing groups failed; retrying');
        await waker.sleep(settings.intervalMs);
      }
    }
  }

  const running = run();
  return {
    /** A group was filled: look now. */
    wake: () => waker.notify(),
    async stop(): Promise<void> {
      waker.stop();
      await running;
    },
  };
}
