/**
 * Keyboard-wedge barcode scanners type a code as a burst of key presses,
 * much faster than a person (a few ms apart), ending in Enter. This detector
 * is fed key presses with their times and says when a burst was a scan.
 */

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

export interface WedgeOptions {
  /** Longest gap between two characters of one scan, in ms. */
  maxGapMs?: number;
  /** Shortest code accepted as a scan. */
  minLength?: number;
  clock?: Clock;
}

export class BarcodeWedge {
  private buffer = '';
  private last = -Infinity;
  private readonly maxGapMs: number;
  private readonly minLength: number;
  private readonly clock: Clock;

  constructor(opts: WedgeOptions = {}) {
    this.maxGapMs = opts.maxGapMs ?? 30;
    this.minLength = opts.minLength ?? 4;
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * Feeds one key (`KeyboardEvent.key`). Returns the scanned code when this
   * key is the Enter that ends a fast burst, otherwise null.
   */
  feed(key: string): string | null {
    const t = this.clock.now();
    const fast = t - this.last <= this.maxGapMs;
    if (key === 'Enter') {
      const code = fast && this.buffer.length >= this.minLength ? this.buffer : null;
      this.reset();
      return code;
    }
    if (key.length !== 1) {
      // Shift and other modifiers arrive inside a burst (upper-case letters); ignore them.
      if (key === 'Shift') return null;
      this.reset();
      return null;
    }
    this.buffer = fast ? this.buffer + key : key;
    this.last = t;
    return null;
  }

  /** The characters of the burst in progress (for removing them from an input). */
  pending(): string {
    return this.buffer;
  }

  reset(): void {
    this.buffer = '';
    this.last = -Infinity;
  }
}
