/**
 * Discounts as a cashier types them: `10%` is a percentage (sent as basis
 * points, 1000 = 10%), `50` or `50.00` an amount off (minor units). Empty
 * or `0` is no discount. The backend applies them; this only parses.
 */
import { formatAmount, parseMoney } from './money';

export type Discount =
  | { kind: 'none' }
  | { kind: 'percent'; basis_points: number }
  | { kind: 'amount'; amount: number };

export type DiscountParse = { ok: true; value: Discount } | { ok: false; error: string };

export function parseDiscount(text: string, currency = 'KES'): DiscountParse {
  const t = text.trim();
  if (t === '' || t === '0' || t === '0%') return { ok: true, value: { kind: 'none' } };
  if (t.endsWith('%')) {
    const m = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(t.slice(0, -1).trim());
    if (!m) return { ok: false, error: `"${t}" is not a percentage (e.g. 10% or 2.5%).` };
    const bp = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0') || '0');
    if (bp > 10_000) return { ok: false, error: 'A discount cannot be more than 100%.' };
    return { ok: true, value: bp === 0 ? { kind: 'none' } : { kind: 'percent', basis_points: bp } };
  }
  const r = parseMoney(t, currency);
  if (!r.ok) return { ok: false, error: `${r.error} Type an amount (e.g. 50) or a percentage (e.g. 10%).` };
  return { ok: true, value: r.value === 0 ? { kind: 'none' } : { kind: 'amount', amount: r.value } };
}

export function discountText(d: Discount, currency = 'KES'): string {
  switch (d.kind) {
    case 'none':
      return '';
    case 'percent': {
      const whole = Math.floor(d.basis_points / 100);
      const frac = d.basis_points % 100;
      return `${whole}${frac ? '.' + String(frac).padStart(2, '0').replace(/0$/, '') : ''}%`;
    }
    case 'amount':
      return formatAmount(d.amount, currency).replace(/,/g, '');
  }
}
