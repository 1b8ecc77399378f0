// Pure helpers for the fleet pages: fuse progress, enroll-attempt reasons, label editing.

import type { FleetNode, FuseState, Labels, NodeStatus } from '../api/types';
import type { Tone } from '../components/ui';

export const NODE_STATUSES: readonly NodeStatus[] = ['healthy', 'stale', 'offline', 'unknown'];

export const NODE_STATUS_TONE: Record<string, Tone> = {
  healthy: 'ok',
  stale: 'warn',
  offline: 'bad',
  unknown: 'neutral',
};

export const NODE_STATUS_HELP: Record<string, string> = {
  healthy: 'Heartbeats arrive on time',
  stale: 'Heartbeats are late',
  offline: 'No contact for a while',
  unknown: 'Not heard from since the master started',
};

export interface FuseStep {
  key: 'enrollment' | 'worker_registration' | 'docker_engine' | 'fused';
  label: string;
  help: string;
  done: boolean;
}

/** The four legs of the add-host flow, in order, from the host's fuse state. */
export function fuseSteps(fuse: FuseState): FuseStep[] {
  const missing = new Set(fuse.missing);
  return [
    {
      key: 'enrollment',
      label: 'Worker enrolled',
      help: 'The worker traded the one-time token for its node credential.',
      done: !missing.has('enrollment') && fuse.state !== 'pending',
    },
    {
      key: 'worker_registration',
      label: 'Worker registered',
      help: 'The worker connected over gRPC and reported its hardware.',
      done: !missing.has('worker_registration') && fuse.worker_registered,
    },
    {
      key: 'docker_engine',
      label: 'Docker engine answered',
      help: 'The host’s Docker engine answered through the worker.',
      done: !missing.has('docker_engine') && fuse.docker_answered,
    },
    {
      key: 'fused',
      label: 'Fused',
      help: 'The host is a node of the fleet and its engine is a Docker endpoint.',
      done: fuse.fused,
    },
  ];
}

export const FUSE_TONE: Record<string, Tone> = { pending: 'warn', enrolled: 'info', fused: 'ok' };

export const ENROLL_REASON: Record<string, { label: string; hint: string }> = {
  accepted: { label: 'Accepted', hint: 'The worker enrolled.' },
  token_expired: { label: 'Token expired', hint: 'Regenerate the token and run the command again.' },
  token_reused: { label: 'Token already used', hint: 'Each token enrolls one worker; regenerate one for another try.' },
  token_revoked: { label: 'Token revoked', hint: 'A newer token replaced it; use the latest install command.' },
  bad_secret: { label: 'Wrong shared secret', hint: 'The worker’s shared secret (CB_WORKER__SHARED_SECRET, --shared-secret-file or --shared-secret) does not match this master’s enroll secret.' },
  unknown_host: { label: 'Unknown token', hint: 'No host has this token; check it was copied whole.' },
  rate_limited: { label: 'Rate limited', hint: 'Too many attempts from this address; wait a minute.' },
  bad_request: { label: 'Bad request', hint: 'The worker sent an invalid enrollment request.' },
};

export function describeReason(reason: string): { label: string; hint: string } {
  return ENROLL_REASON[reason] ?? { label: reason.replace(/_/g, ' '), hint: '' };
}

// -- labels ---------------------------------------------------------------------------------

export interface LabelRow {
  key: string;
  value: string;
}

const LABEL_KEY = /^[a-z0-9._/-]{1,63}$/;
export const MAX_LABELS = 64;

export function labelsToRows(labels: Labels | Record<string, unknown> | null | undefined): LabelRow[] {
  return Object.entries(labels ?? {})
    .map(([key, value]) => ({ key, value: typeof value === 'string' ? value : JSON.stringify(value) }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * Rows → labels, with the master's rules (keys of a-z, 0-9, `.`, `_`, `/`, `-` up to 63
 * characters, values up to 255, at most 64). Empty rows are skipped. `errors[i]` explains row i.
 */
export function rowsToLabels(rows: readonly LabelRow[]): { labels: Labels; errors: (string | null)[]; ok: boolean } {
  const labels: Labels = {};
  const errors: (string | null)[] = rows.map(() => null);
  let count = 0;
  rows.forEach((r, i) => {
    const key = r.key.trim();
    if (!key && !r.value.trim()) return;
    if (!LABEL_KEY.test(key)) errors[i] = 'Key: 1–63 characters of a-z, 0-9, “.”, “_”, “/”, “-”.';
    else if (key in labels) errors[i] = 'Duplicate key.';
    else if (r.value.length > 255) errors[i] = 'Value: at most 255 characters.';
    else {
      labels[key] = r.value;
      count++;
    }
  });
  const tooMany = count > MAX_LABELS;
  if (tooMany) errors[errors.length - 1] = `At most ${MAX_LABELS} labels.`;
  return { labels, errors, ok: errors.every((e) => e === null) };
}

export function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Splits a text area into trimmed non-empty lines. */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The latest contact we know of: the stored last-seen time or the newest metrics sample. */
export function lastContact(n: Pick<FleetNode, 'last_seen_at' | 'metrics'>): string | null {
  const a = n.last_seen_at ? Date.parse(n.last_seen_at) : NaN;
  const b = n.metrics?.time ? Date.parse(n.metrics.time) : NaN;
  if (Number.isNaN(a)) return Number.isNaN(b) ? null : (n.metrics?.time ?? null);
  return !Number.isNaN(b) && b > a ? (n.metrics?.time ?? null) : (n.last_seen_at ?? null);
}

