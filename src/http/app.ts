import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify';
import { type Logger, uuidv7 } from '../kernel/index.js';
import { problemOf, sendProblem, toProblem } from './problem.js';

export interface AppOptions {
  logger: Logger;
  bodyLimitBytes: number;
  /** One encapsulated plugin per bounded context, each registered with its own prefix. */
  contexts: { plugin: FastifyPluginAsync; prefix?: string }[];
}

const REQUEST_TIMEOUT_MS = 60_000;

/** Builds the HTTP application without listening, so tests drive it through `inject`. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    // A client that never finishes sending its request is cut off (server-sent streams are not affected).
    requestTimeout: REQUEST_TIMEOUT_MS,
    genReqId: (request) => headerValue(request.headers['x-request-id']) ?? uuidv7(),
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: false } },
  });
  app.addHook('onResponse', async (request, reply) => {
    if (options.logger.isLevelEnabled('debug')) {
      request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request completed');
    }
  });
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error, request);
    if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problemOf('not_found', `No route ${request.method} ${request.url.split('?')[0]}`)),
  );
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Backoffice API', version: '1' },
    },
  });
  for (const { plugin, prefix } of options.contexts) await app.register(plugin, prefix ? { prefix } : {});
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text && /^[\w.:-]{1,128}$/.test(text) ? text : undefined;
}
