/**
 * A process of live-feed subscribers, started by bench/live-run.ts (several of them, so that parsing
 * the streams does not all land on one core). Over IPC: `open` with the subscriptions → `ready` once
 * every stream has sent its first block; `start` marks the CPU clock; `drain` with the last position
 * written per tenant → waits until each stream has received it (or a timeout), then sends back, per
 * stream, the positions received and when, and exits.
 */
import { openSse } from './live-sse.js';

export interface Subscription {
  tenant: string;
  role: string;
  token: string;
  /** Fields the stream must not carry (the role hides them). */
  hidden: string[];
}

export type ToChild =
  | { type: 'open'; url: string; pattern: string; subscriptions: Subscription[] }
  | { type: 'start' }
  | { type: 'drain'; last: Record<string, number>; timeoutMs: number };

export interface StreamResult {
  positions: Float64Array;
  times: Float64Array;
  /** Events that carried a hidden field. */
  leaks: number;
  /** Control events (`dropped`, `closed`) received. */
  controls: string[];
  /** The stream ended before the drain (an error or the server closing it). */
  ended: string | undefined;
}

export type FromChild =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'result'; cpuSeconds: number; streams: StreamResult[] };

interface Stream {
  subscription: Subscription;
  positions: number[];
  times: number[];
  leaks: number;
  controls: string[];
  ended: string | undefined;
  opened: boolean;
}

const send = (message: FromChild) => process.send?.(message);
const streams: Stream[] = [];
const controller = new AbortController();
let cpuStart = process.cpuUsage();
let onProgress: (() => void) | undefined;

function track(stream: Stream) {
  const leakMarks = stream.subscription.hidden.map((field) => `"${field}":`);
  return {
    onOpen() {
      stream.opened = true;
      onProgress?.();
    },
    onEvent(event: { id: string | undefined; event: string | undefined; data: string }, receivedAt: number) {
      if (event.event === 'dropped' || event.event === 'closed') {
        stream.controls.push(event.event);
        return;
      }
      stream.positions.push(Number(event.id));
      stream.times.push(receivedAt);
      if (leakMarks.some((mark) => event.data.includes(mark))) stream.leaks++;
      onProgress?.();
    },
    onEnd(error?: unknown) {
      if (!controller.signal.aborted) stream.ended = error instanceof Error ? error.message : 'closed by the server';
      onProgress?.();
    },
  };
}

/** Resolves when `done` holds (checked after every event) or after `timeoutMs`. */
function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      onProgress = undefined;
      resolve(ok);
    };
    const timer = setTimeout(() => finish(done()), timeoutMs);
    onProgress = () => done() && finish(true);
    onProgress();
  });
}

async function open(url: string, pattern: string, subscriptions: Subscription[]): Promise<void> {
  for (const subscription of subscriptions) {
    const stream: Stream = { subscription, positions: [], times: [], leaks: 0, controls: [], ended: undefined, opened: false };
    streams.push(stream);
    await openSse(`${url}/t/${subscription.tenant}/live?events=${pattern}`, subscription.token, controller.signal, track(stream));
  }
  if (!(await until(() => streams.every((stream) => stream.opened), 30_000))) throw new Error('streams did not open within 30 s');
}

async function drain(last: Record<string, number>, timeoutMs: number): Promise<void> {
  const reached = (stream: Stream) =>
    stream.ended !== undefined || (stream.positions.at(-1) ?? 0) >= (last[stream.subscription.tenant] ?? 0);
  // CPU over the writing window (start → drain), as for the server and the writer.
  const cpu = process.cpuUsage(cpuStart);
  await until(() => streams.every(reached), timeoutMs);
  const results: StreamResult[] = streams.map((stream) => ({
    positions: Float64Array.from(stream.positions),
    times: Float64Array.from(stream.times),
    leaks: stream.leaks,
    controls: stream.controls,
    ended: stream.ended,
  }));
  controller.abort();
  // A large message: disconnect only once it has been handed to the channel.
  await new Promise<void>((resolve) =>
    process.send?.({ type: 'result', cpuSeconds: (cpu.user + cpu.system) / 1e6, streams: results } satisfies FromChild, undefined, {}, () =>
      resolve(),
    ),
  );
}

process.on('message', (message: ToChild) => {
  if (message.type === 'open')
    open(message.url, message.pattern, message.subscriptions).then(
      () => send({ type: 'ready' }),
      (error: unknown) => send({ type: 'failed', message: String(error) }),
    );
  else if (message.type === 'start') cpuStart = process.cpuUsage();
  else drain(message.last, message.timeoutMs).then(() => process.disconnect());
});
process.on('disconnect', () => process.exit(0));
