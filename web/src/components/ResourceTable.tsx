// The one list table of the dashboard: sortable columns, a filter box and filter chips, paging
// against the API's page object (limit/offset kept in the URL), loading/empty/error states, row
// actions shown by role and live updates (matching live events refetch the list).
//
// Paging: when the answer carries `total` (the page object `{items, total, limit, offset}`) the
// server pages and the table shows the items as they come; an answer without `total` (a plain
// `{items}` list) is filtered, sorted and paged here. Sorting orders the rows shown.

import { useQueryClient, type QueryKey } from '@tanstack/react-query';
import { useCallback, useMemo, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import type { EndpointFailure, LiveEvent, Role } from '../api/types';
import { useRole } from '../auth/session';
import { useOptionalLiveEvents } from '../live/LiveProvider';
import {
  anyActionFor,
  clampOffset,
  filterRows,
  formatSort,
  limitOf,
  nextSort,
  offsetOf,
  pageSlice,
  parseSort,
  sortRows,
  visibleActions,
  type SortValue,
} from '../lib/table';
import { hasRole } from '../lib/roles';
import { useDebouncedInput } from '../lib/useUrlParams';
import { EndpointErrors } from './data';
import { Icon, type IconName } from './Icon';
import { EmptyState, ErrorState, Loading, Pagination } from './ui';
import './resource-table.css';

/** What a list endpoint answers: the page object, or (older lists) just the items. */
export interface ListData<T> {
  items: T[];
  total?: number;
  limit?: number;
  offset?: number;
  errors?: EndpointFailure[];
}

/** The part of a TanStack Query result the table reads. */
export interface ListQuery<T> {
  data: ListData<T> | undefined;
  isPending: boolean;
  isError: boolean;
  isFetching?: boolean;
  error: unknown;
  refetch: () => unknown;
}

export interface Column<T> {
  /** Stable id; also the sort key in the URL (`sort=name`, `sort=-name`). */
  key: string;
  header: ReactNode;
  cell: (row: T) => ReactNode;
  /** Makes the column sortable by this value. */
  sortValue?: (row: T) => SortValue;
  className?: string;
}

export interface RowAction<T> {
  /** Accessible name, e.g. `Remove volume data`. */
  label: (row: T) => string;
  icon?: IconName;
  /** Visible text: the action renders as a small button with it instead of an icon button. */
  text?: (row: T) => ReactNode;
  /** Replaces the button's classes (default `icon-btn icon-btn-sm`, or `btn btn-sm` with text). */
  className?: string;
  onClick: (row: T) => void;
  /** The least role that sees the action (default operator). */
  role?: Role;
  danger?: boolean;
  hidden?: (row: T) => boolean;
  disabled?: (row: T) => boolean;
  testId?: string;
  title?: string;
}

export interface FilterChip {
  /** URL parameter the chip sets. */
  param: string;
  value: string;
  label: string;
}

/** Table state kept in the URL. */
export interface TableParams {
  q: string;
  sort: string;
  offset: number;
  limit: number;
  /** The page's own filters (e.g. `endpoint`), by URL parameter. */
  extra: Record<string, string>;
}

export type TableParamsPatch = Partial<{ q: string; sort: string; offset: number; limit: number }> & Record<string, string | number | undefined>;

export interface TableParamsState {
  params: TableParams;
  /** Changes parameters; anything but `offset` (and `sort`) goes back to the first page. */
  update: (patch: TableParamsPatch) => void;
}

/**
 * The table's parameters from the URL (`q`, `sort`, `offset`, `limit` and `extra` keys). Pages
 * call it to build their query, then hand it to <ResourceTable state=…>.
 */
export function useTableParams(extraKeys: readonly string[] = []): TableParamsState {
  const [search, setSearch] = useSearchParams();
  const extraKey = extraKeys.join(',');
  const params = useMemo<TableParams>(() => {
    const extra: Record<string, string> = {};
    for (const k of extraKey ? extraKey.split(',') : []) extra[k] = search.get(k) ?? '';
    return {
      q: search.get('q') ?? '',
      sort: search.get('sort') ?? '',
      offset: offsetOf(search.get('offset')),
      limit: limitOf(search.get('limit')),
      extra,
    };
  }, [search, extraKey]);
  const update = useCallback(
    (patch: TableParamsPatch) =>
      setSearch(
        (prev) => {
          const next = new URLSearchParams(prev);
          for (const [k, v] of Object.entries(patch)) {
            const s = v === undefined ? '' : String(v);
            const isDefault = (k === 'offset' && s === '0') || (k === 'limit' && Number(s) === 50);
            if (s && !isDefault) next.set(k, s);
            else next.delete(k);
          }
          if (!('offset' in patch) && !('sort' in patch)) next.delete('offset');
          return next;
        },
        { replace: true },
      ),
    [setSearch],
  );
  return { params, update };
}

/** The query parameters of a paginated request from the table state. */
export function pageQuery(p: TableParams): { limit: number; offset: number } {
  return { limit: p.limit, offset: p.offset };
}

export interface ResourceTableProps<T> {
  query: ListQuery<T>;
  state: TableParamsState;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  /** Extra attributes of a row (`data-testid`, `data-name`, …). */
  rowProps?: (row: T) => Record<string, string | undefined>;
  actions?: RowAction<T>[];
  /** A filter box; `text` is what it matches (client side). Omit `text` when the API filters by `q`. */
  filter?: {
    label: string;
    placeholder?: string;
    text?: (row: T) => string;
    testId?: string;
    /** The URL parameter it writes (default `q`; another one must be among the `extra` keys). */
    param?: string;
  };
  /** Custom row actions (e.g. a component with its own menu), shown from `role` (default operator). */
  renderActions?: { role?: Role; render: (row: T) => ReactNode };
  /** Filter chips: each sets a URL parameter (the page passes it to its query or filters). */
  chips?: FilterChip[];
  /** More toolbar controls (selects, buttons) after the filter. */
  toolbar?: ReactNode;
  empty: {
    icon?: IconName;
    title: string;
    filteredTitle?: string;
    body?: ReactNode;
    filteredBody?: ReactNode;
    action?: ReactNode;
    filteredAction?: ReactNode;
    testId?: string;
    filteredTestId?: string;
  };
  /** Refetch the list when a live event matches (events the cache reducer does not patch). */
  live?: { queryKey: QueryKey; match: (ev: LiveEvent) => boolean };
  /** Noun for the count, e.g. `volumes`. */
  noun?: string;
  testId?: string;
  /** Whether a row's key is the selected one (highlighted). */
  selected?: (row: T) => boolean;
  onRowClick?: (row: T) => void;
  /** More classes of the <table>, e.g. `table-dense`. */
  tableClassName?: string;
  /** Filters of the page's own (outside the table) are active: the empty state says so. */
  filtered?: boolean;
}

/**
 * The filter box. Filtering here (client side) applies at once; a filter the API applies (`q`
 * sent with the request) reaches the URL once the typing pauses, so not every key is a request.
 */
function FilterBox({
  filter,
  value,
  onChange,
  debounce,
}: {
  filter: { label: string; placeholder?: string; testId?: string };
  value: string;
  onChange: (q: string) => void;
  debounce: boolean;
}) {
  const [text, setText] = useDebouncedInput(value, onChange);
  return (
    <div className="search">
      <Icon name="search" size={16} />
      <input
        type="search"
        placeholder={filter.placeholder}
        aria-label={filter.label}
        value={debounce ? text : value}
        onChange={(e) => (debounce ? setText(e.target.value) : onChange(e.target.value))}
        data-testid={filter.testId}
      />
    </div>
  );
}

export function ResourceTable<T>(props: ResourceTableProps<T>) {
  const { query, state, columns, rowKey, rowProps, actions = [], filter, chips, toolbar, empty, live, noun, testId } = props;
  const role = useRole();
  const qc = useQueryClient();
  const { params, update } = state;

  useOptionalLiveEvents(live ? (ev) => (live.match(ev) ? void qc.invalidateQueries({ queryKey: live.queryKey }) : undefined) : null);

  const filterParam = filter?.param ?? 'q';
  const filterValue = filterParam === 'q' ? params.q : (params.extra[filterParam] ?? '');
  const sort = parseSort(params.sort);
  const sortColumn = sort ? columns.find((c) => c.key === sort.key && c.sortValue) : undefined;
  const data = query.data;
  const serverPaged = typeof data?.total === 'number';

  const { rows, total } = useMemo(() => {
    const items = data?.items ?? [];
    const filtered = filter?.text ? filterRows(items, filterValue, filter.text) : items;
    const sorted = sortColumn ? sortRows(filtered, sortColumn.sortValue, sort?.desc ?? false) : filtered;
    if (serverPaged) return { rows: sorted, total: data?.total ?? 0 };
    return { rows: pageSlice(sorted, clampOffset(params.offset, params.limit, sorted.length), params.limit), total: sorted.length };
  }, [data, filter, filterValue, params.offset, params.limit, sortColumn, sort?.desc, serverPaged]);

  const custom = props.renderActions && hasRole(role, props.renderActions.role ?? 'operator') ? props.renderActions.render : null;
  const showActions = anyActionFor(actions, role) || custom !== null;
  const filtered = Boolean(props.filtered) || Boolean(filterValue) || Boolean(chips?.some((c) => params.extra[c.param] === c.value));

  let body: ReactNode;
  if (query.isPending) body = <Loading />;
  else if (query.isError) body = <ErrorState error={query.error} onRetry={() => void query.refetch()} />;
  else if (rows.length === 0)
    body = (
      <EmptyState
        icon={filtered ? 'search' : empty.icon}
        title={filtered ? (empty.filteredTitle ?? 'Nothing matches') : empty.title}
        testId={(filtered ? empty.filteredTestId : undefined) ?? empty.testId ?? (testId ? `${testId}-empty` : 'empty-state')}
        action={filtered ? empty.filteredAction : empty.action}
      >
        {filtered ? (empty.filteredBody ?? <p>Nothing matches the filter.</p>) : empty.body}
      </EmptyState>
    );
  else
    body = (
      <div className="table-wrap">
        <table className={props.tableClassName ? `table ${props.tableClassName}` : 'table'} data-testid={testId}>
          <thead>
            <tr>
              {columns.map((c) => (
                <th
                  scope="col"
                  key={c.key}
                  className={c.className}
                  aria-sort={sort?.key === c.key && c.sortValue ? (sort.desc ? 'descending' : 'ascending') : undefined}
                >
                  {c.sortValue ? (
                    <button
                      type="button"
                      className="th-sort"
                      data-testid={`sort-${c.key}`}
                      onClick={() => update({ sort: formatSort(nextSort(sort, c.key)) })}
                    >
                      {c.header}
                      <span className={`th-sort-mark${sort?.key === c.key ? ' th-sort-active' : ''}${sort?.key === c.key && sort.desc ? ' th-sort-desc' : ''}`} aria-hidden="true">
                        <Icon name="chevronDown" size={14} />
                      </span>
                    </button>
                  ) : (
                    c.header
                  )}
                </th>
              ))}
              {showActions ? (
                <th scope="col" className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const key = rowKey(row);
              const extra = rowProps?.(row) ?? {};
              const rowActions = showActions ? visibleActions(actions, role, row) : [];
              return (
                <tr
                  key={key}
                  {...extra}
                  className={props.selected?.(row) ? 'row-selected' : props.onRowClick ? 'row-link' : undefined}
                  onClick={props.onRowClick ? () => props.onRowClick?.(row) : undefined}
                >
                  {columns.map((c) => (
                    <td key={c.key} className={c.className}>
                      {c.cell(row)}
                    </td>
                  ))}
                  {showActions ? (
                    <td className="actions-col">
                      <div className="row-actions">
                        {custom ? custom(row) : null}
                        {rowActions.map((a) => (
                          <button
                            type="button"
                            key={a.label(row)}
                            className={a.className ?? (a.text ? `btn btn-sm${a.danger ? ' btn-danger-ghost' : ''}` : `icon-btn icon-btn-sm${a.danger ? ' icon-btn-danger' : ''}`)}
                            aria-label={a.text ? undefined : a.label(row)}
                            title={a.text ? a.title : (a.title ?? a.label(row))}
                            data-testid={a.testId}
                            disabled={a.disabled?.(row)}
                            onClick={(e) => {
                              e.stopPropagation();
                              a.onClick(row);
                            }}
                          >
                            {a.icon ? <Icon name={a.icon} size={a.text ? 16 : 15} /> : null}
                            {a.text ? <> {a.text(row)}</> : null}
                          </button>
                        ))}
                      </div>
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    );

  return (
    <div className="resource-table" data-testid={testId ? `${testId}-block` : undefined}>
      {filter || chips || toolbar ? (
        <div className="toolbar toolbar-wrap">
          {filter ? <FilterBox filter={filter} value={filterValue} onChange={(q) => update({ [filterParam]: q })} debounce={!filter.text} /> : null}
          {chips?.length ? (
            <div className="chips filter-chips" role="group" aria-label="Filters">
              {chips.map((c) => {
                const on = params.extra[c.param] === c.value;
                return (
                  <button
                    type="button"
                    key={`${c.param}=${c.value}`}
                    className={`chip${on ? ' chip-active' : ''}`}
                    aria-pressed={on}
                    data-testid={`chip-${c.param}-${c.value}`}
                    onClick={() => update({ [c.param]: on ? '' : c.value })}
                  >
                    {c.label}
                  </button>
                );
              })}
            </div>
          ) : null}
          {toolbar}
          {data ? (
            <span className="muted small" data-testid={testId ? `${testId}-count` : undefined}>
              {total.toLocaleString()} {noun ?? 'items'}
            </span>
          ) : null}
          {query.isFetching && !query.isPending ? <span className="spinner spinner-sm" aria-label="Refreshing" /> : null}
        </div>
      ) : null}
      <EndpointErrors errors={data?.errors} />
      {body}
      {!query.isPending && !query.isError && (serverPaged ? total > 0 : total > params.limit || params.offset > 0) ? (
        <Pagination offset={params.offset} limit={params.limit} total={total} onChange={(offset) => update({ offset })} testId={testId ? `${testId}-pagination` : 'pagination'} />
      ) : null}
    </div>
  );
}
