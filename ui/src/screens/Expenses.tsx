/** Petty cash: expenses for a date range, record one, delete (managers). */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { useConfirm } from '../components/Confirm';
import { Field, Money, PageHead } from '../components/ui';
import { useApp } from '../context';
import { useRun } from '../hooks';
import { canonicalCategory, DEFAULT_EXPENSE_CATEGORIES, mergeCategories } from '../lib/expenseCategories';
import { formatDateTime } from '../lib/format';
import { parseMoney } from '../lib/money';

export function Expenses() {
  const { currency, session, notify, info } = useApp();
  const [busy, run] = useRun();
  // The branch's business day, not this computer's date.
  const [from, setFrom] = useState(info.today);
  const [to, setTo] = useState(info.today);
  const [categories, setCategories] = useState<string[]>(DEFAULT_EXPENSE_CATEGORIES);
  const [rows, setRows] = useState<Awaited<ReturnType<typeof api.expenses>>>([]);
  const [form, setForm] = useState({ category: 'Supplies', description: '', amount: '', paidWith: 'cash', reference: '' });
  const [error, setError] = useState<string | null>(null);
  const [confirmEl, confirm] = useConfirm();

  const load = () => void run(() => api.expenses(from, to)).then((r) => r && setRows(r));
  useEffect(load, [from, to]);
  const loadCategories = () => void api.expenseCategories().then((used) => setCategories(mergeCategories(used)), () => {});
  useEffect(() => {
    loadCategories();
    // The app may have been open since before midnight: ask for today again.
    void api.appInfo().then((i) => {
      if (i.today !== info.today) {
        setFrom((f) => (f === info.today ? i.today : f));
        setTo((t) => (t === info.today ? i.today : t));
      }
    }, () => {});
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const amount = parseMoney(form.amount, currency);
    if (!amount.ok) return setError(amount.error);
    if (amount.value <= 0) return setError('The amount must be more than zero.');
    if (!form.description.trim()) return setError('Say what the money was spent on.');
    const category = canonicalCategory(form.category, categories);
    if (!category) return setError('Choose or type a category.');
    setError(null);
    const x = await run(() => api.recordExpense({ category, description: form.description.trim(), amount: amount.value, paidWith: form.paidWith, reference: form.reference.trim() || null }));
    if (x) { setForm({ ...form, category, description: '', amount: '', reference: '' }); notify('Expense recorded.'); load(); loadCategories(); }
  };

  const total = rows.reduce((s, r) => s + r.amount, 0);
  return (
    <div class="page">
      <PageHead title="Expenses (petty cash)">
        <label class="inline">From <input type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} /></label>
        <label class="inline">To <input type="date" value={to} onInput={(e) => setTo(e.currentTarget.value)} /></label>
      </PageHead>
      <div class="split">
        <form class="card" onSubmit={submit}>
          <h3>Record an expense</h3>
          <Field label="Category" hint="Pick one or type a new one.">
            <input data-testid="expense-category" list="expense-categories" autoComplete="off" value={form.category}
              onInput={(e) => setForm({ ...form, category: e.currentTarget.value })}
              onFocus={(e) => e.currentTarget.select()} />
            <datalist id="expense-categories">{categories.map((c) => <option key={c} value={c} />)}</datalist>
          </Field>
          <div class="chip-row" role="group" aria-label="Categories">
            {categories.slice(0, 12).map((c) => (
              <button type="button" key={c} class={'chip' + (c.toLocaleLowerCase() === form.category.trim().toLocaleLowerCase() ? ' active' : '')}
                onClick={() => setForm({ ...form, category: c })}>{c}</button>
            ))}
          </div>
          <Field label="Description"><input data-testid="expense-description" value={form.description} onInput={(e) => setForm({ ...form, description: e.currentTarget.value })} /></Field>
          <div class="row">
            <Field label={`Amount (${currency})`}><input data-testid="expense-amount" inputMode="decimal" value={form.amount} onInput={(e) => setForm({ ...form, amount: e.currentTarget.value })} /></Field>
            <Field label="Paid with">
              <select value={form.paidWith} onChange={(e) => setForm({ ...form, paidWith: e.currentTarget.value })}>
                <option value="cash">Cash (from the drawer)</option>
                <option value="mpesa">M-Pesa</option>
                <option value="card">Card</option>
                <option value="bank">Bank</option>
              </select>
            </Field>
          </div>
          {form.paidWith !== 'cash' ? <Field label="Reference"><input value={form.reference} onInput={(e) => setForm({ ...form, reference: e.currentTarget.value })} /></Field> : null}
          {error ? <p class="form-error" role="alert">{error}</p> : null}
          <div class="form-actions"><button type="submit" class="primary" data-testid="expense-save" disabled={busy}>Record expense</button></div>
        </form>
        <div class="card list-card">
          <table class="table">
            <thead><tr><th>When</th><th>Category</th><th>Description</th><th>Paid with</th><th>By</th><th class="num">Amount</th><th /></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-testid="expense-row">
                  <td>{formatDateTime(r.spentAt)}</td><td>{r.category}</td><td>{r.description}</td><td>{r.paidWith}{r.reference ? ` · ${r.reference}` : ''}</td><td>{r.userName ?? ''}</td>
                  <td class="num"><Money minor={r.amount} /></td>
                  <td class="actions">
                    {session.can.manageMoney ? (
                      <button type="button" class="danger" onClick={async () => {
                        if (await confirm(`Delete the expense “${r.description}”?`, 'Delete')) {
                          if ((await run(() => api.deleteExpense(r.id))) !== undefined) load();
                        }
                      }}>Delete</button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
            <tfoot><tr><td colSpan={5}>Total</td><td class="num"><Money minor={total} /></td><td /></tr></tfoot>
          </table>
          {rows.length === 0 ? <p class="muted">No expenses in these days.</p> : null}
        </div>
      </div>
      {confirmEl}
    </div>
  );
}
