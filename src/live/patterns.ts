import { validationFailed } from '../kernel/index.js';

/** Which events a live subscriber asked for (`?events=`). */
export interface EventPatterns {
  /** True when no pattern was given: every event the caller may see, record events or not. */
  readonly all: boolean;
  /** Whether an event of this stream (undefined: not a record stream) and type is wanted. */
  matches(stream: { module: string; entity: string } | undefined, type: string): boolean;
}

export const PATTERN_LIMITS = { patterns: 50, length: 2000 } as const;

const NAME = /^[a-z][a-zA-Z0-9_]{0,62}$/;
/** Record event types: `<Entity>Created|Updated|Deleted` and declared commands' `emits` (entities may contain `_`). */
const EVENT_TYPE = /^[A-Z][A-Za-z0-9_]{0,127}$/;

type Pattern = readonly [module: string, entity: string, type: string];

const EVERYTHING: EventPatterns = { all: true, matches: () => true };

/**
 * `sales.order.*,sales.*.OrderPaid`: comma-separated `<module>.<entity>.<EventType>`, `*` matching one
 * whole segment. Patterns select record events only; module definitions and identity objects come
 * only when no pattern is given. Absent means everything; anything malformed is `validation_failed`.
 */
export function parsePatterns(text: string | undefined): EventPatterns {
  if (text === undefined) return EVERYTHING;
  const items = text.split(',').map((item) => item.trim());
  const problem = (message: string) => validationFailed('Invalid events patterns', [{ path: '/querystring/events', message }]);
  if (items.length > PATTERN_LIMITS.patterns) throw problem(`at most ${PATTERN_LIMITS.patterns} patterns`);
  const patterns = items.map((item) => {
    const pattern = parsePattern(item);
    if (!pattern) throw problem(`"${item.slice(0, 100)}" is not <module>.<entity>.<EventType> (each segment a name or *)`);
    return pattern;
  });
  return {
    all: false,
    matches(stream, type) {
      return (
        stream !== undefined &&
        patterns.some(([module, entity, event]) => fits(module, stream.module) && fits(entity, stream.entity) && fits(event, type))
      );
    },
  };
}

function parsePattern(item: string): Pattern | undefined {
  const [module, entity, type, ...rest] = item.split('.');
  if (module === undefined || entity === undefined || type === undefined || rest.length > 0) return undefined;
  const valid = segment(module, NAME) && segment(entity, NAME) && segment(type, EVENT_TYPE);
  return valid ? [module, entity, type] : undefined;
}

const segment = (value: string, pattern: RegExp) => value === '*' || pattern.test(value);
const fits = (pattern: string, value: string) => pattern === '*' || pattern === value;
