import type { AshClient, Message, StreamEvent } from '@ash-ai/sdk';
import { useCallback, useEffect, useRef, useState } from 'react';
import { mergeEvents } from './conversation.js';

/**
 * Follows a session: its whole event history, then live turns through the SSE stream
 * (`GET /api/sessions/:id/stream` with `Last-Event-ID`, which the SDK also uses to rejoin a
 * dropped connection). Between turns it looks for new events every `idleMs`. Every event is
 * kept once (by id), whichever connection delivered it.
 */
export function useSessionEvents(client: AshClient, sessionId: string | undefined, idleMs = 1500) {
  const [events, setEvents] = useState<StreamEvent[]>([]);
  const [messages, setMessages] = useState<Message[]>([]);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const lastId = useRef(0);
  const paused = useRef(false);

  const add = useCallback((incoming: StreamEvent[]) => {
    for (const e of incoming) if (e.id > lastId.current) lastId.current = e.id;
    setEvents((known) => mergeEvents(known, incoming));
  }, []);

  const refreshMessages = useCallback(async () => {
    if (!sessionId) return;
    const all: Message[] = [];
    let after = 0;
    for (let i = 0; i < 20; i++) {
      const page = await client.sessions.messages(sessionId, { after, limit: 500 });
      all.push(...page.items);
      if (!page.hasMore || page.items.length === 0) break;
      after = page.items[page.items.length - 1]!.sequence;
    }
    setMessages(all);
  }, [client, sessionId]);

  useEffect(() => {
    if (!sessionId) return;
    setEvents([]);
    setMessages([]);
    lastId.current = 0;
    const ctl = new AbortController();
    let stop = false;
    (async () => {
      await refreshMessages().catch(setError);
      while (!stop) {
        if (!paused.current) {
          try {
            let sawTurn = false;
            for await (const ev of client.sessions.stream(sessionId, {
              after: lastId.current,
              signal: ctl.signal,
            })) {
              if (ev.event === 'session_start') {
                sawTurn = true;
                setLive(true);
                refreshMessages().catch(() => {});
              }
              add([ev]);
              if (ev.event === 'done') setLive(false);
            }
            if (sawTurn) await refreshMessages();
            setError(undefined);
          } catch (err) {
            if (ctl.signal.aborted) return;
            setError(err);
          }
        }
        setLive(false);
        await new Promise((r) => setTimeout(r, idleMs));
      }
    })();
    return () => {
      stop = true;
      ctl.abort();
    };
  }, [client, sessionId, idleMs, add, refreshMessages]);

  return { events, messages, live, error, add, setLive, paused, refreshMessages };
}
