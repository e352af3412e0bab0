/**
 * A customer's history at every branch (`customerHistory`), as the profile
 * lists it: sales and account entries in one list, newest first, each with
 * its branch and whether it is read-only here (another branch's). Only
 * arranges what the backend sent; amounts are shown as they came.
 */
import type { CustomerHistoryView } from '../types';

export const OFFLINE_BANNER =
  "Offline: showing what this till has; other branches' sales appear when the Back Office is reachable";

export interface HistoryRow {
  key: string;
  /** `sale` (a sale, void or refund) or `ledger` (an account entry). */
  type: 'sale' | 'ledger';
  createdAt: string;
  /** What happened: "sale", "void", "credit sale", "payment (mpesa)"… */
  what: string;
  /** Receipt number or payment reference. */
  ref: string;
  branchCode: string;
  branchName: string;
  /** The amount shown: a sale's total, an entry's amount. */
  amount: number;
  /** For a sale: what went on the account. */
  onCredit: number | null;
  /** Another branch's record: shown, never acted on here. */
  readOnly: boolean;
}

const words = (kind: string) => kind.replace(/_/g, ' ');

/** Sales and ledger entries in one list, newest first (sales before entries at the same instant). */
export function historyRows(h: CustomerHistoryView): HistoryRow[] {
  const rows: HistoryRow[] = [
    ...h.sales.map((s): HistoryRow => ({
      key: `sale-${s.id}`, type: 'sale', createdAt: s.createdAt, what: words(s.kind), ref: s.receiptNo,
      branchCode: s.branchCode, branchName: s.branchName, amount: s.total, onCredit: s.onCredit, readOnly: !s.thisBranch,
    })),
    ...h.ledger.map((e): HistoryRow => ({
      key: `ledger-${e.id}`, type: 'ledger', createdAt: e.createdAt,
      what: words(e.kind) + (e.method ? ` (${e.method})` : ''), ref: e.reference ?? '',
      branchCode: e.branchCode, branchName: e.branchName, amount: e.amount, onCredit: null, readOnly: !e.thisBranch,
    })),
  ];
  const at = (r: HistoryRow) => { const t = Date.parse(r.createdAt); return Number.isNaN(t) ? 0 : t; };
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => at(b.r) - at(a.r) || a.i - b.i)
    .map(({ r }) => r);
}

/** The banner over a history that is this till's own only, or null when it came from the Back Office. */
export function historyBanner(h: CustomerHistoryView): { title: string; reason: string | null } | null {
  if (h.source === 'back_office') return null;
  return { title: OFFLINE_BANNER, reason: h.offlineReason };
}

/** A branch as a row names it: "Town (TOWN)", or the code alone, or "Unknown branch". */
export function branchLabel(r: Pick<HistoryRow, 'branchCode' | 'branchName'>): string {
  if (r.branchName && r.branchCode) return `${r.branchName} (${r.branchCode})`;
  return r.branchName || r.branchCode || 'Unknown branch';
}

export interface MergeLine {
  key: string;
  /** "Mama Njeri (+254712345678), added at CBD" */
  who: string;
  /** "merged 30 Nov 2026, 14:05: same phone +254712345678", or "merged (time known to the Back Office)". */
  how: string;
  /** Undone by an owner: the record is its own customer again. */
  undone: boolean;
  undoneAt: string | null;
}

/**
 * The records the Back Office merged into this customer, as the profile
 * lists them. `when` formats a timestamp (the screen passes its date format).
 */
export function mergeLines(h: CustomerHistoryView, when: (iso: string) => string): MergeLine[] {
  return h.merges.map((m) => {
    const phone = m.phone ? ` (${m.phone})` : '';
    const where = m.branchName ? `, added at ${m.branchName}` : '';
    const at = m.mergedAt ? `merged ${when(m.mergedAt)}` : 'merged (the Back Office knows when)';
    return {
      key: m.aliasId,
      who: `${m.name}${phone}${where}`,
      how: m.reason ? `${at}: ${m.reason}` : at,
      undone: m.undoneAt !== null,
      undoneAt: m.undoneAt,
    };
  });
}
