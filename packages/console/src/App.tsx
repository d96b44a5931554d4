import type { AshClient } from '@ash-ai/sdk';
import { type FormEvent, Suspense, lazy, useEffect, useMemo, useState } from 'react';
import { forgetKey, makeClient, storedKey, storeKey } from './client.js';
import { errorText } from './ui.js';
import { AgentDetail, AgentsView } from './views/Agents.js';
import { OperationsView } from './views/Operations.js';
import { PlaygroundView } from './views/Playground.js';
import { SessionDetail, SessionsView } from './views/Sessions.js';
import { WorkspaceView } from './views/Workspace.js';

// Chart.js is loaded with the Usage view only.
const UsageView = lazy(() => import('./views/Usage.js').then((m) => ({ default: m.UsageView })));

const NAV = [
  ['agents', 'Agents'],
  ['sessions', 'Sessions'],
  ['playground', 'Playground'],
  ['workspace', 'Workspace'],
  ['usage', 'Usage'],
  ['operations', 'Operations'],
] as const;

/** The current hash route as path segments (`#/sessions/abc` → `['sessions', 'abc']`). */
const readRoute = () =>
  window.location.hash
    .replace(/^#\/?/, '')
    .replace(/\?.*$/, '')
    .split('/')
    .filter(Boolean)
    .map(decodeURIComponent);

function useRoute(): string[] {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const on = () => setRoute(readRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

type Theme = 'light' | 'dark';

function useTheme(): [Theme, () => void] {
  const initial = (): Theme =>
    (localStorage.getItem('ash.console.theme') as Theme | null) ??
    (window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  const [theme, setTheme] = useState<Theme>(initial);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  return [
    theme,
    () => {
      const next = theme === 'dark' ? 'light' : 'dark';
      localStorage.setItem('ash.console.theme', next);
      setTheme(next);
    },
  ];
}

function SignIn({ onSignedIn }: { onSignedIn: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await makeClient(key.trim()).agents.list();
      onSignedIn(key.trim());
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <h1>Ash console</h1>
      <form onSubmit={submit} className="card">
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby="api-key-help"
        />
        <p id="api-key-help" className="muted small">
          Kept in this tab's session storage only; every view shows what this key's tenant can see.
        </p>
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error ? (
          <p role="alert" className="error">
            {error}
          </p>
        ) : null}
      </form>
    </main>
  );
}

function View({ client, route }: { client: AshClient; route: string[] }) {
  const [view, id] = route;
  switch (view) {
    case 'sessions':
      return id ? <SessionDetail client={client} id={id} /> : <SessionsView client={client} />;
    case 'playground':
      return <PlaygroundView client={client} sessionId={id} />;
    case 'workspace':
      return <WorkspaceView client={client} sessionId={id} />;
    case 'usage':
      return <UsageView client={client} />;
    case 'operations':
      return <OperationsView client={client} />;
    default:
      return id ? <AgentDetail client={client} name={id} /> : <AgentsView client={client} />;
  }
}

export function App() {
  const [key, setKey] = useState<string | null>(storedKey);
  const [theme, toggleTheme] = useTheme();
  const route = useRoute();
  const client = useMemo(() => (key ? makeClient(key) : undefined), [key]);
  const current = route[0] ?? 'agents';
  useEffect(() => {
    const label = NAV.find(([k]) => k === current)?.[1] ?? 'Agents';
    document.title = client ? `${label} · Ash console` : 'Sign in · Ash console';
  }, [current, client]);

  if (!client)
    return (
      <SignIn
        onSignedIn={(k) => {
          storeKey(k);
          setKey(k);
        }}
      />
    );
  return (
    <div className="shell">
      <button type="button" className="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header className="topbar">
        <span className="brand">Ash console</span>
        <nav aria-label="Main">
          <ul className="nav-list">
            {NAV.map(([k, label]) => (
              <li key={k}>
                <a href={`#/${k}`} aria-current={current === k ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="actions topbar-actions">
          <button
            type="button"
            className="secondary"
            onClick={toggleTheme}
            aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
          >
            {theme === 'dark' ? 'Light' : 'Dark'}
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              forgetKey();
              setKey(null);
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <View client={client} route={route} />
        </Suspense>
      </main>
    </div>
  );
}
