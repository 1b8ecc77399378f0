import { describe, expect, it } from 'vitest';
import { argumentsTemplate, contentText, formatUsd, maxTokensOf, modeBody, modeForm, parseArguments, serverBody, serverForm } from './ai';

const SCHEMA = { type: 'object', properties: { text: { type: 'string' }, times: { type: 'integer' }, mode: { type: 'string', enum: ['a', 'b'] } }, required: ['text'] };

describe('modes', () => {
  it('builds a custom mode with per-tool actions', () => {
    const { body, errors } = modeBody({ ...modeForm(null), name: ' careful ', tools: 'restart_container=refuse\n\nlist_endpoints=run' });
    expect(errors).toEqual({});
    expect(body).toEqual({ name: 'careful', description: '', read: 'run', write: 'ask', tools: { restart_container: 'refuse', list_endpoints: 'run' } });
  });
  it('refuses unknown actions and blank names', () => {
    const { body, errors } = modeBody({ ...modeForm(null), name: '', tools: 'x=maybe' });
    expect(body).toBeNull();
    expect(errors.name).toBeDefined();
    expect(errors.tools).toMatch(/run, ask or refuse/);
  });
  it('round-trips a mode', () => {
    const f = modeForm({ id: 'i', name: 'n', description: 'd', builtin: false, read: 'ask', write: 'refuse', tools: { a: 'run' } });
    expect(f.tools).toBe('a=run');
    expect(modeBody(f).body).toMatchObject({ read: 'ask', write: 'refuse', tools: { a: 'run' } });
  });
});

describe('MCP servers', () => {
  it('registers a stdio server with quoted arguments', () => {
    const { body, errors } = serverBody({ ...serverForm(null), name: 'py-test', command: '/venv/bin/python', args: "/tmp/server.py --greeting 'hello there'", env: 'TOKEN=abc' });
    expect(errors).toEqual({});
    expect(body).toEqual({ name: 'py-test', transport: 'stdio', enabled: true, command: '/venv/bin/python', args: ['/tmp/server.py', '--greeting', 'hello there'], env: { TOKEN: 'abc' } });
  });
  it('registers an http server with headers in either spelling', () => {
    const { body } = serverBody({ ...serverForm(null), name: 'remote', transport: 'http', url: 'http://127.0.0.1:9000/mcp', headers: 'Authorization: Bearer x\nX-A=b' });
    expect(body).toMatchObject({ transport: 'http', url: 'http://127.0.0.1:9000/mcp', headers: { Authorization: 'Bearer x', 'X-A': 'b' } });
  });
  it('names the fields at fault', () => {
    expect(Object.keys(serverBody({ ...serverForm(null), name: 'Bad Name', command: '' }).errors).sort()).toEqual(['command', 'name']);
    expect(serverBody({ ...serverForm(null), name: 'a', transport: 'http', url: 'http://u:p@host/' }).errors.url).toBeDefined();
    expect(serverBody({ ...serverForm(null), name: 'a', transport: 'http', url: 'ftp://host/' }).errors.url).toBeDefined();
    expect(serverBody({ ...serverForm(null), name: 'a', command: 'x', args: '"open' }).errors.args).toMatch(/quote/);
  });
  it('keeps masked values as they are (the master keeps the stored secret)', () => {
    const f = serverForm({ id: 'i', name: 's', transport: 'stdio', command: 'c', args: ['a b'], env: { K: '********' }, headers: {}, enabled: true, created_at: '', updated_at: '' });
    expect(serverBody(f).body).toMatchObject({ args: ['a b'], env: { K: '********' } });
  });
});

describe('test-fire arguments', () => {
  it('accepts arguments that fit the schema', () => {
    expect(parseArguments('{"text":"hi","times":2}', SCHEMA)).toEqual({ value: { text: 'hi', times: 2 }, error: null });
  });
  it('refuses what does not fit, before sending', () => {
    expect(parseArguments('{"text":', SCHEMA).error).toMatch(/Not JSON/);
    expect(parseArguments('[1]', SCHEMA).error).toMatch(/object/);
    expect(parseArguments('{}', SCHEMA).error).toMatch(/“text” is required/);
    expect(parseArguments('{"text":"a","times":1.5}', SCHEMA).error).toMatch(/integer/);
    expect(parseArguments('{"text":"a","mode":"c"}', SCHEMA).error).toMatch(/one of/);
  });
  it('offers a template', () => {
    expect(JSON.parse(argumentsTemplate(SCHEMA))).toEqual({ text: '' });
    expect(JSON.parse(argumentsTemplate({ type: 'object', properties: { n: { type: 'number' }, m: { type: 'string', enum: ['x'] } } }))).toEqual({ n: 0, m: 'x' });
  });
  it('shows answers', () => {
    expect(contentText([{ type: 'text', text: 'a' }, { type: 'image', data: 'x' }])).toBe('a\n{"type":"image","data":"x"}');
    expect(formatUsd(0)).toBe('$0');
    expect(formatUsd(0.00123)).toBe('$0.0012');
    expect(formatUsd(1.5)).toBe('$1.50');
  });
});

describe('maxTokensOf', () => {
  it('reads the box', () => {
    expect(maxTokensOf('')).toBe(0);
    expect(maxTokensOf(' 16 ')).toBe(16);
    expect(maxTokensOf('0')).toBeNull();
    expect(maxTokensOf('32769')).toBeNull();
    expect(maxTokensOf('1e3')).toBeNull();
  });
});
