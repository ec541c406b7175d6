import type { Stored } from '../../identity/index.js';
import type { Logger } from '../../kernel/index.js';
import type { WebhookDocument } from './definition.js';
import type { Dispatcher } from './dispatcher.js';
import type { WebhookStore } from './port.js';
import type { Replays } from './replay.js';

const DAY_MS = 86_400_000;
const PRUNE_INTERVAL_MS = 60 * 60_000;

/**
 * Keeps this process' dispatchers in step with the definitions: a change made here applies at once;
 * changes made by other processes are found every `syncIntervalMs` (the webhook store lists every
 * webhook, the log holds its definition). Runs the replays recorded by any process while started.
 * Prunes the deliveries log and ended replays hourly.
 */
export function createSynchroniser(deps: {
  store: WebhookStore;
  dispatcher: Dispatcher;
  replays: Replays;
  list(tenant: string): Promise<Stored<WebhookDocument>[]>;
  settings: { syncIntervalMs: number; retentionDays: number };
  logger: Logger;
}) {
  const { store, dispatcher, logger } = deps;
  let started = false;
  let timers: NodeJS.Timeout[] = [];
  let syncing: Promise<void> = Promise.resolve();
  /** Changes made in this process, numbered, and the number of each webhook's latest one. */
  let changes = 0;
  const changedHere = new Map<string, number>();

  /**
   * Every webhook of every tenant against the running ones: start, swap or stop each — but those
   * changed here meanwhile, whose definitions it read before the change (it would undo it).
   */
  async function sync(): Promise<void> {
    const since = changes;
    const rows = await store.webhooks();
    const desired = new Map<string, WebhookDocument>();
    for (const tenant of new Set(rows.map((row) => row.tenant)))
      for (const found of await deps.list(tenant)) desired.set(`${tenant}/${found.data.id}`, found.data);
    const keys = new Set([...rows.map((row) => `${row.tenant}/${row.id}`), ...dispatcher.running()]);
    for (const key of keys) {
      if (!started) return;
      if ((changedHere.get(key) ?? 0) > since) continue;
      const [tenant = '', id = ''] = key.split('/');
      await dispatcher
        .apply(tenant, id, desired.get(key) ?? null)
        .catch((error: unknown) => logger.error({ err: error, tenant, webhook: id }, 'webhooks: starting or stopping a dispatcher failed'));
    }
    for (const [key, at] of changedHere) if (at <= since) changedHere.delete(key);
  }

  function syncSoon(): void {
    syncing = syncing
      .then(sync)
      .catch((error: unknown) => logger.error({ err: error }, 'webhooks: synchronising the dispatchers failed; retrying later'));
  }

  async function prune(): Promise<void> {
    const pruned = await store.prune(new Date(Date.now() - deps.settings.retentionDays * DAY_MS));
    if (pruned > 0) logger.info({ pruned }, 'webhooks: pruned the deliveries log and ended replays');
  }

  return {
    async start(): Promise<void> {
      if (started) return;
      started = true;
      syncSoon();
      await syncing;
      deps.replays.start();
      void prune().catch((error: unknown) => logger.warn({ err: error }, 'webhooks: pruning the deliveries log failed'));
      timers = [
        setInterval(syncSoon, deps.settings.syncIntervalMs).unref(),
        setInterval(
          () => void prune().catch((error: unknown) => logger.warn({ err: error }, 'webhooks: pruning failed')),
          PRUNE_INTERVAL_MS,
        ).unref(),
      ];
    },
    async stop(): Promise<void> {
      started = false;
      for (const timer of timers) clearInterval(timer);
      timers = [];
      await syncing;
      await deps.replays.stop();
      await dispatcher.stopAll();
    },
    /**
     * A definition changed here (null: deleted). The change is committed: a dispatcher that cannot
     * follow it now (the broker is down) is logged, and the next sync tries again.
     */
    async changed(tenant: string, id: string, document: WebhookDocument | null): Promise<void> {
      const failed = (error: unknown) => logger.error({ err: error, tenant, webhook: id }, 'webhooks: applying a change failed');
      changedHere.set(`${tenant}/${id}`, ++changes);
      if (document === null) {
        await deps.replays.cancel(tenant, id).catch(failed);
        await dispatcher.remove(tenant, id).catch(failed);
      } else if (started) await dispatcher.apply(tenant, id, document).catch(failed);
      else if (document.active) await dispatcher.provision(tenant, id).catch(failed);
    },
    async dropTenant(tenant: string): Promise<void> {
      await deps.replays.cancel(tenant);
      const ids = new Set((await store.webhooks()).filter((row) => row.tenant === tenant).map((row) => row.id));
      for (const key of dispatcher.running()) if (key.startsWith(`${tenant}/`)) ids.add(key.slice(tenant.length + 1));
      for (const id of ids) await dispatcher.remove(tenant, id);
      await store.deleteTenant(tenant);
    },
  };
}
