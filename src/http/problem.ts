import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, errorCodes, type FieldError } from '../kernel/index.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** RFC 9457 problem details; `code` is the stable machine-readable identity of the problem. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export function problemOf(code: ErrorCode, detail: string, extra: Partial<Problem> = {}): Problem {
  const { status, title } = errorCodes[code];
  return { type: `urn:backoffice:problem:${code}`, title, status, code, detail, ...extra };
}

/** Status codes Fastify itself raises, mapped to our codes; everything else unknown is `internal`. */
const FRAMEWORK_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'validation_failed',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

export function toProblem(error: unknown, request: FastifyRequest): Problem {
  const instance = request.url.split('?')[0] ?? request.url;
  if (error instanceof AppError) {
    const { errors, ...details } = error.details;
    return problemOf(error.code, error.message, { instance, ...(errors?.length ? { errors } : {}), ...safeDetails(details) });
  }
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) {
    const errors = fastifyError.validation.map((issue) => ({
      path: `/${fastifyError.validationContext ?? 'body'}${issue.instancePath}`,
      message: issue.message ?? 'is invalid',
    }));
    return problemOf('validation_failed', 'The request does not match its schema', { instance, errors });
  }
  if (isNumericOverflow(error)) return problemOf('validation_failed', 'A value or a result is out of the numeric range', { instance });
  const code = fastifyError.statusCode === undefined ? undefined : FRAMEWORK_STATUS[fastifyError.statusCode];
  if (code) return problemOf(code, fastifyError.message ?? errorCodes[code].title, { instance });
  return problemOf('internal', 'An internal error occurred; it has been logged.', { instance });
}

/** PostgreSQL's numeric_value_out_of_range: a sum or a cast of values a client sent overflowed. */
function isNumericOverflow(error: unknown): boolean {
  return error instanceof Error && 'severity' in error && (error as { code?: unknown }).code === '22003';
}

/** Extension members must never collide with the standard ones. */
function safeDetails(details: Record<string, unknown>): Record<string, unknown> {
  const reserved = new Set(['type', 'title', 'status', 'code', 'detail', 'instance']);
  return Object.fromEntries(Object.entries(details).filter(([key]) => !reserved.has(key)));
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}
