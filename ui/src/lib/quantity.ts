/**
 * Quantities are integers in thousandths (1 unit = 1000; 0.5 kg = 500), as in
 * `pos-domain/src/quantity.rs`.
 */
import type { ParseResult } from './money';

export const QTY_SCALE = 1000;

/** `"1.5"` → 1500. At most 3 decimals; negative only when allowed. */
export function parseQuantity(text: string, opts: { allowNegative?: boolean; allowZero?: boolean } = {}): ParseResult {
  const bad = (): ParseResult => ({ ok: false, error: `"${text}" is not a quantity (e.g. 2 or 0.5).` });
  let t = text.trim().replace(/,/g, '');
  let neg = false;
  if (t.startsWith('-')) {
    if (!opts.allowNegative) return { ok: false, error: 'The quantity cannot be negative.' };
    neg = true;
    t = t.slice(1);
  }
  const m = /^(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m) return bad();
  const w = m[1] ?? '';
  const f = m[2] ?? '';
  if ((w === '' && f === '') || w.length > 12) return bad();
  if (f.length > 3) return { ok: false, error: 'At most 3 decimals in a quantity.' };
  const milli = Number(w || '0') * QTY_SCALE + Number(f.padEnd(3, '0'));
  if (milli === 0 && !opts.allowZero) return { ok: false, error: 'The quantity must be more than zero.' };
  return { ok: true, value: neg ? -milli : milli };
}

/** 1500 → `"1.5"`, 3000 → `"3"`, 1250 → `"1.25"`. */
export function formatQuantity(milli: number): string {
  const neg = milli < 0;
  const abs = Math.abs(Math.trunc(milli));
  const whole = Math.floor(abs / QTY_SCALE);
  const frac = abs % QTY_SCALE;
  let text = String(whole);
  if (frac) text += '.' + String(frac).padStart(3, '0').replace(/0+$/, '');
  return (neg ? '-' : '') + text;
}
