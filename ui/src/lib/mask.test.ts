import { describe, expect, it } from 'vitest';
import { looksMasked, maskApiKey } from './mask';

describe('maskApiKey', () => {
  it('keeps the prefix and the last four characters', () => {
    expect(maskApiKey('whiz_8d1c0b7e55aa4f0e93f2c1d03f9a')).toBe('whiz_••••••3f9a');
    expect(maskApiKey('abcdefghijklmnop')).toBe('••••••mnop');
  });
  it('reveals nothing of short keys', () => {
    expect(maskApiKey('whiz_1234')).toBe('whiz_••••••');
    expect(maskApiKey('')).toBe('');
    expect(maskApiKey(null)).toBe('');
  });
  it('recognises a mask', () => {
    expect(looksMasked(maskApiKey('whiz_8d1c0b7e55aa4f0e93f2c1d03f9a'))).toBe(true);
    expect(looksMasked('whiz_abc')).toBe(false);
  });
});
