/**
 * Money in the UI: integer minor units (KES 80.00 = 8000), as the backend
 * sends it. Formatting and parsing mirror `pos-domain/src/money.rs`:
 * parsing never rounds (more decimals than the currency has is an error).
 * The UI never computes an authoritative total; this is display and input only.
 */

/** Digits after the decimal point per ISO code; unknown codes get 2. */
const EXPONENTS: Record<string, number> = {
  KES: 2, UGX: 0, TZS: 2, RWF: 0, BIF: 0, ETB: 2, SSP: 2, SOS: 2, CDF: 2,
  USD: 2, EUR: 2, GBP: 2, ZAR: 2, NGN: 2, GHS: 2,
};

/** Largest amount the backend accepts (±10^15 minor units). */
export const MAX_MINOR = 1_000_000_000_000_000;

export function currencyExponent(code: string): number {
  return EXPONENTS[code.trim().toUpperCase()] ?? 2;
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `125050` → `"1,250.50"` (no currency code). */
export function formatAmount(minor: number, currency = 'KES'): string {
  const exp = currencyExponent(currency);
  const neg = minor < 0;
  const abs = Math.abs(Math.trunc(minor));
  const scale = 10 ** exp;
  const whole = Math.floor(abs / scale);
  const frac = abs % scale;
  let text = groupThousands(String(whole));
  if (exp > 0) text += '.' + String(frac).padStart(exp, '0');
  return (neg ? '-' : '') + text;
}

/** `125050` → `"KES 1,250.50"`. */
export function formatMoney(minor: number, currency = 'KES'): string {
  return `${currency.toUpperCase()} ${formatAmount(minor, currency)}`;
}

export type ParseResult = { ok: true; value: number } | { ok: false; error: string };

/**
 * Parses what a cashier typed (`"1,250.50"`, `"1250"`, `".5"`, optionally
 * prefixed by the currency code) into minor units.
 */
export function parseMoney(text: string, currency = 'KES', opts: { allowNegative?: boolean } = {}): ParseResult {
  const bad = (): ParseResult => ({ ok: false, error: `"${text}" is not an amount of ${currency.toUpperCase()}.` });
  let t = text.trim();
  const code = currency.trim().toUpperCase();
  if (t.toUpperCase().startsWith(code)) t = t.slice(code.length).trim();
  t = t.replace(/[,_]/g, '');
  let negative = false;
  if (t.startsWith('-')) {
    if (!opts.allowNegative) return { ok: false, error: 'The amount cannot be negative.' };
    negative = true;
    t = t.slice(1);
  }
  const m = /^(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m) return bad();
  const whole = m[1] ?? '';
  const frac = m[2] ?? '';
  if (whole === '' && frac === '') return bad();
  const exp = currencyExponent(code);
  if (frac.length > exp) {
    return { ok: false, error: exp === 0 ? `${code} amounts have no decimals.` : `At most ${exp} decimals in ${code}.` };
  }
  if (whole.length > 13) return { ok: false, error: 'That amount is too large.' };
  const minor = Number(whole || '0') * 10 ** exp + Number((frac || '0').padEnd(exp, '0').slice(0, exp) || '0');
  if (!Number.isSafeInteger(minor) || minor > MAX_MINOR) return { ok: false, error: 'That amount is too large.' };
  return { ok: true, value: negative ? -minor : minor };
}

/** Minor units → the text an input shows for editing (`125050` → `"1250.50"`). */
export function amountInputText(minor: number, currency = 'KES'): string {
  return formatAmount(minor, currency).replace(/,/g, '');
}
