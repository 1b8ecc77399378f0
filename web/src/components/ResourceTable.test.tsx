// @vitest-environment jsdom
import { useQuery } from '@tanstack/react-query';
import { act } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LiveEvent } from '../api/types';
import { LiveClient } from '../live/events';
import { LiveContext } from '../live/LiveProvider';
import { click, render, type, type Rendered } from '../test/render';
import { ResourceTable, useTableParams, type Column, type ListData, type ListQuery, type RowAction } from './ResourceTable';

interface Vol {
  name: string;
  size: number;
}

const columns: Column<Vol>[] = [
  { key: 'name', header: 'Name', cell: (v) => v.name, sortValue: (v) => v.name },
  { key: 'size', header: 'Size', cell: (v) => String(v.size), sortValue: (v) => v.size },
];

function q(data: ListData<Vol> | undefined, extra: Partial<ListQuery<Vol>> = {}): ListQuery<Vol> {
  return { data, isPending: !data, isError: false, error: null, refetch: () => undefined, ...extra };
}

const removed: string[] = [];
const actions: RowAction<Vol>[] = [
  { label: (v) => `Inspect ${v.name}`, icon: 'eye', role: 'viewer', onClick: () => undefined, testId: 'inspect' },
  { label: (v) => `Remove ${v.name}`, icon: 'trash', danger: true, onClick: (v) => removed.push(v.name), testId: 'remove' },
];

function Table({ query, onParams }: { query: ListQuery<Vol>; onParams?: (p: unknown) => void }) {
  const state = useTableParams(['state']);
  onParams?.(state.params);
  return (
    <ResourceTable
      query={query}
      state={state}
      columns={columns}
      rowKey={(v) => v.name}
      rowProps={(v) => ({ 'data-testid': 'row', 'data-name': v.name })}
      actions={actions}
      filter={{ label: 'Filter volumes', text: (v) => v.name }}
      chips={[{ param: 'state', value: 'unused', label: 'Unused' }]}
      empty={{ title: 'No volumes yet' }}
      noun="volumes"
      testId="vols"
    />
  );
}

const names = (r: Rendered) => [...r.container.querySelectorAll('[data-testid="row"]')].map((e) => e.getAttribute('data-name'));
const vols = (n: number): Vol[] => Array.from({ length: n }, (_, i) => ({ name: `vol-${String(i).padStart(3, '0')}`, size: (i * 7) % 5 }));

let r: Rendered | null = null;
afterEach(() => {
  r?.unmount();
  r = null;
  removed.length = 0;
});

describe('ResourceTable', () => {
  it('shows loading, error and empty states', async () => {
    r = await render(<Table query={q(undefined)} />);
    expect(r.container.querySelector('[data-testid="loading"]')).not.toBeNull();

    const refetch = vi.fn();
    await r.rerender(<Table query={q(undefined, { isPending: false, isError: true, error: new Error('engine down'), refetch })} />);
    expect(r.container.querySelector('[data-testid="error-state"]')?.textContent).toContain('engine down');
    await click(r.container.querySelector('[data-testid="error-state"] button'));
    expect(refetch).toHaveBeenCalledOnce();

    await r.rerender(<Table query={q({ items: [], total: 0, limit: 50, offset: 0 })} />);
    expect(r.container.querySelector('[data-testid="vols-empty"]')?.textContent).toContain('No volumes yet');
  });

  it('sorts by a column header, ascending then descending, in the URL', async () => {
    const data = { items: [{ name: 'b', size: 2 }, { name: 'a', size: 3 }, { name: 'c', size: 1 }] };
    r = await render(<Table query={q(data)} />);
    expect(names(r)).toEqual(['b', 'a', 'c']);
    await click(r.container.querySelector('[data-testid="sort-size"]'));
    expect(names(r)).toEqual(['c', 'b', 'a']);
    expect(r.location()).toBe('/?sort=size');
    expect(r.container.querySelector('th[aria-sort]')?.getAttribute('aria-sort')).toBe('ascending');
    await click(r.container.querySelector('[data-testid="sort-size"]'));
    expect(names(r)).toEqual(['a', 'b', 'c']);
    expect(r.location()).toBe('/?sort=-size');
    await click(r.container.querySelector('[data-testid="sort-size"]'));
    expect(names(r)).toEqual(['b', 'a', 'c']);
  });

  it('filters with the filter box and says when nothing matches', async () => {
    r = await render(<Table query={q({ items: [{ name: 'web-data', size: 1 }, { name: 'db-data', size: 2 }] })} />);
    await type(r.container.querySelector('input[aria-label="Filter volumes"]'), 'web');
    expect(names(r)).toEqual(['web-data']);
    expect(r.location()).toBe('/?q=web');
    await type(r.container.querySelector('input[aria-label="Filter volumes"]'), 'nope');
    expect(r.container.querySelector('[data-testid="vols-empty"]')?.textContent).toContain('Nothing matches');
  });

  it('toggles a filter chip as a URL parameter', async () => {
    r = await render(<Table query={q({ items: vols(2) })} />);
    await click(r.container.querySelector('[data-testid="chip-state-unused"]'));
    expect(r.location()).toBe('/?state=unused');
    expect(r.container.querySelector('[data-testid="chip-state-unused"]')?.getAttribute('aria-pressed')).toBe('true');
    await click(r.container.querySelector('[data-testid="chip-state-unused"]'));
    expect(r.location()).toBe('/');
  });

  it('pages a plain list locally, limit and offset in the URL', async () => {
    r = await render(<Table query={q({ items: vols(120) })} />, { url: '/?limit=50' });
    expect(names(r)).toHaveLength(50);
    expect(names(r)[0]).toBe('vol-000');
    await click(r.container.querySelector('[aria-label="Next page"]'));
    expect(r.location()).toBe('/?limit=50&offset=50');
    expect(names(r)[0]).toBe('vol-050');
    await click(r.container.querySelector('[aria-label="Next page"]'));
    expect(names(r)).toHaveLength(20);
    expect(r.container.querySelector('[aria-label="Next page"]')?.hasAttribute('disabled')).toBe(true);
    expect(r.container.querySelector('[data-testid="vols-count"]')?.textContent).toBe('120 volumes');
  });

  it('shows a server page as it comes and asks for the next offset', async () => {
    let seen: unknown = null;
    const page = { items: vols(3), total: 103, limit: 3, offset: 0 };
    r = await render(<Table query={q(page)} onParams={(p) => (seen = p)} />, { url: '/?limit=3' });
    expect(names(r)).toEqual(['vol-000', 'vol-001', 'vol-002']);
    expect(r.container.querySelector('[data-testid="vols-pagination"]')?.textContent).toContain('1–3 of 103');
    await click(r.container.querySelector('[aria-label="Next page"]'));
    expect(r.location()).toBe('/?limit=3&offset=3');
    expect(seen).toMatchObject({ limit: 3, offset: 3 });
  });

  it('changing the filter goes back to the first page', async () => {
    r = await render(<Table query={q({ items: vols(120) })} />, { url: '/?offset=50' });
    await type(r.container.querySelector('input[aria-label="Filter volumes"]'), 'vol-1');
    expect(r.location()).toBe('/?q=vol-1');
  });

  it('shows row actions by role', async () => {
    const data = { items: [{ name: 'a', size: 1 }] };
    r = await render(<Table query={q(data)} />, { role: 'viewer' });
    expect(r.container.querySelector('[data-testid="inspect"]')).not.toBeNull();
    expect(r.container.querySelector('[data-testid="remove"]')).toBeNull();
    r.unmount();

    r = await render(<Table query={q(data)} />, { role: 'operator' });
    await click(r.container.querySelector('[data-testid="remove"]'));
    expect(removed).toEqual(['a']);
    expect(r.container.querySelector('[data-testid="remove"]')?.getAttribute('aria-label')).toBe('Remove a');
  });

  it('lists the endpoints that did not answer', async () => {
    r = await render(<Table query={q({ items: vols(1), total: 1, limit: 50, offset: 0, errors: [{ endpoint: 'ep-2', error: 'timed out' }] })} />);
    expect(r.container.querySelector('[data-testid="endpoint-errors"]')?.textContent).toContain('ep-2: timed out');
  });

  it('filters on another URL parameter, debounced when the API filters', async () => {
    vi.useFakeTimers();
    try {
      function ByName() {
        const state = useTableParams(['name']);
        return (
          <ResourceTable
            query={q({ items: vols(2), total: 2, limit: 50, offset: 0 })}
            state={state}
            columns={columns}
            rowKey={(v) => v.name}
            filter={{ label: 'Filter by name', param: 'name' }}
            empty={{ title: 'none' }}
          />
        );
      }
      r = await render(<ByName />, { url: '/?offset=50' });
      await type(r.container.querySelector('input[aria-label="Filter by name"]'), 'web');
      expect(r.location()).toBe('/?offset=50');
      await act(async () => {
        vi.advanceTimersByTime(300);
      });
      expect(r.location()).toBe('/?name=web');
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows custom row actions from their role', async () => {
    function Custom() {
      const state = useTableParams();
      return (
        <ResourceTable
          query={q({ items: vols(1) })}
          state={state}
          columns={columns}
          rowKey={(v) => v.name}
          renderActions={{ role: 'operator', render: (v) => <a data-testid="manage">{v.name}</a> }}
          empty={{ title: 'none' }}
        />
      );
    }
    r = await render(<Custom />, { role: 'viewer' });
    expect(r.container.querySelector('[data-testid="manage"]')).toBeNull();
    expect(r.container.querySelector('th.actions-col')).toBeNull();
    r.unmount();
    r = await render(<Custom />, { role: 'operator' });
    expect(r.container.querySelector('[data-testid="manage"]')?.textContent).toBe('vol-000');
  });

  it('refetches the list when a matching live event arrives', async () => {
    const listeners = new Set<(ev: LiveEvent) => void>();
    const live = {
      client: new LiveClient({ url: () => 'ws://unused', onEvent: () => undefined, onResync: () => undefined }),
      addListener: (l: (ev: LiveEvent) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    let fetches = 0;
    function Live() {
      const state = useTableParams();
      const query = useQuery({ queryKey: ['vols', 'list'], queryFn: async () => (fetches++, { items: vols(1) }) });
      return (
        <ResourceTable
          query={query}
          state={state}
          columns={columns}
          rowKey={(v) => v.name}
          live={{ queryKey: ['vols'], match: (ev) => ev.type === 'volume.update' }}
          empty={{ title: 'none' }}
        />
      );
    }
    r = await render(
      <LiveContext.Provider value={live}>
        <Live />
      </LiveContext.Provider>,
    );
    await act(async () => undefined);
    expect(fetches).toBe(1);
    const emit = async (type: string) =>
      act(async () => {
        for (const l of listeners) l({ id: 1, type, ts: 'x', payload: {} });
        await new Promise((res) => setTimeout(res, 0));
      });
    await emit('network.update');
    expect(fetches).toBe(1);
    await emit('volume.update');
    expect(fetches).toBe(2);
  });
});
