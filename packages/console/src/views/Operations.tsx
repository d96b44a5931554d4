import type { AshClient, CreatedApiKeyResponse, QueueItem } from '@ash-ai/sdk';
import { type FormEvent, useState } from 'react';
import { ErrorBox, Loading, Section, Status, Time, useLoad } from '../ui.js';

function HealthPanel({ client }: { client: AshClient }) {
  const health = useLoad(() => client.health(), [client]);
  const h = health.data;
  return (
    <Section
      title="Health"
      actions={
        <button type="button" className="secondary" onClick={() => health.reload()}>
          Refresh
        </button>
      }
    >
      <ErrorBox error={health.error} />
      {h ? (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <Status value={h.status} />
            </dd>
            <dt>Version</dt>
            <dd>{h.version}</dd>
            <dt>Uptime</dt>
            <dd>{Math.round(h.uptime)} s</dd>
            <dt>Server</dt>
            <dd className="mono">{h.coordinatorId}</dd>
            <dt>Active sessions</dt>
            <dd>{h.activeSessions}</dd>
            <dt>Live sandboxes</dt>
            <dd>{h.activeSandboxes}</dd>
          </dl>
          <h3>Sandbox pool</h3>
          <dl className="facts">
            <dt>Capacity</dt>
            <dd>
              {h.pool.live} live of {h.pool.maxCapacity}
            </dd>
            <dt>Running / idle / warm / starting</dt>
            <dd>
              {h.pool.running} / {h.pool.idle} / {h.pool.warm} / {h.pool.starting}
            </dd>
            <dt>Warm hits (pre-warm / resume)</dt>
            <dd>
              {h.pool.preWarmHits} / {h.pool.resumeWarmHits}
            </dd>
            <dt>Cold resumes / evictions</dt>
            <dd>
              {h.pool.resumeColdHits} / {h.pool.evictions}
            </dd>
          </dl>
          <h3>Sandbox</h3>
          <pre className="code small">{JSON.stringify(h.sandbox, null, 2)}</pre>
          {h.warnings.length > 0 ? (
            <ul className="warnings">
              {h.warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          ) : null}
        </>
      ) : health.loading ? (
        <Loading what="health" />
      ) : null}
    </Section>
  );
}

function QueuePanel({ client }: { client: AshClient }) {
  const queue = useLoad(async () => {
    const [list, stats] = await Promise.all([client.queue.list({ limit: 50 }), client.queue.stats()]);
    return { ...list, stats };
  }, [client]);
  const [error, setError] = useState<unknown>();
  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      queue.reload();
    } catch (err) {
      setError(err);
    }
  };
  // Retry = the same work queued again (the API keeps items immutable once finished).
  const retry = (q: QueueItem) =>
    act(() =>
      client.queue.add({
        agentName: q.agentName,
        prompt: q.prompt,
        maxRetries: q.maxRetries,
        priority: q.priority,
        ...(q.sessionId ? { sessionId: q.sessionId } : {}),
        ...(Object.keys(q.options ?? {}).length ? { options: q.options } : {}),
      }),
    );
  return (
    <Section
      title="Queue"
      actions={
        <button type="button" className="secondary" onClick={() => queue.reload()}>
          Refresh
        </button>
      }
    >
      <ErrorBox error={queue.error ?? error} />
      {queue.data ? (
        <>
          <p className="muted">
            {Object.entries(queue.data.stats)
              .map(([k, v]) => `${k}: ${v}`)
              .join(' · ')}
          </p>
          {queue.data.items.length === 0 ? <p className="muted">The queue is empty.</p> : null}
          {queue.data.items.length > 0 ? (
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Queue items</caption>
                <thead>
                  <tr>
                    <th scope="col">Agent</th>
                    <th scope="col">Prompt</th>
                    <th scope="col">Status</th>
                    <th scope="col">Tries</th>
                    <th scope="col">Created</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {queue.data.items.map((q) => (
                    <tr key={q.id}>
                      <td>{q.agentName}</td>
                      <td className="clip">{q.prompt}</td>
                      <td>
                        <Status value={q.status} />
                        {q.error ? <span className="muted small"> {q.error}</span> : null}
                      </td>
                      <td>
                        {q.retryCount}/{q.maxRetries}
                      </td>
                      <td>
                        <Time at={q.createdAt} />
                      </td>
                      <td className="row-actions">
                        {q.status === 'pending' ? (
                          <button
                            type="button"
                            className="link"
                            onClick={() => act(() => client.queue.cancel(q.id))}
                          >
                            Cancel
                          </button>
                        ) : null}
                        {q.status === 'failed' || q.status === 'cancelled' ? (
                          <button type="button" className="link" onClick={() => retry(q)}>
                            Retry
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </>
      ) : queue.loading ? (
        <Loading what="queue" />
      ) : null}
    </Section>
  );
}

function KeysPanel({ client }: { client: AshClient }) {
  const keys = useLoad(() => client.apiKeys.list(), [client]);
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<CreatedApiKeyResponse | undefined>();
  const [confirm, setConfirm] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      setCreated(await client.apiKeys.create(label.trim() ? { label: label.trim() } : {}));
      setLabel('');
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (id: string) => {
    setError(undefined);
    try {
      await client.apiKeys.revoke(id);
      setConfirm(undefined);
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Section title="API keys">
      <form onSubmit={create} className="form-inline" aria-label="Create an API key">
        <label htmlFor="key-label">Label</label>
        <input id="key-label" value={label} maxLength={200} onChange={(e) => setLabel(e.target.value)} />
        <button type="submit">Create key</button>
      </form>
      {created ? (
        <div className="card notice" role="status">
          <p>
            New key <strong>{created.apiKey.label ?? created.apiKey.keyPrefix}</strong>. Copy it now: it is
            shown only once.
          </p>
          <label htmlFor="new-key">New API key</label>
          <input
            id="new-key"
            readOnly
            value={created.key}
            className="mono"
            onFocus={(e) => e.target.select()}
          />
          <button type="button" className="secondary" onClick={() => setCreated(undefined)}>
            I have copied it
          </button>
        </div>
      ) : null}
      <ErrorBox error={keys.error ?? error} />
      {keys.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">API keys of this tenant</caption>
            <thead>
              <tr>
                <th scope="col">Prefix</th>
                <th scope="col">Label</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <td className="mono">{k.keyPrefix}…</td>
                  <td>{k.label ?? '—'}</td>
                  <td>
                    <Time at={k.createdAt} />
                  </td>
                  <td>
                    <Time at={k.lastUsedAt} />
                  </td>
                  <td className="row-actions">
                    {k.id === 'env' ? (
                      <span className="muted small">from ASH_API_KEY</span>
                    ) : confirm === k.id ? (
                      <>
                        <button type="button" className="danger" onClick={() => revoke(k.id)}>
                          Confirm revoke
                        </button>
                        <button type="button" className="secondary" onClick={() => setConfirm(undefined)}>
                          Cancel
                        </button>
                      </>
                    ) : (
                      <button
                        type="button"
                        className="link danger-text"
                        onClick={() => setConfirm(k.id)}
                        aria-label={`Revoke key ${k.label ?? k.keyPrefix}`}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Section>
  );
}

function CredentialsPanel({ client }: { client: AshClient }) {
  const creds = useLoad(() => client.credentials.list(), [client]);
  return (
    <Section title="Credentials">
      <p className="muted small">Stored provider keys. Their values are write-only: no view shows them.</p>
      {(creds.error as { code?: string } | undefined)?.code === 'feature_unavailable' ? (
        <p className="muted">Stored credentials are off on this server (it has no ASH_CREDENTIAL_KEY).</p>
      ) : (
        <ErrorBox error={creds.error} />
      )}
      {creds.data && creds.data.length === 0 ? <p className="muted">No credentials stored.</p> : null}
      {creds.data && creds.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Credentials</caption>
            <thead>
              <tr>
                <th scope="col">Label</th>
                <th scope="col">Type</th>
                <th scope="col">Active</th>
                <th scope="col">Last used</th>
              </tr>
            </thead>
            <tbody>
              {creds.data.map((c) => (
                <tr key={c.id}>
                  <td>{c.label ?? c.id.slice(0, 8)}</td>
                  <td>{c.type}</td>
                  <td>{c.active ? 'yes' : 'no'}</td>
                  <td>
                    <Time at={c.lastUsedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Section>
  );
}

export function OperationsView({ client }: { client: AshClient }) {
  return (
    <>
      <h1>Operations</h1>
      <div className="split">
        <HealthPanel client={client} />
        <div>
          <QueuePanel client={client} />
          <CredentialsPanel client={client} />
        </div>
      </div>
      <KeysPanel client={client} />
    </>
  );
}
