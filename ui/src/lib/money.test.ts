import { describe, expect, it } from 'vitest';
import { amountInputText, formatAmount, formatMoney, parseMoney } from './money';

describe('formatMoney', () => {
  it('formats shillings with grouping and two decimals', () => {
    expect(formatMoney(125050)).toBe('KES 1,250.50');
    expect(formatMoney(8000)).toBe('KES 80.00');
    expect(formatMoney(123456789)).toBe('KES 1,234,567.89');
    expect(formatMoney(-5)).toBe('KES -0.05');
    expect(formatMoney(0)).toBe('KES 0.00');
  });
  it('knows currencies without decimals', () => {
    expect(formatMoney(1500, 'UGX')).toBe('UGX 1,500');
    expect(formatAmount(100, 'RWF')).toBe('100');
  });
  it('gives input text without grouping', () => {
    expect(amountInputText(125050)).toBe('1250.50');
  });
});

describe('parseMoney', () => {
  const ok = (text: string, cur = 'KES') => {
    const r = parseMoney(text, cur);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  it('parses what a cashier types', () => {
    expect(ok('1,250.50')).toBe(125050);
    expect(ok('1250')).toBe(125000);
    expect(ok('1,250.5')).toBe(125050);
    expect(ok('.5')).toBe(50);
    expect(ok(' 80 ')).toBe(8000);
    expect(ok('KES 80.00')).toBe(8000);
    expect(ok('1500', 'UGX')).toBe(1500);
  });
  it('round-trips with formatting', () => {
    for (const n of [0, 1, 99, 100, 125050, 99999999]) {
      expect(ok(formatAmount(n))).toBe(n);
    }
  });
  it('rejects what is not money', () => {
    for (const bad of ['', '-', '.', '12.345', '1e5', 'abc', '12.3.4', '1 000', '--1', 'NaN', '99999999999999999999']) {
      expect(parseMoney(bad).ok, bad).toBe(false);
    }
    expect(parseMoney('1.5', 'UGX').ok).toBe(false);
    expect(parseMoney('-3').ok).toBe(false);
    expect(parseMoney('-3', 'KES', { allowNegative: true })).toEqual({ ok: true, value: -300 });
  });
});
