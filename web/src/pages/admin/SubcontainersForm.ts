// The sub-containers page's logic apart from React: the deploy / configuration form (what the
// master's ConfigOverrides takes, checked the same way) and how a service's state reads.

import type { components } from '../../api/schema';
import type { Tone } from '../../components/ui';
import { parseKeyValueLines } from '../../lib/containers';

type Schemas = components['schemas'];
export type SubcontainerSummary = Schemas['SubcontainerSummary'];
export type SubcontainerStatus = Schemas['SubcontainerStatus'];
export type ServiceConfig = Schemas['ServiceConfig'];
export type ConfigOverrides = Schemas['ConfigOverrides'];

/** The form's values; keys are the master's field names (`config.port`, …) less the prefix. */
export interface ServiceForm {
  endpoint: string;
  image: string;
  port: string;
  bind: string;
  env: string;
  labels: string;
}

const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const LABEL_KEY = /^(?!com\.docker\.)(?!contextbay\.subcontainer)[A-Za-z0-9._/-]{1,128}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function lines(map: Record<string, string>): string {
  return Object.entries(map)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

export function serviceForm(config: ServiceConfig, endpoint: string | null | undefined): ServiceForm {
  return { endpoint: endpoint ?? 'local', image: config.image, port: String(config.port), bind: config.bind, env: lines(config.env), labels: lines(config.labels) };
}

/** The overrides to send, or the errors by field. */
export function serviceOverrides(v: ServiceForm): { config: ConfigOverrides | null; errors: Partial<Record<keyof ServiceForm, string>> } {
  const errors: Partial<Record<keyof ServiceForm, string>> = {};
  const image = v.image.trim();
  if (!image || image.length > 255 || !IMAGE.test(image)) errors.image = 'An image reference: repository[:tag][@digest].';
  const port = Number(v.port.trim());
  if (!/^\d+$/.test(v.port.trim()) || port < 1 || port > 65535) errors.port = 'A port from 1 to 65535.';
  if (!IPV4.test(v.bind.trim())) errors.bind = 'An IPv4 address, e.g. 127.0.0.1.';
  const env = parseKeyValueLines(v.env);
  const badEnv = Object.keys(env.values).find((k) => !ENV_KEY.test(k));
  if (env.errors.length) errors.env = env.errors[0];
  else if (badEnv) errors.env = `“${badEnv}” is not a variable name (letters, digits, _).`;
  else if (Object.keys(env.values).length > 64) errors.env = 'At most 64 variables.';
  else if (Object.values(env.values).some((x) => x.length > 4096)) errors.env = 'Values of at most 4096 characters.';
  const labels = parseKeyValueLines(v.labels, 'label');
  const badLabel = Object.keys(labels.values).find((k) => !LABEL_KEY.test(k));
  if (labels.errors.length) errors.labels = labels.errors[0];
  else if (badLabel) errors.labels = `“${badLabel}” cannot be used as a label key.`;
  else if (Object.keys(labels.values).length > 32) errors.labels = 'At most 32 labels.';
  if (Object.keys(errors).length) return { config: null, errors };
  return { errors, config: { image, port, bind: v.bind.trim(), env: env.values, labels: labels.values } };
}

/** A server error on `config.port` belongs to the form's `port`. */
export function formField(serverField: string | null): keyof ServiceForm | null {
  if (!serverField) return null;
  const f = serverField.replace(/^config\./, '').replace(/[.[].*$/, '');
  return (['endpoint', 'image', 'port', 'bind', 'env', 'labels'] as const).find((k) => k === f) ?? null;
}

export const STATE_TONE: Record<string, Tone> = { running: 'ok', restarting: 'warn', exited: 'bad', dead: 'bad', missing: 'bad', unknown: 'neutral', created: 'info', paused: 'warn' };

/** One word for a service: `not deployed`, `running`, `running, unhealthy`, `flapping`, … */
export function serviceState(s: Pick<SubcontainerSummary, 'deployed' | 'state' | 'health' | 'flapping'>): { text: string; tone: Tone } {
  if (!s.deployed) return { text: 'not deployed', tone: 'neutral' };
  if (s.flapping) return { text: 'flapping', tone: 'bad' };
  const state = s.state ?? 'unknown';
  if (state !== 'running') return { text: state, tone: STATE_TONE[state] ?? 'warn' };
  if (s.health === 'unhealthy') return { text: 'running, unhealthy', tone: 'warn' };
  return { text: s.health === 'healthy' ? 'running, healthy' : 'running', tone: 'ok' };
}
