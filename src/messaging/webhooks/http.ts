import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type Authenticate, authorize, callerOf, ifMatchVersion, requestContext } from '../../http/index.js';
import { TenantParams } from '../../http/params.js';
import type { Stored } from '../../identity/index.js';
import type { RequestContext } from '../../kernel/index.js';
import type { WebhookDocument, WebhookInput } from './definition.js';
import type { DeliveryRecord, ReplayRecord, WebhookStore } from './port.js';
import type { Replays } from './replay.js';
import {
  ChangeBody,
  CreateBody,
  DeletedResponse,
  DeliveriesQuery,
  DeliveriesResponse,
  errors,
  ReplayBody,
  ReplayResponse,
  ReplaysResponse,
  WebhookList,
  WebhookParams,
  WebhookResponse,
} from './schemas.js';
import type { WebhookService } from './service.js';

type Params = { tenant: string; id: string };

/** The permission resource of every webhook route: `read` to look, `admin` to change or replay. */
export const WEBHOOKS_RESOURCE = 'messaging';

const view = (found: Pick<Stored<WebhookDocument>, 'data' | 'version'>, position?: bigint) => ({
  ...found.data,
  version: found.version,
  ...(position === undefined ? {} : { position: position.toString() }),
});

const deliveryView = ({ tenant: _t, webhook: _w, position, at, ...rest }: DeliveryRecord) => ({
  ...rest,
  position: position.toString(),
  at: at.toISOString(),
});

const replayView = (replay: ReplayRecord) => ({
  replay: replay.id,
  from: replay.from.toString(),
  to: replay.to.toString(),
  progress: replay.progress.toString(),
  status: replay.status,
  createdAt: replay.createdAt.toISOString(),
  updatedAt: replay.updatedAt.toISOString(),
});

/** `GET …/replays` lists this many, the newest (ended replays are pruned after the log's retention). */
const REPLAYS_LISTED = 100;

/**
 * `/t/{tenant}/webhooks…`: definitions, their deliveries log, and replays (API.md, "Messaging"; the list
 * of replays is an addition, docs/webhooks.md).
 */
export function webhookRoutes(deps: {
  service: WebhookService;
  store: WebhookStore;
  replays: Replays;
  authenticate: Authenticate;
}): FastifyPluginAsync {
  const { service } = deps;

  /** The caller, allowed `action` on webhooks of the tenant, and the context its writes record. */
  async function allowed(request: FastifyRequest<{ Params: { tenant: string } }>, action: 'read' | 'admin'): Promise<RequestContext> {
    const principal = await deps.authenticate(request, request.params.tenant);
    authorize(principal, WEBHOOKS_RESOURCE, action);
    return requestContext(request, callerOf(principal));
  }

  return async (app) => {
    app.post<{ Params: { tenant: string }; Body: WebhookInput }>(
      '/t/:tenant/webhooks',
      { schema: { params: TenantParams, body: CreateBody, response: { 201: WebhookResponse, ...errors } } },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        const change = await service.create(context, request.params.tenant, request.body);
        reply.code(201);
        return view({ data: change.document, version: change.version }, change.position);
      },
    );

    app.get<{ Params: { tenant: string } }>(
      '/t/:tenant/webhooks',
      { schema: { params: TenantParams, response: { 200: WebhookList, ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        return { items: (await service.list(request.params.tenant)).map((found) => view(found)) };
      },
    );

    app.get<{ Params: Params }>(
      '/t/:tenant/webhooks/:id',
      { schema: { params: WebhookParams, response: { 200: WebhookResponse, ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        return view(await service.get(request.params.tenant, request.params.id));
      },
    );

    app.patch<{ Params: Params; Body: WebhookInput }>(
      '/t/:tenant/webhooks/:id',
      { schema: { params: WebhookParams, body: ChangeBody, response: { 200: WebhookResponse, ...errors } } },
      async (request) => {
        const context = await allowed(request, 'admin');
        const { tenant, id } = request.params;
        const change = await service.update(context, tenant, id, request.body, ifMatchVersion(request));
        return view({ data: change.document, version: change.version }, change.position);
      },
    );

    app.delete<{ Params: Params }>(
      '/t/:tenant/webhooks/:id',
      { schema: { params: WebhookParams, response: { 200: DeletedResponse, ...errors } } },
      async (request) => {
        const context = await allowed(request, 'admin');
        const { tenant, id } = request.params;
        const change = await service.remove(context, tenant, id, ifMatchVersion(request));
        return { id, version: change.version, position: change.position.toString() };
      },
    );

    app.get<{ Params: Params; Querystring: { after?: string; limit?: number } }>(
      '/t/:tenant/webhooks/:id/deliveries',
      { schema: { params: WebhookParams, querystring: DeliveriesQuery, response: { 200: DeliveriesResponse, ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        const { tenant, id } = request.params;
        await service.get(tenant, id);
        const limit = request.query.limit ?? 100;
        const page = await deps.store.deliveries(tenant, id, { limit, ...(request.query.after ? { before: request.query.after } : {}) });
        return { items: page.map(deliveryView), nextCursor: page.length === limit ? (page.at(-1)?.id ?? null) : null };
      },
    );

    app.post<{ Params: Params; Body: { from: number | string } }>(
      '/t/:tenant/webhooks/:id/replay',
      { schema: { params: WebhookParams, body: ReplayBody, response: { 202: ReplayResponse, ...errors } } },
      async (request, reply) => {
        await allowed(request, 'admin');
        const { tenant, id } = request.params;
        await service.get(tenant, id);
        const requested = await deps.replays.request(tenant, id, BigInt(request.body.from));
        reply.code(202);
        return { replay: requested.id, webhook: id, from: requested.from.toString(), to: requested.to.toString() };
      },
    );

    app.get<{ Params: Params }>(
      '/t/:tenant/webhooks/:id/replays',
      { schema: { params: WebhookParams, response: { 200: ReplaysResponse, ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        const { tenant, id } = request.params;
        await service.get(tenant, id);
        return { items: (await deps.store.replays(tenant, id, REPLAYS_LISTED)).map(replayView) };
      },
    );
  };
}
