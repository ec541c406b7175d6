import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../kernel/index.js';
import { answer } from '../bus.js';
import type { Reply, RequestMessage, Subscription } from '../port.js';
import { fromNatsHeaders, requestError, toNatsHeaders } from './errors.js';

/** Answers core NATS requests on a subject pattern within a queue group. */
export function serveNats(
  nc: NatsConnection,
  subject: string,
  queue: string,
  handler: (request: RequestMessage) => Promise<Reply>,
  logger: Logger,
): Subscription {
  const running = new Set<Promise<void>>();
  const subscription = nc.subscribe(subject, {
    queue,
    callback: (error, msg) => {
      if (error) {
        logger.error({ err: error, subject }, 'bus request subscription failed');
        return;
      }
      const request = { subject: msg.subject, headers: fromNatsHeaders(msg.headers), data: msg.data };
      const work = answer(handler, request, logger).then((reply) => {
        const headers = toNatsHeaders(reply.headers);
        if (!msg.respond(reply.data, headers ? { headers } : undefined))
          logger.warn({ subject: msg.subject }, 'bus request had no reply subject');
      });
      running.add(work);
      void work
        .catch((cause: unknown) => logger.error({ err: cause, subject: msg.subject }, 'bus reply failed'))
        .finally(() => running.delete(work));
    },
  });
  return {
    async stop() {
      subscription.unsubscribe();
      await Promise.allSettled([...running]);
    },
  };
}

export async function requestNats(nc: NatsConnection, message: RequestMessage, timeoutMs: number): Promise<Reply> {
  try {
    const headers = toNatsHeaders(message.headers);
    const reply = await nc.request(message.subject, message.data, headers ? { timeout: timeoutMs, headers } : { timeout: timeoutMs });
    return { headers: fromNatsHeaders(reply.headers), data: reply.data };
  } catch (error) {
    throw requestError(error, message.subject, timeoutMs);
  }
}
