import { validationFailed } from '../../kernel/index.js';
import { resolveField } from './fields.js';
import { type Problems, validate } from './problems.js';
import { sortText } from './sort.js';
import type { CursorPosition, EntityFields, Scalar, SortKey } from './types.js';

const MAX_CURSOR_LENGTH = 16_384;

interface CursorJson {
  s: string;
  v: (Scalar | null)[];
  i: string;
}

/** An opaque cursor (base64url JSON) for the page after `last`, bound to the sort it was made for. */
export function encodeCursor(sort: readonly SortKey[], last: CursorPosition): string {
  const json: CursorJson = { s: sortText(sort), v: last.values, i: last.id };
  return Buffer.from(JSON.stringify(json), 'utf8').toString('base64url');
}

/** Decodes a cursor made by encodeCursor for the same sort; anything else is validation_failed at `/cursor`. */
export function decodeCursor(text: string, sort: readonly SortKey[], fields: EntityFields): CursorPosition {
  const json = parseCursorJson(text);
  if (json.s !== sortText(sort)) throw invalid('was made for another sort order');
  const position = { values: json.v, id: json.i };
  validate('Invalid cursor', (problems) => checkCursor(position, sort, fields, problems));
  return position;
}

function parseCursorJson(text: string): CursorJson {
  if (typeof text !== 'string' || text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]*$/.test(text)) throw invalid('is not a cursor');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid('is not a cursor');
  }
  const candidate = json as Partial<CursorJson> | null;
  if (!candidate || typeof candidate.s !== 'string' || !Array.isArray(candidate.v) || typeof candidate.i !== 'string') {
    throw invalid('is not a cursor');
  }
  return candidate as CursorJson;
}

/** The cursor's values fit the sort keys: one per key, each null or of the key's kind. */
export function checkCursor(position: CursorPosition, sort: readonly SortKey[], fields: EntityFields, problems: Problems): void {
  if (typeof position.id !== 'string' || !Array.isArray(position.values) || position.values.length !== sort.length) {
    problems.add('/cursor', 'does not match the sort order');
    return;
  }
  sort.forEach((key, i) => {
    const kind = resolveField(key.field, fields)?.kind;
    const value = position.values[i];
    const ok = value === null || (kind === 'number' ? Number.isFinite(value) : typeof value === (kind === 'text' ? 'string' : 'boolean'));
    if (!ok) problems.add('/cursor', `value ${i} does not match the sort key ${key.field}`);
  });
}

function invalid(message: string) {
  return validationFailed('Invalid cursor', [{ path: '/cursor', message }]);
}
