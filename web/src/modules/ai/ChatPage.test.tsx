// @vitest-environment jsdom
import { act } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { render } from '../../test/render';
import ChatPage from './ChatPage';

const enc = new TextEncoder();

afterEach(() => vi.unstubAllGlobals());

function sse(frames: string[]): Response {
  return new Response(
    new ReadableStream({
      start(c) {
        for (const f of frames) c.enqueue(enc.encode(f));
        c.close();
      },
    }),
    { status: 200, headers: { 'content-type': 'text/event-stream' } },
  );
}

async function type(el: HTMLTextAreaElement | HTMLInputElement, value: string) {
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value')?.set;
  await act(async () => {
    setter?.call(el, value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

describe('ChatPage', () => {
  it('shows the deltas, then the provider, model and usage', async () => {
    const fetchMock = vi.fn(async (url: RequestInfo | URL, _init?: RequestInit) => {
      if (String(url).startsWith('/api/ai/models')) return new Response(JSON.stringify({ items: [{ id: 'm', provider: 'openai' }], total: 1, limit: 500, offset: 0 }), { status: 200 });
      return sse([
        'event: delta\ndata: {"text":"Hel"}\n\n',
        'event: delta\ndata: {"text":"lo"}\n\n',
        'event: done\ndata: {"provider":"openai","model":"m","stop_reason":"stop","usage":{"input_tokens":3,"output_tokens":2},"cost_usd":0}\n\n',
      ]);
    });
    vi.stubGlobal('fetch', fetchMock);
    const r = await render(<ChatPage />);
    await type(r.container.querySelector('[data-testid="chat-max-tokens"]') as HTMLInputElement, '16');
    await type(r.container.querySelector('[data-testid="chat-input"]') as HTMLTextAreaElement, 'hi');
    await act(async () => {
      (r.container.querySelector('[data-testid="chat-send"]') as HTMLButtonElement).click();
    });
    await vi.waitFor(() => expect(r.container.querySelector('[data-testid="chat-done"]')).not.toBeNull());
    expect(r.container.querySelector('[data-testid="chat-assistant"] .chat-content')?.textContent).toBe('Hello');
    expect(r.container.querySelector('[data-testid="chat-done"]')?.textContent).toMatch(/3 in \/ 2 out tokens/);
    const body = JSON.parse(String(fetchMock.mock.calls.find((c) => String(c[0]) === '/api/ai/chat')?.[1]?.body));
    expect(body).toMatchObject({ max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    r.unmount();
  });
});
