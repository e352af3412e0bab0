import { describe, expect, it } from 'vitest';
import { BarcodeWedge } from './barcode';

function fakeClock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

function type(w: BarcodeWedge, clock: ReturnType<typeof fakeClock>, text: string, gap: number): string | null {
  let out: string | null = null;
  for (const ch of text) {
    clock.advance(gap);
    out = w.feed(ch);
  }
  clock.advance(gap);
  return w.feed('Enter') ?? out;
}

describe('BarcodeWedge', () => {
  it('detects a fast burst ending in Enter', () => {
    const c = fakeClock();
    const w = new BarcodeWedge({ clock: c });
    expect(type(w, c, '6161101600019', 5)).toBe('6161101600019');
  });
  it('ignores a person typing', () => {
    const c = fakeClock();
    const w = new BarcodeWedge({ clock: c });
    expect(type(w, c, '6161101600019', 120)).toBeNull();
  });
  it('ignores short bursts and restarts after a pause', () => {
    const c = fakeClock();
    const w = new BarcodeWedge({ clock: c, minLength: 4 });
    expect(type(w, c, 'ab', 5)).toBeNull();
    // A slow prefix then a fast code: only the fast part is the scan.
    c.advance(10);
    w.feed('x');
    c.advance(500);
    expect(type(w, c, 'ABC123', 8)).toBe('ABC123');
  });
  it('needs the Enter to come quickly too', () => {
    const c = fakeClock();
    const w = new BarcodeWedge({ clock: c });
    for (const ch of '12345678') { c.advance(5); w.feed(ch); }
    c.advance(400);
    expect(w.feed('Enter')).toBeNull();
  });
  it('keeps Shift inside a burst, but other keys break it', () => {
    const c = fakeClock();
    const w = new BarcodeWedge({ clock: c });
    for (const k of ['A', 'Shift', 'B', '1', '2']) { c.advance(4); w.feed(k); }
    expect(w.pending()).toBe('AB12');
    c.advance(4);
    expect(w.feed('Enter')).toBe('AB12');
    for (const k of ['A', 'B', 'ArrowLeft', '1', '2']) { c.advance(4); w.feed(k); }
    expect(w.pending()).toBe('12');
  });
});
