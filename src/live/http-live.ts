import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { EventStore } from '../eventstore/index.js';
import { type Authenticate, callerOf, ProblemSchema } from '../http/index.js';
import { Position, TenantParams } from '../http/params.js';
import type { LiveHub } from './hub.js';
import { type BufferLimits, SseOutput, textFrame } from './output.js';
import { PATTERN_LIMITS, parsePatterns } from './patterns.js';
import { classKeyOf, type Subscriber } from './subscriber.js';

export interface LiveRouteDeps {
  hub: LiveHub;
  events: EventStore;
  authenticate: Authenticate;
  buffer: BufferLimits;
  /** The `retry:` hint: how long a client waits before reconnecting. */
  retryMs: number;
}

type LiveRoute = {
  Params: { tenant: string };
  Querystring: { events?: string; after?: string };
  Headers: { 'last-event-id'?: string };
};
type LiveRequest = FastifyRequest<LiveRoute>;

const STREAM_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-store',
  // Proxies (nginx) must pass each event on at once, not buffer the response.
  'x-accel-buffering': 'no',
};

const RETRY_AFTER_SECONDS = '5';

/** `GET /t/{tenant}/live?events=<patterns>`: Server-Sent Events of the committed events the caller may see. */
export function liveRoutes(deps: LiveRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<LiveRoute>(
      '/t/:tenant/live',
      {
        // A HEAD request would hold a stream open with nothing to send.
        exposeHeadRoute: false,
        schema: {
          params: TenantParams,
          querystring: Type.Object({
            events: Type.Optional(
              Type.String({
                maxLength: PATTERN_LIMITS.length,
                description: 'comma-separated <module>.<entity>.<EventType>, * for a segment',
              }),
            ),
            after: Type.Optional(Position),
          }),
          headers: Type.Object({ 'last-event-id': Type.Optional(Position) }),
          response: {
            200: {
              description: 'A stream of `id: <position>`, `event: <type>`, `data: <event as in /events>` blocks; `: ping` heartbeats',
              content: { 'text/event-stream': { schema: Type.String() } },
            },
            400: ProblemSchema,
            401: ProblemSchema,
            403: ProblemSchema,
            429: ProblemSchema,
            503: ProblemSchema,
          },
        },
      },
      (request, reply) => stream(deps, request, reply),
    );
  };
}

async function stream(deps: LiveRouteDeps, request: LiveRequest, reply: FastifyReply): Promise<void> {
  const { tenant } = request.params;
  const principal = await deps.authenticate(request, tenant);
  const patterns = parsePatterns(request.query.events);
  const release = reserve(deps.hub, tenant, reply);
  let cursor: bigint;
  try {
    cursor = await startPosition(deps.hub, deps.events, request);
  } catch (error) {
    release();
    throw error;
  }
  reply.hijack();
  const res = reply.raw;
  if (!res.socket || res.socket.destroyed) {
    // The client left while the stream was being set up: its 'close' has been and gone.
    release();
    return;
  }
  res.writeHead(200, STREAM_HEADERS);
  const output = new SseOutput(res, deps.buffer, cursor);
  // The id tells a client that reconnects where this stream started, even before any event reached it.
  output.push(textFrame(`retry: ${deps.retryMs}\nid: ${cursor}\n\n`, cursor));
  const subscriber: Subscriber = {
    tenant,
    caller: callerOf(principal),
    classKey: classKeyOf(principal),
    patterns,
    expiresAt: tokenExpiry(request),
    output,
    log: request.log.child({ tenant, user: principal.user }),
    cursor,
    live: false,
    closed: false,
    release,
  };
  res.on('close', () => deps.hub.close(subscriber));
  res.on('error', () => deps.hub.close(subscriber));
  deps.hub.open(subscriber, principal);
}

function reserve(hub: LiveHub, tenant: string, reply: FastifyReply): () => void {
  try {
    return hub.reserve(tenant);
  } catch (error) {
    reply.header('retry-after', RETRY_AFTER_SECONDS);
    throw error;
  }
}

/**
 * After `Last-Event-ID` (what a reconnecting EventSource sends; it wins over the URL), else after
 * `?after=`, else the current head (only new events). A position past the head is taken as the head.
 */
async function startPosition(hub: LiveHub, events: EventStore, request: LiveRequest): Promise<bigint> {
  const requested = request.headers['last-event-id'] ?? request.query.after;
  const head = await events.headPosition();
  // While no stream is live the watermark only follows announced heads (not other SQLite processes').
  hub.advanceIdle(head);
  if (requested === undefined) return head;
  const position = BigInt(requested);
  return position < head ? position : head;
}

/** When the (already verified) bearer token expires; the stream ends then. */
function tokenExpiry(request: FastifyRequest): number {
  const token = /^Bearer (\S+)$/.exec(String(request.headers.authorization ?? '').trim())?.[1] ?? '';
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    if (typeof claims.exp === 'number') return claims.exp * 1000;
  } catch {
    // not a JWT: an in-process authenticator (tests, CLI) without expiry
  }
  return Number.POSITIVE_INFINITY;
}
