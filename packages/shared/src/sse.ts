/**
 * Server-Sent Events framing, shared by the server (encoding) and the SDK (decoding).
 * Rules from the WHATWG HTML standard, §9.2 "Server-sent events".
 */

/** One decoded SSE frame. `id` is the last `id:` seen (kept across frames, as the spec says). */
export interface SseFrame {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * Encodes one frame. `data` must be a single line (JSON.stringify output always is).
 * @throws Error when `event` or `data` contain a line break (that would split the frame).
 */
export function encodeSseFrame(frame: { id?: number | string; event: string; data: string }): string {
  if (/[\r\n]/.test(frame.event) || /[\r\n]/.test(frame.data))
    throw new Error('SSE field contains a line break');
  const id = frame.id === undefined ? '' : `id: ${frame.id}\n`;
  return `${id}event: ${frame.event}\ndata: ${frame.data}\n\n`;
}

/** A comment frame (ignored by clients); used as a heartbeat. */
export function encodeSseComment(text: string): string {
  return `: ${text.replace(/[\r\n]/g, ' ')}\n\n`;
}

/**
 * Incremental SSE decoder. Feed it text chunks as they arrive; it returns the frames completed
 * by each chunk. Handles `\n`, `\r\n` and `\r` line ends, comments, multi-line `data:` and
 * frames split across chunks.
 */
export class SseDecoder {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private lastId: string | undefined;
  private pendingCR = false;

  /** Decodes a chunk and returns the frames it completed. */
  push(chunk: string): SseFrame[] {
    let text = chunk;
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    const frames: SseFrame[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A trailing lone \r may be the first half of \r\n: wait for more input.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) {
        const line = this.buffer.slice(0, m.index);
        this.buffer = '';
        this.pendingCR = true;
        const f = this.line(line);
        if (f) frames.push(f);
        break;
      }
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const f = this.line(line);
      if (f) frames.push(f);
    }
    return frames;
  }

  private line(line: string): SseFrame | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return undefined;
      }
      const frame: SseFrame = { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId };
      this.event = '';
      this.data = [];
      return frame;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    return undefined;
  }
}
