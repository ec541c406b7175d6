import jsonata from 'jsonata';
import type { FieldError, JsonValue } from '../../kernel/index.js';

/** Bounds on one evaluation: a transform that loops or recurses without end fails instead of hanging a delivery. */
export const TRANSFORM_LIMITS = { length: 10_000, timeoutMs: 1000, stack: 200, sequence: 100_000 } as const;

export type Transform = (input: JsonValue) => Promise<JsonValue | undefined>;

/** JSONata raises plain objects (`{ code, message, position }`), not Errors. */
const messageOf = (error: unknown): string => {
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' ? message : 'invalid expression';
  return `${typeof code === 'string' ? `${code}: ` : ''}${text}`.slice(0, 300);
};

/** Compiles a JSONata expression; a syntax error is reported at `path`. */
export function compileTransform(text: string, path: string): { transform: Transform } | { errors: FieldError[] } {
  if (text.length > TRANSFORM_LIMITS.length) return { errors: [{ path, message: `longer than ${TRANSFORM_LIMITS.length} characters` }] };
  let expression: jsonata.Expression;
  try {
    expression = jsonata(text, { timeout: TRANSFORM_LIMITS.timeoutMs, stack: TRANSFORM_LIMITS.stack, sequence: TRANSFORM_LIMITS.sequence });
  } catch (error) {
    return { errors: [{ path, message: messageOf(error) }] };
  }
  return {
    transform: async (input) => {
      try {
        return normalise(await expression.evaluate(input));
      } catch (error) {
        throw new TransformError(messageOf(error));
      }
    },
  };
}

/** A transform failed on an event: it would fail again, so the event is dead-lettered at once. */
export class TransformError extends Error {
  constructor(message: string) {
    super(`transform failed: ${message}`);
    this.name = 'TransformError';
  }
}

/** JSONata results may be sequences (arrays with extra properties) or hold functions: keep the JSON of them. */
function normalise(value: unknown): JsonValue | undefined {
  if (value === undefined) return undefined;
  return JSON.parse(JSON.stringify(value) ?? 'null') as JsonValue;
}
