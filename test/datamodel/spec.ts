import assert from 'node:assert/strict';
import {
  decide,
  type EntityModel,
  evolve,
  initialState,
  type RecordCommand,
  type RecordEvent,
  type RecordState,
} from '../../src/datamodel/decider.js';
import { compile } from '../../src/datamodel/registry.js';
import type { EntityDefinition } from '../../src/datamodel/types.js';
import { type AppError, type ErrorCode, type ErrorDetails, isAppError } from '../../src/kernel/index.js';

/** The entity model the registry would compile for `definition` (one entity of a module `m`). */
export function entityModel(name: string, definition: EntityDefinition): EntityModel {
  const module = compile({ name: 'm', version: 1, definition: { entities: { [name]: definition } }, history: [] });
  const entity = module.entities.get(name);
  assert.ok(entity, `entity ${name} compiled`);
  return entity;
}

/** Folds events with the write side's own `evolve`. */
export function fold(events: readonly RecordEvent[], entity: string, from: RecordState = initialState): RecordState {
  return events.reduce((state, event) => evolve(state, event, entity), from);
}

export interface Outcome {
  /** The events decided (empty when the command failed). */
  events: RecordEvent[];
  /** The state after folding the given and the decided events. */
  state: RecordState;
}

/**
 * Given/When/Then over the pure decider: no I/O. `then` takes the expected events, or the expected
 * error code (and optionally details that must be included in the error's details).
 *
 *   given(model, [created]).when({ kind: 'delete' }).then([{ type: 'OrderDeleted', data: {} }])
 *   given(model).when({ kind: 'update', patch: {} }).then('not_found')
 */
export function given(model: EntityModel, history: readonly RecordEvent[] = []) {
  const before = fold(history, model.name);
  return {
    /** The state the given events fold to. */
    state: before,
    when(command: RecordCommand) {
      const run = (): { events: RecordEvent[] } | { error: unknown } => {
        try {
          return { events: decide(command, before, model) };
        } catch (error) {
          return { error };
        }
      };
      const result = run();
      return {
        // biome-ignore lint/suspicious/noThenProperty: the Given/When/Then vocabulary; this object is never awaited
        then(expected: readonly RecordEvent[] | ErrorCode, details?: ErrorDetails): Outcome & { error?: AppError } {
          if (typeof expected === 'string') {
            if ('events' in result) assert.fail(`expected ${expected}, got events ${JSON.stringify(result.events)}`);
            const error = result.error;
            if (!isAppError(error)) throw error;
            assert.equal(error.code, expected, `${error.code}: ${error.message} ${JSON.stringify(error.details)}`);
            if (details) for (const [key, value] of Object.entries(details)) assert.deepEqual(error.details[key], value, `details.${key}`);
            return { events: [], state: before, error };
          }
          if ('error' in result) {
            const error = result.error;
            assert.fail(
              `expected events, got ${isAppError(error) ? `${error.code}: ${error.message} ${JSON.stringify(error.details)}` : String(error)}`,
            );
          }
          assert.deepEqual(result.events, expected);
          return { events: result.events, state: fold(result.events, model.name, before) };
        },
      };
    },
  };
}
