import type { StreamEvent } from '@ash-ai/sdk';
import { useState } from 'react';
import type { Block, Turn } from './conversation.js';

const TRUNCATE = 2000;

/** Long text cut to {@link TRUNCATE} characters with a "show all" button. */
export function LongText({ text, label }: { text: string; label: string }) {
  const [all, setAll] = useState(false);
  const long = text.length > TRUNCATE;
  return (
    <div>
      {/* A scrollable region must be reachable by keyboard (axe: scrollable-region-focusable). */}
      <section className="code" aria-label={label} tabIndex={0}>
        <pre>{all || !long ? text : `${text.slice(0, TRUNCATE)}…`}</pre>
      </section>
      {long ? (
        <button type="button" className="link" onClick={() => setAll(!all)}>
          {all ? 'show less' : `show all (${text.length.toLocaleString()} characters)`}
        </button>
      ) : null}
    </div>
  );
}

function json(v: unknown): string {
  try {
    return JSON.stringify(v, null, 2) ?? String(v);
  } catch {
    return String(v);
  }
}

function BlockView({ block }: { block: Block }) {
  switch (block.kind) {
    case 'text':
      return <div className="msg-text">{block.text}</div>;
    case 'thinking':
      return (
        <details className="thinking">
          <summary>Thinking</summary>
          <div className="msg-text muted">{block.text}</div>
        </details>
      );
    case 'tool':
      return (
        <details className="tool" data-tool={block.name}>
          <summary>
            Tool call: <strong>{block.name}</strong>{' '}
            {block.result ? (
              block.result.isError ? (
                <span className="badge badge-error">error</span>
              ) : (
                <span className="badge badge-completed">done</span>
              )
            ) : (
              <span className="badge badge-active">running</span>
            )}
          </summary>
          <h4>Input</h4>
          <LongText text={json(block.input)} label={`${block.name} input`} />
          {block.result ? (
            <>
              <h4>Result</h4>
              <LongText text={block.result.content} label={`${block.name} result`} />
            </>
          ) : null}
        </details>
      );
    case 'image':
      return <img className="msg-image" src={block.src} alt={block.alt} />;
    case 'error':
      return (
        <p role="alert" className="error">
          {block.code}: {block.message}
        </p>
      );
  }
}

/** The conversation as the user reads it. */
export function Conversation({ turns, live }: { turns: Turn[]; live: boolean }) {
  if (turns.length === 0) return <p className="muted">No messages yet.</p>;
  return (
    <ol className="conversation" aria-label="Conversation" aria-live="polite" aria-busy={live}>
      {turns.map((t) => (
        <li key={t.turnId} className="turn" data-turn={t.turnId}>
          {t.prompt ? (
            <div className="bubble user">
              <span className="sr-only">You: </span>
              {t.prompt}
            </div>
          ) : null}
          <div className="bubble agent">
            <span className="sr-only">Agent: </span>
            {t.blocks.map((b, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: blocks only ever grow at the end
              <BlockView key={i} block={b} />
            ))}
            {t.outcome ? (
              <p className="muted small">
                Turn {t.outcome}
                {t.costUsd !== undefined ? ` · $${t.costUsd.toFixed(4)}` : ''}
              </p>
            ) : null}
          </div>
        </li>
      ))}
    </ol>
  );
}

/** The raw event timeline: every event once, in id order. */
export function Timeline({ events }: { events: StreamEvent[] }) {
  return (
    <ol className="timeline" aria-label="Event timeline">
      {events.map((e) => (
        <li key={e.id} data-event-id={e.id}>
          <details>
            <summary>
              <span className="mono">#{e.id}</span> {e.event}
            </summary>
            <pre className="code small">{json(e.data)}</pre>
          </details>
        </li>
      ))}
    </ol>
  );
}
