import { describe, expect, it } from 'vitest';
import { formatQuantity, parseQuantity } from './quantity';

describe('quantities in thousandths', () => {
  it('parses', () => {
    expect(parseQuantity('1.5')).toEqual({ ok: true, value: 1500 });
    expect(parseQuantity('3')).toEqual({ ok: true, value: 3000 });
    expect(parseQuantity('0.25')).toEqual({ ok: true, value: 250 });
    expect(parseQuantity('.5')).toEqual({ ok: true, value: 500 });
    expect(parseQuantity('2.125')).toEqual({ ok: true, value: 2125 });
  });
  it('rejects bad input', () => {
    for (const bad of ['', 'x', '1.2345', '1..2', '-1', '0', '1e3']) {
      expect(parseQuantity(bad).ok, bad).toBe(false);
    }
    expect(parseQuantity('0', { allowZero: true })).toEqual({ ok: true, value: 0 });
    expect(parseQuantity('-2', { allowNegative: true })).toEqual({ ok: true, value: -2000 });
  });
  it('formats', () => {
    expect(formatQuantity(1500)).toBe('1.5');
    expect(formatQuantity(3000)).toBe('3');
    expect(formatQuantity(1250)).toBe('1.25');
    expect(formatQuantity(5)).toBe('0.005');
    expect(formatQuantity(-2000)).toBe('-2');
  });
});
