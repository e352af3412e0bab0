import { describe, expect, it } from 'vitest';
import { IdleLock } from './idle';

function fakeClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

describe('IdleLock', () => {
  it('locks once after the timeout without activity', () => {
    const c = fakeClock();
    let locks = 0;
    const l = new IdleLock(2, () => locks++, c);
    c.advance(119_000);
    expect(l.check()).toBe(false);
    expect(l.remainingMs()).toBe(1000);
    c.advance(1000);
    expect(l.check()).toBe(true);
    c.advance(60_000);
    expect(l.check()).toBe(false);
    expect(locks).toBe(1);
  });
  it('activity restarts the countdown and re-arms', () => {
    const c = fakeClock();
    let locks = 0;
    const l = new IdleLock(1, () => locks++, c);
    c.advance(50_000);
    l.activity();
    c.advance(50_000);
    expect(l.check()).toBe(false);
    c.advance(10_000);
    expect(l.check()).toBe(true);
    l.activity();
    c.advance(60_000);
    expect(l.check()).toBe(true);
    expect(locks).toBe(2);
  });
  it('zero minutes disables it; minutes can change', () => {
    const c = fakeClock();
    let locks = 0;
    const l = new IdleLock(0, () => locks++, c);
    c.advance(10 * 3_600_000);
    expect(l.check()).toBe(false);
    expect(l.remainingMs()).toBe(Infinity);
    l.setMinutes(5);
    expect(l.check()).toBe(true);
    expect(locks).toBe(1);
  });
});
