import type { Logger } from '../../kernel/index.js';
import { answer } from '../bus.js';
import { BusError, type Reply, type RequestMessage, type Subscription } from '../port.js';
import { subjectMatches } from '../subjects.js';

type Handler = (request: RequestMessage) => Promise<Reply>;

interface Server {
  pattern: string;
  queue: string;
  handler: Handler;
  running: Set<Promise<unknown>>;
}

const copy = (bytes: Uint8Array) => new Uint8Array(bytes);

/**
 * Request/reply in memory, as NATS core does it: a request goes to one server of each queue group
 * whose pattern matches (round robin within the group); the first reply wins. Nothing is stored.
 */
export function createRequestRouter(logger: Logger) {
  const servers: Server[] = [];
  const turns = new Map<string, number>();

  /** One server per queue group among those matching the subject, taking turns. */
  function pick(subject: string): Server[] {
    const groups = new Map<string, Server[]>();
    for (const server of servers) {
      if (!subjectMatches(server.pattern, subject)) continue;
      const group = groups.get(server.queue) ?? [];
      group.push(server);
      groups.set(server.queue, group);
    }
    return [...groups].map(([queue, group]) => {
      const turn = turns.get(queue) ?? 0;
      turns.set(queue, turn + 1);
      return group[turn % group.length] as Server;
    });
  }

  function call(server: Server, request: RequestMessage): Promise<Reply> {
    const running = answer(server.handler, request, logger);
    server.running.add(running);
    void running.finally(() => server.running.delete(running));
    return running;
  }

  return {
    serve(pattern: string, queue: string, handler: Handler): Subscription {
      const server: Server = { pattern, queue, handler, running: new Set() };
      servers.push(server);
      return {
        async stop() {
          const index = servers.indexOf(server);
          if (index >= 0) servers.splice(index, 1);
          await Promise.allSettled([...server.running]);
        },
      };
    },

    async request(message: RequestMessage, timeoutMs: number): Promise<Reply> {
      const chosen = pick(message.subject);
      if (chosen.length === 0) throw new BusError('no_responder', `No server answers requests on ${message.subject}`);
      const request = { subject: message.subject, headers: { ...message.headers }, data: copy(message.data) };
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BusError('timeout', `No reply on ${message.subject} within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const reply = await Promise.race([Promise.any(chosen.map((server) => call(server, request))), timeout]);
        return { headers: { ...reply.headers }, data: copy(reply.data) };
      } finally {
        clearTimeout(timer);
      }
    },

    get count(): number {
      return servers.length;
    },
  };
}
