import { describe, expect, it } from 'vitest';
import { checkPart, isMpesaCode, mayExceed, suggestedAmount, summarize, type TenderPart } from './tender';

const cash = (amount: number): TenderPart => ({ method: 'cash', amount });
const mpesa = (amount: number, code = 'QJK3ABCD12'): TenderPart => ({ method: 'mpesa', amount, mpesaCode: code });
const card = (amount: number): TenderPart => ({ method: 'card', amount });
const credit = (amount: number): TenderPart => ({ method: 'credit', amount, customerId: 'c1' });

describe('summarize', () => {
  it('gives change from cash only', () => {
    const s = summarize(8000, [cash(10000)]);
    expect(s).toMatchObject({ paid: 10000, remaining: 0, change: 2000, problem: null });
  });
  it('shows what remains on a split', () => {
    const s = summarize(10000, [mpesa(4000)]);
    expect(s.remaining).toBe(6000);
    expect(s.change).toBe(0);
    expect(s.problem).toContain('6000');
    const done = summarize(10000, [mpesa(4000), cash(7000)]);
    expect(done).toMatchObject({ remaining: 0, change: 1000, problem: null });
  });
  it('refuses non-cash beyond the total', () => {
    const s = summarize(5000, [card(6000)]);
    expect(s.problem).toMatch(/only cash/);
    expect(s.change).toBe(0);
  });
  it('refuses two credit payments', () => {
    expect(summarize(5000, [credit(2000), credit(3000)]).problem).toMatch(/one credit/);
  });
  it('exact non-cash payments settle', () => {
    expect(summarize(5000, [card(2000), credit(3000)]).problem).toBeNull();
  });
});

describe('checkPart', () => {
  it('lets only cash exceed what is left', () => {
    expect(mayExceed('cash')).toBe(true);
    expect(mayExceed('card')).toBe(false);
    expect(checkPart(5000, [], cash(9000))).toBeNull();
    expect(checkPart(5000, [], card(5001))).toMatch(/cannot be more/);
    expect(checkPart(5000, [cash(2000)], mpesa(3000))).toBeNull();
    expect(checkPart(5000, [cash(2000)], mpesa(3001))).toMatch(/3000/);
  });
  it('needs an M-Pesa code and a customer for credit', () => {
    expect(checkPart(5000, [], mpesa(5000, 'short'))).toMatch(/confirmation code/);
    expect(checkPart(5000, [], { method: 'credit', amount: 5000 })).toMatch(/customer/);
    expect(checkPart(5000, [credit(1000)], credit(1000))).toMatch(/one credit/);
    expect(checkPart(5000, [], cash(0))).toMatch(/more than zero/);
  });
  it('suggests the remaining amount', () => {
    expect(suggestedAmount(5000, [mpesa(1500)])).toBe(3500);
    expect(suggestedAmount(5000, [cash(6000)])).toBe(0);
  });
  it('validates M-Pesa codes', () => {
    expect(isMpesaCode('qjk3abcd12')).toBe(true);
    expect(isMpesaCode('QJK3ABCD1')).toBe(false);
    expect(isMpesaCode('QJK3-BCD12')).toBe(false);
  });
});
