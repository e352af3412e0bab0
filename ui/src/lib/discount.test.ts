import { describe, expect, it } from 'vitest';
import { discountText, parseDiscount } from './discount';

describe('parseDiscount', () => {
  it('reads percentages as basis points', () => {
    expect(parseDiscount('10%')).toEqual({ ok: true, value: { kind: 'percent', basis_points: 1000 } });
    expect(parseDiscount('2.5%')).toEqual({ ok: true, value: { kind: 'percent', basis_points: 250 } });
    expect(parseDiscount('100%')).toEqual({ ok: true, value: { kind: 'percent', basis_points: 10000 } });
  });
  it('reads amounts as minor units', () => {
    expect(parseDiscount('50')).toEqual({ ok: true, value: { kind: 'amount', amount: 5000 } });
    expect(parseDiscount('1,000.50')).toEqual({ ok: true, value: { kind: 'amount', amount: 100050 } });
  });
  it('empty or zero is none', () => {
    expect(parseDiscount('')).toEqual({ ok: true, value: { kind: 'none' } });
    expect(parseDiscount('0')).toEqual({ ok: true, value: { kind: 'none' } });
  });
  it('rejects nonsense', () => {
    for (const bad of ['101%', 'abc', '5.555%', '-5', '1.234']) expect(parseDiscount(bad).ok, bad).toBe(false);
  });
  it('prints back', () => {
    expect(discountText({ kind: 'percent', basis_points: 250 })).toBe('2.5%');
    expect(discountText({ kind: 'percent', basis_points: 1000 })).toBe('10%');
    expect(discountText({ kind: 'amount', amount: 5000 })).toBe('50.00');
    expect(discountText({ kind: 'none' })).toBe('');
  });
});
