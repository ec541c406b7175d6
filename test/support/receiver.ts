import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** The `X-Backoffice-Event-Id` of every delivery, in arrival order. */
  eventIds(): string[];
  /** True when every delivery carries the HMAC-SHA256 signature of its body under the secret. */
  allSigned(secret: string): boolean;
  close(): Promise<void>;
}

/** A webhook endpoint on 127.0.0.1 that answers 204 and remembers every delivery. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    eventIds: () => received.map((delivery) => String(delivery.headers['x-backoffice-event-id'])),
    allSigned: (secret) =>
      received.every(
        (delivery) =>
          delivery.headers['x-backoffice-signature'] === `sha256=${createHmac('sha256', secret).update(delivery.body).digest('hex')}`,
      ),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
