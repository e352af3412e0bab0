import { describe, expect, it } from 'vitest';
import { fullSyncProgress } from './fullSync';

const ev = (phase: string, done: number, total: number) => ({ phase, entity: null, done, total });

describe('fullSyncProgress', () => {
  it('starts at zero before any event', () => {
    expect(fullSyncProgress(null)).toEqual({ phase: 'starting', label: 'Starting…', percent: 0 });
  });
  it('moves forward through the phases', () => {
    const seq = [ev('preview', 0, 1), ev('preview', 1, 1), ev('upload', 0, 4), ev('upload', 2, 4), ev('upload', 4, 4), ev('finish', 1, 1), ev('push', 0, 1), ev('push', 1, 1), ev('done', 1, 1)];
    const pcts = seq.map((e) => fullSyncProgress(e).percent!);
    for (let i = 1; i < pcts.length; i++) expect(pcts[i]).toBeGreaterThanOrEqual(pcts[i - 1]!);
    expect(pcts[0]).toBe(0);
    expect(pcts.at(-1)).toBe(100);
  });
  it('fills a phase by done of total', () => {
    expect(fullSyncProgress(ev('upload', 2, 4)).percent).toBe(45);
    expect(fullSyncProgress(ev('upload', 2, 4)).label).toBe('Uploading this till’s records (2 of 4)…');
  });
  it('copes with a zero total', () => {
    expect(fullSyncProgress(ev('push', 0, 0)).percent).toBe(90);
    expect(fullSyncProgress(ev('done', 0, 0))).toEqual({ phase: 'done', label: 'Done', percent: 100 });
  });
  it('shows an unknown phase without guessing', () => {
    expect(fullSyncProgress({ phase: 'pull', entity: 'products', done: 1, total: 2 })).toEqual({ phase: 'pull', label: 'pull · products (1 of 2)', percent: null });
  });
});
