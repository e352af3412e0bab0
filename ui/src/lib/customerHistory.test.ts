import { describe, expect, it } from 'vitest';
import { branchLabel, historyBanner, historyRows, mergeLines, OFFLINE_BANNER } from './customerHistory';
import type { CustomerHistoryView } from '../types';

const view = (over: Partial<CustomerHistoryView> = {}): CustomerHistoryView => ({
  customerId: 'c1', customerName: 'Njeri', balance: 40000, source: 'back_office', offlineReason: null, branchCode: 'CBD',
  sales: [
    { id: 's1', receiptNo: 'WL-T1-000001', kind: 'sale', branchCode: 'WL', branchName: 'Westlands', deviceCode: 'T1', createdAt: '2026-03-02T06:00:00.000Z', businessDay: '2026-03-02', total: 50000, onCredit: 50000, thisBranch: false },
    { id: 's2', receiptNo: 'CBD-T1-000007', kind: 'void', branchCode: 'CBD', branchName: 'CBD', deviceCode: 'T1', createdAt: '2026-03-03T06:00:00.000Z', businessDay: '2026-03-03', total: -10000, onCredit: -10000, thisBranch: true },
  ],
  salesTruncated: false,
  ledger: [
    { id: 'l2', kind: 'payment', amount: -10000, method: 'mpesa', reference: 'QK12345678', branchCode: 'CBD', branchName: 'CBD', createdAt: '2026-03-04T06:00:00.000Z', saleId: null, thisBranch: true },
    { id: 'l1', kind: 'credit_sale', amount: 50000, method: null, reference: 'WL-T1-000001', branchCode: 'WL', branchName: 'Westlands', createdAt: '2026-03-02T06:00:00.000Z', saleId: 's1', thisBranch: false },
  ],
  ledgerTruncated: false,
  merges: [],
  asOf: '2026-03-05T06:00:00.000Z',
  ...over,
});

describe('historyRows', () => {
  it('lists sales and entries newest first, sales first at the same instant', () => {
    const rows = historyRows(view());
    expect(rows.map((r) => r.key)).toEqual(['ledger-l2', 'sale-s2', 'sale-s1', 'ledger-l1']);
  });
  it("marks other branches' rows read-only and keeps this branch's", () => {
    const rows = historyRows(view());
    expect(rows.filter((r) => r.readOnly).map((r) => r.branchCode)).toEqual(['WL', 'WL']);
    expect(rows.find((r) => r.key === 'sale-s2')?.readOnly).toBe(false);
  });
  it('says what each row is, with its reference and amounts as sent', () => {
    const [pay, voided, sale, credit] = historyRows(view());
    expect(pay).toMatchObject({ type: 'ledger', what: 'payment (mpesa)', ref: 'QK12345678', amount: -10000, onCredit: null });
    expect(voided).toMatchObject({ type: 'sale', what: 'void', ref: 'CBD-T1-000007', amount: -10000, onCredit: -10000 });
    expect(sale).toMatchObject({ what: 'sale', amount: 50000, onCredit: 50000 });
    expect(credit).toMatchObject({ what: 'credit sale', ref: 'WL-T1-000001' });
  });
  it('is empty for a customer with no history', () => {
    expect(historyRows(view({ sales: [], ledger: [] }))).toEqual([]);
  });
});

describe('historyBanner', () => {
  it('is absent for the Back Office answer', () => {
    expect(historyBanner(view())).toBeNull();
  });
  it("says the till's own records are shown, and why", () => {
    const b = historyBanner(view({ source: 'this_till', offlineReason: 'The Back Office cannot be reached.' }));
    expect(b).toEqual({ title: OFFLINE_BANNER, reason: 'The Back Office cannot be reached.' });
    expect(b?.title).toContain('Offline');
  });
});

describe('branchLabel', () => {
  it('names the branch with its code, or whatever is known', () => {
    expect(branchLabel({ branchCode: 'WL', branchName: 'Westlands' })).toBe('Westlands (WL)');
    expect(branchLabel({ branchCode: 'WL', branchName: '' })).toBe('WL');
    expect(branchLabel({ branchCode: '', branchName: '' })).toBe('Unknown branch');
  });
});

describe('mergeLines', () => {
  const when = (iso: string) => iso.slice(0, 10);
  it('says who was merged, from which branch, when and why, and whether an owner undid it', () => {
    const lines = mergeLines(view({
      merges: [
        { aliasId: 'a1', name: 'Mama Njeri', phone: '+254712345678', mergedAt: '2026-03-03T06:00:00.000Z', reason: 'same phone +254712345678', branchName: 'CBD', undoneAt: null },
        { aliasId: 'a2', name: 'N. Wanjiru', phone: null, mergedAt: '2026-03-04T06:00:00.000Z', reason: null, branchName: null, undoneAt: '2026-03-05T06:00:00.000Z' },
      ],
    }), when);
    expect(lines).toEqual([
      { key: 'a1', who: 'Mama Njeri (+254712345678), added at CBD', how: 'merged 2026-03-03: same phone +254712345678', undone: false, undoneAt: null },
      { key: 'a2', who: 'N. Wanjiru', how: 'merged 2026-03-04', undone: true, undoneAt: '2026-03-05T06:00:00.000Z' },
    ]);
  });
  it("does not invent a time the till's offline answer does not have", () => {
    const [line] = mergeLines(view({ merges: [{ aliasId: 'a1', name: 'Njeri', phone: null, mergedAt: null, reason: null, branchName: null, undoneAt: null }] }), when);
    expect(line.how).toBe('merged (the Back Office knows when)');
  });
});
