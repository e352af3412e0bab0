/**
 * The inactivity auto-lock: the app records activity (key presses, clicks)
 * and asks, on a timer, whether the till has been idle long enough to lock.
 * The clock is injected so tests need no waiting.
 */
import { type Clock, systemClock } from './barcode';

export class IdleLock {
  private lastActivity: number;
  private timeoutMs: number;
  private fired = false;

  /** `minutes` of 0 (or less) disables the auto-lock. */
  constructor(minutes: number, private readonly onIdle: () => void, private readonly clock: Clock = systemClock) {
    this.timeoutMs = Math.max(0, minutes) * 60_000;
    this.lastActivity = clock.now();
  }

  setMinutes(minutes: number): void {
    this.timeoutMs = Math.max(0, minutes) * 60_000;
  }

  /** The user did something: the countdown starts again. */
  activity(): void {
    this.lastActivity = this.clock.now();
    this.fired = false;
  }

  /** Ms left before locking, or Infinity when disabled. */
  remainingMs(): number {
    if (this.timeoutMs <= 0) return Infinity;
    return Math.max(0, this.lastActivity + this.timeoutMs - this.clock.now());
  }

  /** Called on a timer: locks once when idle for the whole timeout. Returns whether it locked now. */
  check(): boolean {
    if (this.fired || this.timeoutMs <= 0) return false;
    if (this.clock.now() - this.lastActivity >= this.timeoutMs) {
      this.fired = true;
      this.onIdle();
      return true;
    }
    return false;
  }
}
