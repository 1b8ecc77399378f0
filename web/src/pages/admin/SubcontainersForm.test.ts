import { describe, expect, it } from 'vitest';
import { formField, serviceForm, serviceOverrides, serviceState } from './SubcontainersForm';

const config = { image: 'prom/prometheus:v2', port: 9090, bind: '127.0.0.1', env: { A: '1' }, labels: { team: 'ops' } };

describe('serviceOverrides', () => {
  it('round-trips a configuration', () => {
    const form = serviceForm(config, null);
    expect(form.endpoint).toBe('local');
    expect(form.env).toBe('A=1');
    expect(serviceOverrides(form)).toEqual({ errors: {}, config });
  });
  it('names every field at fault', () => {
    const { config: c, errors } = serviceOverrides({ endpoint: 'local', image: 'bad image', port: '70000', bind: '300.1.1.1', env: '1A=x', labels: 'com.docker.x=1' });
    expect(c).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(['bind', 'env', 'image', 'labels', 'port']);
  });
  it('reports a line without =', () => {
    expect(serviceOverrides({ ...serviceForm(config, 'local'), env: 'A=1\nnope' }).errors.env).toMatch(/line 2/);
  });
  it('keeps = inside values and skips comments', () => {
    expect(serviceOverrides({ ...serviceForm(config, 'local'), env: '# c\nARGS=--a=b' }).config?.env).toEqual({ ARGS: '--a=b' });
  });
});

describe('formField', () => {
  it('maps the master’s field names onto the form', () => {
    expect(formField('config.port')).toBe('port');
    expect(formField('config.env.FOO')).toBe('env');
    expect(formField('endpoint')).toBe('endpoint');
    expect(formField('other')).toBeNull();
    expect(formField(null)).toBeNull();
  });
});

describe('serviceState', () => {
  it('reads desired and observed state', () => {
    expect(serviceState({ deployed: false, flapping: false })).toEqual({ text: 'not deployed', tone: 'neutral' });
    expect(serviceState({ deployed: true, state: 'running', health: 'healthy', flapping: false }).tone).toBe('ok');
    expect(serviceState({ deployed: true, state: 'running', health: 'unhealthy', flapping: false }).text).toBe('running, unhealthy');
    expect(serviceState({ deployed: true, state: 'exited', flapping: false }).tone).toBe('bad');
    expect(serviceState({ deployed: true, state: 'running', flapping: true }).text).toBe('flapping');
  });
});
