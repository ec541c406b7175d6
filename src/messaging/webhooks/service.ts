import type { DocumentStore } from '../../documents/port.js';
import type { EventStore } from '../../eventstore/index.js';
import { entityLog, type Stored } from '../../identity/index.js';
import { AppError, type RequestContext, uuidv7, validationFailed } from '../../kernel/index.js';
import { mergeDefinition, WEBHOOK_ID, type WebhookDocument, type WebhookInput } from './definition.js';
import type { WebhookStore } from './port.js';

export const WEBHOOK_EVENTS = { created: 'WebhookCreated', updated: 'WebhookUpdated', deleted: 'WebhookDeleted' } as const;

export interface WebhookChange {
  document: WebhookDocument;
  version: number;
  position: bigint;
}

const LIST_PAGE = 1000;

export interface WebhookServiceDeps {
  events: EventStore;
  documents: DocumentStore;
  store: WebhookStore;
  /** After a change is committed: start, restart or stop the webhook's dispatcher. */
  changed(tenant: string, id: string, document: WebhookDocument | null): Promise<void>;
  now?: () => Date;
}

/**
 * Webhook definitions, event-sourced like the other platform objects (internal entity
 * `_webhooks.webhook`, stream `webhook:<id>`). The secret is never in an event nor a document: it
 * lives in the webhook store, written before the definition that needs it.
 */
export function createWebhookService(deps: WebhookServiceDeps) {
  const { store } = deps;
  const log = entityLog<WebhookDocument>(deps, { module: '_webhooks', entity: 'webhook', prefix: 'webhook', noun: 'webhook' });
  const now = deps.now ?? (() => new Date());

  function checkVersion(found: Stored<WebhookDocument>, ifMatch: number | undefined): void {
    if (ifMatch !== undefined && ifMatch !== found.version)
      throw new AppError('version_conflict', `Webhook ${found.data.id} is at version ${found.version}, not ${ifMatch}`);
  }

  /** Claims the id with the secret; a secret left by a creation that never committed is taken over. */
  async function claim(tenant: string, id: string, secret: string, existing: Stored<WebhookDocument> | undefined): Promise<void> {
    if (existing && !existing.deleted) throw new AppError('already_exists', `Webhook ${id} already exists`);
    if (!(await store.insertSecret(tenant, id, secret))) await store.putSecret(tenant, id, secret);
  }

  return {
    async create(context: RequestContext, tenant: string, input: WebhookInput): Promise<WebhookChange> {
      const id = input.id ?? uuidv7();
      if (!WEBHOOK_ID.test(id))
        throw validationFailed('Invalid webhook id', [{ path: '/body/id', message: `must match ${WEBHOOK_ID.source}` }]);
      const existing = await log.find(tenant, id);
      const document = mergeDefinition(id, undefined, input, now());
      await claim(tenant, id, input.secret as string, existing);
      const result = await log
        .write(context, tenant, id, { type: WEBHOOK_EVENTS.created, data: document }, document, existing)
        .catch(async (error: unknown) => {
          if (!(error instanceof AppError && error.code === 'already_exists')) await store.deleteWebhook(tenant, id);
          throw error;
        });
      await deps.changed(tenant, id, document);
      return { document, ...result };
    },

    async update(context: RequestContext, tenant: string, id: string, input: WebhookInput, ifMatch?: number): Promise<WebhookChange> {
      const found = await log.get(tenant, id);
      checkVersion(found, ifMatch);
      const document = mergeDefinition(id, found.data, input, now());
      if (input.secret !== undefined) await store.putSecret(tenant, id, input.secret);
      const data = { ...document, secretChanged: input.secret !== undefined };
      const result = await log.write(context, tenant, id, { type: WEBHOOK_EVENTS.updated, data }, document, found);
      await deps.changed(tenant, id, document);
      return { document, ...result };
    },

    async remove(context: RequestContext, tenant: string, id: string, ifMatch?: number): Promise<WebhookChange> {
      const found = await log.get(tenant, id);
      checkVersion(found, ifMatch);
      const result = await log.write(context, tenant, id, { type: WEBHOOK_EVENTS.deleted, data: { id } }, null, found);
      await deps.changed(tenant, id, null);
      await store.deleteWebhook(tenant, id);
      return { document: found.data, ...result };
    },

    async get(tenant: string, id: string): Promise<Stored<WebhookDocument>> {
      return log.get(tenant, id);
    },

    /** The live definition, or undefined (deleted or never created). */
    async find(tenant: string, id: string): Promise<Stored<WebhookDocument> | undefined> {
      const found = await log.find(tenant, id);
      return found && !found.deleted ? found : undefined;
    },

    /** Every live definition of the tenant, by id, with its version. */
    async list(tenant: string): Promise<Stored<WebhookDocument>[]> {
      const items: Stored<WebhookDocument>[] = [];
      for (let after: string | undefined; ; ) {
        const page = await log.list(tenant, after);
        for (const document of page) {
          const found = await log.find(tenant, document.id);
          if (found && !found.deleted) items.push(found);
        }
        if (page.length < LIST_PAGE) return items;
        after = page.at(-1)?.id;
      }
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
