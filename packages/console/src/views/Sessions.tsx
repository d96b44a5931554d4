import type { AshClient, SessionStatus } from '@ash-ai/sdk';
import { useMemo, useState } from 'react';
import { Conversation, Timeline } from '../Conversation.js';
import { buildTurns } from '../conversation.js';
import { useSessionEvents } from '../session-stream.js';
import { ErrorBox, Loading, Section, Status, Time, useLoad } from '../ui.js';

const STATUSES: SessionStatus[] = ['starting', 'active', 'paused', 'ended', 'error'];
const SINCE = [
  ['', 'Any time'],
  ['1', 'Last hour'],
  ['24', 'Last 24 hours'],
  ['168', 'Last 7 days'],
] as const;

export function SessionsView({ client }: { client: AshClient }) {
  const [agent, setAgent] = useState('');
  const [status, setStatus] = useState('');
  const [since, setSince] = useState('');
  const agents = useLoad(() => client.agents.list(), [client]);
  const list = useLoad(
    () =>
      client.sessions.list({
        limit: 200,
        ...(agent ? { agent } : {}),
        ...(status ? { status: status as SessionStatus } : {}),
      }),
    [client, agent, status],
  );
  const shown = useMemo(() => {
    const rows = list.data?.sessions ?? [];
    if (!since) return rows;
    const from = Date.now() - Number(since) * 3600_000;
    return rows.filter((s) => new Date(s.lastActiveAt).getTime() >= from);
  }, [list.data, since]);
  return (
    <>
      <h1>Sessions</h1>
      <form className="filters" aria-label="Filter sessions" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="f-agent">Agent</label>
          <select id="f-agent" value={agent} onChange={(e) => setAgent(e.target.value)}>
            <option value="">All agents</option>
            {(agents.data ?? []).map((a) => (
              <option key={a.id} value={a.name}>
                {a.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-status">Status</label>
          <select id="f-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-since">Active</label>
          <select id="f-since" value={since} onChange={(e) => setSince(e.target.value)}>
            {SINCE.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <button type="button" className="secondary" onClick={() => list.reload()}>
          Refresh
        </button>
      </form>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="sessions" /> : null}
      {list.data && shown.length === 0 ? <p className="muted">No sessions match.</p> : null}
      {shown.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Sessions</caption>
            <thead>
              <tr>
                <th scope="col">Session</th>
                <th scope="col">Agent</th>
                <th scope="col">Status</th>
                <th scope="col">Last active</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((s) => (
                <tr key={s.id}>
                  <td>
                    <a href={`#/sessions/${s.id}`} className="mono">
                      {s.id.slice(0, 8)}
                    </a>
                  </td>
                  <td>{s.agentName}</td>
                  <td>
                    <Status value={s.status} />
                  </td>
                  <td>
                    <Time at={s.lastActiveAt} />
                  </td>
                  <td className="row-actions">
                    <a href={`#/playground/${s.id}`}>Chat</a> <a href={`#/workspace/${s.id}`}>Files</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

export function SessionDetail({ client, id }: { client: AshClient; id: string }) {
  const session = useLoad(() => client.sessions.get(id), [client, id]);
  const stream = useSessionEvents(client, id);
  const turns = useMemo(() => buildTurns(stream.events, stream.messages), [stream.events, stream.messages]);
  return (
    <>
      <p>
        <a href="#/sessions">← Sessions</a>
      </p>
      <h1>
        Session <span className="mono">{id.slice(0, 8)}</span>
      </h1>
      <ErrorBox error={session.error ?? stream.error} />
      {session.data ? (
        <p>
          Agent {session.data.agentName} (version {session.data.agentVersion}) ·{' '}
          <Status value={session.data.status} /> · started <Time at={session.data.createdAt} /> ·{' '}
          <a href={`#/playground/${id}`}>Chat</a> · <a href={`#/workspace/${id}`}>Workspace</a>
          {stream.live ? <span className="badge badge-active"> live</span> : null}
        </p>
      ) : session.loading ? (
        <Loading what="session" />
      ) : null}
      <div className="split wide-left">
        <Section title="Conversation">
          <Conversation turns={turns} live={stream.live} />
        </Section>
        <Section title="Events">
          <Timeline events={stream.events} />
        </Section>
      </div>
    </>
  );
}
