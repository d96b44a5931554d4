import { type Static, Type } from '@sinclair/typebox';
import { Nullable, Timestamp, Uuid } from './common.js';

/**
 * `POST /api/sessions/:id/attachments`. `filename` is kept intact for display (any Unicode but
 * control characters, which are refused); the name used on disk is sanitised.
 */
export const CreateAttachmentBodySchema = Type.Object(
  {
    filename: Type.String({ minLength: 1, maxLength: 1024 }),
    content: Type.String({ description: 'The bytes, base64 (RFC 4648 §4)' }),
    mimeType: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 255,
        pattern: '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$',
        description:
          'A media type without parameters (default: from the file name, else application/octet-stream)',
      }),
    ),
    messageId: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);
export type CreateAttachmentBody = Static<typeof CreateAttachmentBodySchema>;

/** A file attached to a session. */
export const AttachmentSchema = Type.Object(
  {
    id: Uuid,
    sessionId: Uuid,
    messageId: Nullable(Type.String()),
    /** The name as uploaded (display). */
    filename: Type.String(),
    mimeType: Type.String(),
    /** Bytes. */
    size: Type.Integer(),
    /** Hex SHA-256 of the bytes. */
    sha256: Type.String(),
    /** Where the agent finds it, relative to its workspace (`attachments/<sanitised name>`). */
    workspacePath: Type.String(),
    createdAt: Timestamp,
  },
  { $id: 'Attachment' },
);
export type Attachment = Static<typeof AttachmentSchema>;

export const AttachmentResponseSchema = Type.Object({ attachment: AttachmentSchema });
export const AttachmentListResponseSchema = Type.Object({ attachments: Type.Array(AttachmentSchema) });
/** Any id string: an unknown one (UUID or not) is a 404, like another tenant's. */
export const AttachmentIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
