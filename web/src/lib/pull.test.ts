import { describe, expect, it } from 'vitest';
import { applyPullEvent, initialPull, layerPercent, pullSummary } from './pull';

const ev = (over: Record<string, unknown>) => ({ operation: 'op1', image: 'alpine:3', endpoint: 'local', layer: null, status: '', current: null, total: null, ...over });

describe('image pull progress', () => {
  it('folds per-layer progress and locks onto the first operation', () => {
    let s = initialPull('alpine:3', 'local');
    s = applyPullEvent(s, ev({ status: 'Pulling from library/alpine' }));
    expect(s.operation).toBe('op1');
    expect(s.message).toBe('Pulling from library/alpine');
    s = applyPullEvent(s, ev({ layer: 'aaa', status: 'Pulling fs layer' }));
    s = applyPullEvent(s, ev({ layer: 'bbb', status: 'Downloading', current: 50, total: 200 }));
    s = applyPullEvent(s, ev({ layer: 'aaa', status: 'Downloading', current: 10, total: 10 }));
    s = applyPullEvent(s, ev({ layer: 'aaa', status: 'Pull complete' }));
    // another pull of the same image in parallel (another operation) and unrelated images are ignored
    s = applyPullEvent(s, ev({ operation: 'op2', layer: 'zzz', status: 'Downloading' }));
    s = applyPullEvent(s, ev({ image: 'nginx', layer: 'yyy', status: 'Downloading' }));
    expect(s.order).toEqual(['aaa', 'bbb']);
    expect(s.layers.aaa).toMatchObject({ done: true, total: 10 });
    expect(layerPercent(s.layers.aaa!)).toBe(100);
    expect(layerPercent(s.layers.bbb!)).toBe(25);
    expect(pullSummary(s)).toEqual({ layers: 2, done: 1, current: 60, total: 210 });
  });

  it('a layer without a size has no percentage yet', () => {
    const s = applyPullEvent(initialPull('alpine:3', 'local'), ev({ layer: 'c', status: 'Waiting' }));
    expect(layerPercent(s.layers.c!)).toBeNull();
    expect(applyPullEvent(s, ev({ layer: 'c', status: 'Already exists' })).layers.c!.done).toBe(true);
  });
});
