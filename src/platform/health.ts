import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ProblemSchema, problemOf, sendProblem } from '../http/index.js';

export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 2000;

const HealthSchema = Type.Object({ status: Type.Literal('ok') });
const ReadySchema = Type.Object({ status: Type.Literal('ok'), checks: Type.Record(Type.String(), Type.String()) });

/** `/healthz`: the process answers. `/readyz`: every dependency answers within its timeout. */
export function healthRoutes(checks: HealthCheck[]): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { response: { 200: HealthSchema } } }, async () => ({ status: 'ok' as const }));
    app.get('/readyz', { schema: { response: { 200: ReadySchema, 503: ProblemSchema } } }, async (request, reply) => {
      const results = await Promise.all(checks.map(async (dependency) => [dependency.name, await probe(dependency)] as const));
      const failed = results.filter(([, result]) => result !== 'ok');
      const report = Object.fromEntries(results);
      if (failed.length === 0) return { status: 'ok' as const, checks: report };
      request.log.warn({ checks: report }, 'not ready');
      return sendProblem(reply, problemOf('unavailable', `Not ready: ${failed.map(([name]) => name).join(', ')}`, { checks: report }));
    });
  };
}

async function probe(dependency: HealthCheck): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([dependency.check().then(() => 'ok'), timeout]);
  } catch {
    return 'failed';
  } finally {
    clearTimeout(timer);
  }
}
