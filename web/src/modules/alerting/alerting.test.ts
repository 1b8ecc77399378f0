import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/client';
import { errorField, matchersForAlert, matcherText, ruleBody, ruleForm, silenceBody, withField } from './alerting';

const FIELDS = ['name', 'expr', 'for', 'severity', 'labels', 'annotations'] as const;

describe('the rule form', () => {
  it('builds the body, dropping empty annotations', () => {
    const { body, errors } = ruleBody({ ...ruleForm(), name: ' HighLoad ', expr: 'up == 0', labels: 'team=ops', annotations: 'summary=\ndescription=down' });
    expect(errors).toEqual({});
    expect(body).toEqual({ name: 'HighLoad', expr: 'up == 0', for: '1m', severity: 'warning', labels: { team: 'ops' }, annotations: { description: 'down' }, enabled: true });
  });
  it('names the fields it can check itself', () => {
    const { body, errors } = ruleBody({ ...ruleForm(), name: '9lives', expr: ' ', for: '5 minutes', labels: 'novalue' });
    expect(body).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(['expr', 'for', 'labels', 'name']);
  });
});

describe('server errors on fields', () => {
  it('uses the error body\'s field, its first segment', () => {
    const e = Object.assign(new ApiError(400, 'bad label', 'invalid'), { field: 'labels.team' });
    expect(errorField(e, FIELDS)).toBe('labels');
  });
  it('falls back to the quoted field a message starts with', () => {
    expect(errorField(new ApiError(400, "'expr' is not valid PromQL: parse error", 'invalid'), FIELDS)).toBe('expr');
    expect(errorField(new ApiError(400, "'labels.alertname' is set by ContextBay", 'invalid'), FIELDS)).toBe('labels');
    expect(errorField(new ApiError(400, 'matchers[0].name must be a label name', 'bad_request'), ['matchers', 'comment'])).toBe('matchers');
  });
  it('keeps errors about the whole request at the form level', () => {
    expect(errorField(new ApiError(409, 'prometheus refused the rule file', 'conflict'), FIELDS)).toBeNull();
    expect(errorField(new ApiError(400, "'bogus' is unknown", 'invalid'), FIELDS)).toBeNull();
  });
});

describe('withField', () => {
  it('names the field a message starts with, keeps a field the server named and other errors as they are', () => {
    const named = withField(new ApiError(400, "'expr' is not valid PromQL: parse error", 'invalid', 'req-1'), FIELDS);
    expect(named).toBeInstanceOf(ApiError);
    expect((named as ApiError).field).toBe('expr');
    expect((named as ApiError).message).toBe("'expr' is not valid PromQL: parse error");
    expect((named as ApiError).requestId).toBe('req-1');
    const server = new ApiError(400, 'too long', 'invalid', null, null, 'annotations.summary');
    expect(withField(server, FIELDS)).toBe(server);
    const conflict = new ApiError(409, 'prometheus refused the rule file', 'conflict');
    expect(withField(conflict, FIELDS)).toBe(conflict);
  });
});

describe('silences', () => {
  it('prefills exact matchers from an alert, alertname first', () => {
    const m = matchersForAlert({ name: 'Down', labels: { severity: 'critical', hostname: 'h1', alertname: 'Down' } });
    expect(m.map(matcherText)).toEqual(['alertname="Down"', 'hostname="h1"', 'severity="critical"']);
  });
  it('prints the four operators', () => {
    expect(matcherText({ name: 'a', value: 'x.*', is_regex: true, is_equal: false })).toBe('a!~"x.*"');
    expect(matcherText({ name: 'a', value: 'x', is_regex: false, is_equal: false })).toBe('a!="x"');
  });
  it('checks matchers, duration and comment', () => {
    expect(silenceBody({ matchers: [], duration: '2h', comment: 'x' }).errors.matchers).toMatch(/at least one/);
    const bad = silenceBody({ matchers: [{ name: '1x', value: 'v', is_regex: false, is_equal: true }], duration: 'soon', comment: ' ' });
    expect(Object.keys(bad.errors).sort()).toEqual(['comment', 'duration', 'matchers']);
    const ok = silenceBody({ matchers: [{ name: ' a ', value: 'v', is_regex: false, is_equal: true }, { name: '', value: '', is_regex: false, is_equal: true }], duration: '2h', comment: 'deploy' });
    expect(ok.body).toEqual({ matchers: [{ name: 'a', value: 'v', is_regex: false, is_equal: true }], duration: '2h', comment: 'deploy' });
  });
});
