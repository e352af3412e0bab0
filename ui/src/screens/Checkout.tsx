/**
 * The checkout dialog: one or several tenders (split payment), the change
 * shown live, Enter completes the sale, Esc cancels. The arithmetic is in
 * `lib/tender.ts`; the backend settles the sale for real.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { Dialog } from '../components/Dialog';
import { useApp } from '../context';
import { amountInputText, formatMoney, parseMoney } from '../lib/money';
import { checkPart, METHOD_LABEL, METHODS, summarize, type Method, type TenderPart } from '../lib/tender';
import type { CustomerView } from '../types';
import { useRun } from '../hooks';

interface Props {
  total: number;
  busy: boolean;
  /** `startedAt`: `performance.now()` when the cashier pressed Complete (or Enter). */
  onPay: (parts: TenderPart[], startedAt: number) => void;
  onClose: () => void;
}

/** Notes a customer is likely to hand over for a cash total. */
function quickCash(remaining: number): number[] {
  const out = new Set<number>([remaining]);
  for (const note of [5000, 10000, 20000, 50000, 100000]) {
    const up = Math.ceil(remaining / note) * note;
    if (up > remaining) out.add(up);
    if (out.size >= 4) break;
  }
  return [...out].filter((n) => n > 0);
}

export function Checkout({ total, busy, onPay, onClose }: Props) {
  const { currency } = useApp();
  const fmt = (n: number) => formatMoney(n, currency);
  const [parts, setParts] = useState<TenderPart[]>([]);
  const [method, setMethod] = useState<Method>('cash');
  const [amountText, setAmountText] = useState(amountInputText(total, currency));
  const [mpesaCode, setMpesaCode] = useState('');
  const [cardRef, setCardRef] = useState('');
  const [customer, setCustomer] = useState<CustomerView | null>(null);
  const [customerQuery, setCustomerQuery] = useState('');
  const [customerResults, setCustomerResults] = useState<CustomerView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const amountRef = useRef<HTMLInputElement>(null);
  const [, run] = useRun();

  const committed = summarize(total, parts, fmt);
  const parsed = amountText.trim() === '' ? { ok: true as const, value: 0 } : parseMoney(amountText, currency);
  const entry: TenderPart | null =
    parsed.ok && parsed.value > 0
      ? {
          method,
          amount: parsed.value,
          mpesaCode: method === 'mpesa' ? mpesaCode.trim().toUpperCase() : undefined,
          reference: method === 'card' ? cardRef.trim() || undefined : undefined,
          customerId: method === 'credit' ? customer?.id : undefined,
          customerName: method === 'credit' ? customer?.name : undefined,
        }
      : null;
  const live = summarize(total, entry ? [...parts, entry] : parts, fmt);

  const chooseMethod = (m: Method) => {
    setMethod(m);
    setError(null);
    setAmountText(amountInputText(committed.remaining, currency));
    window.setTimeout(() => amountRef.current?.select(), 0);
  };

  // Customer search for credit.
  useEffect(() => {
    if (method !== 'credit') return;
    const t = window.setTimeout(() => {
      void run(() => api.customers(customerQuery.trim())).then((r) => r && setCustomerResults(r.slice(0, 8)));
    }, 200);
    return () => window.clearTimeout(t);
  }, [method, customerQuery, run]);

  const validEntry = (): TenderPart | null | 'bad' => {
    if (!parsed.ok) {
      setError(parsed.error);
      return 'bad';
    }
    if (!entry) return null;
    const err = checkPart(total, parts, entry, fmt);
    if (err) {
      setError(err);
      return 'bad';
    }
    return entry;
  };

  const addPart = () => {
    const e = validEntry();
    if (e === 'bad') return;
    if (!e) {
      setError('Enter an amount more than zero.');
      return;
    }
    const next = [...parts, e];
    setParts(next);
    setError(null);
    setMpesaCode('');
    setCardRef('');
    const rem = summarize(total, next).remaining;
    setMethod('cash');
    setAmountText(rem > 0 ? amountInputText(rem, currency) : '');
    amountRef.current?.focus();
  };

  const complete = () => {
    const startedAt = performance.now();
    if (busy) return;
    const e = validEntry();
    if (e === 'bad') return;
    const all = e ? [...parts, e] : parts;
    const s = summarize(total, all, fmt);
    if (s.problem) {
      setError(s.problem);
      return;
    }
    setError(null);
    onPay(all, startedAt);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Enter') return;
    const t = e.target as HTMLElement;
    if (t.dataset['role'] === 'customer-search' || t.tagName === 'BUTTON') return;
    e.preventDefault();
    complete();
  };

  return (
    <Dialog title={`Payment — ${fmt(total)}`} onClose={onClose} testId="checkout-dialog" wide closable={!busy}>
      <div class="checkout" onKeyDown={onKeyDown}>
        <div class="methods" role="group" aria-label="Payment method">
          {METHODS.map((m) => (
            <button
              type="button"
              key={m}
              data-testid="tender-method"
              data-method={m}
              class={'method ' + (method === m ? 'active' : '')}
              aria-pressed={method === m}
              onClick={() => chooseMethod(m)}
            >
              {METHOD_LABEL[m]}
            </button>
          ))}
        </div>
        <div class="tender-form">
          <label class="field">
            <span class="field-label">{method === 'cash' ? 'Cash received' : `${METHOD_LABEL[method]} amount`} ({currency})</span>
            <input
              ref={amountRef}
              class="amount-input"
              data-testid="tender-amount"
              inputMode="decimal"
              autoFocus
              value={amountText}
              onInput={(e) => { setAmountText(e.currentTarget.value); setError(null); }}
              onFocus={(e) => e.currentTarget.select()}
            />
          </label>
          {method === 'cash' && committed.remaining > 0 ? (
            <div class="quick-cash">
              {quickCash(committed.remaining).map((n) => (
                <button type="button" key={n} onClick={() => { setAmountText(amountInputText(n, currency)); amountRef.current?.focus(); }}>
                  {n === committed.remaining ? 'Exact' : formatMoney(n, currency)}
                </button>
              ))}
            </div>
          ) : null}
          {method === 'mpesa' ? (
            <label class="field">
              <span class="field-label">M-Pesa confirmation code</span>
              <input data-testid="mpesa-code" value={mpesaCode} maxLength={10} placeholder="e.g. QJK3ABCD12"
                onInput={(e) => { setMpesaCode(e.currentTarget.value.toUpperCase()); setError(null); }} />
            </label>
          ) : null}
          {method === 'card' ? (
            <label class="field">
              <span class="field-label">Card reference (optional)</span>
              <input data-testid="card-reference" value={cardRef} onInput={(e) => setCardRef(e.currentTarget.value)} />
            </label>
          ) : null}
          {method === 'credit' ? (
            <div class="credit-pick">
              <label class="field">
                <span class="field-label">Customer</span>
                <input data-testid="credit-customer-search" data-role="customer-search" placeholder="Search name or phone"
                  value={customerQuery} onInput={(e) => setCustomerQuery(e.currentTarget.value)} />
              </label>
              <div class="pick-list">
                {customerResults.map((c) => (
                  <button type="button" key={c.id} data-testid="credit-customer" data-customer-name={c.name}
                    class={customer?.id === c.id ? 'active' : ''} onClick={() => { setCustomer(c); setError(null); }}>
                    <span>{c.name}{c.phone ? ` · ${c.phone}` : ''}</span>
                    <span class="muted small">owes {fmt(c.balance)} · available {fmt(c.availableCredit)}</span>
                  </button>
                ))}
                {customerResults.length === 0 ? <p class="muted small">No customers found.</p> : null}
              </div>
            </div>
          ) : null}
          <button type="button" class="secondary" data-testid="tender-add" onClick={addPart}>Add this payment (split)</button>
        </div>
        <div class="tender-summary">
          {parts.length ? (
            <ul class="parts">
              {parts.map((p, i) => (
                <li key={i}>
                  <span>{METHOD_LABEL[p.method]}{p.mpesaCode ? ` ${p.mpesaCode}` : ''}{p.customerName ? ` — ${p.customerName}` : ''}</span>
                  <span>{fmt(p.amount)}</span>
                  <button type="button" class="ghost" aria-label="Remove payment" onClick={() => setParts(parts.filter((_, j) => j !== i))}>×</button>
                </li>
              ))}
            </ul>
          ) : null}
          <div class="sum-row"><span>Total</span><strong>{fmt(total)}</strong></div>
          <div class="sum-row" data-testid="checkout-remaining" data-remaining={String(committed.remaining)}>
            <span>Left to pay</span><strong>{fmt(committed.remaining)}</strong>
          </div>
          {entry && live.remaining > 0 ? <div class="sum-row muted"><span>After this payment</span><span>{fmt(live.remaining)} left</span></div> : null}
          <div class={'sum-row change' + (live.change > 0 ? ' has-change' : '')} data-testid="checkout-change" data-change={String(live.change)}>
            <span>Change</span><strong>{fmt(live.change)}</strong>
          </div>
          {error ? <p class="form-error" role="alert">{error}</p> : null}
          <div class="dialog-actions">
            <button type="button" class="secondary" onClick={onClose} disabled={busy}>Cancel (Esc)</button>
            <button type="button" class="primary big" data-testid="complete-sale" onClick={complete} disabled={busy}>
              {busy ? 'Recording…' : 'Complete sale (Enter)'}
            </button>
          </div>
        </div>
      </div>
    </Dialog>
  );
}
