import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { problemOf, sendProblem } from '../http/index.js';

/** One Prometheus metric, read when `/metrics` is scraped. */
export interface Metric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  read(): Promise<number> | number;
}

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Prometheus text exposition of every metric; one that fails to read is left out of this scrape. */
export async function renderMetrics(metrics: readonly Metric[]): Promise<string> {
  const lines: string[] = [];
  for (const metric of metrics) {
    let value: number;
    try {
      value = await metric.read();
    } catch {
      continue;
    }
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.type}`, `${metric.name} ${value}`);
  }
  return `${lines.join('\n')}\n`;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * `GET /metrics`. With a token configured (`metricsToken`), scrapers must send `Authorization: Bearer
 * <token>`; without one the route is open, for a scraper on a private network (docs/operations.md).
 */
export function metricsRoutes(metrics: () => readonly Metric[], token: string | undefined): FastifyPluginAsync {
  const expected = token === undefined ? undefined : digest(token);
  return async (app) => {
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      if (expected) {
        const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
        if (!timingSafeEqual(digest(given), expected))
          return sendProblem(reply, problemOf('unauthorized', 'A valid metrics token is required'));
      }
      return reply.type(CONTENT_TYPE).send(await renderMetrics(metrics()));
    });
  };
}
