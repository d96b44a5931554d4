import type { AshClient, FileEntry } from '@ash-ai/sdk';
import { type FormEvent, useRef, useState } from 'react';
import { readPickedFolder, readZip } from '../files.js';
import { Markdown } from '../markdown.js';
import { ErrorBox, Loading, Section, Time, errorText, formatBytes, useLoad } from '../ui.js';

function DeployForm({ client, onDeployed }: { client: AshClient; onDeployed: (name: string) => void }) {
  const [name, setName] = useState('');
  const [status, setStatus] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const folder = useRef<HTMLInputElement>(null);
  const zip = useRef<HTMLInputElement>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const picked = folder.current?.files;
      const archive = zip.current?.files?.[0];
      const files = archive ? await readZip(archive) : picked?.length ? await readPickedFolder(picked) : [];
      if (files.length === 0) throw new Error('choose a folder or a zip file to deploy');
      setStatus(`Deploying ${files.length} files…`);
      const agent = await client.agents.deploy({ name: name.trim(), files });
      setStatus(`Deployed ${agent.name} version ${agent.version}.`);
      onDeployed(agent.name);
    } catch (err) {
      setStatus(undefined);
      setError(errorText(err));
    }
  };
  return (
    <form className="card form-grid" onSubmit={submit} aria-label="Deploy an agent">
      <label htmlFor="deploy-name">Agent name</label>
      <input
        id="deploy-name"
        required
        pattern="[a-zA-Z0-9][a-zA-Z0-9._\-]*"
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <label htmlFor="deploy-folder">Folder</label>
      <input
        id="deploy-folder"
        ref={folder}
        type="file"
        multiple
        {...({ webkitdirectory: '' } as Record<string, string>)}
      />
      <label htmlFor="deploy-zip">or a zip file</label>
      <input id="deploy-zip" ref={zip} type="file" accept=".zip,application/zip" />
      <div />
      <button type="submit">Deploy</button>
      {status ? (
        <p className="ok full" role="status">
          {status}
        </p>
      ) : null}
      {error ? (
        <p className="error full" role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}

export function AgentsView({ client }: { client: AshClient }) {
  const list = useLoad(() => client.agents.list(), [client]);
  return (
    <>
      <h1>Agents</h1>
      <Section title="Deploy">
        <DeployForm client={client} onDeployed={() => list.reload()} />
      </Section>
      <Section title="Deployed agents">
        <ErrorBox error={list.error} />
        {list.loading && !list.data ? <Loading what="agents" /> : null}
        {list.data && list.data.length === 0 ? <p className="muted">No agents yet.</p> : null}
        {list.data && list.data.length > 0 ? (
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Agents of this tenant</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Version</th>
                  <th scope="col">Files</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <a href={`#/agents/${encodeURIComponent(a.name)}`}>{a.name}</a>
                    </td>
                    <td>{a.version}</td>
                    <td>
                      {a.fileCount} · {formatBytes(a.sizeBytes)}
                    </td>
                    <td>
                      <Time at={a.updatedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Section>
    </>
  );
}

/** Paths as a nested list (folders first). */
function FileTree({ files }: { files: FileEntry[] }) {
  type Node = { name: string; children: Map<string, Node>; file?: FileEntry };
  const root: Node = { name: '', children: new Map() };
  for (const f of files) {
    let n = root;
    for (const part of f.path.split('/')) {
      if (!n.children.has(part)) n.children.set(part, { name: part, children: new Map() });
      n = n.children.get(part)!;
    }
    n.file = f;
  }
  const render = (n: Node) => (
    <ul>
      {[...n.children.values()]
        .sort((a, b) => Number(!!a.file) - Number(!!b.file) || a.name.localeCompare(b.name))
        .map((c) => (
          <li key={c.name}>
            {c.file ? (
              <span>
                {c.name} <span className="muted small">{formatBytes(c.file.size)}</span>
              </span>
            ) : (
              <>
                <span className="folder">{c.name}/</span>
                {render(c)}
              </>
            )}
          </li>
        ))}
    </ul>
  );
  return <div className="tree">{render(root)}</div>;
}

export function AgentDetail({ client, name }: { client: AshClient; name: string }) {
  const agent = useLoad(() => client.agents.get(name), [client, name]);
  const files = useLoad(() => client.agents.files.list(name), [client, name]);
  const claude = useLoad(
    () =>
      client.agents.files.readJson(name, 'CLAUDE.md').then((f) => (f.encoding === 'utf8' ? f.content : '')),
    [client, name],
  );
  const settings = useLoad(
    () =>
      client.agents.files
        .readJson(name, '.claude/settings.json')
        .then((f) => (f.encoding === 'utf8' ? f.content : ''))
        .catch(() => ''),
    [client, name],
  );
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>();
  const remove = async () => {
    try {
      await client.agents.delete(name);
      window.location.hash = '#/agents';
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <p>
        <a href="#/agents">← Agents</a>
      </p>
      <h1>Agent {name}</h1>
      <ErrorBox error={agent.error ?? error} />
      {agent.data ? (
        <Section
          title="Overview"
          actions={
            <>
              <a className="button" href={`#/playground?agent=${encodeURIComponent(name)}`}>
                Open in playground
              </a>
              {confirming ? (
                <>
                  <button type="button" className="danger" onClick={remove}>
                    Confirm delete
                  </button>
                  <button type="button" className="secondary" onClick={() => setConfirming(false)}>
                    Cancel
                  </button>
                </>
              ) : (
                <button type="button" className="danger" onClick={() => setConfirming(true)}>
                  Delete agent
                </button>
              )}
            </>
          }
        >
          <dl className="facts">
            <dt>Version</dt>
            <dd>{agent.data.version} (each deploy or file change publishes a new version)</dd>
            <dt>Description</dt>
            <dd>{agent.data.description ?? '—'}</dd>
            <dt>Files</dt>
            <dd>
              {agent.data.fileCount} · {formatBytes(agent.data.sizeBytes)}
            </dd>
            <dt>Created</dt>
            <dd>
              <Time at={agent.data.createdAt} />
            </dd>
            <dt>Updated</dt>
            <dd>
              <Time at={agent.data.updatedAt} />
            </dd>
            <dt>Environment</dt>
            <dd>{Object.keys(agent.data.env).join(', ') || '—'}</dd>
          </dl>
          <h3>Configuration</h3>
          <pre className="code">{JSON.stringify(agent.data.config, null, 2)}</pre>
        </Section>
      ) : agent.loading ? (
        <Loading what="agent" />
      ) : null}
      <div className="split">
        <Section title="Files">
          <ErrorBox error={files.error} />
          {files.data ? <FileTree files={files.data.files} /> : null}
        </Section>
        <Section title="CLAUDE.md">
          {claude.data !== undefined ? <Markdown source={claude.data} /> : <ErrorBox error={claude.error} />}
        </Section>
      </div>
      <Section title="Settings (.claude/settings.json)">
        {settings.data ? (
          <pre className="code">{settings.data}</pre>
        ) : (
          <p className="muted">No settings file.</p>
        )}
      </Section>
    </>
  );
}
