import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/client';
import { chatEvent, SseParser, streamChat, type ChatStreamEvent } from './sse';

const enc = new TextEncoder();

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

const DONE = 'event: done\ndata: {"provider":"openai","model":"gemma","stop_reason":"stop","usage":{"input_tokens":5,"output_tokens":2},"cost_usd":0}\n\n';

describe('SseParser', () => {
  it('parses frames split anywhere', () => {
    const p = new SseParser();
    const text = 'event: delta\ndata: {"text":"Hel"}\n\nevent: delta\r\ndata: {"text":"lo"}\r\n\r\n: comment\n\n' + DONE;
    const frames = [];
    for (let i = 0; i < text.length; i += 3) frames.push(...p.push(text.slice(i, i + 3)));
    expect(frames.map((f) => f.event)).toEqual(['delta', 'delta', 'done']);
    expect(frames[1]?.data).toBe('{"text":"lo"}');
  });
  it('joins multi-line data and defaults the event name', () => {
    expect(new SseParser().push('data: a\ndata: b\n\n')).toEqual([{ event: 'message', data: 'a\nb' }]);
  });
  it('keeps an unfinished frame', () => {
    const p = new SseParser();
    expect(p.push('event: delta\ndata: {"text":"x"}\n')).toEqual([]);
    expect(p.push('\n')).toHaveLength(1);
  });
});

describe('chatEvent', () => {
  it('reads every kind', () => {
    expect(chatEvent({ event: 'delta', data: '{"text":"a"}' })).toEqual({ type: 'delta', text: 'a' });
    expect(chatEvent({ event: 'error', data: '{"error":"boom","code":"remote_failed"}' })).toEqual({ type: 'error', error: 'boom', code: 'remote_failed' });
    expect(chatEvent({ event: 'tool_call', data: '{"id":"1","name":"t","arguments":{}}' })?.type).toBe('tool_call');
    expect(chatEvent({ event: 'ping', data: '{}' })).toBeNull();
  });
  it('turns garbage into an error event', () => {
    expect(chatEvent({ event: 'delta', data: 'not json' })?.type).toBe('error');
    expect(chatEvent({ event: 'delta', data: '{"txt":1}' })?.type).toBe('error');
  });
});

describe('streamChat', () => {
  it('delivers deltas then done', async () => {
    const events: ChatStreamEvent[] = [];
    const fetchImpl = (async (_url: RequestInfo | URL, init?: RequestInit) => {
      expect(JSON.parse(String(init?.body))).toMatchObject({ stream: true, messages: [{ role: 'user', content: 'hi' }] });
      return new Response(streamOf(['event: delta\ndata: {"te', 'xt":"Hi"}\n\n', DONE]), { status: 200, headers: { 'content-type': 'text/event-stream' } });
    }) as typeof fetch;
    await streamChat({ messages: [{ role: 'user', content: 'hi' }] }, new AbortController().signal, (e) => events.push(e), fetchImpl);
    expect(events.map((e) => e.type)).toEqual(['delta', 'done']);
    expect(events[1]?.type === 'done' && events[1].done.usage.output_tokens).toBe(2);
  });
  it('reports a stream cut before its end', async () => {
    const events: ChatStreamEvent[] = [];
    const fetchImpl = (async () => new Response(streamOf(['event: delta\ndata: {"text":"a"}\n\n']), { status: 200 })) as typeof fetch;
    await streamChat({ messages: [{ role: 'user', content: 'x' }] }, new AbortController().signal, (e) => events.push(e), fetchImpl);
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'bad_stream' });
  });
  it('rejects with the master’s error, naming the field', async () => {
    const fetchImpl = (async () => new Response(JSON.stringify({ error: 'unknown model x', code: 'invalid', field: 'model' }), { status: 400 })) as typeof fetch;
    const err = await streamChat({ messages: [{ role: 'user', content: 'x' }], model: 'x' }, new AbortController().signal, () => undefined, fetchImpl).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).field).toBe('model');
    expect((err as ApiError).status).toBe(400);
  });
  it('stops when aborted', async () => {
    const ctl = new AbortController();
    const fetchImpl = (async (_u: RequestInfo | URL, init?: RequestInit) =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(enc.encode('event: delta\ndata: {"text":"a"}\n\n'));
            init?.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
          },
        }),
        { status: 200 },
      )) as typeof fetch;
    const seen: string[] = [];
    const run = streamChat({ messages: [{ role: 'user', content: 'x' }] }, ctl.signal, (e) => {
      seen.push(e.type);
      ctl.abort();
    }, fetchImpl);
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual(['delta']);
  });
});
