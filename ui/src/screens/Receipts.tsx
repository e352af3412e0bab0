/**
 * Previous receipts: list, open, reprint; managers can void or refund.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Dialog } from '../components/Dialog';
import { ReceiptPaper } from '../components/Receipt';
import { Field, Money, PageHead } from '../components/ui';
import { useApp } from '../context';
import { useRun } from '../hooks';
import { formatDateTime } from '../lib/format';
import { formatQuantity, parseQuantity } from '../lib/quantity';
import { isMpesaCode } from '../lib/tender';
import type { ReceiptView, RefundLineInput, RefundToInput, SaleRow } from '../types';

type RefundMethod = 'cash' | 'mpesa' | 'card' | 'customer_account';

function RefundDialog({ r, onDone, onClose }: { r: ReceiptView; onDone: (x: ReceiptView) => void; onClose: () => void }) {
  const [busy, run] = useRun();
  const [qty, setQty] = useState<Record<number, string>>({});
  const [reason, setReason] = useState('');
  const [method, setMethod] = useState<RefundMethod>(r.payments.some((p) => p.method === 'credit') ? 'customer_account' : 'cash');
  const [code, setCode] = useState('');
  const [ref, setRef] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    const lines: RefundLineInput[] = [];
    for (const l of r.lines) {
      const t = (qty[l.lineNo] ?? '').trim();
      if (!t) continue;
      const q = parseQuantity(t, { allowZero: true });
      if (!q.ok) return setError(`${l.name}: ${q.error}`);
      if (q.value > l.quantity) return setError(`${l.name}: at most ${formatQuantity(l.quantity)} can be refunded.`);
      if (q.value > 0) lines.push({ lineNo: l.lineNo, quantity: q.value });
    }
    if (!lines.length) return setError('Enter the quantity to refund on at least one line.');
    if (!reason.trim()) return setError('Give a reason for the refund.');
    let refundTo: RefundToInput;
    if (method === 'mpesa') {
      if (!isMpesaCode(code)) return setError('Enter the M-Pesa code of the refund (10 letters and digits).');
      refundTo = { method: 'mpesa', code: code.trim().toUpperCase() };
    } else if (method === 'card') refundTo = { method: 'card', reference: ref.trim() || null };
    else refundTo = { method };
    setError(null);
    const x = await run(() => api.refund({ saleId: r.saleId, lines, reason: reason.trim(), refundTo }));
    if (x) onDone(x);
  };

  return (
    <Dialog title={`Refund from ${r.receiptNo}`} onClose={onClose} wide closable={!busy}>
      <table class="table">
        <thead><tr><th>Item</th><th>Sold</th><th>Line total</th><th>Refund qty</th></tr></thead>
        <tbody>
          {r.lines.map((l) => (
            <tr key={l.lineNo}>
              <td>{l.name}</td><td>{formatQuantity(l.quantity)}</td><td><Money minor={l.total} /></td>
              <td>
                <input class="narrow" data-testid="refund-qty" data-line-no={String(l.lineNo)} inputMode="decimal" value={qty[l.lineNo] ?? ''} placeholder="0"
                  onInput={(e) => setQty({ ...qty, [l.lineNo]: e.currentTarget.value })} />
                <button type="button" class="link" onClick={() => setQty({ ...qty, [l.lineNo]: formatQuantity(l.quantity) })}>all</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="row">
        <Field label="Refund by">
          <select data-testid="refund-method" value={method} onChange={(e) => setMethod(e.currentTarget.value as RefundMethod)}>
            <option value="cash">Cash</option>
            <option value="mpesa">M-Pesa</option>
            <option value="card">Card</option>
            <option value="customer_account">Customer account (credit)</option>
          </select>
        </Field>
        {method === 'mpesa' ? <Field label="M-Pesa code"><input value={code} maxLength={10} onInput={(e) => setCode(e.currentTarget.value.toUpperCase())} /></Field> : null}
        {method === 'card' ? <Field label="Card reference"><input value={ref} onInput={(e) => setRef(e.currentTarget.value)} /></Field> : null}
      </div>
      <Field label="Reason"><input data-testid="refund-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></Field>
      {error ? <p class="form-error" role="alert">{error}</p> : null}
      <div class="dialog-actions">
        <button type="button" class="secondary" onClick={onClose} disabled={busy}>Cancel</button>
        <button type="button" class="danger" data-testid="refund-submit" disabled={busy} onClick={() => void submit()}>Refund</button>
      </div>
    </Dialog>
  );
}

function VoidDialog({ r, onDone, onClose }: { r: ReceiptView; onDone: (x: ReceiptView) => void; onClose: () => void }) {
  const [busy, run] = useRun();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!reason.trim()) return setError('Give a reason for the void.');
    const x = await run(() => api.voidSale(r.saleId, reason.trim()));
    if (x) onDone(x);
  };
  return (
    <Dialog title={`Void ${r.receiptNo}`} onClose={onClose} closable={!busy}>
      <form onSubmit={submit}>
        <p>The whole sale is cancelled: stock goes back and payments are reversed.</p>
        <Field label="Reason"><input data-testid="void-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></Field>
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={onClose} disabled={busy}>Cancel</button>
          <button type="submit" class="danger" data-testid="void-submit" disabled={busy}>Void sale</button>
        </div>
      </form>
    </Dialog>
  );
}

export function Receipts() {
  const { session, notify } = useApp();
  const [busy, run] = useRun();
  const [rows, setRows] = useState<SaleRow[]>([]);
  const [filter, setFilter] = useState('');
  const [open, setOpen] = useState<ReceiptView | null>(null);
  const [action, setAction] = useState<'void' | 'refund' | null>(null);
  const canManage = session.can.voidOrRefund;

  const load = async () => {
    const r = await run(() => api.recentSales(200));
    if (r) setRows(r);
  };
  useEffect(() => { void load(); }, []);

  const openRow = async (id: string) => {
    const r = await run(() => api.receipt(id));
    if (r) setOpen(r);
  };

  const shown = rows.filter((r) => !filter.trim() || r.receiptNo.toLowerCase().includes(filter.trim().toLowerCase()) || r.cashier.toLowerCase().includes(filter.trim().toLowerCase()));

  return (
    <div class="page">
      <PageHead title="Receipts">
        <input type="search" placeholder="Receipt number or cashier" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        <button type="button" class="secondary" disabled={busy} onClick={() => void load()}>Refresh</button>
      </PageHead>
      <div class="split">
        <div class="card list-card">
          <table class="table clickable">
            <thead><tr><th>Receipt</th><th>Time</th><th>Cashier</th><th class="num">Total</th></tr></thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.saleId} data-testid="receipt-row" data-receipt-no={r.receiptNo} class={open?.saleId === r.saleId ? 'selected' : ''} onClick={() => void openRow(r.saleId)}>
                  <td>{r.receiptNo} {r.kind !== 'sale' ? <span class="tag">{r.kind}</span> : null}{r.voided ? <span class="tag danger">voided</span> : null}</td>
                  <td>{formatDateTime(r.createdAt)}</td>
                  <td>{r.cashier}</td>
                  <td class="num"><Money minor={r.total} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          {shown.length === 0 ? <p class="muted">No receipts yet.</p> : null}
        </div>
        <div class="card receipt-side">
          {open ? (
            <>
              <div class="receipt-wrap"><ReceiptPaper r={open} /></div>
              <div class="form-actions">
                <button type="button" class="secondary" data-testid="receipt-reprint" onClick={() => window.print()}>Reprint</button>
                {canManage && open.kind === 'sale' && !open.voided ? (
                  <>
                    <button type="button" class="danger" data-testid="receipt-void" onClick={() => setAction('void')}>Void</button>
                    <button type="button" class="danger" data-testid="receipt-refund" onClick={() => setAction('refund')}>Refund</button>
                  </>
                ) : null}
              </div>
            </>
          ) : <p class="muted">Choose a receipt to see it.</p>}
        </div>
      </div>
      {open && action === 'void' ? (
        <VoidDialog r={open} onClose={() => setAction(null)} onDone={(x) => { setAction(null); setOpen(x); notify(`Voided: ${x.receiptNo}`); void load(); }} />
      ) : null}
      {open && action === 'refund' ? (
        <RefundDialog r={open} onClose={() => setAction(null)} onDone={(x) => { setAction(null); setOpen(x); notify(`Refunded: ${x.receiptNo}`); void load(); }} />
      ) : null}
    </div>
  );
}
