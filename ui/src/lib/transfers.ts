/**
 * The Transfers screen's own logic, kept out of the component so it can be
 * tested: the destinations a transfer may go to, the send form's lines, the
 * payloads the `sendTransfer` / `receiveTransfer` commands take (with a
 * message that names the bad field), and which received lines differ from
 * what was sent. The rules themselves (who may send, a branch the till
 * knows, once-only receipt, the discrepancy state) are Rust's; this only
 * catches typing mistakes before a round trip and warns before a receipt
 * that will be flagged.
 */
import type {
  BranchView, ReceiveTransferInput, SendTransferInput, TransferStateView, TransferView,
} from '../types';
import { formatQuantity, parseQuantity } from './quantity';

export type Built<T> = { ok: true; value: T } | { ok: false; error: string };

/** One product on the send form, its quantity as typed. */
export interface SendLine {
  productId: string;
  name: string;
  /** In stock here when it was picked (thousandths), shown beside the line. */
  stock: number;
  quantity: string;
}

export interface SendDraft {
  toBranchId: string;
  lines: SendLine[];
  note: string;
}

export const EMPTY_DRAFT: SendDraft = { toBranchId: '', lines: [], note: '' };

/** Shown (and asked to confirm) before a receipt whose counts differ from what was sent. */
export const DISCREPANCY_WARNING = 'Received quantities differ from what was sent — this will be flagged as a discrepancy.';

export const STATE_LABEL: Record<TransferStateView, string> = {
  sent: 'Sent',
  received: 'Received',
  received_with_discrepancy: 'Received with discrepancy',
};

/** The branches stock may be sent to: every branch the till knows but its own. */
export function destinations(branches: BranchView[]): BranchView[] {
  return branches.filter((b) => !b.thisBranch);
}

/** `Name (CODE)`. */
export function branchLabel(b: BranchView): string {
  return b.code && b.code !== b.name ? `${b.name} (${b.code})` : b.name;
}

/** Adds a product to the send form (once: a product already listed is left as it is). */
export function addLine(lines: SendLine[], p: { id: string; name: string; stock: number }): SendLine[] {
  if (lines.some((l) => l.productId === p.id)) return lines;
  return [...lines, { productId: p.id, name: p.name, stock: p.stock, quantity: '' }];
}

export function removeLine(lines: SendLine[], productId: string): SendLine[] {
  return lines.filter((l) => l.productId !== productId);
}

export function setLineQuantity(lines: SendLine[], productId: string, quantity: string): SendLine[] {
  return lines.map((l) => (l.productId === productId ? { ...l, quantity } : l));
}

/** The `sendTransfer` payload, or the first thing to fix, as a sentence naming it. */
export function buildSendPayload(draft: SendDraft, branches: BranchView[]): Built<SendTransferInput> {
  if (!draft.toBranchId) return { ok: false, error: 'Choose the branch to send the stock to.' };
  const to = branches.find((b) => b.id === draft.toBranchId);
  if (!to) return { ok: false, error: 'The destination branch is not one this till knows; pull updates, then choose it again.' };
  if (to.thisBranch) return { ok: false, error: 'Stock goes to another branch: choose a destination other than this branch.' };
  if (draft.lines.length === 0) return { ok: false, error: 'Add at least one product to send.' };
  const lines: SendTransferInput['lines'] = [];
  const seen = new Set<string>();
  for (const l of draft.lines) {
    if (seen.has(l.productId)) return { ok: false, error: `${l.name} is listed twice; send each product once.` };
    seen.add(l.productId);
    if (!l.quantity.trim()) return { ok: false, error: `${l.name}: enter the quantity to send.` };
    const q = parseQuantity(l.quantity);
    if (!q.ok) return { ok: false, error: `${l.name}: ${q.error}` };
    lines.push({ productId: l.productId, quantity: q.value });
  }
  return { ok: true, value: { toBranchId: to.id, lines, note: draft.note.trim() || null } };
}

/** The receive form's counts, by line number, prefilled with what was sent. */
export function initialCounts(t: TransferView): Record<number, string> {
  const counts: Record<number, string> = {};
  for (const l of t.lines) counts[l.lineNo] = formatQuantity(l.sent);
  return counts;
}

/** A line whose counted quantity is not what was sent. */
export interface Difference {
  lineNo: number;
  name: string;
  sent: number;
  received: number;
}

/**
 * The `receiveTransfer` payload and the lines that differ from what was
 * sent, or the first count to fix. An empty count is refused rather than
 * read as zero: "nothing arrived" is typed as 0.
 */
export function buildReceivePayload(
  t: TransferView,
  counts: Record<number, string>,
  note: string,
): Built<{ payload: ReceiveTransferInput; differences: Difference[] }> {
  const lines: ReceiveTransferInput['lines'] = [];
  const differences: Difference[] = [];
  for (const l of t.lines) {
    const text = counts[l.lineNo] ?? '';
    if (!text.trim()) return { ok: false, error: `${l.productName}: enter the quantity received (0 if none arrived).` };
    const q = parseQuantity(text, { allowZero: true });
    if (!q.ok) return { ok: false, error: `${l.productName}: ${q.error}` };
    lines.push({ lineNo: l.lineNo, quantity: q.value });
    if (q.value !== l.sent) differences.push({ lineNo: l.lineNo, name: l.productName, sent: l.sent, received: q.value });
  }
  return { ok: true, value: { payload: { transferId: t.id, lines, note: note.trim() || null }, differences } };
}

/** Whether the counts as typed so far differ from what was sent (for the live warning). */
export function countsDiffer(t: TransferView, counts: Record<number, string>): boolean {
  return t.lines.some((l) => {
    const q = parseQuantity(counts[l.lineNo] ?? '', { allowZero: true });
    return q.ok && q.value !== l.sent;
  });
}

/** "10 sent, 9 received" sentences for the confirmation. */
export function describeDifferences(differences: Difference[]): string {
  return differences.map((d) => `${d.name}: ${formatQuantity(d.sent)} sent, ${formatQuantity(d.received)} received`).join('; ');
}

/** "To CBD branch (CBD)" or "From …", seen from this till. */
export function counterpart(t: TransferView): string {
  return t.direction === 'outgoing' ? `To ${branchLabel(t.toBranch)}` : `From ${branchLabel(t.fromBranch)}`;
}

/** History: every transfer that needs nothing more from anyone (received), newest first as listed. */
export function history(all: TransferView[]): TransferView[] {
  return all.filter((t) => t.state !== 'sent');
}

/**
 * A flag saying an action (a send, a receipt) is under way. Kept in a ref,
 * not in state: it is checked and set synchronously, so a second click that
 * arrives before a re-render (or while a search elsewhere on the screen
 * toggles some other busy flag) still sees it.
 */
export interface InFlight {
  current: boolean;
}

export type Exclusive<T> = { ran: true; value: T } | { ran: false };

/**
 * Runs `action` unless one is already in flight on `flag`; a call made while
 * it is pending is refused (`{ ran: false }`) without running anything.
 * `onBusy(true)` / `onBusy(false)` bracket the run (to disable the button).
 * The flag is released however the action ends, so a failed send can be
 * retried.
 */
export async function exclusive<T>(flag: InFlight, action: () => Promise<T>, onBusy?: (busy: boolean) => void): Promise<Exclusive<T>> {
  if (flag.current) return { ran: false };
  flag.current = true;
  onBusy?.(true);
  try {
    return { ran: true, value: await action() };
  } finally {
    flag.current = false;
    onBusy?.(false);
  }
}
