// Generated from src-tauri/src/commands.rs and crates/pos-app/src/api.rs.
// Do not edit: run `UPDATE_BINDINGS=1 cargo test -p whiz-pos bindings`.
/* eslint-disable */

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

/**
 * What the UI needs before anyone signs in.
 */
export type AppInfo = { version: string, storeName: string, branchCode: string, deviceCode: string, currency: string, timeZone: string, 
/**
 * Today's business day (`YYYY-MM-DD`) in the branch's time zone.
 */
today: string, 
/**
 * No user yet: the UI shows "set up the owner".
 */
needsOwner: boolean, autoLockMinutes: number, 
/**
 * Users for the sign-in list (active ones).
 */
users: Array<UserView>, };

/**
 * A branch this till knows: its own, or one pulled from the Back Office.
 */
export type BranchView = { id: string, code: string, name: string, 
/**
 * This till's own branch.
 */
thisBranch: boolean, };

/**
 * What the signed-in user may do; the UI hides what is `false`, and every
 * command checks again in Rust.
 */
export type Capabilities = { sell: boolean, recordExpense: boolean, serveCustomers: boolean, voidOrRefund: boolean, manageCatalog: boolean, manageMoney: boolean, viewReports: boolean, manageUsers: boolean, manageSync: boolean, manageSettings: boolean, };

/**
 * The cart the UI holds; the backend prices it.
 */
export type CartInput = { lines: Array<CartLineInput>, discount: DiscountInput, };

export type CartLineInput = { productId: string, quantity: number, discount: DiscountInput, };

export type CartLineView = { productId: string, name: string, unitPrice: number, quantity: number, discount: number, tax: number, 
/**
 * What the line costs after its discount.
 */
total: number, 
/**
 * Stock on hand after this line, when tracked (may go negative).
 */
stockAfter: number | null, };

export type CartView = { lines: Array<CartLineView>, subtotal: number, discount: number, tax: number, total: number, currency: string, };

export type CashierTotalView = { name: string, salesCount: number, net: number, };

export type CategoryInput = { id: string | null, name: string, };

export type CategoryView = { id: string, name: string, sortOrder: number, };

export type CheckoutInput = { 
/**
 * From `newSaleId` when the cart opened; paying twice with the same id
 * records the sale once.
 */
saleId: string, cart: CartInput, tenders: Array<TenderInput>, customerId: string | null, };

/**
 * Why a command was refused. `message` is a sentence for the user, shown as
 * is; `code` is for the UI's logic (e.g. back to the PIN screen).
 */
export type CommandError = { code: ErrorCode, message: string, };

export type ConnectionInput = { url: string, 
/**
 * Null keeps the key already stored.
 */
apiKey: string | null, };

export type ConnectionTest = { serverVersion: string, serverTime: string, 
/**
 * This till's clock minus the server's (positive: the till is ahead).
 */
clockSkewMs: number, 
/**
 * The device the key belongs to, when the key was checked too.
 */
device: string | null, branch: string | null, };

export type CountedLine = { productId: string, 
/**
 * Thousandths.
 */
counted: number, };

/**
 * A customer's sales and account at every branch (read-only: rows of
 * other branches have `thisBranch` false and no actions).
 */
export type CustomerHistoryView = { 
/**
 * The customer the id stands for (an id merged into another customer
 * answers that customer).
 */
customerId: string, customerName: string, 
/**
 * What the customer owes across every branch the source knows of.
 */
balance: number, source: HistorySource, 
/**
 * With `this_till`: why the Back Office was not asked or did not answer.
 */
offlineReason: string | null, 
/**
 * This till's branch code (rows of other branches are read-only).
 */
branchCode: string, sales: Array<HistorySaleView>, 
/**
 * Older sales were left out.
 */
salesTruncated: boolean, ledger: Array<HistoryLedgerView>, ledgerTruncated: boolean, 
/**
 * Records merged into this customer (the same person added again at a
 * branch), oldest first, with merges an owner undid.
 */
merges: Array<HistoryMergeView>, 
/**
 * When the answer was made (the server's or this till's time).
 */
asOf: string, };

export type CustomerInput = { id: string | null, name: string, phone: string | null, email: string | null, notes: string | null, creditLimit: number, };

export type CustomerPaymentInput = { customerId: string, amount: number, 
/**
 * cash, mpesa (with `reference` = the confirmation code) or card.
 */
method: string, reference: string | null, note: string | null, };

export type CustomerView = { id: string, name: string, phone: string | null, email: string | null, notes: string | null, creditLimit: number, 
/**
 * What the customer owes (positive) across every branch's entries.
 */
balance: number, availableCredit: number, };

/**
 * One business day at this branch, in its time zone.
 */
export type DayReport = { day: string, timeZone: string, 
/**
 * The branch reported (this till's): sales, expenses and stock are
 * its own.
 */
branchCode: string, branchName: string, currency: string, salesCount: number, grossSales: number, voidsAndRefunds: number, netSales: number, tax: number, discounts: number, averageSale: number, byMethod: Array<MethodTotalView>, byCashier: Array<CashierTotalView>, bestSellers: Array<ProductTotalView>, expenses: number, cashExpenses: number, 
/**
 * Credit customers' payments received that day, by method.
 */
creditPayments: Array<MethodTotalView>, 
/**
 * Cash that should be in the drawer: cash sales − cash refunds +
 * cash credit payments − cash expenses.
 */
expectedCash: number, 
/**
 * The day's expenses by category, largest first.
 */
expensesByCategory: Array<ExpenseCategoryView>, 
/**
 * Stock on hand now (not at the end of `day`) of the stock-tracked
 * products: below zero first, then out, then low, then the rest (each
 * by name), at most a few hundred, so what needs attention is never cut.
 */
stock: Array<StockLevelView>, 
/**
 * More products track stock than `stock` lists.
 */
stockTruncated: boolean, 
/**
 * Counted over all of them, not only those `stock` lists.
 */
stockSummary: StockSummaryView, };

export type DiscountInput = { "kind": "none" } | { "kind": "percent", basis_points: number, } | { "kind": "amount", amount: number, };

export type EntityPreviewView = { entity: string, toAdd: number, toOverwrite: number, serverOnly: number, unchanged: number, };

/**
 * The closed set of error codes.
 */
export type ErrorCode = "not_signed_in" | "locked" | "forbidden" | "wrong_pin" | "user_locked" | "invalid" | "not_found" | "conflict" | "credit_limit" | "unreachable" | "back_office" | "keyring_unavailable" | "internal";

export type ExpenseCategoryView = { category: string, count: number, amount: number, };

export type ExpenseInput = { category: string, description: string, amount: number, paidWith: string, reference: string | null, };

export type ExpenseView = { id: string, category: string, description: string, amount: number, 
/**
 * cash, mpesa, card, bank…
 */
paidWith: string, reference: string | null, userName: string | null, spentAt: string, businessDay: string, };

export type FullSyncPreviewView = { entities: Array<EntityPreviewView>, toAdd: number, toOverwrite: number, serverOnly: number, };

/**
 * The `full-sync-progress` event's payload.
 */
export type FullSyncProgressView = { 
/**
 * preview, upload, finish, push, pull
 */
phase: string, entity: string | null, done: number, total: number, };

export type FullSyncReportView = { added: number, overwritten: number, removed: number, rejected: number, messages: Array<string>, };

export type HistoryLedgerView = { id: string, 
/**
 * credit_sale, payment, refund or adjustment.
 */
kind: string, 
/**
 * Positive raises what the customer owes.
 */
amount: number, method: string | null, reference: string | null, branchCode: string, branchName: string, createdAt: string, saleId: string | null, 
/**
 * From this till's branch; other branches' rows are read-only.
 */
thisBranch: boolean, };

/**
 * A customer record the Back Office merged into this one (same phone).
 */
export type HistoryMergeView = { 
/**
 * The merged record's own id.
 */
aliasId: string, name: string, phone: string | null, 
/**
 * Unknown (null) when this till answered offline.
 */
mergedAt: string | null, 
/**
 * Why, e.g. "same phone +254712345678".
 */
reason: string | null, 
/**
 * The branch whose till added the merged record, when known.
 */
branchName: string | null, 
/**
 * When an owner undid it: the record is its own customer again.
 */
undoneAt: string | null, };

export type HistorySaleView = { id: string, receiptNo: string, 
/**
 * sale, void or refund.
 */
kind: string, branchCode: string, branchName: string, deviceCode: string | null, createdAt: string, businessDay: string, total: number, 
/**
 * The part put on the customer's account.
 */
onCredit: number, 
/**
 * From this till's branch; other branches' rows are read-only.
 */
thisBranch: boolean, };

/**
 * Where a customer history came from.
 */
export type HistorySource = "back_office" | "this_till";

export type KeyringView = { available: boolean, 
/**
 * When unavailable: what is wrong and what to do, for the user.
 */
message: string | null, };

export type LedgerView = { id: string, 
/**
 * charge, payment, adjustment…
 */
kind: string, 
/**
 * Positive raises what the customer owes.
 */
amount: number, receiptNo: string | null, method: string | null, reference: string | null, note: string | null, createdAt: string, };

export type MethodTotalView = { method: string, count: number, amount: number, };

export type MovementView = { id: string, 
/**
 * sale, refund, void, restock, adjustment, stocktake, transfer…
 */
kind: string, quantity: number, userName: string | null, note: string | null, createdAt: string, };

export type PaymentView = { 
/**
 * cash, mpesa, card, credit
 */
method: string, amount: number, reference: string | null, };

/**
 * A new product (`id` null) or the new values of an existing one.
 */
export type ProductInput = { id: string | null, name: string, sku: string | null, barcode: string | null, categoryId: string | null, price: number, taxCode: string, trackStock: boolean, lowStock: number | null, };

/**
 * Which products to list: a category, a search text, or both.
 */
export type ProductQuery = { categoryId: string | null, text: string | null, limit: number | null, };

export type ProductTotalView = { name: string, quantity: number, net: number, };

export type ProductView = { id: string, name: string, sku: string | null, barcode: string | null, categoryId: string | null, price: number, taxCode: string, trackStock: boolean, 
/**
 * Thousandths; `null` when no alert level is set.
 */
lowStock: number | null, stock: number, };

export type QuarantinedView = { opId: string, deviceSeq: number, kind: string, reason: string, };

export type ReceiptLineView = { lineNo: number, name: string, quantity: number, unitPrice: number, discount: number, total: number, };

/**
 * A recorded sale, void or refund, ready to show and print.
 */
export type ReceiptView = { saleId: string, receiptNo: string, 
/**
 * sale, void, refund
 */
kind: string, originalSaleId: string | null, storeName: string, header: string, footer: string, cashier: string, customer: string | null, createdAt: string, businessDay: string, currency: string, lines: Array<ReceiptLineView>, payments: Array<PaymentView>, subtotal: number, discount: number, tax: number, total: number, change: number, reason: string | null, 
/**
 * The receipt as the printer prints it (monospace, 42 columns).
 */
text: string, 
/**
 * For a sale: whether it has been voided.
 */
voided: boolean, };

/**
 * What arrived of a transfer to this branch: one quantity per line.
 */
export type ReceiveTransferInput = { transferId: string, lines: Array<ReceiveTransferLineInput>, note: string | null, };

export type ReceiveTransferLineInput = { lineNo: number, 
/**
 * Thousandths counted on arrival: zero or more.
 */
quantity: number, };

export type RefundInput = { saleId: string, lines: Array<RefundLineInput>, reason: string, refundTo: RefundToInput, };

export type RefundLineInput = { lineNo: number, quantity: number, };

export type RefundToInput = { "method": "cash" } | { "method": "mpesa", code: string, } | { "method": "card", reference: string | null, } | { "method": "customer_account" };

export type RoleView = "cashier" | "manager" | "owner";

export type SaleRow = { saleId: string, receiptNo: string, kind: string, total: number, cashier: string, createdAt: string, voided: boolean, };

/**
 * Stock to send from this branch to another.
 */
export type SendTransferInput = { toBranchId: string, lines: Array<SendTransferLineInput>, note: string | null, };

export type SendTransferLineInput = { productId: string, 
/**
 * Thousandths, above zero.
 */
quantity: number, };

export type Session = { user: UserView, can: Capabilities, autoLockMinutes: number, };

export type SettingsInput = { storeName: string, address: string, phone: string, taxPin: string, receiptHeader: string, receiptFooter: string, currency: string, timeZone: string, taxMode: string, autoLockMinutes: number, };

export type SettingsView = { storeName: string, address: string, phone: string, taxPin: string, receiptHeader: string, receiptFooter: string, currency: string, timeZone: string, 
/**
 * inclusive or exclusive
 */
taxMode: string, taxRates: Array<TaxRateView>, autoLockMinutes: number, backofficeUrl: string | null, 
/**
 * The stored key with all but its last 4 characters hidden.
 */
apiKeyMasked: string | null, keyring: KeyringView, branchCode: string, deviceCode: string, };

/**
 * One stock-tracked product's stock on hand at this branch.
 */
export type StockLevelView = { productId: string, name: string, 
/**
 * Thousandths; may be negative.
 */
quantity: number, lowStock: number | null, 
/**
 * Below zero, or at or below its low-stock level.
 */
low: boolean, };

/**
 * Counts over every live stock-tracked product at this branch, however many
 * the report lists. `low`, `out` and `belowZero` never overlap.
 */
export type StockSummaryView = { tracked: number, 
/**
 * Above zero, at or below the product's low-stock level.
 */
low: number, 
/**
 * Exactly zero on hand.
 */
out: number, 
/**
 * Below zero.
 */
belowZero: number, };

export type StocktakeLineView = { productId: string, name: string, expected: number, counted: number, difference: number, };

export type SyncStateView = "not_configured" | "connecting" | "syncing" | "online" | "unreachable";

/**
 * The `sync-status` event's payload, and `syncStatus`'s answer.
 */
export type SyncStatusView = { state: SyncStateView, pending: number, quarantined: Array<QuarantinedView>, heldChanges: number, lastPushAt: string | null, lastPullAt: string | null, lastError: string | null, lastErrorAt: string | null, 
/**
 * This till's clock minus the server's (positive: the till is ahead).
 */
clockSkewMs: number | null, failures: number, retryInMs: number | null, backofficeUrl: string | null, };

export type TaxRateView = { code: string, name: string, 
/**
 * Basis points: 1600 = 16%.
 */
basisPoints: number, };

export type TenderInput = { "method": "cash", tendered: number, } | { "method": "mpesa", amount: number, code: string, } | { "method": "card", amount: number, reference: string | null, } | { "method": "credit", amount: number, customerId: string, };

/**
 * A transfer seen from this till.
 */
export type TransferDirection = "outgoing" | "incoming";

/**
 * Which transfers to list.
 */
export type TransferFilterInput = "all" | "to_receive" | "in_transit";

export type TransferLineView = { 
/**
 * 1, 2, … in the order the lines were sent.
 */
lineNo: number, productId: string, productName: string, 
/**
 * Thousandths.
 */
sent: number, 
/**
 * Thousandths; `null` until received.
 */
received: number | null, 
/**
 * Received in another quantity than sent.
 */
discrepancy: boolean, };

export type TransferStateView = "sent" | "received" | "received_with_discrepancy";

/**
 * A stock transfer between two branches, with its lines and state.
 */
export type TransferView = { id: string, fromBranch: BranchView, toBranch: BranchView, direction: TransferDirection, state: TransferStateView, sentBy: string, sentAt: string, receivedBy: string | null, receivedAt: string | null, 
/**
 * The sender's note.
 */
note: string | null, 
/**
 * The receiver's note.
 */
receiptNote: string | null, lines: Array<TransferLineView>, };

export type UserInput = { 
/**
 * Null to add a user (then `pin` is required).
 */
id: string | null, name: string, role: RoleView, active: boolean, pin: string | null, };

export type UserView = { id: string, name: string, role: RoleView, active: boolean, 
/**
 * Set while locked out by wrong PINs.
 */
lockedUntil: string | null, };

/** What every command rejects with. */
export function isCommandError(e: unknown): e is CommandError {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}

/**
 * The business, this till and its users, for the sign-in screen.
 */
export function appInfo(): Promise<AppInfo> {
  return invoke<AppInfo>('app_info');
}

/**
 * First run only: creates the owner and signs them in.
 */
export function createOwner(name: string, pin: string): Promise<Session> {
  return invoke<Session>('create_owner', { name, pin });
}

export function login(userId: string, pin: string): Promise<Session> {
  return invoke<Session>('login', { userId, pin });
}

/**
 * Unlocks a session that locked itself, with its user's PIN.
 */
export function unlock(pin: string): Promise<Session> {
  return invoke<Session>('unlock', { pin });
}

export function lock(): Promise<void> {
  return invoke<void>('lock');
}

export function logout(): Promise<void> {
  return invoke<void>('logout');
}

/**
 * Keeps the session from locking while the user is active.
 */
export function touch(): Promise<void> {
  return invoke<void>('touch');
}

/**
 * Called once, when the sales screen is interactive (start-up timing).
 */
export function uiReady(): Promise<void> {
  return invoke<void>('ui_ready');
}

export function categories(): Promise<Array<CategoryView>> {
  return invoke<Array<CategoryView>>('categories');
}

export function products(query: ProductQuery): Promise<Array<ProductView>> {
  return invoke<Array<ProductView>>('products', { query });
}

/**
 * A scanned or typed barcode or SKU.
 */
export function productByCode(code: string): Promise<ProductView | null> {
  return invoke<ProductView | null>('product_by_code', { code });
}

export function saveProduct(product: ProductInput): Promise<ProductView> {
  return invoke<ProductView>('save_product', { product });
}

export function deleteProduct(id: string): Promise<void> {
  return invoke<void>('delete_product', { id });
}

export function saveCategory(category: CategoryInput): Promise<CategoryView> {
  return invoke<CategoryView>('save_category', { category });
}

export function deleteCategory(id: string): Promise<void> {
  return invoke<void>('delete_category', { id });
}

export function restock(productId: string, quantity: number, note: string | null): Promise<ProductView> {
  return invoke<ProductView>('restock', { productId, quantity, note });
}

export function stocktake(lines: Array<CountedLine>, note: string | null): Promise<Array<StocktakeLineView>> {
  return invoke<Array<StocktakeLineView>>('stocktake', { lines, note });
}

export function lowStock(): Promise<Array<ProductView>> {
  return invoke<Array<ProductView>>('low_stock');
}

export function stockMovements(productId: string): Promise<Array<MovementView>> {
  return invoke<Array<MovementView>>('stock_movements', { productId });
}

/**
 * The branches this till knows (its own first), for the destination picker.
 */
export function branches(): Promise<Array<BranchView>> {
  return invoke<Array<BranchView>>('branches');
}

/**
 * This branch's transfers: all, to receive, or in transit.
 */
export function transfers(filter: TransferFilterInput): Promise<Array<TransferView>> {
  return invoke<Array<TransferView>>('transfers', { filter });
}

export function transfer(id: string): Promise<TransferView> {
  return invoke<TransferView>('transfer', { id });
}

/**
 * Sends stock to another branch (managers and owners); it leaves now.
 */
export function sendTransfer(transfer: SendTransferInput): Promise<TransferView> {
  return invoke<TransferView>('send_transfer', { transfer });
}

/**
 * Records what arrived of a transfer to this branch, once.
 */
export function receiveTransfer(receipt: ReceiveTransferInput): Promise<TransferView> {
  return invoke<TransferView>('receive_transfer', { receipt });
}

/**
 * An id for a new cart: paying twice with it records the sale once.
 */
export function newSaleId(): Promise<string> {
  return invoke<string>('new_sale_id');
}

export function priceCart(cart: CartInput): Promise<CartView> {
  return invoke<CartView>('price_cart', { cart });
}

export function checkout(checkout: CheckoutInput): Promise<ReceiptView> {
  return invoke<ReceiptView>('checkout', { checkout });
}

export function recentSales(limit: number): Promise<Array<SaleRow>> {
  return invoke<Array<SaleRow>>('recent_sales', { limit });
}

export function receipt(saleId: string): Promise<ReceiptView> {
  return invoke<ReceiptView>('receipt', { saleId });
}

export function voidSale(saleId: string, reason: string): Promise<ReceiptView> {
  return invoke<ReceiptView>('void_sale', { saleId, reason });
}

export function refund(refund: RefundInput): Promise<ReceiptView> {
  return invoke<ReceiptView>('refund', { refund });
}

/**
 * The categories this branch's expenses have used.
 */
export function expenseCategories(): Promise<Array<string>> {
  return invoke<Array<string>>('expense_categories');
}

export function expenses(from: string, to: string): Promise<Array<ExpenseView>> {
  return invoke<Array<ExpenseView>>('expenses', { from, to });
}

export function recordExpense(expense: ExpenseInput): Promise<ExpenseView> {
  return invoke<ExpenseView>('record_expense', { expense });
}

export function deleteExpense(id: string): Promise<void> {
  return invoke<void>('delete_expense', { id });
}

export function customers(text: string): Promise<Array<CustomerView>> {
  return invoke<Array<CustomerView>>('customers', { text });
}

export function saveCustomer(customer: CustomerInput): Promise<CustomerView> {
  return invoke<CustomerView>('save_customer', { customer });
}

export function deleteCustomer(id: string): Promise<void> {
  return invoke<void>('delete_customer', { id });
}

export function customerLedger(id: string): Promise<Array<LedgerView>> {
  return invoke<Array<LedgerView>>('customer_ledger', { id });
}

export function recordCustomerPayment(payment: CustomerPaymentInput): Promise<CustomerView> {
  return invoke<CustomerView>('record_customer_payment', { payment });
}

/**
 * Sales and account entries at every branch, read-only: the Back
 * Office's answer, or this till's own records when it cannot be asked.
 */
export function customerHistory(customerId: string): Promise<CustomerHistoryView> {
  return invoke<CustomerHistoryView>('customer_history', { customerId });
}

export function users(): Promise<Array<UserView>> {
  return invoke<Array<UserView>>('users');
}

export function saveUser(user: UserInput): Promise<UserView> {
  return invoke<UserView>('save_user', { user });
}

export function resetPin(userId: string, pin: string): Promise<void> {
  return invoke<void>('reset_pin', { userId, pin });
}

export function unlockUser(userId: string): Promise<void> {
  return invoke<void>('unlock_user', { userId });
}

export function deleteUser(userId: string): Promise<void> {
  return invoke<void>('delete_user', { userId });
}

export function changeOwnPin(oldPin: string, newPin: string): Promise<void> {
  return invoke<void>('change_own_pin', { oldPin, newPin });
}

/**
 * One business day (today when null), in the branch's time zone.
 */
export function dayReport(day: string | null): Promise<DayReport> {
  return invoke<DayReport>('day_report', { day });
}

export function settings(): Promise<SettingsView> {
  return invoke<SettingsView>('settings');
}

export function saveSettings(settings: SettingsInput): Promise<SettingsView> {
  return invoke<SettingsView>('save_settings', { settings });
}

export function saveTaxRate(rate: TaxRateView): Promise<SettingsView> {
  return invoke<SettingsView>('save_tax_rate', { rate });
}

export function retireTaxRate(code: string): Promise<SettingsView> {
  return invoke<SettingsView>('retire_tax_rate', { code });
}

/**
 * Saves the Back Office address and API key (into the OS keyring).
 */
export function saveConnection(connection: ConnectionInput): Promise<SettingsView> {
  return invoke<SettingsView>('save_connection', { connection });
}

/**
 * Asks the Back Office's `GET /api/status` (and `GET /api/device`).
 */
export function testConnection(connection: ConnectionInput): Promise<ConnectionTest> {
  return invoke<ConnectionTest>('test_connection', { connection });
}

export function forgetConnection(): Promise<SettingsView> {
  return invoke<SettingsView>('forget_connection');
}

export function syncStatus(): Promise<SyncStatusView> {
  return invoke<SyncStatusView>('sync_status');
}

export function pushPending(): Promise<SyncStatusView> {
  return invoke<SyncStatusView>('push_pending');
}

export function pullUpdates(): Promise<SyncStatusView> {
  return invoke<SyncStatusView>('pull_updates');
}

export function retryQuarantined(opId: string): Promise<SyncStatusView> {
  return invoke<SyncStatusView>('retry_quarantined', { opId });
}

export function discardQuarantined(opId: string): Promise<SyncStatusView> {
  return invoke<SyncStatusView>('discard_quarantined', { opId });
}

/**
 * What Full Cloud Synchronization would do; nothing is changed.
 */
export function fullSyncPreview(): Promise<FullSyncPreviewView> {
  return invoke<FullSyncPreviewView>('full_sync_preview');
}

/**
 * Runs the last preview; progress arrives as `full-sync-progress` events.
 */
export function fullSyncApply(removeServerOnly: boolean): Promise<FullSyncReportView> {
  return invoke<FullSyncReportView>('full_sync_apply', { removeServerOnly });
}

export const EVENTS = {
  syncStatus: 'sync-status',
  fullSyncProgress: 'full-sync-progress',
} as const;

export function onSyncStatus(handler: (payload: SyncStatusView) => void): Promise<UnlistenFn> {
  return listen<SyncStatusView>('sync-status', (e) => handler(e.payload));
}

export function onFullSyncProgress(handler: (payload: FullSyncProgressView) => void): Promise<UnlistenFn> {
  return listen<FullSyncProgressView>('full-sync-progress', (e) => handler(e.payload));
}
