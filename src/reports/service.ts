import type { FieldDefinition, LoadedModule, ModuleRegistry } from '../datamodel/index.js';
import type { DocumentStore } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import { entityLog } from '../identity/index.js';
import { AppError, type FieldError, isAppError, type JsonValue, type RequestContext, validationFailed } from '../kernel/index.js';
import {
  type CompiledReport,
  checkShape,
  compileReport,
  entityName,
  REPORT_NAME,
  type ReportDefinition,
  reportFields,
  type StoredDefinition,
} from './definition.js';
import { DEFINED, DELETED, REPORT_STREAM } from './processor.js';

/** The stored form of a report's current definition (a document of `_reports.report`). */
export interface ReportDocument {
  name: string;
  stored: StoredDefinition;
}

export interface ReportChange {
  created: boolean;
  version: number;
  position: bigint;
}

/** Report definitions, kept event-sourced like the other platform objects (stream `report:<name>`). */
export function createReportService(deps: { events: EventStore; documents: DocumentStore; registry: ModuleRegistry }) {
  const log = entityLog<{ [key: string]: JsonValue }>(deps, {
    module: '_reports',
    entity: 'report',
    prefix: REPORT_STREAM,
    noun: 'report',
  });

  function checkName(name: string): void {
    if (!REPORT_NAME.test(name))
      throw validationFailed('Invalid report name', [{ path: '/params/name', message: `must match ${REPORT_NAME.source}` }]);
  }

  /** The definition checked against the entity's current fields, with the field definitions it needs. */
  async function prepare(tenant: string, body: unknown): Promise<StoredDefinition> {
    const definition = checkShape(body);
    const target = entityName(definition.entity) as { module: string; entity: string };
    const found = await deps.registry.entity(tenant, target.module, target.entity).catch((error: unknown) => {
      if (!isAppError(error, 'not_found')) throw error;
      throw validationFailed('Invalid report definition', [{ path: '/body/entity', message: `unknown entity ${definition.entity}` }]);
    });
    const fields = found.entity.definition.fields;
    const compiled = compileReport(definition, fields);
    const used: Record<string, FieldDefinition> = {};
    for (const name of reportFields(compiled)) if (Object.hasOwn(fields, name)) used[name] = fields[name] as FieldDefinition;
    return { definition, fields: used };
  }

  return {
    async define(context: RequestContext, tenant: string, name: string, body: unknown): Promise<ReportChange> {
      checkName(name);
      const stored = await prepare(tenant, body);
      const expected = await log.find(tenant, name);
      const document = { name, stored } as unknown as { [key: string]: JsonValue };
      const result = await log.write(context, tenant, name, { type: DEFINED, data: document }, document, expected);
      return { created: !expected || expected.deleted, ...result };
    },
    async remove(context: RequestContext, tenant: string, name: string): Promise<ReportChange> {
      const expected = await log.get(tenant, name);
      const result = await log.write(context, tenant, name, { type: DELETED, data: {} }, null, expected);
      return { created: false, ...result };
    },
    async get(tenant: string, name: string): Promise<{ document: ReportDocument; version: number; compiled: CompiledReport }> {
      const found = await log.get(tenant, name);
      const document = found.data as unknown as ReportDocument;
      return { document, version: found.version, compiled: compileReport(document.stored.definition, document.stored.fields) };
    },
    /**
     * The reports of the tenant that a new version of one of its modules would break (a field they
     * group, measure or filter on gone, renamed or retyped beyond what they accept, or their entity
     * gone), one error each: the module change is refused until they are changed or deleted.
     */
    async objections(tenant: string, module: LoadedModule): Promise<FieldError[]> {
      const issues: FieldError[] = [];
      for (const { document } of await this.list(tenant)) {
        const { definition } = document.stored;
        const target = entityName(definition.entity);
        if (target?.module !== module.name) continue;
        const path = `/entities/${target.entity}`;
        const entity = module.entities.get(target.entity);
        if (!entity) {
          issues.push({ path, message: `report ${document.name} is built on it: change or delete the report first` });
          continue;
        }
        try {
          compileReport(definition, entity.definition.fields);
        } catch (error) {
          if (!isAppError(error, 'validation_failed')) throw error;
          const problems = (error.details?.errors as FieldError[] | undefined)?.map((e) => e.message).join('; ') ?? error.message;
          issues.push({ path, message: `report ${document.name} would break (${problems}): change or delete the report first` });
        }
      }
      return issues;
    },
    async list(tenant: string): Promise<{ document: ReportDocument; version: number }[]> {
      const items: { document: ReportDocument; version: number }[] = [];
      for (let after: string | undefined; ; ) {
        const page = await log.list(tenant, after);
        for (const data of page) {
          const document = data as unknown as ReportDocument;
          const found = await log.find(tenant, document.name);
          if (found && !found.deleted) items.push({ document, version: found.version });
        }
        if (page.length < 1000) return items;
        after = (page.at(-1) as unknown as ReportDocument).name;
      }
    },
  };
}

export type ReportService = ReturnType<typeof createReportService>;
export type { ReportDefinition };
export const notFound = (name: string) => new AppError('not_found', `No report ${name}`);
