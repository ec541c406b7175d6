/**
 * A lean Server-Sent Events reader for the live benchmark's subscribers (the ideas of
 * test/live/sse.ts, without keeping every block): `fetch`, then the body split into blocks at blank
 * lines, `field: value` lines, `:` comments skipped. Each data event is handed on with the time its
 * chunk arrived.
 */

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes of one machine. */
export const clock = () => performance.timeOrigin + performance.now();

export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export interface SseHandlers {
  /** The first block arrived (the server's `retry:` and start `id:`): the stream is live. */
  onOpen(): void;
  onEvent(event: SseEvent, receivedAt: number): void;
  onEnd(error?: unknown): void;
}

function parseBlock(block: string): SseEvent | undefined {
  let id: string | undefined;
  let event: string | undefined;
  let data: string | undefined;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
  }
  return data === undefined ? undefined : { id, event, data };
}

/** Opens `url` as an event stream; resolves once the response headers are in (rejects on a non-200 answer). */
export async function openSse(url: string, token: string, signal: AbortSignal, handlers: SseHandlers): Promise<void> {
  const response = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` }, signal });
  if (response.status !== 200 || !response.body) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  const body = response.body;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    let opened = false;
    try {
      for await (const chunk of body) {
        const receivedAt = clock();
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!opened) {
            opened = true;
            handlers.onOpen();
          }
          const event = parseBlock(block);
          if (event) handlers.onEvent(event, receivedAt);
        }
      }
      handlers.onEnd();
    } catch (error) {
      handlers.onEnd(error);
    }
  })();
}
