import { Type } from '@sinclair/typebox';
import { Position } from '../http/params.js';

export const Data = Type.Record(Type.String(), Type.Unknown());

export const RecordResponse = Type.Object({
  id: Type.String(),
  version: Type.Integer(),
  position: Position,
  data: Data,
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const WriteResponse = Type.Object({ id: Type.String(), version: Type.Integer(), position: Position, data: Data });

export const HistoryResponse = Type.Array(
  Type.Object({
    position: Position,
    version: Type.Integer(),
    type: Type.String(),
    data: Type.Unknown(),
    metadata: Type.Object({ actor: Type.Union([Type.String(), Type.Null()]), at: Type.String(), correlationId: Type.String() }),
  }),
);

export const ModuleResponse = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  position: Type.Optional(Position),
  definition: Type.Unknown(),
  migrations: Type.Optional(Type.Unknown()),
});

export const EventsResponse = Type.Object({
  items: Type.Array(
    Type.Object({
      position: Position,
      id: Type.String(),
      streamId: Type.String(),
      version: Type.Integer(),
      type: Type.String(),
      schemaVersion: Type.Integer(),
      data: Type.Unknown(),
      metadata: Type.Unknown(),
      recordedAt: Type.String(),
    }),
  ),
  position: Position,
});
