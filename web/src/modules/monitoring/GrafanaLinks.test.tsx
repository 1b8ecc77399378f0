// @vitest-environment jsdom
import { act } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, type Rendered } from '../../test/render';
import GrafanaLinks from './GrafanaLinks';

let view: Rendered | null = null;
afterEach(() => {
  view?.unmount();
  view = null;
  vi.unstubAllGlobals();
});

function answer(status: number, body: unknown) {
  const calls: string[] = [];
  vi.stubGlobal('fetch', async (url: string) => {
    calls.push(url);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  });
  return calls;
}

async function settle() {
  for (let i = 0; i < 5; i++) await act(async () => new Promise((r) => setTimeout(r, 0)));
}

describe('Grafana links', () => {
  it('link each dashboard when Grafana is configured', async () => {
    const calls = answer(200, {
      items: [{ uid: 'fleet', title: 'Fleet overview', url: 'http://grafana.local:3000/d/fleet/fleet-overview', tags: [], starred: false }],
    });
    view = await render(<GrafanaLinks />);
    await settle();
    expect(calls[0]).toContain('/api/grafana/dashboards');
    const link = view.container.querySelector<HTMLAnchorElement>('[data-testid="grafana-link"]');
    expect(link?.href).toBe('http://grafana.local:3000/d/fleet/fleet-overview');
    expect(link?.textContent).toContain('Fleet overview');
    expect(link?.rel).toContain('noopener');
  });

  it('are hidden while Grafana is not configured, and when the module is off', async () => {
    answer(503, { error: 'grafana is not configured: set grafana_url and grafana_token', code: 'service_unavailable', request_id: 'r' });
    view = await render(<GrafanaLinks />);
    await settle();
    expect(view.container.innerHTML).toBe('');
    view.unmount();
    answer(404, { error: 'the monitoring module is disabled', code: 'not_found', request_id: 'r' });
    view = await render(<GrafanaLinks />);
    await settle();
    expect(view.container.innerHTML).toBe('');
  });

  it('say so when Grafana is configured but cannot be reached', async () => {
    answer(503, { error: 'grafana is not reachable: connection failed (3 attempts)', code: 'service_unavailable', request_id: 'r' });
    view = await render(<GrafanaLinks />);
    await settle();
    expect(view.container.querySelector('[data-testid="grafana-error"]')?.textContent).toContain('grafana is not reachable');
  });
});
