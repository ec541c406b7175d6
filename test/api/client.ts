import assert from 'node:assert/strict';
import type { FastifyInstance, InjectOptions } from 'fastify';

type Method = NonNullable<InjectOptions['method']>;

export interface CallOptions {
  /** Sent as JSON (content type application/json unless `headers` says otherwise). */
  body?: unknown;
  /** Sent as is, for malformed or foreign payloads. */
  payload?: string | Buffer;
  headers?: Record<string, string>;
}

/**
 * A thin client over `app.inject`: status, headers, raw text and the parsed JSON body (if any).
 * With a token, every request carries it (a request's own `authorization` header wins).
 */
export function apiClient(app: FastifyInstance, token?: string) {
  async function call(method: Method, url: string, options: CallOptions = {}) {
    const payload = options.payload ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const headers = {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    };
    const response = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
    const text = response.body;
    let body: ReturnType<typeof JSON.parse>;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.statusCode, headers: response.headers, text, body };
  }
  return {
    call,
    get: (url: string, headers?: Record<string, string>) => call('GET', url, headers ? { headers } : {}),
    post: (url: string, body?: unknown, headers?: Record<string, string>) => call('POST', url, { body, ...(headers ? { headers } : {}) }),
    put: (url: string, body: unknown, headers?: Record<string, string>) => call('PUT', url, { body, ...(headers ? { headers } : {}) }),
    patch: (url: string, body: unknown, headers?: Record<string, string>) => call('PATCH', url, { body, ...(headers ? { headers } : {}) }),
    delete: (url: string, headers?: Record<string, string>) => call('DELETE', url, headers ? { headers } : {}),
  };
}

export type Api = ReturnType<typeof apiClient>;
export type Reply = Awaited<ReturnType<Api['call']>>;

/** A response of the given status; the message shows the whole response when it is not. */
export function expectStatus(reply: Reply, status: number): Reply['body'] {
  assert.equal(reply.status, status, `expected ${status}, got ${reply.status} ${reply.text}`);
  return reply.body;
}

/** An RFC 9457 problem with the given status and stable code (API.md, "Conventions"). */
export function expectProblem(reply: Reply, status: number, code: string): Reply['body'] {
  assert.equal(reply.status, status, `expected ${status} ${code}, got ${reply.status} ${reply.text}`);
  assert.match(String(reply.headers['content-type']), /^application\/problem\+json/, reply.text);
  const problem = reply.body;
  assert.equal(problem?.code, code, reply.text);
  assert.equal(problem.status, status, reply.text);
  for (const member of ['type', 'title', 'detail']) assert.equal(typeof problem[member], 'string', `${member} in ${reply.text}`);
  return problem;
}

/**
 * A validation problem that names every one of `paths`. A path is a JSON pointer relative to the
 * request part (e.g. `entities/order/fields/amount` or `amount`); an error at it or below it counts.
 */
export function expectValidation(reply: Reply, paths: string[], status = 400): void {
  const problem = expectProblem(reply, status, 'validation_failed');
  assert.ok(Array.isArray(problem.errors), `errors missing in ${reply.text}`);
  const reported: string[] = problem.errors.map((error: { path: string; message: string }) => {
    assert.equal(typeof error.message, 'string', reply.text);
    return error.path;
  });
  for (const path of paths) {
    const found = reported.some((p) => p === `/${path}` || p.endsWith(`/${path}`) || p.includes(`/${path}/`));
    assert.ok(found, `no error at ${path}; errors: ${JSON.stringify(problem.errors)}`);
  }
}

/** The whole event log of a tenant, as the API shows it. */
export async function tenantLog(api: Api, tenant: string): Promise<Reply['body'][]> {
  const items: Reply['body'][] = [];
  for (let after = '0'; ; ) {
    const page = expectStatus(await api.get(`/t/${tenant}/events?after=${after}&limit=1000`), 200);
    items.push(...page.items.filter(isDataEvent));
    if (page.items.length < 1000) return items;
    after = page.position;
  }
}

/** Runs `action` and checks that the tenant's event log is exactly as before. */
export async function expectNothingWritten<T>(api: Api, tenant: string, action: () => Promise<T>): Promise<T> {
  const before = await tenantLog(api, tenant);
  const result = await action();
  assert.deepEqual(await tenantLog(api, tenant), before, 'the request wrote events');
  return result;
}

let tenants = 0;
/** A tenant of its own for each test, created through the central API, so that tests never see each other's data. */
export async function newTenant(api: Api, label: string): Promise<string> {
  const id = `${label}-${++tenants}-${process.pid}`;
  expectStatus(await api.post('/t/central/tenants', { id, name: id }), 201);
  return id;
}

/** Events of the tenant's own data (module definitions and records), without its identity objects. */
export const isDataEvent = (event: { streamId: string }) => /^(module:|[a-z][a-zA-Z0-9_]*\.[a-z][a-zA-Z0-9_]*:)/.test(event.streamId);

export const DECIMAL = /^[0-9]+$/;
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
