import type { Attachment } from '@ash-ai/shared';
import type { HttpClient } from '../core/http.js';
import { dispositionFilename, toBase64 } from '../internal/bytes.js';
import { route } from '../internal/route.js';

/** A downloaded attachment. */
export interface DownloadedAttachment {
  bytes: Uint8Array;
  /** The name as uploaded (from the RFC 6266 `filename*`). */
  filename: string | undefined;
  mimeType: string;
}

/**
 * Attachments: `client.attachments`. An attachment is stored, copied into the session's
 * workspace (`attachment.workspacePath`), and can be referenced by a message:
 * `{type: 'image', source: {type: 'attachment', attachmentId}}`.
 */
export class Attachments {
  constructor(private readonly http: HttpClient) {}

  /** @throws PayloadTooLargeError over the server's limit, BadRequestError, GoneError. */
  async upload(
    sessionId: string,
    file: { filename: string; content: Uint8Array | string; mimeType?: string; messageId?: string },
  ): Promise<Attachment> {
    const { content, ...rest } = file;
    return (
      await this.http.request<{ attachment: Attachment }>(
        'POST',
        route`/api/sessions/${sessionId}/attachments`,
        {
          body: { ...rest, content: toBase64(content) },
        },
      )
    ).attachment;
  }

  async list(sessionId: string): Promise<Attachment[]> {
    return (
      await this.http.request<{ attachments: Attachment[] }>(
        'GET',
        route`/api/sessions/${sessionId}/attachments`,
      )
    ).attachments;
  }

  async download(id: string): Promise<DownloadedAttachment> {
    const res = await this.http.request<Response>('GET', route`/api/attachments/${id}`, { raw: true });
    return {
      bytes: new Uint8Array(await res.arrayBuffer()),
      filename: dispositionFilename(res.headers.get('content-disposition')),
      mimeType: res.headers.get('content-type') ?? 'application/octet-stream',
    };
  }

  async delete(id: string): Promise<void> {
    await this.http.request('DELETE', route`/api/attachments/${id}`);
  }
}
