import type { AshClient } from '@ash-ai/sdk';
import { type FormEvent, type KeyboardEvent, useMemo, useRef, useState } from 'react';
import { Conversation, Timeline } from '../Conversation.js';
import { buildTurns } from '../conversation.js';
import { useSessionEvents } from '../session-stream.js';
import { ErrorBox, Section, Status, fileBytes, useLoad } from '../ui.js';

function StartSession({ client }: { client: AshClient }) {
  const agents = useLoad(() => client.agents.list(), [client]);
  const preset = new URLSearchParams(window.location.hash.split('?')[1] ?? '').get('agent') ?? '';
  const [agent, setAgent] = useState(preset);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const start = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const s = await client.sessions.create(agent || agents.data?.[0]?.name || '');
      window.location.hash = `#/playground/${s.id}`;
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <h1>Playground</h1>
      <form className="card form-grid" onSubmit={start} aria-label="Start a session">
        <label htmlFor="pg-agent">Agent</label>
        <select id="pg-agent" value={agent} onChange={(e) => setAgent(e.target.value)} required>
          <option value="" disabled>
            Choose an agent
          </option>
          {(agents.data ?? []).map((a) => (
            <option key={a.id} value={a.name}>
              {a.name}
            </option>
          ))}
        </select>
        <div />
        <button type="submit" disabled={busy || !agent}>
          {busy ? 'Starting…' : 'Start session'}
        </button>
      </form>
      <ErrorBox error={error ?? agents.error} />
    </>
  );
}

function Chat({ client, sessionId }: { client: AshClient; sessionId: string }) {
  const session = useLoad(() => client.sessions.get(sessionId), [client, sessionId]);
  const stream = useSessionEvents(client, sessionId);
  const turns = useMemo(() => buildTurns(stream.events, stream.messages), [stream.events, stream.messages]);
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>();
  const [note, setNote] = useState<string | undefined>();
  const attach = useRef<HTMLInputElement>(null);
  const busy = sending || stream.live;

  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    if (!text.trim() || busy) return;
    setError(undefined);
    setSending(true);
    stream.paused.current = true;
    try {
      let prompt = text;
      const picked = Array.from(attach.current?.files ?? []);
      if (picked.length > 0) {
        const files = await Promise.all(
          picked.map(async (f) => ({ path: `attachments/${f.name}`, content: await fileBytes(f) })),
        );
        await client.sessions.files.upload(sessionId, files);
        prompt += `\n\n(Attached files: ${files.map((f) => f.path).join(', ')})`;
        if (attach.current) attach.current.value = '';
      }
      setText('');
      stream.setLive(true);
      for await (const ev of client.sessions.send(sessionId, prompt)) {
        stream.add([ev]);
        if (ev.event === 'session_start') stream.refreshMessages().catch(() => {});
      }
      await stream.refreshMessages();
      session.reload();
    } catch (err) {
      setError(err);
    } finally {
      stream.setLive(false);
      stream.paused.current = false;
      setSending(false);
    }
  };
  const interrupt = async () => {
    try {
      const done = await client.sessions.interrupt(sessionId);
      setNote(done ? 'Interrupted.' : 'No turn was running.');
    } catch (err) {
      setError(err);
    }
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send();
  };
  return (
    <>
      <p>
        <a href="#/playground">← New session</a>
      </p>
      <h1>Playground</h1>
      {session.data ? (
        <p>
          Session{' '}
          <a href={`#/sessions/${sessionId}`} className="mono">
            {sessionId.slice(0, 8)}
          </a>{' '}
          on agent {session.data.agentName} · <Status value={session.data.status} /> ·{' '}
          <a href={`#/workspace/${sessionId}`}>Workspace</a>
        </p>
      ) : null}
      <ErrorBox error={session.error ?? error ?? stream.error} />
      <div className="split wide-left">
        <Section title="Chat">
          <Conversation turns={turns} live={busy} />
          <form className="composer" onSubmit={send} aria-label="Send a message">
            <label htmlFor="pg-message">Message</label>
            <textarea
              id="pg-message"
              rows={3}
              value={text}
              onChange={(e) => setText(e.target.value)}
              onKeyDown={onKey}
              aria-describedby="pg-help"
            />
            <p id="pg-help" className="muted small">
              Ctrl+Enter sends. Tool calls appear as they happen.
            </p>
            <label htmlFor="pg-attach">Attach files (copied into the workspace under attachments/)</label>
            <input id="pg-attach" ref={attach} type="file" multiple />
            <div className="actions">
              <button type="submit" disabled={busy || !text.trim()}>
                Send
              </button>
              <button type="button" className="danger" onClick={interrupt} disabled={!busy}>
                Interrupt
              </button>
            </div>
            <p role="status" className="muted small">
              {busy ? 'The agent is working…' : (note ?? '')}
            </p>
          </form>
        </Section>
        <Section title="Events">
          <Timeline events={stream.events} />
        </Section>
      </div>
    </>
  );
}

export function PlaygroundView({ client, sessionId }: { client: AshClient; sessionId?: string | undefined }) {
  return sessionId ? <Chat client={client} sessionId={sessionId} /> : <StartSession client={client} />;
}
