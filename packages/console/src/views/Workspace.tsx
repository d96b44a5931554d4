import type { AshClient } from '@ash-ai/sdk';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import {
  ErrorBox,
  Loading,
  Section,
  Status,
  Time,
  fileBytes,
  formatBytes,
  saveBytes,
  useLoad,
} from '../ui.js';

const IMAGE = /\.(png|jpe?g|gif|webp|svg)$/i;
const MIME: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
};

function PickSession({ client }: { client: AshClient }) {
  const list = useLoad(async () => {
    const [a, p] = await Promise.all([
      client.sessions.list({ status: 'active', limit: 100 }),
      client.sessions.list({ status: 'paused', limit: 100 }),
    ]);
    return [...a.sessions, ...p.sessions];
  }, [client]);
  return (
    <>
      <h1>Workspace</h1>
      <p>Choose a running or paused session to browse its files.</p>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="sessions" /> : null}
      {list.data && list.data.length === 0 ? <p className="muted">No running or paused sessions.</p> : null}
      <ul className="plain">
        {(list.data ?? []).map((s) => (
          <li key={s.id}>
            <a href={`#/workspace/${s.id}`} className="mono">
              {s.id.slice(0, 8)}
            </a>{' '}
            {s.agentName} <Status value={s.status} />
          </li>
        ))}
      </ul>
    </>
  );
}

type Preview = { path: string; text?: string; image?: string };

function Files({ client, sessionId }: { client: AshClient; sessionId: string }) {
  const files = useLoad(
    () => client.sessions.files.list(sessionId, { includeHidden: false }),
    [client, sessionId],
  );
  const [preview, setPreview] = useState<Preview | undefined>();
  const [error, setError] = useState<unknown>();
  const [note, setNote] = useState<string | undefined>();
  const upload = useRef<HTMLInputElement>(null);
  useEffect(() => () => (preview?.image ? URL.revokeObjectURL(preview.image) : undefined), [preview]);

  const view = async (path: string) => {
    setError(undefined);
    try {
      const bytes = await client.sessions.files.read(sessionId, path);
      if (IMAGE.test(path)) {
        const ext = path.split('.').pop()!.toLowerCase();
        setPreview({ path, image: URL.createObjectURL(new Blob([bytes as BlobPart], { type: MIME[ext] })) });
      } else {
        setPreview({
          path,
          text: new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 512 * 1024)),
        });
      }
    } catch (err) {
      setError(err);
    }
  };
  const download = async (path: string) => {
    try {
      saveBytes(await client.sessions.files.read(sessionId, path), path.split('/').pop() ?? 'file');
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (path: string) => {
    try {
      await client.sessions.files.delete(sessionId, path);
      setNote(`Deleted ${path}.`);
      if (preview?.path === path) setPreview(undefined);
      files.reload();
    } catch (err) {
      setError(err);
    }
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const picked = Array.from(upload.current?.files ?? []);
    if (picked.length === 0) return;
    try {
      await client.sessions.files.upload(
        sessionId,
        await Promise.all(picked.map(async (f) => ({ path: f.name, content: await fileBytes(f) }))),
      );
      setNote(`Uploaded ${picked.length} file(s).`);
      if (upload.current) upload.current.value = '';
      files.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <p>
        <a href="#/workspace">← Sessions</a>
      </p>
      <h1>
        Workspace of <span className="mono">{sessionId.slice(0, 8)}</span>
      </h1>
      <ErrorBox error={files.error ?? error} />
      <p role="status" className="ok">
        {note ?? ''}
      </p>
      <div className="split">
        <Section
          title="Files"
          actions={
            <>
              <button type="button" className="secondary" onClick={() => files.reload()}>
                Refresh
              </button>
              <button
                type="button"
                className="secondary"
                onClick={async () => {
                  try {
                    saveBytes(
                      await client.sessions.workspace.download(sessionId),
                      `workspace-${sessionId.slice(0, 8)}.tar.gz`,
                    );
                  } catch (err) {
                    setError(err);
                  }
                }}
              >
                Download all (.tar.gz)
              </button>
            </>
          }
        >
          {files.data ? (
            <p className="muted small">
              Read from the {files.data.source} workspace{files.data.truncated ? ' (listing truncated)' : ''}.
            </p>
          ) : null}
          {files.data && files.data.files.length === 0 ? (
            <p className="muted">The workspace is empty.</p>
          ) : null}
          {files.data && files.data.files.length > 0 ? (
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Workspace files</caption>
                <thead>
                  <tr>
                    <th scope="col">Path</th>
                    <th scope="col">Size</th>
                    <th scope="col">Modified</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {files.data.files.map((f) => (
                    <tr key={f.path} data-path={f.path}>
                      <td className="mono">{f.path}</td>
                      <td>{formatBytes(f.size)}</td>
                      <td>
                        <Time at={f.modifiedAt} />
                      </td>
                      <td className="row-actions">
                        {f.type === 'file' ? (
                          <>
                            <button
                              type="button"
                              className="link"
                              onClick={() => view(f.path)}
                              aria-label={`View ${f.path}`}
                            >
                              View
                            </button>
                            <button
                              type="button"
                              className="link"
                              onClick={() => download(f.path)}
                              aria-label={`Download ${f.path}`}
                            >
                              Download
                            </button>
                          </>
                        ) : (
                          <span className="muted">link</span>
                        )}
                        <button
                          type="button"
                          className="link danger-text"
                          onClick={() => remove(f.path)}
                          aria-label={`Delete ${f.path}`}
                        >
                          Delete
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          <form onSubmit={submit} className="form-inline" aria-label="Upload to the workspace">
            <label htmlFor="ws-upload">Upload files</label>
            <input id="ws-upload" ref={upload} type="file" multiple />
            <button type="submit">Upload</button>
          </form>
        </Section>
        <Section title={preview ? `Preview: ${preview.path}` : 'Preview'}>
          {!preview ? <p className="muted">Choose View on a file.</p> : null}
          {preview?.text !== undefined ? (
            <section className="code" tabIndex={0} aria-label={`Contents of ${preview.path}`}>
              <pre>{preview.text}</pre>
            </section>
          ) : null}
          {preview?.image ? <img className="preview" src={preview.image} alt={preview.path} /> : null}
        </Section>
      </div>
    </>
  );
}

export function WorkspaceView({ client, sessionId }: { client: AshClient; sessionId?: string | undefined }) {
  return sessionId ? <Files client={client} sessionId={sessionId} /> : <PickSession client={client} />;
}
