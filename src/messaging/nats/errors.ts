import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  InvalidArgumentError,
  type MsgHdrs,
  NoRespondersError,
  headers as natsHeaders,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { BusError, type Headers } from '../port.js';

/** Nobody listens on the subject; JetStream's publish wraps the core error in a "not enabled" one. */
const isNoResponders = (error: unknown): boolean =>
  error instanceof NoRespondersError ||
  (error instanceof RequestError && error.isNoResponders()) ||
  (error instanceof Error && error.cause !== undefined && isNoResponders(error.cause));

/** A stored-stream operation's failure as a BusError: nothing listens → `no_stream`, a lost server → `unavailable`. */
export function publishError(error: unknown, subject: string): BusError {
  if (error instanceof BusError) return error;
  if (isNoResponders(error)) return new BusError('no_stream', `No stream stores subject ${subject}`, { cause: error });
  if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
    return new BusError('no_stream', `No stream stores subject ${subject}`, { cause: error });
  }
  if (error instanceof InvalidArgumentError)
    return new BusError('invalid', `Cannot publish on ${subject}: ${error.message}`, { cause: error });
  return new BusError('unavailable', `NATS did not take the message on ${subject}: ${describe(error)}`, { cause: error });
}

/** A core request's failure as a BusError: nobody serves → `no_responder`, no reply in time → `timeout`. */
export function requestError(error: unknown, subject: string, timeoutMs: number): BusError {
  if (error instanceof BusError) return error;
  if (isNoResponders(error)) return new BusError('no_responder', `No server answers requests on ${subject}`, { cause: error });
  if (error instanceof TimeoutError) return new BusError('timeout', `No reply on ${subject} within ${timeoutMs} ms`, { cause: error });
  if (error instanceof InvalidArgumentError)
    return new BusError('invalid', `Cannot request on ${subject}: ${error.message}`, { cause: error });
  return new BusError('unavailable', `Request on ${subject} failed: ${describe(error)}`, { cause: error });
}

export function unavailable(error: unknown, what: string): BusError {
  if (error instanceof BusError) return error;
  return new BusError('unavailable', `${what}: ${describe(error)}`, { cause: error });
}

export const isClosed = (error: unknown) => error instanceof ClosedConnectionError;

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function toNatsHeaders(headers: Headers | undefined): MsgHdrs | undefined {
  const entries = Object.entries(headers ?? {});
  if (entries.length === 0) return undefined;
  const result = natsHeaders();
  for (const [key, value] of entries) result.set(key, value);
  return result;
}

export function fromNatsHeaders(headers: MsgHdrs | undefined): Headers {
  const result: Headers = {};
  if (!headers) return result;
  for (const [key, values] of headers) result[key] = values.join(',');
  return result;
}
