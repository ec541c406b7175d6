/** One SSE block as received: its fields and comment lines. */
export interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comments: string[];
}

export interface OpenOptions {
  token?: string;
  lastEventId?: string;
  /** Do not read the body until `resume()`: a client that stops reading. */
  paused?: boolean;
}

const WAIT_MS = 15_000;

/**
 * A small Server-Sent Events client over `fetch` that parses the stream itself (text/event-stream:
 * blocks separated by a blank line, `field: value` lines, `:` comments) and keeps every block.
 */
export class SseStream {
  readonly messages: SseMessage[] = [];
  ended = false;
  private buffer = '';
  private readonly waiters = new Set<() => void>();
  private started = false;

  private constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {}

  static async open(url: string, options: OpenOptions = {}): Promise<SseStream> {
    const controller = new AbortController();
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
    const response = await fetch(url, { headers, signal: controller.signal });
    const stream = new SseStream(response, controller);
    if (response.ok && !options.paused) stream.resume();
    return stream;
  }

  get status(): number {
    return this.response.status;
  }

  /** The events carrying data (record and other events, and the control events `dropped`, `closed`). */
  get events(): SseMessage[] {
    return this.messages.filter((message) => message.data !== undefined);
  }

  /** The data events of the log (not `dropped` or `closed`), parsed. */
  get items(): { position: string; type: string; streamId: string; data: Record<string, unknown> }[] {
    return this.events
      .filter((message) => message.event !== 'dropped' && message.event !== 'closed')
      .map((message) => JSON.parse(message.data ?? ''));
  }

  control(type: string): Record<string, unknown> | undefined {
    const found = this.events.find((message) => message.event === type);
    return found ? JSON.parse(found.data ?? '') : undefined;
  }

  /** The last id received: what an EventSource would send as Last-Event-ID. */
  get lastEventId(): string | undefined {
    return this.messages.findLast((message) => message.id !== undefined)?.id;
  }

  resume(): void {
    if (this.started) return;
    this.started = true;
    void this.pump();
  }

  /** Waits until `done` holds (checked on every block received), or fails after a while. */
  async until(done: (stream: SseStream) => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    if (done(this)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; received ${this.messages.length} blocks, ended: ${this.ended}`));
      }, timeoutMs);
      const check = () => {
        if (!done(this)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Waits for the server to end the stream. */
  finished(timeoutMs = WAIT_MS): Promise<void> {
    return this.until((stream) => stream.ended, 'the end of the stream', timeoutMs);
  }

  close(): void {
    this.controller.abort();
  }

  private async pump(): Promise<void> {
    const body = this.response.body;
    if (!body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) {
        this.buffer += decoder.decode(chunk, { stream: true });
        this.parse();
      }
    } catch {
      // aborted by close(), or the connection was cut
    }
    this.ended = true;
    this.notify();
  }

  private parse(): void {
    for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const message: SseMessage = { comments: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          message.comments.push(line.slice(1).trim());
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id' || field === 'event' || field === 'retry') message[field] = value;
        else if (field === 'data') message.data = message.data === undefined ? value : `${message.data}\n${value}`;
      }
      this.messages.push(message);
    }
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
