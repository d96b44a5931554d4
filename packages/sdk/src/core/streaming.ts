import { SseDecoder, type StreamEvent } from '@ash-ai/shared';

/**
 * Reads an SSE response body into typed events. Comments (heartbeats) are skipped; frames whose
 * data is not JSON are skipped.
 */
export async function* readSseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamEvent> {
  const decoder = new SseDecoder();
  const text = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const frame of decoder.push(text.decode(value, { stream: true }))) {
        let data: unknown;
        try {
          data = JSON.parse(frame.data);
        } catch {
          continue;
        }
        const id = frame.id !== undefined && /^\d+$/.test(frame.id) ? Number(frame.id) : 0;
        yield { id, event: frame.event, data } as StreamEvent;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
