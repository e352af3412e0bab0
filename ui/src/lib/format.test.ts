import { describe, expect, it } from 'vitest';
import { formatSkew } from './format';

describe('formatSkew', () => {
  it('says nothing is known without a figure', () => {
    expect(formatSkew(null)).toBe('—');
    expect(formatSkew(undefined)).toBe('—');
  });
  it('calls under a second in step', () => {
    expect(formatSkew(420)).toBe('in step with the Back Office (420 ms)');
    expect(formatSkew(-999)).toBe('in step with the Back Office (999 ms)');
    expect(formatSkew(0)).toBe('in step with the Back Office (0 ms)');
  });
  it('positive means this till is ahead', () => {
    expect(formatSkew(2300)).toBe('this till is 2.3 s ahead of the Back Office');
  });
  it('negative means this till is behind', () => {
    expect(formatSkew(-2300)).toBe('this till is 2.3 s behind the Back Office');
  });
  it('uses minutes and hours for large differences', () => {
    expect(formatSkew(90_000)).toBe('this till is 1.5 min ahead of the Back Office');
    expect(formatSkew(-2 * 3_600_000)).toBe('this till is 2.0 h behind the Back Office');
  });
});
