/**
 * Credit customers: search, profile, balance, ledger, recording a payment, and
 * the customer's history at every branch (other branches' rows read-only).
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Dialog } from '../components/Dialog';
import { useConfirm } from '../components/Confirm';
import { Field, Money, PageHead } from '../components/ui';
import { useApp } from '../context';
import { useRun } from '../hooks';
import { formatDateTime } from '../lib/format';
import { branchLabel, historyBanner, historyRows, mergeLines } from '../lib/customerHistory';
import { latest } from '../lib/latest';
import { amountInputText, parseMoney } from '../lib/money';
import { isMpesaCode } from '../lib/tender';
import type { CustomerHistoryView, CustomerView, LedgerView } from '../types';

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

/** "History at every branch": sales and account entries from the Back Office, or this till's own when offline. */
function BranchHistory({ h, loading, onRefresh }: { h: CustomerHistoryView | null; loading: boolean; onRefresh: () => void }) {
  const banner = h ? historyBanner(h) : null;
  const rows = h ? historyRows(h) : [];
  const merges = h ? mergeLines(h, formatDateTime) : [];
  return (
    <section data-testid="customer-history" data-source={h?.source ?? ''}>
      <div class="section-head">
        <h3>History at every branch</h3>
        <button type="button" class="secondary" data-testid="customer-history-refresh" disabled={loading} onClick={onRefresh}>{loading ? 'Loading…' : 'Refresh'}</button>
      </div>
      {banner ? (
        <p class="warning" role="status" data-testid="customer-history-offline">
          <strong>{banner.title}</strong>{banner.reason ? <><br /><span class="muted">{banner.reason}</span></> : null}
        </p>
      ) : null}
      {h ? (
        <>
          <p class="muted">Other branches' records are read-only here. Owes across branches: <Money minor={h.balance} /></p>
          <table class="table">
            <thead><tr><th>When</th><th>Branch</th><th>What</th><th>Receipt / ref</th><th class="num">Amount</th><th class="num">On account</th></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.key} data-testid="customer-history-row" data-branch={r.branchCode} data-read-only={String(r.readOnly)} class={r.readOnly ? 'read-only' : ''}>
                  <td>{formatDateTime(r.createdAt)}</td>
                  <td>{branchLabel(r)}{r.readOnly ? <span class="badge" title="Another branch's record: it can be viewed here, not changed"> read-only</span> : null}</td>
                  <td>{r.what}</td><td>{r.ref}</td>
                  <td class={'num' + (r.amount < 0 ? ' pos' : '')}><Money minor={r.amount} /></td>
                  <td class="num">{r.onCredit !== null && r.onCredit !== 0 ? <Money minor={r.onCredit} /> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length === 0 ? <p class="muted">No sales or account entries at any branch.</p> : null}
          {h.salesTruncated || h.ledgerTruncated ? <p class="muted">Older records are not shown.</p> : null}
          {merges.length > 0 ? (
            <div data-testid="customer-merges">
              <h4>Merged records</h4>
              <p class="muted">The same person was added at more than one till; the Back Office keeps one account. Only an owner can undo a merge, on the Back Office.</p>
              <ul>
                {merges.map((m) => (
                  <li key={m.key} data-testid="customer-merge" data-undone={String(m.undone)}>
                    <strong>{m.who}</strong> — {m.how}
                    {m.undone && m.undoneAt ? <span class="badge"> undone {formatDateTime(m.undoneAt)}: a separate customer again</span> : null}
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </>
      ) : loading ? <p class="muted">Loading…</p> : null}
    </section>
  );
}

export function Customers() {
  const { notify, session } = useApp();
  const [, run] = useRun();
  const [text, setText] = useState('');
  const [list, setList] = useState<CustomerView[]>([]);
  const [sel, setSel] = useState<CustomerView | null>(null);
  const [ledger, setLedger] = useState<LedgerView[]>([]);
  const [history, setHistory] = useState<CustomerHistoryView | null>(null);
  const [historyLoading, setHistoryLoading] = useState(false);
  const [loadHistory] = useState(() => latest((id: string) => api.customerHistory(id)));
  const [editing, setEditing] = useState<CustomerView | null | 'new'>(null);
  const [paying, setPaying] = useState(false);
  const [confirmEl, confirm] = useConfirm();

  const load = () => void run(() => api.customers(text.trim())).then((r) => r && setList(r));
  useEffect(() => {
    const t = window.setTimeout(load, 150);
    return () => window.clearTimeout(t);
  }, [text]);
  const fetchHistory = (id: string) => {
    setHistoryLoading(true);
    void run(() => loadHistory(id)).then((r) => {
      if (r === undefined || r.fresh) setHistoryLoading(false);
      if (r?.fresh) setHistory(r.value);
    });
  };
  const select = (c: CustomerView) => {
    if (sel?.id !== c.id) setHistory(null);
    setSel(c);
    void run(() => api.customerLedger(c.id)).then((l) => l && setLedger(l));
    fetchHistory(c.id);
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
              <BranchHistory h={history} loading={historyLoading} onRefresh={() => fetchHistory(sel.id)} />
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
