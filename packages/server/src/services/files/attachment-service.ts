import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Attachment, ContentBlock, CreateAttachmentBody, MessageContent } from '@ash-ai/shared';
import type { AttachmentRecord, Repos, SessionRecord } from '../../db/repos/index.js';
import { AppError, invalidField, notFound } from '../../errors.js';
import { ConfinementError } from '../../storage/confined-dir.js';
import { storageKeys } from '../../storage/keys.js';
import { type ObjectStore, readAll } from '../../storage/object-store.js';
import { decodeBase64Strict } from '../../util/base64.js';
import { toAppError } from './file-errors.js';
import { allocationFor, mimeFor, type OpenWorkspace, type SessionFiles } from './session-files.js';

/** Folder of the workspace attachments are copied into. */
export const ATTACHMENTS_DIR = 'attachments';
/** Image types the model accepts as image blocks. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
/** Most attachment bytes one message may carry to the model (all referenced attachments). */
export const MAX_MESSAGE_ATTACHMENT_BYTES = 32 * 1024 * 1024;
const MAX_STORED_NAME_BYTES = 200;

/**
 * A file name safe to store and to show the agent: the last path segment, NFC, without control
 * characters or `<>:"|?*`, without leading dots (no hidden or `..` names) or trailing dots and
 * spaces, at most 200 UTF-8 bytes keeping the extension; `attachment` when nothing is left.
 */
export function sanitizeFilename(name: string): string {
  let base = (name.split(/[\\/]/).pop() ?? '')
    .normalize('NFC')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
    .replace(/[<>:"|?*]/g, '_')
    .trim()
    .replace(/^\.+/, '')
    .replace(/[. ]+$/, '');
  if (!base) return 'attachment';
  if (Buffer.byteLength(base) > MAX_STORED_NAME_BYTES) {
    const dot = base.lastIndexOf('.');
    const ext = dot > 0 && base.length - dot <= 16 ? base.slice(dot) : '';
    let stem = base.slice(0, base.length - ext.length);
    while (Buffer.byteLength(stem + ext) > MAX_STORED_NAME_BYTES) stem = [...stem].slice(0, -1).join('');
    base = stem + ext;
  }
  return base;
}

/** `name.ext` → `name (2).ext` … until it is not in `taken`. */
function unique(name: string, taken: Set<string>): string {
  if (!taken.has(name)) return name;
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let i = 2; ; i++) {
    const candidate = `${stem} (${i})${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function attachmentToApi(a: AttachmentRecord): Attachment {
  return {
    id: a.id,
    sessionId: a.sessionId,
    messageId: a.messageId,
    filename: a.filename,
    mimeType: a.mimeType,
    size: a.size,
    sha256: a.sha256,
    workspacePath: `${ATTACHMENTS_DIR}/${a.storedName}`,
    createdAt: a.createdAt,
  };
}

export interface AttachmentServiceDeps {
  repos: Repos;
  store: ObjectStore;
  files: SessionFiles;
  maxBytes: number;
  log: Logger;
}

/**
 * Session attachments: bytes in object storage (`attachments/<tenant>/<session>/<id>`), a row
 * with the display name, and a copy in the workspace (`attachments/<sanitised name>`) for the
 * agent. A message can reference an attachment by id; {@link resolveContent} turns references
 * into the base64 blocks the model receives.
 */
export class AttachmentService {
  constructor(private readonly deps: AttachmentServiceDeps) {}

  /**
   * Stores an attachment. Validated first (base64 400, size 413, `messageId` 400
   * `invalid_message_id` unless it is a message of this session); then stored, copied into the
   * workspace and recorded — a failure at any step undoes the earlier ones.
   * @throws AppError 400, 404, 410, 413, 503.
   */
  async create(tenantId: string, sessionId: string, body: CreateAttachmentBody): Promise<Attachment> {
    // The session first: an unknown (or another tenant's) id is 404 whatever the body holds.
    const ws = await this.deps.files.open(tenantId, sessionId, 'write');
    try {
      return await this.createIn(ws, tenantId, sessionId, body);
    } finally {
      await ws.finish();
    }
  }

  private async createIn(
    ws: OpenWorkspace,
    tenantId: string,
    sessionId: string,
    body: CreateAttachmentBody,
  ): Promise<Attachment> {
    // A control character would display one name and download under another: refused.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    if (/[\u0000-\u001f\u007f-\u009f]/.test(body.filename))
      throw invalidField(
        '/body/filename',
        'must not contain control characters (U+0000–U+001F, U+007F–U+009F)',
      );
    const bytes = decodeBase64Strict(body.content);
    if (!bytes)
      throw new AppError('invalid_base64', 'content is not valid base64', {
        errors: [{ path: '/body/content', message: 'must be base64 (RFC 4648 §4, padded)' }],
      });
    if (bytes.length > this.deps.maxBytes)
      throw new AppError(
        'payload_too_large',
        `the attachment is ${bytes.length} bytes; the limit is ${this.deps.maxBytes} bytes (ASH_ATTACHMENT_MAX_SIZE_MB); nothing was stored`,
      );
    if (bytes.length === 0) throw invalidField('/body/content', 'must not be empty');
    if (
      body.messageId !== undefined &&
      !(await this.deps.repos.history.getMessage(tenantId, sessionId, body.messageId))
    )
      throw new AppError(
        'invalid_message_id',
        `messageId '${body.messageId}' is not a message of session '${sessionId}'; nothing was stored`,
        { errors: [{ path: '/body/messageId', message: 'must be the id of a message of this session' }] },
      );
    const taken = new Set(
      (await this.deps.repos.attachments.listBySession(tenantId, sessionId)).map((a) => a.storedName),
    );
    const storedName = unique(sanitizeFilename(body.filename), taken);
    const segments = [ATTACHMENTS_DIR, storedName];
    try {
      const st = await ws.dir.lstat(segments);
      if (st.isSymbolicLink()) throw new ConfinementError('symlink', segments.join('/'));
    } catch (err) {
      if (!(err instanceof ConfinementError && err.reason === 'missing')) throw toAppError(err);
    }
    // The workspace copy must fit in the session's disk limit (checked before anything is stored).
    await this.deps.files.ensureRoom(ws, allocationFor(bytes.length), []);
    const id = randomUUID();
    const key = storageKeys.attachment(tenantId, sessionId, id);
    try {
      await this.deps.store.put(key, bytes);
    } catch (err) {
      throw toAppError(err);
    }
    try {
      await ws.dir.writeFile(segments, bytes);
      const row = await this.deps.repos.attachments.insert({
        id,
        tenantId,
        sessionId,
        messageId: body.messageId ?? null,
        filename: body.filename,
        storedName,
        mimeType: body.mimeType ?? mimeFor(storedName).split(';')[0]!,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        storageKey: key,
        createdAt: new Date().toISOString(),
      });
      return attachmentToApi(row);
    } catch (err) {
      await this.deps.store.delete(key).catch(() => undefined);
      throw toAppError(err);
    }
  }

  /**
   * Copies every attachment of `parent` to `child` (a fork): new ids, the bytes copied in object
   * storage under the child, same names, types and hashes; `messageId` points at the fork's copy
   * of the message (same sequence), or is null when there is none. The workspace copies came with
   * the forked workspace (call this after the history was copied). The two sets are
   * independent: deleting one session's attachment leaves the other's. On failure, the objects
   * already copied are removed.
   * @throws AppError 503 `storage_unavailable`.
   */
  async copyToSession(parent: SessionRecord, child: SessionRecord): Promise<void> {
    const rows = await this.deps.repos.attachments.listBySession(parent.tenantId, parent.id);
    const messageIds = rows.some((r) => r.messageId) ? await this.forkedMessageIds(parent, child) : new Map();
    const copied: string[] = [];
    try {
      for (const row of rows) {
        const stream = await this.deps.store.get(row.storageKey);
        if (!stream) {
          this.deps.log.warn(
            { attachmentId: row.id, sessionId: parent.id },
            'attachment bytes missing; not copied to the fork',
          );
          continue;
        }
        const id = randomUUID();
        const key = storageKeys.attachment(child.tenantId, child.id, id);
        await this.deps.store.put(key, await readAll(stream));
        copied.push(key);
        await this.deps.repos.attachments.insert({
          ...row,
          id,
          sessionId: child.id,
          messageId: (row.messageId && messageIds.get(row.messageId)) ?? null,
          storageKey: key,
        });
      }
    } catch (err) {
      for (const key of copied) await this.deps.store.delete(key).catch(() => undefined);
      throw toAppError(err);
    }
  }

  /** Parent message id → the fork's message id of the same sequence. */
  private async forkedMessageIds(parent: SessionRecord, child: SessionRecord): Promise<Map<string, string>> {
    const bySeq = async (s: SessionRecord) => {
      const out = new Map<number, string>();
      for (let after = 0; ; ) {
        const { rows, hasMore } = await this.deps.repos.history.listMessages(s.tenantId, s.id, after, 500);
        for (const m of rows) out.set(m.sequence, m.id);
        if (rows.length > 0) after = rows[rows.length - 1]!.sequence;
        if (!hasMore || rows.length === 0) return out;
      }
    };
    const [from, to] = [await bySeq(parent), await bySeq(child)];
    const map = new Map<string, string>();
    for (const [seq, id] of from) {
      const copy = to.get(seq);
      if (copy) map.set(id, copy);
    }
    return map;
  }

  /** @throws AppError 404 `session_not_found`. */
  async list(tenantId: string, sessionId: string): Promise<Attachment[]> {
    if (!(await this.deps.repos.sessions.get(tenantId, sessionId)))
      throw notFound('session_not_found', 'Session', sessionId);
    return (await this.deps.repos.attachments.listBySession(tenantId, sessionId)).map(attachmentToApi);
  }

  /**
   * The row and a stream of the bytes.
   * @throws AppError 404 `attachment_not_found`, 410 `attachment_gone`, 503.
   */
  async open(tenantId: string, id: string): Promise<{ attachment: Attachment; stream: Readable }> {
    const row = await this.deps.repos.attachments.get(tenantId, id);
    if (!row) throw notFound('attachment_not_found', 'Attachment', id);
    return { attachment: attachmentToApi(row), stream: await this.bytes(row) };
  }

  /**
   * The stored bytes of an attachment. When the object is not in the configured storage (the
   * operator switched backends or data dirs since it was stored), the session's workspace copy is
   * used if it is still intact (same size and SHA-256), and copied back into storage.
   * @throws AppError 410 `attachment_gone` when neither has the bytes; 503 when storage fails
   *   and there is no intact copy.
   */
  private async bytes(row: AttachmentRecord): Promise<Readable> {
    let failure: unknown;
    try {
      const stream = await this.deps.store.get(row.storageKey);
      if (stream) return stream;
    } catch (err) {
      failure = err;
    }
    const copy = await this.workspaceCopy(row);
    if (copy) {
      if (!failure)
        void this.deps.store
          .put(row.storageKey, copy)
          .catch((err: unknown) =>
            this.deps.log.warn({ err, attachmentId: row.id }, 'could not store an attachment again'),
          );
      return Readable.from([copy]);
    }
    if (failure) throw toAppError(failure);
    this.deps.log.warn({ attachmentId: row.id }, 'attachment bytes are missing from object storage');
    throw new AppError(
      'attachment_gone',
      `the bytes of attachment '${row.id}' are no longer in storage (it was switched or emptied since the attachment was stored); upload it again`,
    );
  }

  /** The workspace copy (`attachments/<stored name>`) when it still holds exactly the stored bytes. */
  private async workspaceCopy(row: AttachmentRecord): Promise<Buffer | undefined> {
    try {
      const ws = await this.deps.files.open(row.tenantId, row.sessionId, 'read');
      const { handle, stats } = await ws.dir.openRead([ATTACHMENTS_DIR, row.storedName]);
      try {
        if (stats.size !== row.size) return undefined;
        const buf = await handle.readFile();
        return createHash('sha256').update(buf).digest('hex') === row.sha256 ? buf : undefined;
      } finally {
        await handle.close();
      }
    } catch {
      return undefined;
    }
  }

  /**
   * Deletes the stored bytes and the row. The workspace copy stays (the agent may be using it).
   * @throws AppError 404, 503.
   */
  async delete(tenantId: string, id: string): Promise<void> {
    const row = await this.deps.repos.attachments.get(tenantId, id);
    if (!row) throw notFound('attachment_not_found', 'Attachment', id);
    try {
      await this.deps.store.delete(row.storageKey);
    } catch (err) {
      throw toAppError(err);
    }
    await this.deps.repos.attachments.delete(tenantId, id);
  }

  /**
   * Replaces `{source: {type: 'attachment', attachmentId}}` in message blocks with the
   * attachment's bytes: images (JPEG, PNG, GIF, WebP) as base64 image blocks, PDFs as base64
   * documents, UTF-8 text as plain-text documents (titled with the file name). Other content is
   * returned unchanged.
   * @throws AppError 400 `validation_failed` naming the block (unknown attachment of this session,
   *   a type the block cannot carry), 410 `attachment_gone`, 413 over
   *   {@link MAX_MESSAGE_ATTACHMENT_BYTES}, 503.
   */
  async resolveContent(session: SessionRecord, content: MessageContent): Promise<MessageContent> {
    if (typeof content === 'string') return content;
    if (!content.some((b) => b.type !== 'text' && b.source.type === 'attachment')) return content;
    let total = 0;
    const out: ContentBlock[] = [];
    for (const [i, block] of content.entries()) {
      if (block.type === 'text' || block.source.type !== 'attachment') {
        out.push(block);
        continue;
      }
      const where = `/body/content/${i}/source/attachmentId`;
      const row = await this.deps.repos.attachments.get(session.tenantId, block.source.attachmentId);
      if (!row || row.sessionId !== session.id)
        throw invalidField(where, 'is not an attachment of this session');
      total += row.size;
      if (total > MAX_MESSAGE_ATTACHMENT_BYTES)
        throw new AppError(
          'payload_too_large',
          `the attachments of this message exceed ${MAX_MESSAGE_ATTACHMENT_BYTES} bytes`,
        );
      const bytes = await readAll(await this.bytes(row));
      const mime = row.mimeType.toLowerCase();
      if (block.type === 'image') {
        if (!IMAGE_TYPES.has(mime))
          throw invalidField(
            where,
            `is ${row.mimeType}; image blocks take image/jpeg, image/png, image/gif or image/webp`,
          );
        out.push({
          type: 'image',
          source: { type: 'base64', media_type: mime, data: bytes.toString('base64') },
        });
        continue;
      }
      const title = block.title ?? row.filename.slice(0, 1024);
      if (mime === 'application/pdf') {
        out.push({
          type: 'document',
          source: { type: 'base64', media_type: 'application/pdf', data: bytes.toString('base64') },
          title,
        });
        continue;
      }
      let text: string | undefined;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        text = undefined;
      }
      if (text === undefined || text.includes('\u0000'))
        throw invalidField(where, `is ${row.mimeType} and not text; documents take PDF or UTF-8 text`);
      out.push({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: text }, title });
    }
    return out;
  }
}
