import jsonata from 'jsonata';
import type { FieldError } from '../../kernel/index.js';

/** Bounds of one evaluation: a runaway expression fails instead of holding the route. */
const JSONATA_OPTIONS = { timeout: 1000, stack: 500, sequence: 100_000 };

export type Expression = jsonata.Expression & { source: string };

/** Compiles a JSONata expression, or reports its syntax error (with its position) at `path`. */
export function compileExpression(text: string, path: string, errors: FieldError[]): Expression | undefined {
  try {
    return Object.assign(jsonata(text, JSONATA_OPTIONS), { source: text });
  } catch (error) {
    const { message, position } = error as { message?: string; position?: number };
    errors.push({ path, message: `invalid JSONata: ${message ?? 'syntax error'}${position === undefined ? '' : ` (at ${position})`}` });
    return undefined;
  }
}
