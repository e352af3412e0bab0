import { describe, expect, it } from 'vitest';
import { deriveIndicator, roundOutcome } from './syncIndicator';

describe('deriveIndicator', () => {
  it('online with nothing waiting is synced', () => {
    expect(deriveIndicator({ state: 'online', pending: 0, quarantined: [] })).toMatchObject({ state: 'synced', pending: 0, label: 'Synced' });
  });
  it('online with ops waiting is pending N', () => {
    expect(deriveIndicator({ state: 'online', pending: 3, quarantined: [] })).toMatchObject({ state: 'pending', pending: 3, label: 'Pending 3' });
  });
  it('unreachable keeps the pending count', () => {
    const i = deriveIndicator({ state: 'unreachable', pending: 7, quarantined: [] });
    expect(i).toMatchObject({ state: 'unreachable', pending: 7, label: 'Unreachable' });
    expect(i.detail).toContain('7 changes');
  });
  it('not configured and unknown say not connected', () => {
    expect(deriveIndicator({ state: 'not_configured', pending: 2, quarantined: [] })).toMatchObject({ state: 'not_configured', label: 'Not connected', pending: 2 });
    expect(deriveIndicator(null)).toMatchObject({ state: 'not_configured', label: 'Not connected' });
  });
  it('connecting and syncing show syncing', () => {
    expect(deriveIndicator({ state: 'connecting', pending: 0, quarantined: [] }).state).toBe('syncing');
    expect(deriveIndicator({ state: 'syncing', pending: 4, quarantined: [] })).toMatchObject({ state: 'syncing', pending: 4 });
  });
  it('mentions quarantined ops', () => {
    const i = deriveIndicator({ state: 'online', pending: 0, quarantined: [{}, {}] });
    expect(i.label).toBe('Synced · 2 held');
    expect(i.detail).toContain('2 need attention');
  });
});

describe('roundOutcome', () => {
  const started = Date.parse('2026-11-30T10:00:00Z');
  const base = { state: 'online' as const, pending: 0, quarantined: [], lastError: null, lastErrorAt: null };

  it('a push that emptied the outbox says so', () => {
    expect(roundOutcome('push', base, started)).toEqual({ ok: true, text: 'Pushed: everything is uploaded.' });
  });

  it('a push that left ops says how many', () => {
    expect(roundOutcome('push', { ...base, pending: 3 }, started).text).toBe('Pushed; 3 still waiting.');
  });

  it('an unreachable Back Office is a failure with its reason', () => {
    const out = roundOutcome('push', { ...base, state: 'unreachable', pending: 1, lastError: 'connection refused', lastErrorAt: '2026-11-30T09:00:00Z' }, started);
    expect(out).toEqual({ ok: false, text: 'Push failed: connection refused' });
  });

  it('an error recorded during the round is a failure; an older one is not', () => {
    const during = { ...base, lastError: 'bad key', lastErrorAt: '2026-11-30T10:00:01Z' };
    expect(roundOutcome('pull', during, started)).toEqual({ ok: false, text: 'Pull failed: bad key' });
    // An error of the round before (a moment earlier) does not make this one fail.
    const before = { ...during, lastErrorAt: '2026-11-30T09:59:59.500Z' };
    expect(roundOutcome('pull', before, started)).toEqual({ ok: true, text: 'Pulled: this till is up to date.' });
  });

  it('no Back Office configured is explained', () => {
    expect(roundOutcome('push', { ...base, state: 'not_configured' }, started).ok).toBe(false);
  });
});
