import { describe, expect, it } from 'vitest';
import { formatPercent, parsePercent } from './percent';

describe('percent', () => {
  it('parses to basis points', () => {
    expect(parsePercent('16')).toBe(1600);
    expect(parsePercent('16%')).toBe(1600);
    expect(parsePercent('2.5')).toBe(250);
    expect(parsePercent('0')).toBe(0);
    expect(parsePercent('101')).toBeNull();
    expect(parsePercent('x')).toBeNull();
    expect(parsePercent('1.234')).toBeNull();
  });
  it('formats', () => {
    expect(formatPercent(1600)).toBe('16%');
    expect(formatPercent(250)).toBe('2.5%');
    expect(formatPercent(1)).toBe('0.01%');
  });
});
