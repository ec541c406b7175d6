import type { CompiledQuery, Dialect } from './types.js';

type Part = string | { value: unknown };

/**
 * An SQL fragment: text and bound values in textual order. Values never enter the text;
 * they become placeholders (`?` or `$n`) when the whole statement is rendered.
 */
export class Sql {
  constructor(readonly parts: readonly Part[]) {}
}

/** Trusted SQL text (keywords, validated names already quoted). */
export function raw(text: string): Sql {
  return new Sql([text]);
}

/** A bound value. */
export function param(value: unknown): Sql {
  return new Sql([{ value }]);
}

/** Template tag: literal text with nested fragments. */
export function sql(strings: TemplateStringsArray, ...fragments: Sql[]): Sql {
  const parts: Part[] = [];
  strings.forEach((text, i) => {
    parts.push(text);
    const fragment = fragments[i];
    if (fragment) parts.push(...fragment.parts);
  });
  return new Sql(parts);
}

export function join(fragments: readonly Sql[], separator: string): Sql {
  const parts: Part[] = [];
  fragments.forEach((fragment, i) => {
    if (i > 0) parts.push(separator);
    parts.push(...fragment.parts);
  });
  return new Sql(parts);
}

export const TRUE = raw('TRUE');
export const FALSE = raw('FALSE');

export function and(conditions: readonly Sql[]): Sql {
  if (conditions.length === 0) return TRUE;
  return conditions.length === 1 && conditions[0] ? conditions[0] : sql`(${join(conditions, ' AND ')})`;
}

export function or(conditions: readonly Sql[]): Sql {
  if (conditions.length === 0) return FALSE;
  return conditions.length === 1 && conditions[0] ? conditions[0] : sql`(${join(conditions, ' OR ')})`;
}

export function render(fragment: Sql, dialect: Dialect): CompiledQuery {
  const params: unknown[] = [];
  let text = '';
  for (const part of fragment.parts) {
    if (typeof part === 'string') {
      text += part;
    } else {
      params.push(part.value);
      text += dialect === 'postgres' ? `$${params.length}` : '?';
    }
  }
  return { sql: text, params };
}

/** An SQL string literal ('' doubles quotes; both dialects use standard-conforming strings). */
export function stringLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
