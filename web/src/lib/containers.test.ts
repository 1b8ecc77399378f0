import { describe, expect, it } from 'vitest';
import { availableActions, buildCreateBody, containerEventEffect, formatPorts, parseKeyValueLines, splitCommand, stateAfterAction, type CreateForm } from './containers';

describe('container actions', () => {
  it('offers what the state allows', () => {
    expect(availableActions('running')).toEqual(['stop', 'restart', 'pause', 'kill']);
    expect(availableActions('paused')).toEqual(['unpause', 'stop', 'kill']);
    expect(availableActions('exited')).toEqual(['start']);
    expect(availableActions('created')).toEqual(['start']);
    expect(availableActions('removing')).toEqual([]);
  });

  it('knows the state after an action', () => {
    expect(stateAfterAction('stop')).toEqual({ state: 'exited', status: 'Exited' });
    expect(stateAfterAction('unpause')?.state).toBe('running');
    expect(stateAfterAction('pause')?.state).toBe('paused');
    expect(stateAfterAction('dance')).toBeNull();
  });

  it('maps Docker events to effects', () => {
    expect(containerEventEffect('start')).toEqual({ kind: 'state', state: 'running', status: 'Up' });
    expect(containerEventEffect('die', { exitCode: '137' })).toEqual({ kind: 'state', state: 'exited', status: 'Exited (137)' });
    expect(containerEventEffect('pause')).toMatchObject({ state: 'paused' });
    expect(containerEventEffect('destroy')).toEqual({ kind: 'removed' });
    expect(containerEventEffect('create')).toEqual({ kind: 'refetch' });
    expect(containerEventEffect('health_status: healthy')).toEqual({ kind: 'refetch' });
    expect(containerEventEffect('exec_start: sh -c true')).toEqual({ kind: 'none' });
    expect(containerEventEffect('kill')).toEqual({ kind: 'none' });
  });

  it('formats published ports once per binding', () => {
    expect(
      formatPorts([
        { container_port: 80, host_port: 8080, host_ip: '0.0.0.0', protocol: 'tcp' },
        { container_port: 80, host_port: 8080, host_ip: '::', protocol: 'tcp' },
        { container_port: 53, host_port: null, host_ip: null, protocol: 'udp' },
        { container_port: 443, host_port: 8443, host_ip: '127.0.0.1', protocol: 'tcp' },
      ]),
    ).toEqual(['8080→80', '53/udp', '127.0.0.1:8443→443']);
  });
});

describe('create form parsing', () => {
  it('splits a command like a shell', () => {
    expect(splitCommand(`sh -c 'echo hi; sleep 600'`)).toEqual({ args: ['sh', '-c', 'echo hi; sleep 600'], error: null });
    expect(splitCommand(`echo "a \\"b\\" c" d\\ e ''`)).toEqual({ args: ['echo', 'a "b" c', 'd e', ''], error: null });
    expect(splitCommand('  ')).toEqual({ args: [], error: null });
    expect(splitCommand(`echo 'oops`).error).toMatch(/unclosed single quote/);
  });

  it('parses KEY=value lines', () => {
    expect(parseKeyValueLines('A=1\n# comment\n\nB = x=y \n')).toEqual({ values: { A: '1', B: 'x=y' }, errors: [] });
    expect(parseKeyValueLines('NOVALUE\n=x', 'env').errors).toEqual(['env 1: expected KEY=value', 'env 2: expected KEY=value']);
  });

  const form = (over: Partial<CreateForm> = {}): CreateForm => ({
    endpoint: '',
    image: 'nginx:1.27',
    name: '',
    command: '',
    env: '',
    ports: [],
    mounts: [],
    networks: '',
    restartPolicy: 'no',
    labels: '',
    start: true,
    ...over,
  });

  it('builds the create body', () => {
    const { body, errors } = buildCreateBody(
      form({
        endpoint: 'n1',
        name: 'web',
        command: 'nginx -g "daemon off;"',
        env: 'A=1',
        ports: [{ container: '80', host: '8080', protocol: 'tcp' }, { container: '', host: '', protocol: 'tcp' }],
        mounts: [{ type: 'volume', source: 'data', target: '/data', readOnly: true }],
        networks: 'front, back',
        restartPolicy: 'unless-stopped',
        labels: 'app=web',
      }),
    );
    expect(errors).toEqual({});
    expect(body).toEqual({
      endpoint: 'n1',
      image: 'nginx:1.27',
      name: 'web',
      command: ['nginx', '-g', 'daemon off;'],
      env: { A: '1' },
      ports: [{ container_port: 80, host_port: 8080, protocol: 'tcp' }],
      mounts: [{ type: 'volume', source: 'data', target: '/data', read_only: true }],
      networks: ['front', 'back'],
      restart_policy: 'unless-stopped',
      labels: { app: 'web' },
      start: true,
    });
  });

  it('leaves out defaults and names the fields that are wrong', () => {
    expect(buildCreateBody(form()).body).toEqual({ image: 'nginx:1.27', command: [], env: {}, ports: [], mounts: [], networks: [], labels: {}, start: true });
    const { body, errors } = buildCreateBody(
      form({
        image: '',
        name: '-bad',
        ports: [{ container: '99999', host: '', protocol: 'tcp' }],
        mounts: [{ type: 'bind', source: 'relative', target: '/x', readOnly: false }],
        command: '"unclosed',
      }),
    );
    expect(body).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(['command', 'image', 'mounts', 'name', 'ports']);
  });
});
