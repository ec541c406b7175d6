import type { JsonValue } from '../kernel/index.js';

export const FIELD_TYPES = [
  'string',
  'text',
  'number',
  'integer',
  'boolean',
  'date',
  'datetime',
  'enum',
  'json',
  'array',
  'reference',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** Module, entity, field and command names (API.md, "Conventions"). */
export const NAME = /^[a-z][a-zA-Z0-9_]{0,62}$/;

export interface FieldDefinition {
  type: FieldType;
  required?: boolean;
  default?: JsonValue;
  /** string, text */
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  /** number, integer */
  minimum?: number;
  maximum?: number;
  /** enum */
  values?: string[];
  /** array */
  items?: { type: FieldType; values?: string[]; entity?: string };
  maxItems?: number;
  /** reference: "<module>.<entity>" */
  entity?: string;
}

export interface CommandDefinition {
  /** Guard: field values the record must have for the command to apply. */
  from?: Record<string, JsonValue>;
  /** Field values the command sets. */
  set?: Record<string, JsonValue>;
  /** The event type it emits. */
  emits: string;
}

export interface EntityDefinition {
  fields: Record<string, FieldDefinition>;
  indexes?: string[];
  commands?: Record<string, CommandDefinition>;
  sharedWith?: string;
}

/** `entity` limits a migration to one entity; without it, it applies to every entity that had the field. */
export type ModuleMigration = { rename: { from: string; to: string }; entity?: string } | { drop: string; entity?: string };

export interface ModuleDefinition {
  title?: string;
  entities: Record<string, EntityDefinition>;
  migrations?: ModuleMigration[];
}

/** Field types whose values compare and sort as numbers. */
export const NUMERIC_TYPES: ReadonlySet<FieldType> = new Set(['number', 'integer']);
/** Field types whose values compare and sort as text (byte order, identical on both databases). */
export const TEXT_TYPES: ReadonlySet<FieldType> = new Set(['string', 'text', 'enum', 'date', 'datetime', 'reference']);
