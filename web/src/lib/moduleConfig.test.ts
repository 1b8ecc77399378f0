import { describe, expect, it } from 'vitest';
import type { ModuleField } from '../api/types';
import { buildPatch, initialForm, REDACTED } from './moduleConfig';

const fields: ModuleField[] = [
  { key: 'prometheus_url', kind: 'url', required: true, help: '' },
  { key: 'grafana_token', kind: 'secret', required: false, help: '' },
  { key: 'allow_private', kind: 'bool', required: false, help: '' },
  { key: 'retention_days', kind: 'integer', required: false, help: '' },
];

describe('module config form', () => {
  const init = initialForm(fields, { prometheus_url: 'http://prom:9090', grafana_token: REDACTED, retention_days: 7 });

  it('starts from the served config and never shows a secret', () => {
    expect(init.values).toEqual({ prometheus_url: 'http://prom:9090', grafana_token: '', allow_private: false, retention_days: '7' });
    expect(init.storedSecrets.has('grafana_token')).toBe(true);
  });

  it('sends only what changed (the master merges)', () => {
    expect(buildPatch(fields, init, { ...init.values }).patch).toEqual({});
    const { patch } = buildPatch(fields, init, { ...init.values, allow_private: true, prometheus_url: ' http://p2 ' });
    expect(patch).toEqual({ allow_private: true, prometheus_url: 'http://p2' });
  });

  it('removes a cleared key with null, keeps a stored secret unless replaced or cleared', () => {
    expect(buildPatch(fields, init, { ...init.values, retention_days: '' }).patch).toEqual({ retention_days: null });
    expect(buildPatch(fields, init, { ...init.values, grafana_token: 'new' }).patch).toEqual({ grafana_token: 'new' });
    expect(buildPatch(fields, init, { ...init.values }, new Set(['grafana_token'])).patch).toEqual({ grafana_token: null });
  });

  it('validates integers', () => {
    const r = buildPatch(fields, init, { ...init.values, retention_days: '1.5' });
    expect(r.errors.retention_days).toBeDefined();
    expect(buildPatch(fields, init, { ...init.values, retention_days: '30' }).patch).toEqual({ retention_days: 30 });
  });
});
