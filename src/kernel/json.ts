import { validationFailed } from './errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const MAX_DEPTH = 64;

/**
 * Serialises a value that must be plain JSON and round-trip unchanged through both databases:
 * no undefined, functions, symbols, bigints, class instances, cycles, non-finite numbers,
 * NUL characters or lone surrogates (PostgreSQL's jsonb rejects the last two).
 */
export function toJsonText(value: unknown, path: string): string {
  if (!isPlainJson(value, 0)) {
    const problem = findNonJson(value, path, 0, new Set()) ?? { path, message: 'is not plain JSON' };
    throw validationFailed('Value is not plain JSON', [problem]);
  }
  return JSON.stringify(value);
}

/** The fast check of the common case; `findNonJson` explains a failure with its path. */
function isPlainJson(value: unknown, depth: number): boolean {
  if (value === null || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value === 'string') return !value.includes('\u0000') && value.isWellFormed();
  if (typeof value !== 'object' || depth > MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!isPlainJson(item, depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (key.includes('\u0000') || !key.isWellFormed() || !isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

function findNonJson(value: unknown, path: string, depth: number, seen: Set<object>): { path: string; message: string } | undefined {
  if (depth > MAX_DEPTH) return { path, message: `nesting deeper than ${MAX_DEPTH}` };
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : { path, message: 'number must be finite' };
  }
  if (typeof value === 'string') return checkString(value, path);
  if (typeof value !== 'object') return { path, message: `${typeof value} is not JSON` };
  if (seen.has(value)) return { path, message: 'circular reference' };
  seen.add(value);
  const problem = Array.isArray(value) ? findInArray(value, path, depth, seen) : findInObject(value, path, depth, seen);
  seen.delete(value);
  return problem;
}

function findInArray(items: unknown[], path: string, depth: number, seen: Set<object>) {
  for (let i = 0; i < items.length; i++) {
    const problem = findNonJson(items[i], `${path}/${i}`, depth + 1, seen);
    if (problem) return problem;
  }
  return undefined;
}

function findInObject(value: object, path: string, depth: number, seen: Set<object>) {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    return { path, message: 'only plain objects are JSON' };
  }
  for (const [key, item] of Object.entries(value)) {
    const keyProblem = checkString(key, `${path}/${key}`);
    if (keyProblem) return keyProblem;
    const problem = findNonJson(item, `${path}/${key}`, depth + 1, seen);
    if (problem) return problem;
  }
  return undefined;
}

function checkString(text: string, path: string) {
  if (text.includes('\u0000')) return { path, message: 'NUL characters are not allowed' };
  if (!text.isWellFormed()) return { path, message: 'lone surrogates are not allowed' };
  return undefined;
}
