// Reading `POST /api/ai/chat` with `stream: true`: a `text/event-stream` of `delta` ({text}),
// `tool_call` ({id, name, arguments}) and a last `done` (provider, model, stop reason, usage,
// cost) or `error` ({error, code}). EventSource cannot POST, so the body is read with fetch and
// a stream reader; aborting the fetch (Stop) closes the connection, which stops the generation
// on the master.

import { api, ApiError } from '../../api/client';
import type { components } from '../../api/schema';

type Schemas = components['schemas'];
export type ChatBody = Schemas['AiChatBody'];
/** The `done` event: the answer's provider, model, stop reason, usage and cost (the document names
 * its schema in prose only; it is the whole answer less its content). */
export type ChatDone = Omit<Schemas['AiChatAnswer'], 'content' | 'tool_calls'>;
export type ToolCall = Schemas['AiToolCall'];

export type ChatStreamEvent =
  | { type: 'delta'; text: string }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'done'; done: ChatDone }
  | { type: 'error'; error: string; code: string };

export interface SseFrame {
  event: string;
  data: string;
}

/**
 * An incremental SSE parser: feed it text as it arrives, it returns the frames completed so far
 * and keeps the rest (a frame may be split anywhere, even inside a `\r\n`).
 */
export class SseParser {
  private buf = '';

  push(chunk: string): SseFrame[] {
    this.buf += chunk;
    const out: SseFrame[] = [];
    for (;;) {
      const m = /\r\n\r\n|\n\n|\r\r/.exec(this.buf);
      if (!m) break;
      const block = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const frame = parseBlock(block);
      if (frame) out.push(frame);
    }
    return out;
  }
}

function parseBlock(block: string): SseFrame | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length ? { event, data: data.join('\n') } : null;
}

/** A frame as a chat event; a frame that cannot be read is an `error` event saying so. */
export function chatEvent(frame: SseFrame): ChatStreamEvent | null {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(frame.data) as Record<string, unknown>;
  } catch {
    return { type: 'error', error: `unreadable ${frame.event} event from the master`, code: 'bad_stream' };
  }
  switch (frame.event) {
    case 'delta':
      return typeof data.text === 'string' ? { type: 'delta', text: data.text } : { type: 'error', error: 'a delta without text', code: 'bad_stream' };
    case 'tool_call':
      return { type: 'tool_call', call: data as unknown as ToolCall };
    case 'done':
      return { type: 'done', done: data as unknown as ChatDone };
    case 'error':
      return { type: 'error', error: typeof data.error === 'string' ? data.error : 'the stream failed', code: typeof data.code === 'string' ? data.code : 'error' };
    default:
      return null;
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return new ApiError(
    res.status,
    typeof body.error === 'string' ? body.error : `request failed (${res.status})`,
    typeof body.code === 'string' ? body.code : `http_${res.status}`,
    typeof body.request_id === 'string' ? body.request_id : res.headers.get('x-request-id'),
    null,
    typeof body.field === 'string' ? body.field : null,
  );
}

/**
 * Streams a chat answer, calling `onEvent` for every event as it arrives. Resolves when the
 * stream ends (`done` or `error` seen, or the master closed it); rejects with an ApiError when
 * the master refused the request, or with the AbortError when `signal` aborted it.
 */
export async function streamChat(body: Omit<ChatBody, 'stream'>, signal: AbortSignal, onEvent: (e: ChatStreamEvent) => void, fetchImpl: typeof fetch = (i, o) => globalThis.fetch(i, o)): Promise<void> {
  const send = () =>
    fetchImpl('/api/ai/chat', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
  let res = await send();
  if (res.status === 401 && (await api.refresh())) res = await send();
  if (!res.ok) throw await errorOf(res);
  if (!res.body) throw new ApiError(0, 'the browser gave no response stream', 'bad_stream');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  let ended = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const frame of parser.push(value)) {
      const ev = chatEvent(frame);
      if (!ev) continue;
      onEvent(ev);
      if (ev.type === 'done' || ev.type === 'error') ended = true;
    }
  }
  if (!ended) onEvent({ type: 'error', error: 'the stream ended before its last event', code: 'bad_stream' });
}
