import { describe, expect, it } from 'vitest';
import { canonicalCategory, DEFAULT_EXPENSE_CATEGORIES, mergeCategories } from './expenseCategories';

describe('mergeCategories', () => {
  it('gives the defaults when the branch has none', () => {
    expect(mergeCategories([])).toEqual(DEFAULT_EXPENSE_CATEGORIES);
  });
  it('puts the branch’s categories first and drops case-insensitive duplicates', () => {
    expect(mergeCategories(['Cleaning', 'transport', ' Airtime ', 'TRANSPORT', ''], ['Supplies', 'Transport', 'Other'])).toEqual([
      'Cleaning', 'transport', 'Airtime', 'Supplies', 'Other',
    ]);
  });
  it('collapses inner whitespace', () => {
    expect(mergeCategories(['Staff  meals', 'staff meals'], [])).toEqual(['Staff meals']);
  });
});

describe('canonicalCategory', () => {
  it('uses the known spelling for a case-insensitive match', () => {
    expect(canonicalCategory('  supplies ', ['Supplies', 'Rent'])).toBe('Supplies');
  });
  it('keeps new text as typed, trimmed', () => {
    expect(canonicalCategory(' Airtime  top-up ', ['Supplies'])).toBe('Airtime top-up');
  });
});
