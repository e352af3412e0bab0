/**
 * The arithmetic of the checkout dialog: split payments, what is left to pay,
 * the change. It mirrors `pos-domain/src/tender.rs` (`settle`) so the dialog
 * can say what is wrong before asking the backend, which decides for real:
 * only cash may be over-tendered (the change comes out of the cash); M-Pesa,
 * card and credit are taken for exact amounts and together may not exceed
 * the total; at most one credit tender per sale.
 */

export type Method = 'cash' | 'mpesa' | 'card' | 'credit';

export const METHODS: readonly Method[] = ['cash', 'mpesa', 'card', 'credit'];

export const METHOD_LABEL: Record<Method, string> = {
  cash: 'Cash',
  mpesa: 'M-Pesa',
  card: 'Card',
  credit: 'Credit',
};

export interface TenderPart {
  method: Method;
  /** Minor units: cash handed over, or the exact amount of another method. */
  amount: number;
  mpesaCode?: string;
  reference?: string;
  customerId?: string;
  customerName?: string;
}

export interface SplitSummary {
  /** Everything offered, cash included. */
  paid: number;
  cash: number;
  nonCash: number;
  /** Still to pay (never negative). */
  remaining: number;
  /** Change to hand back, out of the cash. */
  change: number;
  /** Why these tenders cannot settle the total, or null when they do. */
  problem: string | null;
}

/** Only cash may be more than what is due. */
export function mayExceed(method: Method): boolean {
  return method === 'cash';
}

export function isMpesaCode(text: string): boolean {
  return /^[A-Za-z0-9]{10}$/.test(text.trim());
}

export function summarize(total: number, parts: readonly TenderPart[], fmt: (n: number) => string = String): SplitSummary {
  let cash = 0;
  let nonCash = 0;
  let credits = 0;
  let problem: string | null = null;
  for (const p of parts) {
    if (!(p.amount > 0)) problem ??= 'Each payment must be more than zero.';
    if (p.method === 'cash') cash += p.amount;
    else nonCash += p.amount;
    if (p.method === 'credit') credits += 1;
  }
  const paid = cash + nonCash;
  const remaining = Math.max(0, total - paid);
  const change = nonCash > total ? 0 : Math.max(0, paid - total);
  if (credits > 1) problem ??= 'Only one credit payment per sale.';
  if (nonCash > total) {
    problem ??= `M-Pesa, card and credit together (${fmt(nonCash)}) may not exceed the total (${fmt(total)}); only cash can be more.`;
  }
  if (remaining > 0) problem ??= `${fmt(remaining)} still to pay.`;
  return { paid, cash, nonCash, remaining, change, problem };
}

/**
 * Checks one payment before it is added to `parts` (the ones already added).
 * Returns a sentence for the cashier, or null if it may be added.
 */
export function checkPart(total: number, parts: readonly TenderPart[], part: TenderPart, fmt: (n: number) => string = String): string | null {
  if (!Number.isSafeInteger(part.amount) || part.amount <= 0) return 'Enter an amount more than zero.';
  const before = summarize(total, parts);
  if (!mayExceed(part.method)) {
    if (part.amount > before.remaining) {
      return `${METHOD_LABEL[part.method]} cannot be more than what is left to pay (${fmt(before.remaining)}); only cash can be more.`;
    }
  }
  if (part.method === 'mpesa' && !isMpesaCode(part.mpesaCode ?? '')) {
    return 'Enter the M-Pesa confirmation code (10 letters and digits, e.g. QJK3ABCD12).';
  }
  if (part.method === 'credit') {
    if (!part.customerId) return 'Choose the customer to put this on.';
    if (parts.some((p) => p.method === 'credit')) return 'Only one credit payment per sale.';
  }
  return null;
}

/** The amount to suggest when a method is chosen: what is left to pay. */
export function suggestedAmount(total: number, parts: readonly TenderPart[]): number {
  return summarize(total, parts).remaining;
}
