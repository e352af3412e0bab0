//! The command table: every command the web UI can invoke, in one list.
//!
//! Each entry becomes a Tauri command that takes the shell's state, makes
//! one call into [`pos_app::App`] and hands back its answer or its
//! [`CommandError`]. The same list generates the TypeScript bindings
//! (`ui/src/bindings.ts`, see [`crate::bindings`]), so the UI cannot call a
//! command that does not exist or pass it the wrong types.
//!
//! `blocking` commands touch only the local database (or hash a PIN); they
//! run on tokio's blocking pool so the UI thread and the sync loop never
//! wait on them. `async` commands talk to the Back Office.

use std::sync::Arc;

use pos_app::*;
use tauri::{AppHandle, Emitter, State};

#[cfg(test)]
use crate::bindings::{Command, Types};
use crate::{FULL_SYNC_PROGRESS, Shell};

macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $kind:ident fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;
    )*) => {
        $(commands!(@define $kind $name ($($arg: $ty),*) -> $ret);)*

        /// The handler Tauri dispatches `invoke` calls with.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        /// Every command's signature, for the TypeScript bindings.
        #[cfg(test)]
        pub fn table() -> Vec<Command> {
            vec![$(Command {
                name: stringify!($name),
                doc: concat!($($doc, "\n"),*),
                args: vec![$((stringify!($arg), Types::name::<$ty>())),*],
                returns: Types::name::<$ret>(),
                types: |types: &mut Types| {
                    $(types.add::<$ty>();)*
                    types.add::<$ret>();
                },
            }),*]
        }
    };

    (@define blocking $name:ident ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[tauri::command]
        pub async fn $name(shell: State<'_, Shell>, $($arg: $ty),*) -> Result<$ret, CommandError> {
            let app = Arc::clone(&shell.app);
            blocking(move || app.$name($($arg),*)).await
        }
    };
    (@define async $name:ident ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[tauri::command]
        pub async fn $name(shell: State<'_, Shell>, $($arg: $ty),*) -> Result<$ret, CommandError> {
            shell.app.$name($($arg),*).await
        }
    };
    // Written by hand below: it needs more of the shell than the app.
    (@define custom $name:ident ($($arg:ident: $ty:ty),*) -> $ret:ty) => {};
}

commands! {
    // ---- session
    /// The business, this till and its users, for the sign-in screen.
    blocking fn app_info() -> AppInfo;
    /// First run only: creates the owner and signs them in.
    blocking fn create_owner(name: String, pin: String) -> Session;
    blocking fn login(user_id: String, pin: String) -> Session;
    /// Unlocks a session that locked itself, with its user's PIN.
    blocking fn unlock(pin: String) -> Session;
    blocking fn lock() -> ();
    blocking fn logout() -> ();
    /// Keeps the session from locking while the user is active.
    blocking fn touch() -> ();
    /// Called once, when the sales screen is interactive (start-up timing).
    custom fn ui_ready() -> ();

    // ---- catalog and stock
    blocking fn categories() -> Vec<CategoryView>;
    blocking fn products(query: ProductQuery) -> Vec<ProductView>;
    /// A scanned or typed barcode or SKU.
    blocking fn product_by_code(code: String) -> Option<ProductView>;
    blocking fn save_product(product: ProductInput) -> ProductView;
    blocking fn delete_product(id: String) -> ();
    blocking fn save_category(category: CategoryInput) -> CategoryView;
    blocking fn delete_category(id: String) -> ();
    blocking fn restock(product_id: String, quantity: i64, note: Option<String>) -> ProductView;
    blocking fn stocktake(lines: Vec<CountedLine>, note: Option<String>) -> Vec<StocktakeLineView>;
    blocking fn low_stock() -> Vec<ProductView>;
    blocking fn stock_movements(product_id: String) -> Vec<MovementView>;

    // ---- branches and stock transfers
    /// The branches this till knows (its own first), for the destination picker.
    blocking fn branches() -> Vec<BranchView>;
    /// This branch's transfers: all, to receive, or in transit.
    blocking fn transfers(filter: TransferFilterInput) -> Vec<TransferView>;
    blocking fn transfer(id: String) -> TransferView;
    /// Sends stock to another branch (managers and owners); it leaves now.
    blocking fn send_transfer(transfer: SendTransferInput) -> TransferView;
    /// Records what arrived of a transfer to this branch, once.
    blocking fn receive_transfer(receipt: ReceiveTransferInput) -> TransferView;

    // ---- selling
    /// An id for a new cart: paying twice with it records the sale once.
    blocking fn new_sale_id() -> String;
    blocking fn price_cart(cart: CartInput) -> CartView;
    blocking fn checkout(checkout: CheckoutInput) -> ReceiptView;
    blocking fn recent_sales(limit: u32) -> Vec<SaleRow>;
    blocking fn receipt(sale_id: String) -> ReceiptView;
    blocking fn void_sale(sale_id: String, reason: String) -> ReceiptView;
    blocking fn refund(refund: RefundInput) -> ReceiptView;

    // ---- expenses and credit customers
    /// The categories this branch's expenses have used.
    blocking fn expense_categories() -> Vec<String>;
    blocking fn expenses(from: String, to: String) -> Vec<ExpenseView>;
    blocking fn record_expense(expense: ExpenseInput) -> ExpenseView;
    blocking fn delete_expense(id: String) -> ();
    blocking fn customers(text: String) -> Vec<CustomerView>;
    blocking fn save_customer(customer: CustomerInput) -> CustomerView;
    blocking fn delete_customer(id: String) -> ();
    blocking fn customer_ledger(id: String) -> Vec<LedgerView>;
    blocking fn record_customer_payment(payment: CustomerPaymentInput) -> CustomerView;
    /// Sales and account entries at every branch, read-only: the Back
    /// Office's answer, or this till's own records when it cannot be asked.
    async fn customer_history(customer_id: String) -> CustomerHistoryView;

    // ---- users
    blocking fn users() -> Vec<UserView>;
    blocking fn save_user(user: UserInput) -> UserView;
    blocking fn reset_pin(user_id: String, pin: String) -> ();
    blocking fn unlock_user(user_id: String) -> ();
    blocking fn delete_user(user_id: String) -> ();
    blocking fn change_own_pin(old_pin: String, new_pin: String) -> ();

    // ---- reports
    /// One business day (today when null), in the branch's time zone.
    blocking fn day_report(day: Option<String>) -> DayReport;

    // ---- settings
    blocking fn settings() -> SettingsView;
    blocking fn save_settings(settings: SettingsInput) -> SettingsView;
    blocking fn save_tax_rate(rate: TaxRateView) -> SettingsView;
    blocking fn retire_tax_rate(code: String) -> SettingsView;
    /// Saves the Back Office address and API key (into the OS keyring).
    blocking fn save_connection(connection: ConnectionInput) -> SettingsView;
    /// Asks the Back Office's `GET /api/status` (and `GET /api/device`).
    async fn test_connection(connection: ConnectionInput) -> ConnectionTest;
    blocking fn forget_connection() -> SettingsView;

    // ---- sync
    blocking fn sync_status() -> SyncStatusView;
    async fn push_pending() -> SyncStatusView;
    async fn pull_updates() -> SyncStatusView;
    blocking fn retry_quarantined(op_id: String) -> SyncStatusView;
    blocking fn discard_quarantined(op_id: String) -> SyncStatusView;
    /// What Full Cloud Synchronization would do; nothing is changed.
    async fn full_sync_preview() -> FullSyncPreviewView;
    /// Runs the last preview; progress arrives as `full-sync-progress` events.
    custom fn full_sync_apply(remove_server_only: bool) -> FullSyncReportView;
}

#[tauri::command]
pub async fn ui_ready(shell: State<'_, Shell>) -> Result<(), CommandError> {
    shell.ui_ready();
    let app = Arc::clone(&shell.app);
    blocking(move || app.ui_ready()).await
}

#[tauri::command]
pub async fn full_sync_apply(
    shell: State<'_, Shell>,
    handle: AppHandle,
    remove_server_only: bool,
) -> Result<FullSyncReportView, CommandError> {
    let progress = move |p: FullSyncProgressView| {
        let _ = handle.emit(FULL_SYNC_PROGRESS, p);
    };
    shell
        .app
        .full_sync_apply(remove_server_only, progress)
        .await
}

/// Runs a local-database call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| {
            Err(CommandError::new(
                ErrorCode::Internal,
                format!("the command stopped unexpectedly: {e}"),
            ))
        })
}
