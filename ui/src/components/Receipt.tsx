/** A receipt as the customer gets it: on screen, and alone on the page when printed (80 mm). */
import { useLayoutEffect, useRef } from 'preact/hooks';
import { formatAmount } from '../lib/money';
import { formatDateTime } from '../lib/format';
import { formatQuantity } from '../lib/quantity';
import { METHOD_LABEL, type Method } from '../lib/tender';
import type { ReceiptView } from '../types';

const KIND_TITLE: Record<string, string> = { sale: 'Sale', void: 'VOID', refund: 'REFUND' };

/**
 * `payStartedAt` (`performance.now()` when the cashier pressed Complete):
 * the preview then carries `data-pay-ms`, the milliseconds from that press
 * until the preview is in the page and laid out (the benchmark reads it).
 */
export function ReceiptPaper({ r, payStartedAt }: { r: ReceiptView; payStartedAt?: number | undefined }) {
  const ref = useRef<HTMLDivElement>(null);
  // Set on the element directly, in the same task as the mount: the preview
  // never shows without the attribute, and no second render is needed.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (payStartedAt === undefined) {
      delete el.dataset['payMs'];
      return;
    }
    el.getBoundingClientRect(); // the layout is part of "rendered"
    el.dataset['payMs'] = String(Math.max(0, Math.round(performance.now() - payStartedAt)));
  }, [r, payStartedAt]);
  const cur = r.currency;
  const m = (n: number) => formatAmount(n, cur);
  return (
    <div ref={ref} class="receipt-paper print-area" data-testid="receipt-preview" data-receipt-no={r.receiptNo}>
      <div class="r-center r-store">{r.storeName}</div>
      {r.header ? <div class="r-center r-pre">{r.header}</div> : null}
      <div class="r-rule" />
      <div class="r-row"><span>{KIND_TITLE[r.kind] ?? r.kind} {r.receiptNo}</span><span>{formatDateTime(r.createdAt)}</span></div>
      <div class="r-row"><span>Served by {r.cashier}</span>{r.customer ? <span>{r.customer}</span> : null}</div>
      {r.voided ? <div class="r-center r-strong">*** VOIDED ***</div> : null}
      <div class="r-rule" />
      {r.lines.map((l) => (
        <div class="r-line" key={l.lineNo}>
          <div class="r-row"><span class="r-name">{l.name}</span><span>{m(l.total)}</span></div>
          <div class="r-sub">{formatQuantity(l.quantity)} × {m(l.unitPrice)}{l.discount ? ` − ${m(l.discount)} off` : ''}</div>
        </div>
      ))}
      <div class="r-rule" />
      <div class="r-row"><span>Subtotal</span><span>{m(r.subtotal)}</span></div>
      {r.discount ? <div class="r-row"><span>Discount</span><span>−{m(r.discount)}</span></div> : null}
      <div class="r-row"><span>Tax</span><span>{m(r.tax)}</span></div>
      <div class="r-row r-total"><span>TOTAL {cur}</span><span>{m(r.total)}</span></div>
      {r.payments.map((p, i) => (
        <div class="r-row" key={i}>
          <span>{METHOD_LABEL[p.method as Method] ?? p.method}{p.reference ? ` (${p.reference})` : ''}</span>
          <span>{m(p.amount)}</span>
        </div>
      ))}
      {r.change ? <div class="r-row"><span>Change</span><span>{m(r.change)}</span></div> : null}
      {r.reason ? <div class="r-sub">Reason: {r.reason}</div> : null}
      <div class="r-rule" />
      {r.footer ? <div class="r-center r-pre">{r.footer}</div> : null}
    </div>
  );
}
