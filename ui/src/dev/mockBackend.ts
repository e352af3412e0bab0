/**
 * An in-memory stand-in for the Rust backend, for looking at the UI in a
 * plain browser (`npm run dev`, then open /mock.html). Never part of the
 * app build: only `mock.html` imports it. Its rules are rough on purpose —
 * the real ones live in Rust.
 */
import { emit } from '@tauri-apps/api/event';
import { mockIPC } from '@tauri-apps/api/mocks';
import type * as T from '../types';

const fail = (code: T.ErrorCode, message: string): never => {
  throw { code, message } satisfies T.CommandError;
};

/** The day report's stock, as Rust builds it: counts over all, attention first (below zero, out, low), capped at 500. */
function mockStock(tracked: T.ProductView[]): Pick<T.DayReport, 'stock' | 'stockTruncated' | 'stockSummary'> {
  const rank = (x: T.ProductView) => (x.stock < 0 ? 0 : x.stock === 0 ? 1 : x.lowStock !== null && x.stock <= x.lowStock ? 2 : 3);
  const sorted = [...tracked].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  const count = (r: number) => tracked.filter((x) => rank(x) === r).length;
  return {
    stock: sorted.slice(0, 500).map((x) => ({ productId: x.id, name: x.name, quantity: x.stock, lowStock: x.lowStock, low: x.stock < 0 || (x.lowStock !== null && x.stock <= x.lowStock) })),
    stockTruncated: sorted.length > 500,
    stockSummary: { tracked: tracked.length, low: count(2), out: count(1), belowZero: count(0) },
  };
}

export function installMockBackend(): void {
  let seq = 1;
  const id = () => `id-${seq++}`;
  const fresh = new URLSearchParams(location.search).has('fresh');
  const users: (T.UserView & { pin: string })[] = fresh ? [] : [
    { id: 'u1', name: 'Amina', role: 'owner', active: true, lockedUntil: null, pin: '1234' },
    { id: 'u2', name: 'Brian', role: 'cashier', active: true, lockedUntil: null, pin: '1111' },
  ];
  const categories: T.CategoryView[] = [
    { id: 'c1', name: 'Hot drinks', sortOrder: 1 },
    { id: 'c2', name: 'Bakery', sortOrder: 2 },
    { id: 'c3', name: 'Cold drinks', sortOrder: 3 },
  ];
  const p = (name: string, price: number, categoryId: string, barcode: string | null, stock = 20000): T.ProductView => ({
    id: id(), name, sku: name.slice(0, 3).toUpperCase() + seq, barcode, categoryId, price, taxCode: 'A', trackStock: true, lowStock: 5000, stock,
  });
  const products: T.ProductView[] = [
    p('Chai', 8000, 'c1', '6001'), p('Coffee', 15000, 'c1', '6002'), p('Hot chocolate', 18000, 'c1', null),
    p('Mandazi', 2000, 'c2', '6161101600019'), p('Samosa', 5000, 'c2', null, 3000), p('Chapati', 3000, 'c2', null),
    p('Soda 500ml', 6000, 'c3', '5449000000996'), p('Water 1L', 5000, 'c3', null), p('Fresh juice', 12000, 'c3', null),
  ];
  const customers: T.CustomerView[] = [
    { id: 'k1', name: 'Wanjiru Kamau', phone: '+254712345678', email: null, notes: null, creditLimit: 500000, balance: 120000, availableCredit: 380000 },
  ];
  const receipts: T.ReceiptView[] = [];
  const expenses: T.ExpenseView[] = [];
  const branches: T.BranchView[] = [
    { id: 'b1', code: 'NBI01', name: 'Nairobi CBD', thisBranch: true },
    { id: 'b2', code: 'MSA01', name: 'Mombasa Road', thisBranch: false },
  ];
  const transfers: T.TransferView[] = [{
    id: 'tr-1', fromBranch: branches[1]!, toBranch: branches[0]!, direction: 'incoming', state: 'sent', sentBy: 'Otieno',
    sentAt: new Date().toISOString(), receivedBy: null, receivedAt: null, note: 'Weekly top-up', receiptNote: null,
    lines: [{ lineNo: 1, productId: products[0]!.id, productName: products[0]!.name, sent: 12000, received: null, discrepancy: false }],
  }];
  let session: T.Session | null = null;
  let locked = false;
  const sync: T.SyncStatusView = {
    state: 'online', pending: 2, quarantined: [{ opId: 'op-9', deviceSeq: 9, kind: 'SaleRecorded', reason: 'the product no longer exists on the Back Office' }],
    heldChanges: 0, lastPushAt: new Date().toISOString(), lastPullAt: new Date().toISOString(), lastError: null, lastErrorAt: null,
    clockSkewMs: 420, failures: 0, retryInMs: null, backofficeUrl: 'https://bo.example.co.ke',
  };
  const settings: T.SettingsView = {
    storeName: 'Mama Njeri Café', address: 'Moi Avenue, Nairobi', phone: '+254700000000', taxPin: 'P051234567X', receiptHeader: 'Karibu!',
    receiptFooter: 'Asante sana. Goods once sold are not returnable.', currency: 'KES', timeZone: 'Africa/Nairobi', taxMode: 'inclusive',
    taxRates: [{ code: 'A', name: 'VAT 16%', basisPoints: 1600 }, { code: 'E', name: 'Exempt', basisPoints: 0 }],
    autoLockMinutes: 5, backofficeUrl: 'https://bo.example.co.ke', apiKeyMasked: 'whiz_••••••3f9a',
    keyring: { available: false, message: 'No keyring service is running. Install and unlock GNOME Keyring (or KWallet), then save the key again.' },
    branchCode: 'NBI01', deviceCode: 'T1',
  };
  const info = (): T.AppInfo => ({
    version: '0.1.0', storeName: settings.storeName, branchCode: 'NBI01', deviceCode: 'T1', currency: 'KES', timeZone: 'Africa/Nairobi',
    today: new Date().toLocaleDateString('en-CA', { timeZone: 'Africa/Nairobi' }),
    needsOwner: users.length === 0, autoLockMinutes: settings.autoLockMinutes, users: users.map(({ pin: _, ...u }) => u),
  });
  const caps = (role: T.RoleView): T.Capabilities => {
    const m = role !== 'cashier';
    return { sell: true, recordExpense: true, serveCustomers: true, voidOrRefund: m, manageCatalog: m, manageMoney: m, viewReports: m, manageUsers: m, manageSync: m, manageSettings: role === 'owner' };
  };
  const need = () => {
    if (!session) fail('not_signed_in', 'Sign in first.');
    if (locked) fail('locked', 'The till locked itself. Enter your PIN.');
    return session!;
  };
  const price = (cart: T.CartInput): T.CartView => {
    const lines = cart.lines.map((l) => {
      const pr = products.find((x) => x.id === l.productId) ?? fail('not_found', 'That product is gone.');
      const gross = Math.round((pr.price * l.quantity) / 1000);
      const disc = l.discount.kind === 'percent' ? Math.round((gross * l.discount.basis_points) / 10000) : l.discount.kind === 'amount' ? l.discount.amount : 0;
      const total = gross - disc;
      return { productId: pr.id, name: pr.name, unitPrice: pr.price, quantity: l.quantity, discount: disc, tax: Math.round((total * 16) / 116), total, stockAfter: pr.stock - l.quantity };
    });
    const sub = lines.reduce((s, l) => s + l.total, 0);
    const cd = cart.discount.kind === 'percent' ? Math.round((sub * cart.discount.basis_points) / 10000) : cart.discount.kind === 'amount' ? cart.discount.amount : 0;
    const total = sub - cd;
    return { lines, subtotal: sub, discount: cd + lines.reduce((s, l) => s + l.discount, 0), tax: Math.round((total * 16) / 116), total, currency: 'KES' };
  };

  mockIPC(async (cmd, raw) => {
    const a = (raw ?? {}) as Record<string, any>;
    await new Promise((r) => setTimeout(r, 30));
    switch (cmd) {
      case 'app_info': return info();
      case 'create_owner': {
        users.push({ id: id(), name: a.name, role: 'owner', active: true, lockedUntil: null, pin: a.pin });
        return (session = { user: users.at(-1)!, can: caps('owner'), autoLockMinutes: 5 });
      }
      case 'login': {
        const u = users.find((x) => x.id === a.userId) ?? fail('not_found', 'No such user.');
        if (u.pin !== a.pin) fail('wrong_pin', 'Wrong PIN. 4 tries left before a 5-minute lock-out.');
        locked = false;
        return (session = { user: u, can: caps(u.role), autoLockMinutes: settings.autoLockMinutes });
      }
      case 'unlock': {
        if (!session) fail('not_signed_in', 'Sign in first.');
        if (users.find((x) => x.id === session!.user.id)!.pin !== a.pin) fail('wrong_pin', 'Wrong PIN.');
        locked = false;
        return session;
      }
      case 'lock': locked = true; return null;
      case 'logout': session = null; return null;
      case 'touch': case 'ui_ready': return null;
      case 'categories': need(); return categories;
      case 'products': {
        need();
        const q = a.query as T.ProductQuery;
        return products.filter((x) => (!q.categoryId || x.categoryId === q.categoryId) && (!q.text || x.name.toLowerCase().includes(q.text.toLowerCase()) || x.barcode === q.text));
      }
      case 'product_by_code': need(); return products.find((x) => x.barcode === a.code || x.sku === a.code) ?? null;
      case 'save_product': {
        need();
        const i = a.product as T.ProductInput;
        const existing = products.find((x) => x.id === i.id);
        if (existing) { Object.assign(existing, i); return existing; }
        const np = { ...i, id: id(), stock: 0 };
        products.push(np);
        return np;
      }
      case 'low_stock': return products.filter((x) => x.lowStock !== null && x.stock <= x.lowStock);
      case 'stock_movements': return [{ id: 'm1', kind: 'restock', quantity: 24000, userName: 'Amina', note: 'Supplier delivery', createdAt: new Date().toISOString() }];
      case 'new_sale_id': need(); return id();
      case 'price_cart': need(); return price(a.cart);
      case 'checkout': {
        const s = need();
        const prev = receipts.find((r) => r.saleId === a.checkout.saleId);
        if (prev) return prev;
        const c = a.checkout as T.CheckoutInput;
        const pv = price(c.cart);
        const credit = c.tenders.find((t) => t.method === 'credit');
        if (credit && credit.amount > 300000) fail('credit_limit', 'Wanjiru Kamau can take KES 3,800.00 more on credit; this sale puts KES 5,000.00 on the account.');
        const paid = c.tenders.reduce((x, t) => x + (t.method === 'cash' ? t.tendered : t.amount), 0);
        const r: T.ReceiptView = {
          saleId: c.saleId, receiptNo: `NBI01-T1-${String(receipts.length + 1).padStart(6, '0')}`, kind: 'sale', originalSaleId: null,
          storeName: settings.storeName, header: settings.receiptHeader, footer: settings.receiptFooter, cashier: s.user.name,
          customer: credit ? 'Wanjiru Kamau' : null, createdAt: new Date().toISOString(), businessDay: '2026-11-30', currency: 'KES',
          lines: pv.lines.map((l, i) => ({ lineNo: i + 1, name: l.name, quantity: l.quantity, unitPrice: l.unitPrice, discount: l.discount, total: l.total })),
          payments: c.tenders.map((t) => ({ method: t.method, amount: t.method === 'cash' ? t.tendered - Math.max(0, paid - pv.total) : t.amount, reference: t.method === 'mpesa' ? t.code : null })),
          subtotal: pv.subtotal, discount: pv.discount, tax: pv.tax, total: pv.total, change: Math.max(0, paid - pv.total), reason: null, text: '', voided: false,
        };
        receipts.unshift(r);
        sync.pending += 1;
        void emit('sync-status', { ...sync });
        return r;
      }
      case 'recent_sales': return receipts.map((r) => ({ saleId: r.saleId, receiptNo: r.receiptNo, kind: r.kind, total: r.total, cashier: r.cashier, createdAt: r.createdAt, voided: r.voided }));
      case 'receipt': return receipts.find((r) => r.saleId === a.saleId) ?? fail('not_found', 'No such receipt.');
      case 'customers': return customers.filter((c) => c.name.toLowerCase().includes(String(a.text).toLowerCase()));
      case 'customer_ledger': return [{ id: 'l1', kind: 'charge', amount: 120000, receiptNo: 'NBI01-T1-000004', method: null, reference: null, note: null, createdAt: new Date().toISOString() }];
      case 'customer_history': return {
        customerId: a.customerId, customerName: customers.find((c) => c.id === a.customerId)?.name ?? 'Customer', balance: 120000,
        source: 'this_till', offlineReason: 'This till is not connected to a Back Office (Settings > Back Office).', branchCode: 'NBI01',
        sales: [{ id: 's4', receiptNo: 'NBI01-T1-000004', kind: 'sale', branchCode: 'NBI01', branchName: 'Nairobi CBD', deviceCode: 'T1', createdAt: new Date().toISOString(), businessDay: '2026-11-30', total: 120000, onCredit: 120000, thisBranch: true }],
        salesTruncated: false,
        ledger: [{ id: 'l1', kind: 'credit_sale', amount: 120000, method: null, reference: 'NBI01-T1-000004', branchCode: 'NBI01', branchName: 'Nairobi CBD', createdAt: new Date().toISOString(), saleId: 's4', thisBranch: true }],
        ledgerTruncated: false, merges: [], asOf: new Date().toISOString(),
      } satisfies T.CustomerHistoryView;
      case 'expenses': return expenses.filter((x) => x.businessDay >= a.from && x.businessDay <= a.to);
      case 'expense_categories': return [...new Set(expenses.map((x) => x.category))].concat(['Airtime']);
      case 'record_expense': {
        const s = need();
        const i = a.expense as T.ExpenseInput;
        const x: T.ExpenseView = { ...i, id: id(), spentAt: new Date().toISOString(), businessDay: info().today, userName: s.user.name };
        expenses.unshift(x);
        return x;
      }
      case 'delete_expense': expenses.splice(expenses.findIndex((x) => x.id === a.id), 1); return null;
      case 'users': return users.map(({ pin: _, ...u }) => u);
      case 'day_report': return {
        day: a.day ?? '2026-11-30', timeZone: 'Africa/Nairobi', currency: 'KES', salesCount: 42, grossSales: 1250000, voidsAndRefunds: 15000, netSales: 1235000,
        tax: 170345, discounts: 5000, averageSale: 29405, byMethod: [{ method: 'cash', count: 30, amount: 800000 }, { method: 'mpesa', count: 12, amount: 435000 }],
        byCashier: [{ name: 'Brian', salesCount: 42, net: 1235000 }], bestSellers: [{ name: 'Chai', quantity: 60000, net: 480000 }],
        expenses: 30000, cashExpenses: 20000, creditPayments: [{ method: 'cash', count: 1, amount: 50000 }], expectedCash: 830000,
        branchCode: 'NBI01', branchName: 'Nairobi CBD', expensesByCategory: [{ category: 'Supplies', count: 2, amount: 30000 }],
        ...mockStock(products.filter((x) => x.trackStock)),
      };
      case 'settings': return settings;
      case 'save_settings': Object.assign(settings, a.settings); return settings;
      case 'save_connection': fail('keyring_unavailable', settings.keyring.message!); return null;
      case 'test_connection': return { serverVersion: '0.4.1', serverTime: new Date().toISOString(), clockSkewMs: 420, device: 'T1', branch: 'NBI01' };
      case 'branches': need(); return branches;
      case 'transfers': need(); return transfers.filter((t) => a.filter === 'all' || (t.state === 'sent' && (a.filter === 'to_receive') === (t.direction === 'incoming')));
      case 'transfer': return transfers.find((t) => t.id === a.id) ?? fail('not_found', 'No such transfer.');
      case 'send_transfer': {
        const s = need();
        const i = a.transfer as T.SendTransferInput;
        if (!i.lines.length) fail('invalid', 'The transfer has no lines; add at least one product to send.');
        const t: T.TransferView = {
          id: id(), fromBranch: branches[0]!, toBranch: branches.find((b) => b.id === i.toBranchId) ?? fail('invalid', 'Choose the destination branch.'),
          direction: 'outgoing', state: 'sent', sentBy: s.user.name, sentAt: new Date().toISOString(), receivedBy: null, receivedAt: null, note: i.note, receiptNote: null,
          lines: i.lines.map((l, n) => {
            const pr = products.find((x) => x.id === l.productId)!;
            pr.stock -= l.quantity;
            return { lineNo: n + 1, productId: pr.id, productName: pr.name, sent: l.quantity, received: null, discrepancy: false };
          }),
        };
        transfers.unshift(t);
        return t;
      }
      case 'receive_transfer': {
        const s = need();
        const i = a.receipt as T.ReceiveTransferInput;
        const t = transfers.find((x) => x.id === i.transferId) ?? fail('not_found', 'No such transfer.');
        if (t.state !== 'sent') fail('invalid', 'This transfer has been received already.');
        t.lines = t.lines.map((l) => {
          const received = i.lines.find((x) => x.lineNo === l.lineNo)?.quantity ?? 0;
          return { ...l, received, discrepancy: received !== l.sent };
        });
        t.state = t.lines.some((l) => l.discrepancy) ? 'received_with_discrepancy' : 'received';
        t.receivedBy = s.user.name;
        t.receivedAt = new Date().toISOString();
        t.receiptNote = i.note;
        return t;
      }
      case 'sync_status': return sync;
      case 'push_pending': sync.pending = 0; void emit('sync-status', { ...sync }); return sync;
      case 'pull_updates': return sync;
      case 'full_sync_preview': return { entities: [{ entity: 'products', toAdd: 2, toOverwrite: 1, serverOnly: 3, unchanged: 40 }, { entity: 'sales', toAdd: 12, toOverwrite: 0, serverOnly: 0, unchanged: 200 }], toAdd: 14, toOverwrite: 1, serverOnly: 3 };
      case 'full_sync_apply': {
        const step = async (phase: string, done: number, total: number) => {
          await new Promise((r) => setTimeout(r, 300));
          void emit('full-sync-progress', { phase, entity: null, done, total } satisfies T.FullSyncProgressView);
        };
        await step('preview', 1, 1);
        for (let i = 1; i <= 5; i++) await step('upload', i, 5);
        await step('finish', 1, 1);
        await step('push', 1, 1);
        await step('done', 1, 1);
        return { added: 14, overwritten: 1, removed: a.removeServerOnly ? 3 : 0, rejected: 0, messages: [] };
      }
      default:
        return fail('internal', `The mock has no command ${cmd}.`);
    }
  }, { shouldMockEvents: true });
}
