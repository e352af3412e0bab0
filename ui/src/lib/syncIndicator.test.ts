import { describe, expect, it } from 'vitest';
import { deriveIndicator } from './syncIndicator';

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
