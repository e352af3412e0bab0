/** Credit customers: search, profile, balance, ledger, and recording a payment. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Dialog } from '../components/Dialog';
import { useConfirm } from '../components/Confirm';
import { Field, Money, PageHead } from '../components/ui';
import { useApp } from '../context';
import { useRun } from '../hooks';
import { formatDateTime } from '../lib/format';
import { amountInputText, parseMoney } from '../lib/money';
import { isMpesaCode } from '../lib/tender';
import type { CustomerView, LedgerView } from '../types';

function CustomerDialog({ c, onSaved, onClose }: { c: CustomerView | null; onSaved: (c: CustomerView) => void; onClose: () => void }) {
  const { currency, session } = useApp();
  const [busy, run] = useRun();
  const [f, setF] = useState({
    name: c?.name ?? '', phone: c?.phone ?? '', email: c?.email ?? '', notes: c?.notes ?? '',
    limit: c ? amountInputText(c.creditLimit, currency) : '0',
  });
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!f.name.trim()) return setError('Enter the customer’s name.');
    const limit = parseMoney(f.limit || '0', currency);
    if (!limit.ok) return setError(`Credit limit: ${limit.error}`);
    setError(null);
    const x = await run(() => api.saveCustomer({ id: c?.id ?? null, name: f.name.trim(), phone: f.phone.trim() || null, email: f.email.trim() || null, notes: f.notes.trim() || null, creditLimit: limit.value }));
    if (x) onSaved(x);
  };
  return (
    <Dialog title={c ? `Edit ${c.name}` : 'New customer'} onClose={onClose} closable={!busy}>
      <form onSubmit={submit}>
        <Field label="Name"><input data-testid="customer-name" value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} /></Field>
        <div class="row">
          <Field label="Phone"><input data-testid="customer-phone" value={f.phone} placeholder="0712 345 678" onInput={(e) => setF({ ...f, phone: e.currentTarget.value })} /></Field>
          <Field label={`Credit limit (${currency})`}><input data-testid="customer-limit" inputMode="decimal" value={f.limit} disabled={!session.can.manageMoney && !!c} onInput={(e) => setF({ ...f, limit: e.currentTarget.value })} /></Field>
        </div>
        <Field label="Email"><input value={f.email} onInput={(e) => setF({ ...f, email: e.currentTarget.value })} /></Field>
        <Field label="Notes"><input value={f.notes} onInput={(e) => setF({ ...f, notes: e.currentTarget.value })} /></Field>
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" data-testid="customer-save" disabled={busy}>Save</button>
        </div>
      </form>
    </Dialog>
  );
}

function PaymentDialog({ c, onDone, onClose }: { c: CustomerView; onDone: (c: CustomerView) => void; onClose: () => void }) {
  const { currency } = useApp();
  const [busy, run] = useRun();
  const [amount, setAmount] = useState(c.balance > 0 ? amountInputText(c.balance, currency) : '');
  const [method, setMethod] = useState('cash');
  const [reference, setReference] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const a = parseMoney(amount, currency);
    if (!a.ok) return setError(a.error);
    if (a.value <= 0) return setError('The amount must be more than zero.');
    if (method === 'mpesa' && !isMpesaCode(reference)) return setError('Enter the M-Pesa confirmation code (10 letters and digits).');
    setError(null);
    const x = await run(() => api.recordCustomerPayment({ customerId: c.id, amount: a.value, method, reference: reference.trim() ? (method === 'mpesa' ? reference.trim().toUpperCase() : reference.trim()) : null, note: note.trim() || null }));
    if (x) onDone(x);
  };
  return (
    <Dialog title={`Payment from ${c.name}`} onClose={onClose} closable={!busy}>
      <form onSubmit={submit}>
        <p>Owes <Money minor={c.balance} /></p>
        <div class="row">
          <Field label={`Amount (${currency})`}><input data-testid="customer-payment-amount" inputMode="decimal" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} /></Field>
          <Field label="Method">
            <select data-testid="customer-payment-method" value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
              <option value="cash">Cash</option><option value="mpesa">M-Pesa</option><option value="card">Card</option>
            </select>
          </Field>
        </div>
        {method !== 'cash' ? <Field label={method === 'mpesa' ? 'M-Pesa code' : 'Card reference'}><input value={reference} onInput={(e) => setReference(e.currentTarget.value)} /></Field> : null}
        <Field label="Note"><input value={note} onInput={(e) => setNote(e.currentTarget.value)} /></Field>
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" data-testid="customer-payment-save" disabled={busy}>Record payment</button>
        </div>
      </form>
    </Dialog>
  );
}

export function Customers() {
  const { notify, session } = useApp();
  const [, run] = useRun();
  const [text, setText] = useState('');
  const [list, setList] = useState<CustomerView[]>([]);
  const [sel, setSel] = useState<CustomerView | null>(null);
  const [ledger, setLedger] = useState<LedgerView[]>([]);
  const [editing, setEditing] = useState<CustomerView | null | 'new'>(null);
  const [paying, setPaying] = useState(false);
  const [confirmEl, confirm] = useConfirm();

  const load = () => void run(() => api.customers(text.trim())).then((r) => r && setList(r));
  useEffect(() => {
    const t = window.setTimeout(load, 150);
    return () => window.clearTimeout(t);
  }, [text]);
  const select = (c: CustomerView) => {
    setSel(c);
    void run(() => api.customerLedger(c.id)).then((l) => l && setLedger(l));
  };
  const refreshSelected = (c: CustomerView) => { select(c); load(); };

  return (
    <div class="page">
      <PageHead title="Credit customers">
        <input type="search" data-testid="customer-search" placeholder="Name or phone" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <button type="button" class="primary" data-testid="customer-new" onClick={() => setEditing('new')}>New customer</button>
      </PageHead>
      <div class="split">
        <div class="card list-card">
          <table class="table clickable">
            <thead><tr><th>Name</th><th>Phone</th><th class="num">Owes</th><th class="num">Limit</th></tr></thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.id} data-testid="customer-row" data-customer-name={c.name} class={sel?.id === c.id ? 'selected' : ''} onClick={() => select(c)}>
                  <td>{c.name}</td><td>{c.phone ?? ''}</td><td class="num"><Money minor={c.balance} /></td><td class="num"><Money minor={c.creditLimit} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.length === 0 ? <p class="muted">No customers found.</p> : null}
        </div>
        <div class="card">
          {sel ? (
            <>
              <h3>{sel.name}</h3>
              <p class="muted">{[sel.phone, sel.email].filter(Boolean).join(' · ')}{sel.notes ? ` — ${sel.notes}` : ''}</p>
              <div class="stat-grid small">
                <div class="stat"><span class="stat-label">Owes</span><span class="stat-value" data-testid="customer-balance" data-balance={String(sel.balance)}><Money minor={sel.balance} /></span></div>
                <div class="stat"><span class="stat-label">Credit limit</span><span class="stat-value"><Money minor={sel.creditLimit} /></span></div>
                <div class="stat"><span class="stat-label">Available</span><span class="stat-value"><Money minor={sel.availableCredit} /></span></div>
              </div>
              <div class="form-actions">
                <button type="button" class="primary" data-testid="customer-payment" onClick={() => setPaying(true)}>Record payment</button>
                <button type="button" class="secondary" onClick={() => setEditing(sel)}>Edit</button>
                {session.can.manageMoney ? (
                  <button type="button" class="danger" onClick={async () => {
                    if (await confirm(`Delete ${sel.name}?`, 'Delete')) {
                      if ((await run(() => api.deleteCustomer(sel.id))) !== undefined) { setSel(null); load(); }
                    }
                  }}>Delete</button>
                ) : null}
              </div>
              <h3>History</h3>
              <table class="table">
                <thead><tr><th>When</th><th>What</th><th>Receipt / ref</th><th class="num">Amount</th></tr></thead>
                <tbody>
                  {ledger.map((l) => (
                    <tr key={l.id} data-testid="ledger-row">
                      <td>{formatDateTime(l.createdAt)}</td><td>{l.kind}{l.method ? ` (${l.method})` : ''}{l.note ? ` — ${l.note}` : ''}</td>
                      <td>{l.receiptNo ?? l.reference ?? ''}</td><td class={'num' + (l.amount < 0 ? ' pos' : '')}><Money minor={l.amount} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {ledger.length === 0 ? <p class="muted">Nothing yet.</p> : null}
            </>
          ) : <p class="muted">Choose a customer.</p>}
        </div>
      </div>
      {editing ? <CustomerDialog c={editing === 'new' ? null : editing} onClose={() => setEditing(null)} onSaved={(c) => { setEditing(null); notify(`${c.name} saved.`); refreshSelected(c); }} /> : null}
      {paying && sel ? <PaymentDialog c={sel} onClose={() => setPaying(false)} onDone={(c) => { setPaying(false); notify('Payment recorded.'); refreshSelected(c); }} /> : null}
      {confirmEl}
    </div>
  );
}
