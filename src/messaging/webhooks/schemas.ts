import { Type } from '@sinclair/typebox';
import { ProblemSchema } from '../../http/index.js';
import { Position, TenantParams } from '../../http/params.js';
import { PATTERN_LIMITS } from '../../live/index.js';
import { SECRET_LENGTH, URL_MAX, WEBHOOK_ID } from './definition.js';
import { TRANSFORM_LIMITS } from './transform.js';

export const errors = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
  503: ProblemSchema,
};

export const WebhookParams = Type.Object({ ...TenantParams.properties, id: Type.String({ pattern: WEBHOOK_ID.source }) });

const fields = {
  url: Type.String({
    minLength: 1,
    maxLength: URL_MAX,
    description: 'http or https; private addresses are refused at delivery unless allowed',
  }),
  events: Type.Array(Type.String({ minLength: 1, maxLength: 400 }), {
    minItems: 1,
    maxItems: PATTERN_LIMITS.patterns,
    description: '<module>.<entity>.<EventType> patterns, `*` matching one segment',
  }),
  filter: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
    description: 'a query filter on the event data',
  }),
  transform: Type.Union([Type.String({ maxLength: TRANSFORM_LIMITS.length }), Type.Null()], {
    description: 'a JSONata expression over the event envelope; its result is the body',
  }),
  secret: Type.String({ minLength: SECRET_LENGTH.min, maxLength: SECRET_LENGTH.max, description: 'write-only: signs the deliveries' }),
  active: Type.Boolean({ description: 'false pauses deliveries (they resume from where they stopped)' }),
};

export const CreateBody = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: WEBHOOK_ID.source })),
    url: fields.url,
    events: fields.events,
    filter: Type.Optional(fields.filter),
    transform: Type.Optional(fields.transform),
    secret: fields.secret,
    active: Type.Optional(fields.active),
  },
  { additionalProperties: false },
);

export const ChangeBody = Type.Object(
  {
    url: Type.Optional(fields.url),
    events: Type.Optional(fields.events),
    filter: Type.Optional(fields.filter),
    transform: Type.Optional(fields.transform),
    secret: Type.Optional(fields.secret),
    active: Type.Optional(fields.active),
  },
  { additionalProperties: false },
);

/** A webhook as the API shows it: never its secret. */
export const WebhookResponse = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  filter: Type.Unknown(),
  transform: Type.Union([Type.String(), Type.Null()]),
  active: Type.Boolean(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  version: Type.Integer(),
  position: Type.Optional(Position),
});

export const WebhookList = Type.Object({ items: Type.Array(WebhookResponse) });

export const DeletedResponse = Type.Object({ id: Type.String(), version: Type.Integer(), position: Position });

export const DeliveriesQuery = Type.Object({
  after: Type.Optional(Type.String({ pattern: WEBHOOK_ID.source, description: 'nextCursor of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

export const DeliveriesResponse = Type.Object({
  items: Type.Array(
    Type.Object({
      id: Type.String(),
      eventId: Type.String(),
      position: Position,
      attempt: Type.Integer(),
      status: Type.String({ enum: ['succeeded', 'failed', 'dead'] }),
      httpStatus: Type.Union([Type.Integer(), Type.Null()]),
      durationMs: Type.Union([Type.Integer(), Type.Null()]),
      error: Type.Union([Type.String(), Type.Null()]),
      replay: Type.Boolean(),
      at: Type.String(),
    }),
  ),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const ReplayBody = Type.Object(
  { from: Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Position]) },
  { additionalProperties: false },
);

export const ReplayResponse = Type.Object({ replay: Type.String(), webhook: Type.String(), from: Position, to: Position });

export const ReplaysResponse = Type.Object({
  items: Type.Array(
    Type.Object({
      replay: Type.String(),
      from: Position,
      to: Position,
      /** Every matching event up to here is delivered or dead-lettered. */
      progress: Position,
      status: Type.String({ enum: ['running', 'finished', 'cancelled'] }),
      createdAt: Type.String(),
      updatedAt: Type.String(),
    }),
  ),
});
