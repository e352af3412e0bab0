/**
 * The one door to the backend. Screens call `api.<command>(…)`; the command
 * functions are the generated bindings' (`bindings.ts`). Every rejection is normalized
 * to `{ code, message }`, and a `not_signed_in` / `locked` rejection sends
 * the app back to the PIN screen wherever it happened.
 */
import * as b from './bindings';
import type * as T from './types';

export type { CommandError, ErrorCode } from './types';

/** Every code of the closed set; a code added in Rust fails to compile here until listed. */
const CODES: Record<T.ErrorCode, true> = {
  not_signed_in: true, locked: true, forbidden: true, wrong_pin: true, user_locked: true, invalid: true, not_found: true,
  conflict: true, credit_limit: true, unreachable: true, back_office: true, keyring_unavailable: true, internal: true,
};

/** Turns whatever a command rejected with into `{ code, message }`. */
export function toCommandError(e: unknown): T.CommandError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const { code, message } = e as { code: unknown; message: unknown };
    if (typeof code === 'string' && Object.hasOwn(CODES, code) && typeof message === 'string') {
      return { code: code as T.ErrorCode, message };
    }
  }
  if (e instanceof Error) return { code: 'internal', message: e.message };
  if (typeof e === 'string') return { code: 'internal', message: e };
  return { code: 'internal', message: 'Something went wrong.' };
}

export function isSessionError(e: T.CommandError): boolean {
  return e.code === 'not_signed_in' || e.code === 'locked';
}

type SessionLost = (e: T.CommandError) => void;
let onSessionLost: SessionLost = () => {};
/** The app registers what to do when the backend says the session is gone. */
export function setSessionLostHandler(h: SessionLost): void {
  onSessionLost = h;
}

/**
 * Wraps one generated command: same signature, but its rejection is a
 * normalized `CommandError`, and a lost session is reported to the app.
 */
function guard<A extends unknown[], R>(command: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await command(...args);
    } catch (raw) {
      const e = toCommandError(raw);
      if (isSessionError(e)) onSessionLost(e);
      throw e;
    }
  };
}

/** Every command of the contract, guarded. */
export const api = {
  appInfo: guard(b.appInfo),
  createOwner: guard(b.createOwner),
  login: guard(b.login),
  unlock: guard(b.unlock),
  lock: guard(b.lock),
  logout: guard(b.logout),
  touch: guard(b.touch),
  uiReady: guard(b.uiReady),

  categories: guard(b.categories),
  products: guard(b.products),
  productByCode: guard(b.productByCode),
  saveProduct: guard(b.saveProduct),
  deleteProduct: guard(b.deleteProduct),
  saveCategory: guard(b.saveCategory),
  deleteCategory: guard(b.deleteCategory),
  restock: guard(b.restock),
  stocktake: guard(b.stocktake),
  lowStock: guard(b.lowStock),
  stockMovements: guard(b.stockMovements),

  branches: guard(b.branches),
  transfers: guard(b.transfers),
  transfer: guard(b.transfer),
  sendTransfer: guard(b.sendTransfer),
  receiveTransfer: guard(b.receiveTransfer),

  newSaleId: guard(b.newSaleId),
  priceCart: guard(b.priceCart),
  checkout: guard(b.checkout),
  recentSales: guard(b.recentSales),
  receipt: guard(b.receipt),
  voidSale: guard(b.voidSale),
  refund: guard(b.refund),

  expenses: guard(b.expenses),
  expenseCategories: guard(b.expenseCategories),
  recordExpense: guard(b.recordExpense),
  deleteExpense: guard(b.deleteExpense),
  customers: guard(b.customers),
  saveCustomer: guard(b.saveCustomer),
  deleteCustomer: guard(b.deleteCustomer),
  customerLedger: guard(b.customerLedger),
  customerHistory: guard(b.customerHistory),
  recordCustomerPayment: guard(b.recordCustomerPayment),

  users: guard(b.users),
  saveUser: guard(b.saveUser),
  resetPin: guard(b.resetPin),
  unlockUser: guard(b.unlockUser),
  deleteUser: guard(b.deleteUser),
  changeOwnPin: guard(b.changeOwnPin),

  dayReport: guard(b.dayReport),

  settings: guard(b.settings),
  saveSettings: guard(b.saveSettings),
  saveTaxRate: guard(b.saveTaxRate),
  retireTaxRate: guard(b.retireTaxRate),
  saveConnection: guard(b.saveConnection),
  testConnection: guard(b.testConnection),
  forgetConnection: guard(b.forgetConnection),

  syncStatus: guard(b.syncStatus),
  pushPending: guard(b.pushPending),
  pullUpdates: guard(b.pullUpdates),
  retryQuarantined: guard(b.retryQuarantined),
  discardQuarantined: guard(b.discardQuarantined),
  fullSyncPreview: guard(b.fullSyncPreview),
  fullSyncApply: guard(b.fullSyncApply),
};

/** The backend's events. */
export const events = {
  onSyncStatus: b.onSyncStatus,
  onFullSyncProgress: b.onFullSyncProgress,
};
