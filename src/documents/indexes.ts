import { createHash } from 'node:crypto';
import type { FieldType } from '../datamodel/types.js';
import type { DocumentKey } from './port.js';
import { createIndexSql, type Dialect } from './query/index.js';

/** The DDL of a declared index, named by a hash of what it covers (stable, and within 63 characters). */
export function declaredIndexSql(scope: Omit<DocumentKey, 'id'>, field: string, type: FieldType, dialect: Dialect): string {
  const digest = createHash('sha256').update(`${scope.tenant}/${scope.module}/${scope.entity}/${field}/${type}`).digest('hex');
  return createIndexSql({ name: `doc_${digest.slice(0, 24)}`, ...scope, field, type }, dialect);
}
