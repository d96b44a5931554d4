import { type Static, type TSchema, Type } from '@sinclair/typebox';

/** ISO-8601 UTC timestamp with milliseconds, e.g. `2026-11-29T15:54:37.000Z`. */
export const Timestamp = Type.String({ format: 'date-time' });

/** A lowercase RFC 4122 UUID. */
export const Uuid = Type.String({ format: 'uuid' });

/** Agent names: letters, digits, `_` and `-`, 1..255 characters. */
export const AGENT_NAME_PATTERN = '^[a-zA-Z0-9_-]+$';
export const AgentName = Type.String({ pattern: AGENT_NAME_PATTERN, minLength: 1, maxLength: 255 });

/** Environment variable names as POSIX shells accept them. */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
export const EnvMap = Type.Record(
  Type.String({ pattern: ENV_NAME_PATTERN, maxLength: 255 }),
  Type.String({ maxLength: 65536 }),
  {
    maxProperties: 200,
    // Keys must match the name pattern (patternProperties alone lets other keys through).
    additionalProperties: false,
  },
);

/** `{ ok: true }`, used by deletes that have nothing else to say. */
export const OkSchema = Type.Object({ ok: Type.Literal(true) });

/** Offset pagination query (`limit` 1..500, default 50; `offset` ≥ 0). */
export const OffsetPageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});

/** Sequence-cursor query used by history endpoints: rows with `sequence > after`, at most `limit`. */
export const SequenceCursorQuery = Type.Object({
  after: Type.Optional(
    Type.Integer({ minimum: 0, default: 0, description: 'Return rows with sequence > after' }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

/** Wraps a schema so it can be `null` as well. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export type OffsetPage = Static<typeof OffsetPageQuery>;
