/**
 * Products & stock: the catalog (create/edit/delete), categories, restock,
 * stocktake, the low-stock list, and a product's stock movements.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { Dialog } from '../components/Dialog';
import { useConfirm } from '../components/Confirm';
import { Field, Money, PageHead } from '../components/ui';
import { useApp } from '../context';
import { useRun } from '../hooks';
import { formatDateTime } from '../lib/format';
import { latest } from '../lib/latest';
import { amountInputText, parseMoney } from '../lib/money';
import { formatQuantity, parseQuantity } from '../lib/quantity';
import { formatPercent } from '../lib/percent';
import type { CategoryView, CountedLine, MovementView, ProductInput, ProductView, StocktakeLineView, TaxRateView } from '../types';

type Tab = 'products' | 'categories' | 'low' | 'stocktake';

/** The list shows at most this many products (the backend's page size); search to narrow it. */
const LIST_LIMIT = 200;
/** Typing in the search box waits this long after the last key. */
const SEARCH_DEBOUNCE_MS = 150;

interface ProductForm {
  id: string | null; name: string; sku: string; barcode: string; categoryId: string; price: string; taxCode: string;
  trackStock: boolean; lowStock: string;
}

function toForm(p: ProductView | null): ProductForm {
  return p
    ? { id: p.id, name: p.name, sku: p.sku ?? '', barcode: p.barcode ?? '', categoryId: p.categoryId ?? '', price: amountInputText(p.price), taxCode: p.taxCode,
        trackStock: p.trackStock, lowStock: p.lowStock === null ? '' : formatQuantity(p.lowStock) }
    : { id: null, name: '', sku: '', barcode: '', categoryId: '', price: '', taxCode: '', trackStock: true, lowStock: '' };
}

function ProductDialog({ initial, categories, taxRates, onSaved, onClose }: {
  initial: ProductView | null; categories: CategoryView[]; taxRates: TaxRateView[]; onSaved: (p: ProductView) => void; onClose: () => void;
}) {
  const { currency } = useApp();
  const [busy, run] = useRun();
  const [f, setF] = useState<ProductForm>(() => {
    const base = toForm(initial);
    return base.taxCode ? base : { ...base, taxCode: taxRates[0]?.code ?? '' };
  });
  // The rates may arrive after the dialog opened.
  useEffect(() => {
    if (!f.taxCode && taxRates.length) setF((x) => (x.taxCode ? x : { ...x, taxCode: taxRates[0]!.code }));
  }, [taxRates]);
  const [error, setError] = useState<string | null>(null);
  const set = <K extends keyof ProductForm>(k: K, v: ProductForm[K]) => setF({ ...f, [k]: v });
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!f.name.trim()) return setError('Enter the product’s name.');
    if (!f.taxCode.trim()) return setError('Choose a tax rate.');
    const price = parseMoney(f.price, currency);
    if (!price.ok) return setError(`Price: ${price.error}`);
    let low: number | null = null;
    if (f.lowStock.trim()) {
      const q = parseQuantity(f.lowStock, { allowZero: true });
      if (!q.ok) return setError(`Low-stock level: ${q.error}`);
      low = q.value;
    }
    setError(null);
    const input: ProductInput = {
      id: f.id, name: f.name.trim(), sku: f.sku.trim() || null, barcode: f.barcode.trim() || null, categoryId: f.categoryId || null,
      price: price.value, taxCode: f.taxCode.trim(), trackStock: f.trackStock, lowStock: low,
    };
    const p = await run(() => api.saveProduct(input));
    if (p) onSaved(p);
  };
  return (
    <Dialog title={initial ? `Edit ${initial.name}` : 'New product'} onClose={onClose} closable={!busy}>
      <form onSubmit={submit} data-testid="product-form">
        <Field label="Name"><input data-testid="product-name" value={f.name} onInput={(e) => set('name', e.currentTarget.value)} /></Field>
        <div class="row">
          <Field label="SKU"><input data-testid="product-sku" value={f.sku} onInput={(e) => set('sku', e.currentTarget.value)} /></Field>
          <Field label="Barcode"><input data-testid="product-barcode" value={f.barcode} onInput={(e) => set('barcode', e.currentTarget.value)} /></Field>
        </div>
        <div class="row">
          <Field label="Category">
            <select data-testid="product-category" value={f.categoryId} onChange={(e) => set('categoryId', e.currentTarget.value)}>
              <option value="">— none —</option>
              {categories.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
            </select>
          </Field>
          <Field label={`Price (${currency})`}><input data-testid="product-price" inputMode="decimal" value={f.price} onInput={(e) => set('price', e.currentTarget.value)} /></Field>
        </div>
        <div class="row">
          <Field label="Tax rate">
            {taxRates.length ? (
              <select data-testid="product-tax-code" value={f.taxCode} onChange={(e) => set('taxCode', e.currentTarget.value)}>
                {f.taxCode && !taxRates.some((r) => r.code === f.taxCode) ? <option value={f.taxCode}>{f.taxCode} (no longer in Settings)</option> : null}
                {taxRates.map((r) => <option key={r.code} value={r.code}>{r.code} — {r.name} ({formatPercent(r.basisPoints)})</option>)}
              </select>
            ) : (
              <input data-testid="product-tax-code" value={f.taxCode} placeholder="e.g. A" onInput={(e) => set('taxCode', e.currentTarget.value.toUpperCase())} />
            )}
          </Field>
          <Field label="Low-stock level"><input data-testid="product-low-stock" inputMode="decimal" value={f.lowStock} placeholder="none" onInput={(e) => set('lowStock', e.currentTarget.value)} /></Field>
        </div>
        <label class="check"><input type="checkbox" data-testid="product-track-stock" checked={f.trackStock} onChange={(e) => set('trackStock', e.currentTarget.checked)} /> Track stock</label>
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={onClose} disabled={busy}>Cancel</button>
          <button type="submit" class="primary" data-testid="product-save" disabled={busy}>Save</button>
        </div>
      </form>
    </Dialog>
  );
}

function RestockDialog({ p, onDone, onClose }: { p: ProductView; onDone: (p: ProductView) => void; onClose: () => void }) {
  const [busy, run] = useRun();
  const [qty, setQty] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const q = parseQuantity(qty);
    if (!q.ok) return setError(q.error);
    const x = await run(() => api.restock(p.id, q.value, note.trim() || null));
    if (x) onDone(x);
  };
  return (
    <Dialog title={`Restock ${p.name}`} onClose={onClose} closable={!busy}>
      <form onSubmit={submit}>
        <p class="muted">In stock now: {formatQuantity(p.stock)}</p>
        <Field label="Quantity received"><input data-testid="restock-quantity" inputMode="decimal" value={qty} onInput={(e) => setQty(e.currentTarget.value)} /></Field>
        <Field label="Note (supplier, invoice…)"><input data-testid="restock-note" value={note} onInput={(e) => setNote(e.currentTarget.value)} /></Field>
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" data-testid="restock-submit" disabled={busy}>Add to stock</button>
        </div>
      </form>
    </Dialog>
  );
}

function MovementsDialog({ p, onClose }: { p: ProductView; onClose: () => void }) {
  const [, run] = useRun();
  const [rows, setRows] = useState<MovementView[] | null>(null);
  useEffect(() => { void run(() => api.stockMovements(p.id)).then((r) => setRows(r ?? [])); }, [p.id, run]);
  return (
    <Dialog title={`Stock movements — ${p.name}`} onClose={onClose} wide>
      {rows === null ? <p class="muted">Loading…</p> : rows.length === 0 ? <p class="muted">No movements yet.</p> : (
        <table class="table">
          <thead><tr><th>When</th><th>Kind</th><th class="num">Quantity</th><th>By</th><th>Note</th></tr></thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.id}><td>{formatDateTime(m.createdAt)}</td><td>{m.kind}</td><td class="num">{m.quantity > 0 ? '+' : ''}{formatQuantity(m.quantity)}</td><td>{m.userName ?? ''}</td><td>{m.note ?? ''}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </Dialog>
  );
}

function Stocktake({ onDone }: { onDone: () => void }) {
  const [busy, run] = useRun();
  const [text, setText] = useState('');
  const [found, setFound] = useState<ProductView[]>([]);
  const [chosen, setChosen] = useState<{ p: ProductView; counted: string }[]>([]);
  const [note, setNote] = useState('');
  const [result, setResult] = useState<StocktakeLineView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const t = window.setTimeout(() => {
      void run(() => api.products({ categoryId: null, text: text.trim() || null, limit: 30 })).then((r) => r && setFound(r.filter((p) => p.trackStock)));
    }, 150);
    return () => window.clearTimeout(t);
  }, [text, run]);
  const submit = async () => {
    const lines: CountedLine[] = [];
    for (const c of chosen) {
      const q = parseQuantity(c.counted, { allowZero: true });
      if (!q.ok) return setError(`${c.p.name}: ${q.error}`);
      lines.push({ productId: c.p.id, counted: q.value });
    }
    if (!lines.length) return setError('Add the products you counted.');
    setError(null);
    const r = await run(() => api.stocktake(lines, note.trim() || null));
    if (r) { setResult(r); setChosen([]); onDone(); }
  };
  return (
    <div class="split">
      <div class="card">
        <h3>Find products</h3>
        <input type="search" placeholder="Search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <div class="pick-list">
          {found.map((p) => (
            <button type="button" key={p.id} data-testid="stocktake-add" data-product-name={p.name} disabled={chosen.some((c) => c.p.id === p.id)}
              onClick={() => setChosen([...chosen, { p, counted: '' }])}>
              <span>{p.name}</span><span class="muted small">expected {formatQuantity(p.stock)}</span>
            </button>
          ))}
        </div>
      </div>
      <div class="card">
        <h3>Counted</h3>
        {chosen.length === 0 ? <p class="muted">Add products from the list, then type what you counted.</p> : (
          <table class="table">
            <thead><tr><th>Product</th><th class="num">Expected</th><th>Counted</th><th /></tr></thead>
            <tbody>
              {chosen.map((c, i) => (
                <tr key={c.p.id}>
                  <td>{c.p.name}</td><td class="num">{formatQuantity(c.p.stock)}</td>
                  <td><input class="narrow" data-testid="stocktake-counted" data-product-name={c.p.name} inputMode="decimal" value={c.counted}
                    onInput={(e) => { const v = e.currentTarget.value; setChosen(chosen.map((x, j) => (j === i ? { ...x, counted: v } : x))); }} /></td>
                  <td><button type="button" class="ghost" aria-label="Remove" onClick={() => setChosen(chosen.filter((_, j) => j !== i))}>×</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <Field label="Note"><input value={note} onInput={(e) => setNote(e.currentTarget.value)} /></Field>
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <div class="form-actions"><button type="button" class="primary" data-testid="stocktake-submit" disabled={busy || !chosen.length} onClick={() => void submit()}>Submit stocktake</button></div>
        {result ? (
          <>
            <h3>Result</h3>
            <table class="table">
              <thead><tr><th>Product</th><th class="num">Expected</th><th class="num">Counted</th><th class="num">Difference</th></tr></thead>
              <tbody>{result.map((r) => (
                <tr key={r.productId}><td>{r.name}</td><td class="num">{formatQuantity(r.expected)}</td><td class="num">{formatQuantity(r.counted)}</td>
                  <td class={'num' + (r.difference < 0 ? ' neg' : '')}>{r.difference > 0 ? '+' : ''}{formatQuantity(r.difference)}</td></tr>
              ))}</tbody>
            </table>
          </>
        ) : null}
      </div>
    </div>
  );
}

function Categories({ categories, reload }: { categories: CategoryView[]; reload: () => void }) {
  const [busy, run] = useRun();
  const [name, setName] = useState('');
  const [editing, setEditing] = useState<{ id: string; name: string } | null>(null);
  const [confirmEl, confirm] = useConfirm();
  return (
    <div class="card narrow-card">
      <form class="inline-form" onSubmit={async (e) => {
        e.preventDefault();
        if (!name.trim()) return;
        if (await run(() => api.saveCategory({ id: null, name: name.trim() }))) { setName(''); reload(); }
      }}>
        <input data-testid="category-name" placeholder="New category" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit" class="primary" data-testid="category-add" disabled={busy}>Add</button>
      </form>
      <table class="table">
        <tbody>
          {categories.map((c) => (
            <tr key={c.id} data-testid="category-row" data-category-name={c.name}>
              <td>
                {editing?.id === c.id ? (
                  <form class="inline-form" onSubmit={async (e) => {
                    e.preventDefault();
                    if (await run(() => api.saveCategory({ id: c.id, name: editing.name.trim() }))) { setEditing(null); reload(); }
                  }}>
                    <input value={editing.name} onInput={(e) => setEditing({ id: c.id, name: e.currentTarget.value })} />
                    <button type="submit" class="primary">Save</button>
                    <button type="button" class="secondary" onClick={() => setEditing(null)}>Cancel</button>
                  </form>
                ) : c.name}
              </td>
              <td class="actions">
                <button type="button" class="secondary" onClick={() => setEditing({ id: c.id, name: c.name })}>Rename</button>
                <button type="button" class="danger" onClick={async () => {
                  if (await confirm(`Delete the category “${c.name}”? Its products stay, without a category.`, 'Delete')) {
                    if ((await run(() => api.deleteCategory(c.id))) !== undefined) reload();
                  }
                }}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {confirmEl}
    </div>
  );
}

export function Products() {
  const { session, notify } = useApp();
  const can = session.can.manageCatalog;
  const [busy, run] = useRun();
  const [tab, setTab] = useState<Tab>('products');
  const [text, setText] = useState('');
  const [catFilter, setCatFilter] = useState('');
  const [products, setProducts] = useState<ProductView[]>([]);
  const [listLoaded, setListLoaded] = useState(false);
  const [low, setLow] = useState<ProductView[]>([]);
  const [categories, setCategories] = useState<CategoryView[]>([]);
  const [taxRates, setTaxRates] = useState<TaxRateView[]>([]);
  const [editing, setEditing] = useState<ProductView | null | 'new'>(null);
  const [restocking, setRestocking] = useState<ProductView | null>(null);
  const [moves, setMoves] = useState<ProductView | null>(null);
  const [confirmEl, confirm] = useConfirm();

  const loadCategories = () => void run(() => api.categories()).then((c) => c && setCategories(c));
  /** Only the answer to the latest list request is applied (a slow, older one is dropped). */
  const listLoad = useRef(latest((f: () => Promise<ProductView[] | undefined>) => f())).current;
  const query = useRef({ text: '', catFilter: '' });
  query.current = { text, catFilter };
  const loadProducts = useCallback(() => {
    const { text: t, catFilter: c } = query.current;
    void listLoad(() => run(() => api.products({ categoryId: c || null, text: t.trim() || null, limit: LIST_LIMIT }))).then((r) => {
      if (!r.fresh) return;
      if (r.value) setProducts(r.value);
      setListLoaded(true);
    });
  }, [listLoad, run]);
  useEffect(() => {
    loadCategories();
  }, []);
  // Any signed-in user may read the settings (the key masked): the tax rates come
  // from there. Read only when a product dialog opens, not on every visit.
  const wantRates = can && editing !== null && taxRates.length === 0;
  useEffect(() => {
    if (wantRates) void run(() => api.settings()).then((s) => s && setTaxRates(s.taxRates));
  }, [wantRates, run]);
  useEffect(() => {
    listLoad.invalidate();
    const t = window.setTimeout(loadProducts, text.trim() ? SEARCH_DEBOUNCE_MS : 0);
    return () => window.clearTimeout(t);
  }, [text, catFilter, loadProducts, listLoad]);
  useEffect(() => {
    if (tab === 'low') void run(() => api.lowStock()).then((p) => p && setLow(p));
  }, [tab, run]);

  const catNames = useMemo(() => new Map(categories.map((c) => [c.id, c.name])), [categories]);
  const catName = (id: string | null) => (id === null ? '' : catNames.get(id) ?? '');

  const table = (list: ProductView[]) => (
    <table class="table">
      <thead><tr><th>Name</th><th>SKU</th><th>Barcode</th><th>Category</th><th class="num">Price</th><th>Tax</th><th class="num">Stock</th><th /></tr></thead>
      <tbody>
        {list.map((p) => {
          const isLow = p.trackStock && p.lowStock !== null && p.stock <= p.lowStock;
          return (
            <tr key={p.id} data-testid="product-row" data-product-name={p.name}>
              <td>{p.name}</td><td>{p.sku ?? ''}</td><td>{p.barcode ?? ''}</td><td>{catName(p.categoryId)}</td>
              <td class="num"><Money minor={p.price} /></td><td>{p.taxCode}</td>
              <td class={'num' + (isLow ? ' neg' : '')} data-testid="product-stock" data-stock={String(p.stock)}>{p.trackStock ? formatQuantity(p.stock) : '—'}</td>
              <td class="actions">
                <button type="button" class="secondary" onClick={() => setMoves(p)}>Movements</button>
                {can ? (
                  <>
                    {p.trackStock ? <button type="button" class="secondary" data-testid="product-restock" onClick={() => setRestocking(p)}>Restock</button> : null}
                    <button type="button" class="secondary" data-testid="product-edit" onClick={() => setEditing(p)}>Edit</button>
                    <button type="button" class="danger" data-testid="product-delete" onClick={async () => {
                      if (await confirm(`Delete ${p.name}? Past sales keep it.`, 'Delete')) {
                        if ((await run(() => api.deleteProduct(p.id))) !== undefined) { notify(`${p.name} deleted.`); loadProducts(); }
                      }
                    }}>Delete</button>
                  </>
                ) : null}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );

  return (
    <div class="page">
      <PageHead title="Products & stock">
        {tab === 'products' ? <input type="search" data-testid="products-search" placeholder="Search products (name, SKU, barcode)" value={text} onInput={(e) => setText(e.currentTarget.value)} /> : null}
        {tab === 'products' ? (
          <select data-testid="products-category-filter" aria-label="Category" value={catFilter} onChange={(e) => setCatFilter(e.currentTarget.value)}>
            <option value="">All categories</option>
            {categories.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
          </select>
        ) : null}
        {can && tab === 'products' ? <button type="button" class="primary" data-testid="product-new" onClick={() => setEditing('new')}>New product</button> : null}
      </PageHead>
      <div class="tabs sub">
        <button type="button" class={tab === 'products' ? 'active' : ''} onClick={() => setTab('products')}>Products</button>
        <button type="button" data-testid="tab-categories" class={tab === 'categories' ? 'active' : ''} onClick={() => setTab('categories')}>Categories</button>
        <button type="button" data-testid="tab-low-stock" class={tab === 'low' ? 'active' : ''} onClick={() => setTab('low')}>Low stock</button>
        {can ? <button type="button" data-testid="tab-stocktake" class={tab === 'stocktake' ? 'active' : ''} onClick={() => setTab('stocktake')}>Stocktake</button> : null}
      </div>
      {tab === 'products' ? (
        <div class="card list-card">
          {products.length >= LIST_LIMIT ? (
            <p class="muted" data-testid="products-truncated">Showing the first {LIST_LIMIT} of many products: refine the search to find others.</p>
          ) : null}
          {table(products)}
          {listLoaded && !busy && products.length === 0 ? <p class="muted">No products{text.trim() ? ` match “${text.trim()}”` : ''}.</p> : null}
        </div>
      ) : null}
      {tab === 'low' ? <div class="card list-card">{low.length ? table(low) : <p class="muted">Nothing is below its low-stock level.</p>}</div> : null}
      {tab === 'categories' ? (can ? <Categories categories={categories} reload={loadCategories} /> : <div class="card">{categories.map((c) => <div key={c.id}>{c.name}</div>)}</div>) : null}
      {tab === 'stocktake' && can ? <Stocktake onDone={loadProducts} /> : null}
      {editing ? (
        <ProductDialog initial={editing === 'new' ? null : editing} categories={categories} taxRates={taxRates} onClose={() => setEditing(null)}
          onSaved={(p) => { setEditing(null); notify(`${p.name} saved.`); loadProducts(); }} />
      ) : null}
      {restocking ? <RestockDialog p={restocking} onClose={() => setRestocking(null)} onDone={(p) => { setRestocking(null); notify(`${p.name}: ${formatQuantity(p.stock)} in stock.`); loadProducts(); }} /> : null}
      {moves ? <MovementsDialog p={moves} onClose={() => setMoves(null)} /> : null}
      {confirmEl}
    </div>
  );
}
