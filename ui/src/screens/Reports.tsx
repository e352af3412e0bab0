/**
 * This branch's day: sales by payment method and cashier, best sellers,
 * expenses by category, the closing summary, and the stock on hand now.
 * Everything is this till's branch (named at the top): sales, expenses and
 * stock belong to their branch.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Money, PageHead } from '../components/ui';
import { useRun } from '../hooks';
import { formatQuantity } from '../lib/quantity';
import { METHOD_LABEL, type Method } from '../lib/tender';
import type { DayReport, StockLevelView } from '../types';

const label = (m: string) => METHOD_LABEL[m as Method] ?? m;

/** The tag beside a stock row that needs attention (none when in good supply). */
function stockTag(l: StockLevelView): string | null {
  if (l.quantity < 0) return 'below zero';
  if (l.quantity === 0) return 'out';
  return l.low ? 'low' : null;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function Reports() {
  const [busy, run] = useRun();
  const [day, setDay] = useState<string | null>(null);
  const [report, setReport] = useState<DayReport | null>(null);
  useEffect(() => {
    void run(() => api.dayReport(day)).then((r) => r && setReport(r));
  }, [day, run]);

  return (
    <div class="page">
      <PageHead title={report ? `Reports — ${report.branchName}` : 'Reports'}>
        <label class="inline">Day <input type="date" data-testid="report-day" value={report?.day ?? ''} onInput={(e) => setDay(e.currentTarget.value || null)} /></label>
        <button type="button" class="secondary" disabled={busy} onClick={() => setDay(null)}>Today</button>
        <button type="button" class="secondary" onClick={() => window.print()}>Print</button>
      </PageHead>
      {!report ? <p class="muted">Loading…</p> : (
        <div class="report print-area" data-testid="day-report" data-day={report.day}>
          <p class="muted" data-testid="report-branch" data-branch-code={report.branchCode}>
            Branch <strong>{report.branchName}</strong> ({report.branchCode}) · business day {report.day} ({report.timeZone})
          </p>
          <div class="stat-grid">
            <div class="stat"><span class="stat-label">Net sales</span><span class="stat-value" data-testid="report-net" data-amount={String(report.netSales)}><Money minor={report.netSales} /></span></div>
            <div class="stat"><span class="stat-label">Sales</span><span class="stat-value">{report.salesCount}</span></div>
            <div class="stat"><span class="stat-label">Average sale</span><span class="stat-value"><Money minor={report.averageSale} /></span></div>
            <div class="stat"><span class="stat-label">Gross</span><span class="stat-value"><Money minor={report.grossSales} /></span></div>
            <div class="stat"><span class="stat-label">Voids & refunds</span><span class="stat-value"><Money minor={report.voidsAndRefunds} /></span></div>
            <div class="stat"><span class="stat-label">Discounts</span><span class="stat-value"><Money minor={report.discounts} /></span></div>
            <div class="stat"><span class="stat-label">Tax</span><span class="stat-value"><Money minor={report.tax} /></span></div>
            <div class="stat"><span class="stat-label">Expenses</span><span class="stat-value"><Money minor={report.expenses} /></span></div>
          </div>
          <div class="three-col">
            <div class="card">
              <h3>By payment method</h3>
              <table class="table"><tbody>
                {report.byMethod.map((m) => <tr key={m.method} data-testid="report-method" data-method={m.method} data-amount={String(m.amount)}><td>{label(m.method)}</td><td class="num">{m.count}</td><td class="num"><Money minor={m.amount} /></td></tr>)}
              </tbody></table>
              {report.byMethod.length === 0 ? <p class="muted">No sales.</p> : null}
            </div>
            <div class="card">
              <h3>By cashier</h3>
              <table class="table"><tbody>
                {report.byCashier.map((c) => <tr key={c.name}><td>{c.name}</td><td class="num">{c.salesCount}</td><td class="num"><Money minor={c.net} /></td></tr>)}
              </tbody></table>
              {report.byCashier.length === 0 ? <p class="muted">No sales.</p> : null}
            </div>
            <div class="card">
              <h3>Best sellers</h3>
              <table class="table"><tbody>
                {report.bestSellers.map((p) => <tr key={p.name}><td>{p.name}</td><td class="num">{formatQuantity(p.quantity)}</td><td class="num"><Money minor={p.net} /></td></tr>)}
              </tbody></table>
              {report.bestSellers.length === 0 ? <p class="muted">No sales.</p> : null}
            </div>
          </div>
          <div class="card" data-testid="report-expenses">
            <h3>Expenses by category</h3>
            <table class="table"><tbody>
              {report.expensesByCategory.map((c) => (
                <tr key={c.category} data-testid="report-expense-category" data-category={c.category} data-amount={String(c.amount)}>
                  <td>{c.category}</td><td class="num">{c.count}</td><td class="num"><Money minor={c.amount} /></td>
                </tr>
              ))}
              {report.expensesByCategory.length ? <tr class="total-row"><td>Total</td><td /><td class="num"><Money minor={report.expenses} /></td></tr> : null}
            </tbody></table>
            {report.expensesByCategory.length === 0 ? <p class="muted">No expenses recorded at this branch that day.</p> : null}
          </div>
          <div class="card closing">
            <h3>Day closing</h3>
            <table class="table"><tbody>
              {report.byMethod.filter((m) => m.method === 'cash').map((m) => <tr key="cash"><td>Cash sales</td><td class="num"><Money minor={m.amount} /></td></tr>)}
              {report.creditPayments.map((m) => <tr key={'cp' + m.method}><td>Credit payments received ({label(m.method)})</td><td class="num"><Money minor={m.amount} /></td></tr>)}
              <tr><td>Cash expenses</td><td class="num">−<Money minor={report.cashExpenses} /></td></tr>
              <tr class="total-row"><td>Expected cash in drawer</td><td class="num" data-testid="report-expected-cash" data-amount={String(report.expectedCash)}><Money minor={report.expectedCash} /></td></tr>
            </tbody></table>
          </div>
          <div class="card" data-testid="report-stock">
            <h3>Stock on hand at {report.branchName} (now)</h3>
            {report.stock.length === 0 ? <p class="muted">No product tracks stock yet (tick “Track stock” on a product).</p> : (
              <>
                {/* Counted over every tracked product at this branch, not only the rows listed below. */}
                <p class="muted small" data-testid="report-stock-summary" data-tracked={String(report.stockSummary.tracked)}
                  data-low={String(report.stockSummary.low)} data-out={String(report.stockSummary.out)} data-below-zero={String(report.stockSummary.belowZero)}>
                  {plural(report.stockSummary.tracked, 'product tracks', 'products track')} stock: {report.stockSummary.low} low,{' '}
                  {report.stockSummary.out} out of stock, {report.stockSummary.belowZero} below zero.
                </p>
                <table class="table">
                  <thead><tr><th>Product</th><th class="num">In stock</th><th class="num">Low-stock level</th></tr></thead>
                  <tbody>
                    {report.stock.map((l) => (
                      <tr key={l.productId} data-testid="report-stock-row" data-product-name={l.name} data-stock={String(l.quantity)} data-low={String(l.low)}>
                        <td>{l.name}{stockTag(l) ? <span class="tag danger">{stockTag(l)}</span> : null}</td>
                        <td class={'num' + (l.quantity < 0 ? ' neg' : '')}>{formatQuantity(l.quantity)}</td>
                        <td class="num">{l.lowStock === null ? '—' : formatQuantity(l.lowStock)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {report.stockTruncated ? <p class="muted small">Only {report.stock.length} of {report.stockSummary.tracked} products are listed: those below zero, out or low first, then the rest by name; see Products for the others.</p> : null}
              </>
            )}
          </div>
        </div>
      )}
    </div>
  );
}
