import type { FastifyInstance, InjectOptions } from 'fastify';
import { problemOf } from '../http/index.js';
import type { Logger } from '../kernel/index.js';
import { type Bus, HEADERS, type Headers, type Reply, type RequestMessage, type Subscription } from './port.js';
import { isToken } from './subjects.js';

/** Servers of inbound commands share requests in this queue group (each request is run once). */
export const COMMANDS_QUEUE = 'backoffice-commands';

/** The body of an inbound command: the record id (absent on create: generated), its data, the version it expects. */
interface CommandBody {
  id?: string;
  data?: Record<string, unknown>;
  expectedVersion?: number;
}

type Route = Pick<InjectOptions, 'method' | 'url'> & { payload?: Record<string, unknown> };

const encode = (value: unknown) => Buffer.from(JSON.stringify(value));

function problemReply(message: string, path: string): Reply {
  const problem = problemOf('validation_failed', 'Invalid command message', { errors: [{ path, message }] });
  return { headers: { [HEADERS.status]: String(problem.status), 'content-type': 'application/problem+json' }, data: encode(problem) };
}

function parseBody(data: Uint8Array): CommandBody | string {
  if (data.byteLength === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return 'must be JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be a JSON object';
  const body = value as CommandBody;
  if (body.id !== undefined && typeof body.id !== 'string') return '/id must be a string';
  if (body.data !== undefined && (typeof body.data !== 'object' || body.data === null || Array.isArray(body.data)))
    return '/data must be an object';
  if (body.expectedVersion !== undefined && !Number.isInteger(body.expectedVersion)) return '/expectedVersion must be an integer';
  return body;
}

/** The HTTP route the command runs as: the same validation, permissions and idempotency, by construction. */
function routeOf(tenant: string, module: string, entity: string, command: string, body: CommandBody): Route | string {
  const base = `/t/${tenant}/data/${module}/${entity}`;
  if (command === 'create') return { method: 'POST', url: base, payload: { ...body.data, ...(body.id ? { id: body.id } : {}) } };
  if (!body.id) return '/id is required';
  const record = `${base}/${encodeURIComponent(body.id)}`;
  if (command === 'update') return { method: 'PATCH', url: record, payload: body.data ?? {} };
  if (command === 'delete') return { method: 'DELETE', url: record };
  return { method: 'POST', url: `${record}/${command}`, payload: body.data ?? {} };
}

const FORWARDED = {
  authorization: HEADERS.authorization,
  'idempotency-key': 'Idempotency-Key',
  'x-correlation-id': HEADERS.correlation,
  traceparent: HEADERS.traceparent,
};

function forwardedHeaders(headers: Headers, expectedVersion: number | undefined): Record<string, string> {
  const forwarded: Record<string, string> = {};
  for (const [name, header] of Object.entries(FORWARDED)) {
    const value = headers[header] ?? headers[header.toLowerCase()];
    if (value !== undefined) forwarded[name] = value;
  }
  if (expectedVersion !== undefined) forwarded['if-match'] = `"${expectedVersion}"`;
  return forwarded;
}

/**
 * Serves `<root>.<tenant>.commands.<module>.<entity>.<command>`: runs `create`, `update`, `delete` or a
 * declared command through the record routes of the app (with the message's `Authorization` header,
 * typically a service client's token) and replies with the response body and `Bo-Status`.
 */
export function serveInboundCommands(bus: Bus, app: FastifyInstance, logger: Logger): Promise<Subscription> {
  return bus.serve(`${bus.root}.*.commands.*.*.*`, COMMANDS_QUEUE, async (request: RequestMessage) => {
    const [, tenant = '', , module = '', entity = '', command = ''] = request.subject.split('.');
    if (![tenant, module, entity, command].every(isToken)) return problemReply('names must be letters, digits, _ or -', '/subject');
    const body = parseBody(request.data);
    if (typeof body === 'string') return problemReply(body, '/body');
    const route = routeOf(tenant, module, entity, command, body);
    if (typeof route === 'string') return problemReply(route, route.split(' ')[0] ?? '/body');
    const response = await app.inject({ ...route, headers: forwardedHeaders(request.headers, body.expectedVersion) });
    if (response.statusCode >= 500) logger.error({ subject: request.subject, status: response.statusCode }, 'inbound command failed');
    return {
      headers: {
        [HEADERS.status]: String(response.statusCode),
        'content-type': String(response.headers['content-type'] ?? 'application/json'),
      },
      data: response.rawPayload,
    };
  });
}
