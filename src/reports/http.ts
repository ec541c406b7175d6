import type { ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { entityResource } from '../datamodel/index.js';
import { type Authenticate, authorize, callerOf, ProblemSchema, requestContext } from '../http/index.js';
import { Position, parseAsOf, TenantParams } from '../http/params.js';
import { AppError } from '../kernel/index.js';
import { type CompiledReport, reportFields } from './definition.js';
import type { ReportNotices } from './notices.js';
import { csvStream, sseEvent } from './output.js';
import type { ReportProcessor } from './processor.js';
import type { ReportReads } from './reads.js';
import type { ReportService } from './service.js';

type Params = { tenant: string; name: string };
type DataQuery = { format?: 'json' | 'csv'; after?: string; asOf?: string };

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 503: ProblemSchema };
const NameParams = Type.Object({ ...TenantParams.properties, name: Type.String({ minLength: 1, maxLength: 200 }) });
const ReportResponse = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  definition: Type.Unknown(),
  status: Type.String({ enum: ['building', 'ready', 'failed'] }),
  reason: Type.Union([Type.String(), Type.Null()]),
  position: Position,
});
const HEARTBEAT_MS = 15_000;

/** `/t/{tenant}/reports…`: definitions, data (JSON, CSV, as of), and the live feed of changed groups. */
/** A stream whose client leaves this much unread is dropped. */
const MAX_UNSENT_BYTES = 1024 * 1024;
const controlEvent = (type: string, body: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify(body)}\n\n`;

export function reportRoutes(deps: {
  service: ReportService;
  reads: ReportReads;
  processor: ReportProcessor;
  notices: ReportNotices;
  /** Takes a slot of the tenant's live streams (shared with the live feed), or throws `rate_limited`; the function frees it. */
  reserveStream: (tenant: string) => () => void;
  authenticate: Authenticate;
}): FastifyPluginAsync {
  const { service, processor } = deps;

  function describe(tenant: string, name: string, found: Awaited<ReturnType<ReportService['get']>>) {
    const v = processor.version(tenant, name, found.version);
    return {
      name,
      version: found.version,
      definition: found.document.stored.definition,
      status: v?.status ?? 'building',
      reason: v?.reason ?? null,
      position: (v?.position ?? 0n).toString(),
    };
  }

  /**
   * Reading a report needs `read` on its entity without a row limit (a report cannot respect per-row
   * limits), and none of the fields it groups, measures or filters on hidden from the caller.
   */
  async function readable(request: FastifyRequest<{ Params: Params }>): Promise<CompiledReport> {
    const { tenant, name } = request.params;
    const principal = await deps.authenticate(request, tenant);
    const { compiled } = await service.get(tenant, name);
    const access = authorize(principal, entityResource(compiled), 'read');
    if (access.where !== undefined)
      throw new AppError('forbidden', 'Your roles limit the rows you may read: a report cannot respect row limits');
    const hidden = reportFields(compiled).filter((field) => access.hiddenFields.includes(field));
    if (hidden.length > 0) throw new AppError('forbidden', `The report uses fields your roles hide: ${hidden.join(', ')}`);
    return compiled;
  }

  /** Open report streams: ended before the server waits for its connections to close. */
  const streams = new Set<ServerResponse>();

  return async (app) => {
    app.addHook('preClose', async () => {
      for (const res of streams) res.end(controlEvent('closed', { reason: 'shutdown' }));
    });

    app.put<{ Params: Params; Body: unknown }>(
      '/t/:tenant/reports/:name',
      {
        schema: {
          params: NameParams,
          body: Type.Object({}, { additionalProperties: true }),
          response: { 200: ReportResponse, 201: ReportResponse, ...errors },
        },
      },
      async (request, reply) => {
        const { tenant, name } = request.params;
        const principal = await deps.authenticate(request, tenant);
        authorize(principal, 'reports', 'admin');
        const change = await service.define(requestContext(request, callerOf(principal)), tenant, name, request.body);
        processor.poke();
        reply.code(change.created ? 201 : 200);
        return { ...describe(tenant, name, await service.get(tenant, name)), position: change.position.toString(), status: 'building' };
      },
    );

    app.get<{ Params: { tenant: string } }>(
      '/t/:tenant/reports',
      { schema: { params: TenantParams, response: { 200: Type.Object({ items: Type.Array(ReportResponse) }), ...errors } } },
      async (request) => {
        const { tenant } = request.params;
        authorize(await deps.authenticate(request, tenant), 'reports', 'read');
        const items = await service.list(tenant);
        return { items: items.map((item) => describe(tenant, item.document.name, { ...item, compiled: undefined as never })) };
      },
    );

    app.get<{ Params: Params }>(
      '/t/:tenant/reports/:name',
      { schema: { params: NameParams, response: { 200: ReportResponse, ...errors } } },
      async (request) => {
        const { tenant, name } = request.params;
        authorize(await deps.authenticate(request, tenant), 'reports', 'read');
        return describe(tenant, name, await service.get(tenant, name));
      },
    );

    app.delete<{ Params: Params }>(
      '/t/:tenant/reports/:name',
      {
        schema: {
          params: NameParams,
          response: { 200: Type.Object({ name: Type.String(), version: Type.Integer(), position: Position }), ...errors },
        },
      },
      async (request) => {
        const { tenant, name } = request.params;
        const principal = await deps.authenticate(request, tenant);
        authorize(principal, 'reports', 'admin');
        const change = await service.remove(requestContext(request, callerOf(principal)), tenant, name);
        processor.poke();
        return { name, version: change.version, position: change.position.toString() };
      },
    );

    app.get<{ Params: Params; Querystring: DataQuery }>(
      '/t/:tenant/reports/:name/data',
      {
        schema: {
          params: NameParams,
          querystring: Type.Object({
            format: Type.Optional(Type.String({ enum: ['json', 'csv'] })),
            after: Type.Optional(Position),
            asOf: Type.Optional(Type.String({ maxLength: 40 })),
          }),
          response: { 200: Type.Object({ groups: Type.Array(Type.Record(Type.String(), Type.Unknown())), position: Position }), ...errors },
        },
      },
      async (request, reply) => {
        const { tenant, name } = request.params;
        const compiled = await readable(request);
        const asOf = parseAsOf(request.query.asOf);
        const csv = request.query.format === 'csv';
        if (asOf) {
          const past = await deps.reads.asOf(tenant, compiled, asOf);
          if (csv) return sendCsv(reply, { ...past, report: compiled });
          return { groups: past.groups, position: past.position.toString() };
        }
        const current = await deps.reads.current(tenant, name, BigInt(request.query.after ?? '0'));
        if (csv) return sendCsv(reply, { ...current, groups: current.views.map((view) => JSON.parse(view)) });
        // The views are JSON already: the answer is written around them, not serialised again.
        return reply
          .type('application/json; charset=utf-8')
          .send(`{"groups":[${current.views.join(',')}],"position":"${current.position}"}`);
      },
    );

    app.get<{ Params: Params }>(
      '/t/:tenant/reports/:name/live',
      { schema: { params: NameParams, response: errors } },
      async (request, reply) => {
        const { tenant, name } = request.params;
        await readable(request);
        live(request, reply, tenant, name, deps.reserveStream(tenant));
      },
    );
  };

  function sendCsv(reply: FastifyReply, data: { groups: Record<string, unknown>[]; position: bigint; report: CompiledReport }) {
    reply.type('text/csv; charset=utf-8').header('x-position', data.position.toString());
    return reply.send(csvStream(data.report, data.groups));
  }

  /**
   * SSE: after each processed batch, the groups it changed in the serving version; a comment every
   * 15 s. A client that lets more than MAX_UNSENT_BYTES pile up is dropped (it reads the data again).
   */
  function live(request: FastifyRequest, reply: FastifyReply, tenant: string, name: string, release: () => void): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.write(': subscribed\n\n');
    streams.add(res);
    const send = (text: string) => {
      if (res.writableLength > MAX_UNSENT_BYTES) res.end(controlEvent('dropped', { reason: 'slow_consumer' }));
      else res.write(text);
    };
    let last = 0n;
    const unsubscribe = deps.notices.subscribe(tenant, name, (notice) => {
      // Notices of batches committed by different processes may cross on the way: an older one is stale.
      if (notice.position < last) return;
      last = notice.position;
      send(sseEvent(notice.position, 'groups', { groups: notice.groups, position: notice.position.toString() }));
    });
    const heartbeat = setInterval(() => send(': ping\n\n'), HEARTBEAT_MS).unref();
    const close = () => {
      release();
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    };
    request.raw.on('close', close);
    res.on('close', close);
  }
}
