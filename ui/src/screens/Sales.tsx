/**
 * The sales screen: category tabs and product grid, search-as-you-type,
 * barcode scanner (keyboard wedge), the cart with quantities and discounts,
 * priced by the backend, then checkout and the receipt.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, toCommandError } from '../api';
import { Dialog } from '../components/Dialog';
import { ReceiptPaper } from '../components/Receipt';
import { useApp } from '../context';
import { useRun } from '../hooks';
import { BarcodeWedge } from '../lib/barcode';
import { discountText, parseDiscount } from '../lib/discount';
import { latest } from '../lib/latest';
import { formatMoney } from '../lib/money';
import { formatQuantity, parseQuantity, QTY_SCALE } from '../lib/quantity';
import type { TenderPart } from '../lib/tender';
import type { CartInput, CartView, CategoryView, DiscountInput, ProductView, ReceiptView, TenderInput } from '../types';
import { Checkout } from './Checkout';

interface Line {
  productId: string;
  name: string;
  price: number;
  quantity: number;
  discount: DiscountInput;
}

const NONE: DiscountInput = { kind: 'none' };
const PRODUCT_LIMIT = 200;
/** Search-as-you-type waits this long after the last key (Enter does not wait). */
const SEARCH_DEBOUNCE_MS = 120;

/** `uiReady` is sent once per app run, when the sales screen first has its data. */
let uiReadySent = false;

function toTender(p: TenderPart): TenderInput {
  switch (p.method) {
    case 'cash':
      return { method: 'cash', tendered: p.amount };
    case 'mpesa':
      return { method: 'mpesa', amount: p.amount, code: p.mpesaCode ?? '' };
    case 'card':
      return { method: 'card', amount: p.amount, reference: p.reference ?? null };
    case 'credit':
      return { method: 'credit', amount: p.amount, customerId: p.customerId ?? '' };
  }
}

function isTextEntry(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  if (el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return true;
  if (el instanceof HTMLInputElement) return !['button', 'checkbox', 'radio', 'submit'].includes(el.type);
  return el.isContentEditable;
}

function InlineEdit({ initial, onCommit, onCancel, label, testId }: {
  initial: string;
  onCommit: (text: string) => void;
  onCancel: () => void;
  label: string;
  testId?: string;
}) {
  const [text, setText] = useState(initial);
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => { ref.current?.focus(); ref.current?.select(); }, []);
  return (
    <input
      ref={ref}
      class="inline-edit"
      aria-label={label}
      data-testid={testId}
      value={text}
      onInput={(e) => setText(e.currentTarget.value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') { e.preventDefault(); e.stopPropagation(); onCommit(text); }
        if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); onCancel(); }
      }}
      onBlur={() => onCommit(text)}
    />
  );
}

export function Sales({ active }: { active: boolean }) {
  const { currency, showError } = useApp();
  const fmt = (n: number) => formatMoney(n, currency);
  const [, run] = useRun();
  const [categories, setCategories] = useState<CategoryView[]>([]);
  const [catId, setCatId] = useState<string>('');
  const [search, setSearch] = useState('');
  const [products, setProducts] = useState<ProductView[]>([]);
  /** The search text (trimmed) the grid's `products` answer; '' for a category/unfiltered list. */
  const [productsFor, setProductsFor] = useState('');
  const [loaded, setLoaded] = useState(false);
  const [lines, setLines] = useState<Line[]>([]);
  const [cartDiscount, setCartDiscount] = useState<DiscountInput>(NONE);
  /** The backend's prices, with the cart they are for (as JSON). */
  const [priced, setPriced] = useState<{ for: string; view: CartView } | null>(null);
  const [checkoutOpen, setCheckoutOpen] = useState(false);
  const [paying, setPaying] = useState(false);
  const [receipt, setReceipt] = useState<ReceiptView | null>(null);
  /** When the cashier pressed Complete for the receipt shown (`performance.now()`), for `data-pay-ms`. */
  const [payStartedAt, setPayStartedAt] = useState<number | undefined>(undefined);
  const [editQty, setEditQty] = useState<string | null>(null);
  const [editDisc, setEditDisc] = useState<string | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  const wedge = useRef(new BarcodeWedge());
  const priceSeq = useRef(0);
  /** Every grid load goes through here: only the answer to the latest request is applied. */
  const gridLoad = useRef(latest((f: () => Promise<ProductView[] | undefined>) => f())).current;
  const saleIdRef = useRef<Promise<string> | null>(null);
  const payingRef = useRef(false);

  // Catalog: read again whenever the screen comes back and after each pull
  // (prices and products change on the Back Office).
  const { sync } = useApp();
  const pulledAt = sync?.lastPullAt ?? null;
  const [catalogVersion, setCatalogVersion] = useState(0);
  useEffect(() => {
    if (active) setCatalogVersion((v) => v + 1);
  }, [active, pulledAt]);
  useEffect(() => {
    if (catalogVersion === 0) return;
    void (async () => {
      const cats = await run(() => api.categories());
      if (cats) setCategories(cats);
    })();
  }, [catalogVersion, run]);

  useEffect(() => {
    if (catalogVersion === 0) return;
    const text = search.trim();
    // The query changed: whatever is still in flight answers an older one.
    gridLoad.invalidate();
    const t = window.setTimeout(async () => {
      const r = await gridLoad(() => run(() => api.products({ categoryId: text ? null : catId || null, text: text || null, limit: PRODUCT_LIMIT })));
      if (!r.fresh) return;
      if (r.value) {
        setProducts(r.value);
        setProductsFor(text);
      }
      setLoaded(true);
    }, text ? SEARCH_DEBOUNCE_MS : 0);
    return () => window.clearTimeout(t);
  }, [search, catId, run, catalogVersion, gridLoad]);

  useEffect(() => {
    if (loaded && !uiReadySent) {
      uiReadySent = true;
      api.uiReady().catch(() => {});
    }
  }, [loaded]);

  // Pricing: the backend computes every total.
  const cartInput = useCallback((): CartInput => ({
    lines: lines.map((l) => ({ productId: l.productId, quantity: l.quantity, discount: l.discount })),
    discount: cartDiscount,
  }), [lines, cartDiscount]);

  const cartKey = JSON.stringify(cartInput());
  useEffect(() => {
    const seq = ++priceSeq.current;
    if (lines.length === 0) {
      setPriced(null);
      return;
    }
    const key = cartKey;
    api.priceCart(JSON.parse(key) as CartInput).then(
      (view) => { if (seq === priceSeq.current) setPriced({ for: key, view }); },
      (raw) => {
        if (seq !== priceSeq.current) return;
        setPriced(null);
        const e = toCommandError(raw);
        if (e.code !== 'not_signed_in' && e.code !== 'locked') showError(e);
      },
    );
  }, [cartKey, lines.length, showError]);

  /** The cart's sale id, asked for when the cart opens; the same id is used however often Pay is pressed. */
  const ensureSaleId = useCallback((): Promise<string> => {
    if (!saleIdRef.current) {
      const p = api.newSaleId();
      saleIdRef.current = p;
      p.catch((raw) => {
        if (saleIdRef.current === p) saleIdRef.current = null;
        const e = toCommandError(raw);
        if (e.code !== 'not_signed_in' && e.code !== 'locked') showError(e);
      });
    }
    return saleIdRef.current;
  }, [showError]);

  const addProduct = useCallback((p: ProductView, qty = QTY_SCALE) => {
    void ensureSaleId().catch(() => {});
    setLines((ls) => {
      const i = ls.findIndex((l) => l.productId === p.id);
      if (i >= 0) return ls.map((l, j) => (j === i ? { ...l, quantity: l.quantity + qty } : l));
      return [...ls, { productId: p.id, name: p.name, price: p.price, quantity: qty, discount: NONE }];
    });
  }, [ensureSaleId]);

  const setQuantity = (productId: string, q: number) => {
    setLines((ls) => (q <= 0 ? ls.filter((l) => l.productId !== productId) : ls.map((l) => (l.productId === productId ? { ...l, quantity: q } : l))));
  };

  // Only prices for exactly this cart count: a total is never shown for another.
  const current = priced && priced.for === cartKey ? priced.view : null;
  const canPay = lines.length > 0 && current !== null;
  const openCheckout = useCallback(() => {
    if (canPay) setCheckoutOpen(true);
  }, [canPay]);

  const newSale = useCallback(() => {
    setReceipt(null);
    setLines([]);
    setCartDiscount(NONE);
    saleIdRef.current = null;
    setSearch('');
    // Stock levels changed: refresh the grid quietly.
    // Through `gridLoad`: a search typed before this slow answer arrives wins.
    void gridLoad(() => api.products({ categoryId: catId || null, text: null, limit: PRODUCT_LIMIT }).catch(() => undefined)).then((r) => {
      if (r.fresh && r.value) {
        setProducts(r.value);
        setProductsFor('');
      }
    });
    window.setTimeout(() => searchRef.current?.focus(), 0);
  }, [catId, gridLoad]);

  /** Enter in the search box: an exact barcode/SKU, or the only match, goes into the cart. */
  const searchEnter = useCallback(async (text: string) => {
    // "The only match" only counts if the grid already shows this text's results
    // (search-as-you-type is debounced; Enter does not wait for it).
    const local = products.find((p) => p.barcode === text || p.sku === text) ?? (productsFor === text && products.length === 1 ? products[0] : undefined);
    if (local) {
      addProduct(local);
      setSearch('');
      return;
    }
    const p = await run(() => api.productByCode(text));
    if (p === undefined) return;
    // The grid may not show this text's results yet: ask for them.
    const list = p ? [p] : await run(() => api.products({ categoryId: null, text, limit: 2 }));
    if (!list) return;
    if (list.length === 1) {
      addProduct(list[0]!);
      setSearch('');
    } else {
      showError(list.length ? `Several products match “${text}”: tap the one you want.` : `No product matches “${text}”.`);
    }
  }, [products, productsFor, addProduct, run, showError]);

  /** A scanner burst: look the code up; typed fast into the search box and unknown, it was a search after all. */
  const scanned = useCallback(async (code: string, inSearch: boolean) => {
    const p = await run(() => api.productByCode(code));
    if (p === undefined) return;
    if (p) {
      addProduct(p);
      if (inSearch) setSearch((s) => (s.endsWith(code) ? s.slice(0, -code.length) : s));
    } else if (inSearch) {
      await searchEnter(searchRef.current?.value.trim() || code);
    } else {
      showError(`No product has the barcode or SKU “${code}”.`);
    }
  }, [run, addProduct, searchEnter, showError]);

  // Keyboard: the barcode wedge anywhere on the screen, Enter to pay.
  useEffect(() => {
    if (!active) return;
    const onKey = (e: KeyboardEvent) => {
      if (receipt) {
        if (e.key === 'Enter') { e.preventDefault(); newSale(); }
        return;
      }
      if (checkoutOpen || e.ctrlKey || e.altKey || e.metaKey) return;
      const inSearch = e.target === searchRef.current;
      if (isTextEntry(e.target) && !inSearch) {
        wedge.current.reset();
        return;
      }
      if (e.key === 'Escape' && inSearch) {
        setSearch('');
        return;
      }
      const code = wedge.current.feed(e.key);
      if (e.key !== 'Enter') return;
      const inSales = !!rootRef.current?.contains(e.target as Node) || e.target === document.body;
      if (code) {
        e.preventDefault();
        e.stopPropagation();
        void scanned(code, inSearch);
        return;
      }
      const typed = searchRef.current?.value.trim() ?? '';
      if (inSearch && typed) {
        e.preventDefault();
        void searchEnter(typed);
        return;
      }
      const tag = (e.target as HTMLElement | null)?.tagName;
      if (inSales && (tag === 'BUTTON' || tag === 'BODY' || inSearch || tag === 'DIV')) {
        e.preventDefault();
        openCheckout();
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [active, receipt, checkoutOpen, scanned, searchEnter, openCheckout, newSale]);

  const pay = async (parts: TenderPart[], startedAt: number) => {
    if (payingRef.current) return;
    payingRef.current = true;
    setPaying(true);
    try {
      const saleId = await ensureSaleId();
      const credit = parts.find((p) => p.method === 'credit');
      const r = await api.checkout({ saleId, cart: cartInput(), tenders: parts.map(toTender), customerId: credit?.customerId ?? null });
      setCheckoutOpen(false);
      setPayStartedAt(startedAt);
      setReceipt(r);
    } catch (raw) {
      const e = toCommandError(raw);
      if (e.code !== 'not_signed_in' && e.code !== 'locked') showError(e);
    } finally {
      payingRef.current = false;
      setPaying(false);
    }
  };

  const commitDiscount = (target: string, text: string) => {
    const d = parseDiscount(text, currency);
    setEditDisc(null);
    if (!d.ok) { showError(d.error); return; }
    if (target === 'cart') setCartDiscount(d.value);
    else setLines((ls) => ls.map((l) => (l.productId === target ? { ...l, discount: d.value } : l)));
  };

  const total = current?.total ?? 0;

  return (
    <div class="sales" ref={rootRef}>
      <section class="catalog">
        <div class="catalog-bar">
          <input
            ref={searchRef}
            type="search"
            class="search"
            data-testid="product-search"
            placeholder="Search or scan (name, SKU, barcode)"
            aria-label="Search products"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </div>
        <div class="tabs" role="tablist">
          <button type="button" role="tab" data-testid="category-tab" data-category-name="All" aria-selected={catId === ''} class={catId === '' ? 'active' : ''} onClick={() => setCatId('')}>All</button>
          {categories.map((c) => (
            <button type="button" role="tab" key={c.id} data-testid="category-tab" data-category-name={c.name} aria-selected={catId === c.id} class={catId === c.id ? 'active' : ''} onClick={() => { setCatId(c.id); setSearch(''); }}>
              {c.name}
            </button>
          ))}
        </div>
        <div class="grid">
          {products.map((p) => {
            const low = p.trackStock && p.lowStock !== null && p.stock <= p.lowStock;
            return (
              <button type="button" key={p.id} class={'tile' + (low ? ' low' : '')} data-testid="product-tile" data-product-name={p.name} data-price={String(p.price)} onClick={() => addProduct(p)}>
                <span class="tile-name">{p.name}</span>
                <span class="tile-price">{fmt(p.price)}</span>
                {p.trackStock ? <span class="tile-stock">{formatQuantity(p.stock)} in stock</span> : null}
              </button>
            );
          })}
          {loaded && products.length === 0 ? <p class="muted">No products{search ? ` match “${search}”` : ''}.</p> : null}
        </div>
      </section>

      <aside class="cart" aria-label="Cart">
        <div class="cart-lines">
          {lines.length === 0 ? <p class="muted cart-empty">Tap a product or scan a barcode to start a sale.</p> : null}
          {lines.map((l, i) => {
            const pl = current?.lines[i];
            return (
              <div class="cart-line" key={l.productId} data-testid="cart-line" data-product-name={l.name} data-quantity={String(l.quantity)}>
                <div class="cl-top">
                  <span class="cl-name">{l.name}</span>
                  <span class="cl-total">{pl ? fmt(pl.total) : '…'}</span>
                </div>
                <div class="cl-controls">
                  <button type="button" class="qty-btn" aria-label={`One less ${l.name}`} onClick={() => setQuantity(l.productId, l.quantity - QTY_SCALE)}>−</button>
                  {editQty === l.productId ? (
                    <InlineEdit
                      label="Quantity"
                      testId="cart-qty-input"
                      initial={formatQuantity(l.quantity)}
                      onCancel={() => setEditQty(null)}
                      onCommit={(t) => {
                        setEditQty(null);
                        const q = parseQuantity(t, { allowZero: true });
                        if (!q.ok) showError(q.error);
                        else setQuantity(l.productId, q.value);
                      }}
                    />
                  ) : (
                    <button type="button" class="qty" data-testid="cart-qty" title="Type a quantity" onClick={() => setEditQty(l.productId)}>{formatQuantity(l.quantity)}</button>
                  )}
                  <button type="button" class="qty-btn" aria-label={`One more ${l.name}`} onClick={() => setQuantity(l.productId, l.quantity + QTY_SCALE)}>+</button>
                  <span class="muted small">× {fmt(l.price)}</span>
                  {editDisc === l.productId ? (
                    <InlineEdit label="Line discount" initial={discountText(l.discount, currency)} onCancel={() => setEditDisc(null)} onCommit={(t) => commitDiscount(l.productId, t)} />
                  ) : (
                    <button type="button" class="chip" data-testid="line-discount" title="Discount: 10% or an amount" onClick={() => setEditDisc(l.productId)}>
                      {l.discount.kind === 'none' ? 'Disc.' : `−${discountText(l.discount, currency)}`}
                    </button>
                  )}
                  <button type="button" class="ghost remove" data-testid="cart-remove" aria-label={`Remove ${l.name}`} onClick={() => setQuantity(l.productId, 0)}>×</button>
                </div>
                {pl && pl.discount ? <div class="muted small">Discount −{fmt(pl.discount)}</div> : null}
                {pl && pl.stockAfter !== null && pl.stockAfter < 0 ? <div class="warn small">Stock will go below zero ({formatQuantity(pl.stockAfter)}).</div> : null}
              </div>
            );
          })}
        </div>
        <div class="cart-foot">
          <div class="sum-row"><span>Subtotal</span><span>{current ? fmt(current.subtotal) : '—'}</span></div>
          <div class="sum-row">
            <span>
              Discount{' '}
              {editDisc === 'cart' ? (
                <InlineEdit label="Cart discount" initial={discountText(cartDiscount, currency)} onCancel={() => setEditDisc(null)} onCommit={(t) => commitDiscount('cart', t)} />
              ) : (
                <button type="button" class="chip" data-testid="cart-discount" disabled={lines.length === 0} onClick={() => setEditDisc('cart')}>
                  {cartDiscount.kind === 'none' ? 'Add' : discountText(cartDiscount, currency)}
                </button>
              )}
            </span>
            <span>{current && current.discount ? `−${fmt(current.discount)}` : '—'}</span>
          </div>
          <div class="sum-row"><span>Tax</span><span>{current ? fmt(current.tax) : '—'}</span></div>
          <div class="sum-row grand" data-testid="cart-total" data-total={lines.length === 0 ? '0' : current ? String(current.total) : undefined} aria-busy={lines.length > 0 && !current}>
            <span>Total</span><strong>{fmt(total)}</strong>
          </div>
          <div class="cart-actions">
            <button type="button" class="secondary" disabled={lines.length === 0} onClick={() => { setLines([]); setCartDiscount(NONE); }}>Clear</button>
            <button type="button" class="pay primary" data-testid="pay-button" disabled={!canPay} onClick={openCheckout}>
              Pay {current ? fmt(current.total) : ''} <span class="kbd">Enter</span>
            </button>
          </div>
        </div>
      </aside>

      {checkoutOpen && current ? (
        <Checkout total={current.total} busy={paying} onPay={(p, t) => void pay(p, t)} onClose={() => !paying && setCheckoutOpen(false)} />
      ) : null}
      {receipt ? (
        <Dialog title={`Receipt ${receipt.receiptNo}`} onClose={newSale}>
          <div class="receipt-wrap">
            <ReceiptPaper r={receipt} payStartedAt={payStartedAt} />
          </div>
          <div class="dialog-actions">
            <button type="button" class="secondary" data-testid="receipt-print" onClick={() => window.print()}>Print</button>
            <button type="button" class="primary big" data-testid="new-sale" autoFocus onClick={newSale}>New sale (Enter)</button>
          </div>
        </Dialog>
      ) : null}
    </div>
  );
}
