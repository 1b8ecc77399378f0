// Chat with the configured models: the answer streams in as it is generated (deltas of the SSE
// stream of POST /api/ai/chat), then the provider and model the router chose and the usage are
// shown from the last event. Stop aborts the request, which stops the generation on the master.

import { useEffect, useRef, useState } from 'react';
import { errorMessage, isApiError } from '../../api/client';
import { Icon } from '../../components/Icon';
import { Badge, EmptyState, PageHeader } from '../../components/ui';
import { useModels } from './api';
import { formatUsd, maxTokensOf } from './ai';
import { streamChat, type ChatDone, type ToolCall } from './sse';
import './ai.css';

interface Turn {
  role: 'user' | 'assistant';
  content: string;
  done?: ChatDone;
  toolCalls?: ToolCall[];
  error?: string;
  stopped?: boolean;
}

export default function ChatPage() {
  const models = useModels();
  const [model, setModel] = useState('');
  const [maxTokens, setMaxTokens] = useState('');
  const [prompt, setPrompt] = useState('');
  const [turns, setTurns] = useState<Turn[]>([]);
  const [error, setError] = useState<{ message: string; field: string | null } | null>(null);
  const [streaming, setStreaming] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const end = useRef<HTMLDivElement>(null);

  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => {
    // Not an arrow's value: Chromium's scrollIntoView answers a promise, which React would take
    // for the effect's clean-up.
    end.current?.scrollIntoView?.({ block: 'end' });
  }, [turns]);

  const patchLast = (f: (t: Turn) => Turn) => setTurns((ts) => [...ts.slice(0, -1), f(ts[ts.length - 1] as Turn)]);

  const send = async () => {
    const text = prompt.trim();
    if (!text || streaming) return;
    const limit = maxTokensOf(maxTokens);
    if (limit === null) {
      setError({ message: 'a whole number from 1 to 32768, or empty for the model’s default', field: 'max_tokens' });
      return;
    }
    setError(null);
    const history = [...turns.filter((t) => !t.error || t.content), { role: 'user' as const, content: text }];
    setTurns([...history, { role: 'assistant', content: '' }]);
    setPrompt('');
    const ctl = new AbortController();
    abort.current = ctl;
    setStreaming(true);
    try {
      await streamChat({ messages: history.map((t) => ({ role: t.role, content: t.content })), model: model || undefined, max_tokens: limit || undefined }, ctl.signal, (ev) => {
        if (ev.type === 'delta') patchLast((t) => ({ ...t, content: t.content + ev.text }));
        else if (ev.type === 'tool_call') patchLast((t) => ({ ...t, toolCalls: [...(t.toolCalls ?? []), ev.call] }));
        else if (ev.type === 'done') patchLast((t) => ({ ...t, done: ev.done }));
        else patchLast((t) => ({ ...t, error: ev.error }));
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') patchLast((t) => ({ ...t, stopped: true }));
      else {
        // Refused before any answer: take the question back into the box.
        setTurns(history.slice(0, -1));
        setPrompt(text);
        setError({ message: errorMessage(e), field: isApiError(e) ? e.field : null });
      }
    } finally {
      abort.current = null;
      setStreaming(false);
    }
  };

  return (
    <div className="page chat-page" data-testid="page-ai-chat">
      <PageHeader
        title="AI chat"
        description="Ask the configured models; the router picks a provider unless you choose a model."
        actions={
          turns.length > 0 && !streaming ? (
            <button type="button" className="btn" onClick={() => setTurns([])} data-testid="chat-clear">
              New conversation
            </button>
          ) : null
        }
      />
      <div className="chat-log" data-testid="chat-log" aria-live="polite">
        {turns.length === 0 ? <EmptyState icon="send" title="No messages yet" /> : null}
        {turns.map((t, i) => (
          <div key={i} className={`chat-turn chat-${t.role}`} data-testid={`chat-${t.role}`}>
            <div className="chat-content">{t.content || (t.role === 'assistant' && streaming && i === turns.length - 1 ? '…' : '')}</div>
            {t.toolCalls?.map((c) => (
              <pre key={c.id} className="chat-tool-call">
                {c.name}({JSON.stringify(c.arguments)})
              </pre>
            ))}
            {t.done ? (
              <div className="chat-meta muted small" data-testid="chat-done">
                <Badge tone="info">{t.done.provider}</Badge> <code>{t.done.model}</code> · {t.done.usage.input_tokens} in / {t.done.usage.output_tokens} out tokens
                {t.done.usage.estimated ? ' (estimated)' : ''} · {formatUsd(t.done.cost_usd)} · {t.done.stop_reason}
              </div>
            ) : null}
            {t.stopped ? (
              <div className="chat-meta muted small" data-testid="chat-stopped">
                Stopped.
              </div>
            ) : null}
            {t.error ? (
              <p className="form-error" role="alert">
                {t.error}
              </p>
            ) : null}
          </div>
        ))}
        <div ref={end} />
      </div>
      <form
        className="chat-form"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        {error ? (
          <p className="form-error" role="alert" data-testid="chat-error">
            {error.field ? `${error.field}: ` : ''}
            {error.message}
          </p>
        ) : null}
        <div className="chat-controls">
          <label className="sr-only" htmlFor="chat-model">
            Model
          </label>
          <select id="chat-model" value={model} onChange={(e) => setModel(e.target.value)} disabled={streaming} data-testid="chat-model" aria-invalid={error?.field === 'model' ? true : undefined}>
            <option value="">Router chooses</option>
            {(models.data?.items ?? []).map((m) => (
              <option key={`${m.provider}/${m.id}`} value={`${m.provider}/${m.id}`}>
                {m.provider}/{m.id}
              </option>
            ))}
          </select>
          <input
            aria-label="Max tokens"
            className="chat-max-tokens"
            inputMode="numeric"
            placeholder="max tokens"
            value={maxTokens}
            onChange={(e) => setMaxTokens(e.target.value)}
            disabled={streaming}
            aria-invalid={error?.field === 'max_tokens' ? true : undefined}
            data-testid="chat-max-tokens"
          />
          <textarea
            aria-label="Message"
            rows={3}
            value={prompt}
            placeholder="Ask something… (Enter sends, Shift+Enter for a new line)"
            onChange={(e) => setPrompt(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                void send();
              }
            }}
            data-testid="chat-input"
          />
          {streaming ? (
            <button type="button" className="btn btn-danger" onClick={() => abort.current?.abort()} data-testid="chat-stop">
              <Icon name="stop" size={16} /> Stop
            </button>
          ) : (
            <button type="submit" className="btn btn-primary" disabled={!prompt.trim()} data-testid="chat-send">
              <Icon name="send" size={16} /> Send
            </button>
          )}
        </div>
      </form>
    </div>
  );
}
