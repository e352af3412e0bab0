//! The desktop app's command boundary: every type a command takes or
//! returns, and the closed set of error codes.
//!
//! These types are the contract with the web UI. `ui/src/bindings.ts` is
//! generated from them (and from the command table in `src-tauri`); a test
//! fails when it is stale. Conventions, the same everywhere:
//! - money is an integer number of minor units (KES 80.00 = `8000`);
//! - a quantity is an integer number of thousandths (1 unit = `1000`);
//! - a timestamp is an RFC 3339 string, a business day `YYYY-MM-DD` in the
//!   branch's time zone;
//! - ids are strings.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Why a command was refused. `message` is a sentence for the user, shown as
/// is; `code` is for the UI's logic (e.g. back to the PIN screen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> CommandError {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

/// The closed set of error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No one is signed in: show the PIN screen.
    NotSignedIn,
    /// The session locked itself after inactivity: show the lock screen.
    Locked,
    /// The signed-in user's role may not do this.
    Forbidden,
    WrongPin,
    /// Too many wrong PINs, or the user is deactivated.
    UserLocked,
    /// Bad input; nothing was changed.
    Invalid,
    NotFound,
    /// Clashes with existing data (duplicate barcode, used M-Pesa code…).
    Conflict,
    CreditLimit,
    /// The Back Office could not be reached.
    Unreachable,
    /// The Back Office refused (bad key, revoked device, server error).
    BackOffice,
    /// The OS offers no keyring to keep the API key in.
    KeyringUnavailable,
    /// A bug or a broken database; the message says what failed.
    Internal,
}

// ---------------------------------------------------------------- session

/// What the UI needs before anyone signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub store_name: String,
    pub branch_code: String,
    pub device_code: String,
    pub currency: String,
    pub time_zone: String,
    /// Today's business day (`YYYY-MM-DD`) in the branch's time zone.
    pub today: String,
    /// No user yet: the UI shows "set up the owner".
    pub needs_owner: bool,
    pub auto_lock_minutes: u32,
    /// Users for the sign-in list (active ones).
    pub users: Vec<UserView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RoleView {
    Cashier,
    Manager,
    Owner,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub role: RoleView,
    pub active: bool,
    /// Set while locked out by wrong PINs.
    pub locked_until: Option<String>,
}

/// What the signed-in user may do; the UI hides what is `false`, and every
/// command checks again in Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub sell: bool,
    pub record_expense: bool,
    pub serve_customers: bool,
    pub void_or_refund: bool,
    pub manage_catalog: bool,
    pub manage_money: bool,
    pub view_reports: bool,
    pub manage_users: bool,
    pub manage_sync: bool,
    pub manage_settings: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user: UserView,
    pub can: Capabilities,
    pub auto_lock_minutes: u32,
}

// ---------------------------------------------------------------- catalog

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CategoryView {
    pub id: String,
    pub name: String,
    pub sort_order: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub id: String,
    pub name: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub category_id: Option<String>,
    #[ts(type = "number")]
    pub price: i64,
    pub tax_code: String,
    pub track_stock: bool,
    /// Thousandths; `null` when no alert level is set.
    #[ts(type = "number | null")]
    pub low_stock: Option<i64>,
    #[ts(type = "number")]
    pub stock: i64,
}

/// Which products to list: a category, a search text, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProductQuery {
    pub category_id: Option<String>,
    pub text: Option<String>,
    pub limit: Option<u32>,
}

/// A new product (`id` null) or the new values of an existing one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProductInput {
    pub id: Option<String>,
    pub name: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub category_id: Option<String>,
    #[ts(type = "number")]
    pub price: i64,
    pub tax_code: String,
    pub track_stock: bool,
    #[ts(type = "number | null")]
    pub low_stock: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CategoryInput {
    pub id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MovementView {
    pub id: String,
    /// sale, refund, void, restock, adjustment, stocktake, transfer…
    pub kind: String,
    #[ts(type = "number")]
    pub quantity: i64,
    pub user_name: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CountedLine {
    pub product_id: String,
    /// Thousandths.
    #[ts(type = "number")]
    pub counted: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StocktakeLineView {
    pub product_id: String,
    pub name: String,
    #[ts(type = "number")]
    pub expected: i64,
    #[ts(type = "number")]
    pub counted: i64,
    #[ts(type = "number")]
    pub difference: i64,
}

// ---------------------------------------------------------------- branches and transfers

/// A branch this till knows: its own, or one pulled from the Back Office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BranchView {
    pub id: String,
    pub code: String,
    pub name: String,
    /// This till's own branch.
    pub this_branch: bool,
}

/// Which transfers to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TransferFilterInput {
    /// Every transfer from or to this branch, newest first.
    All,
    /// Sent to this branch, not received yet.
    ToReceive,
    /// Sent from this branch, not received yet.
    InTransit,
}

/// A transfer seen from this till.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TransferDirection {
    /// Sent by this branch.
    Outgoing,
    /// Sent to this branch.
    Incoming,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TransferStateView {
    /// The stock left the sending branch; not received yet.
    Sent,
    /// Received, every line as sent.
    Received,
    /// Received, and at least one line arrived in another quantity.
    ReceivedWithDiscrepancy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TransferLineView {
    /// 1, 2, … in the order the lines were sent.
    pub line_no: u32,
    pub product_id: String,
    pub product_name: String,
    /// Thousandths.
    #[ts(type = "number")]
    pub sent: i64,
    /// Thousandths; `null` until received.
    #[ts(type = "number | null")]
    pub received: Option<i64>,
    /// Received in another quantity than sent.
    pub discrepancy: bool,
}

/// A stock transfer between two branches, with its lines and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TransferView {
    pub id: String,
    pub from_branch: BranchView,
    pub to_branch: BranchView,
    pub direction: TransferDirection,
    pub state: TransferStateView,
    pub sent_by: String,
    pub sent_at: String,
    pub received_by: Option<String>,
    pub received_at: Option<String>,
    /// The sender's note.
    pub note: Option<String>,
    /// The receiver's note.
    pub receipt_note: Option<String>,
    pub lines: Vec<TransferLineView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SendTransferLineInput {
    pub product_id: String,
    /// Thousandths, above zero.
    #[ts(type = "number")]
    pub quantity: i64,
}

/// Stock to send from this branch to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SendTransferInput {
    pub to_branch_id: String,
    pub lines: Vec<SendTransferLineInput>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReceiveTransferLineInput {
    pub line_no: u32,
    /// Thousandths counted on arrival: zero or more.
    #[ts(type = "number")]
    pub quantity: i64,
}

/// What arrived of a transfer to this branch: one quantity per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReceiveTransferInput {
    pub transfer_id: String,
    pub lines: Vec<ReceiveTransferLineInput>,
    pub note: Option<String>,
}

// ---------------------------------------------------------------- selling

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DiscountInput {
    None,
    /// Basis points: 1000 = 10%.
    Percent {
        basis_points: u32,
    },
    /// Minor units off.
    Amount {
        #[ts(type = "number")]
        amount: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CartLineInput {
    pub product_id: String,
    #[ts(type = "number")]
    pub quantity: i64,
    pub discount: DiscountInput,
}

/// The cart the UI holds; the backend prices it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CartInput {
    pub lines: Vec<CartLineInput>,
    pub discount: DiscountInput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CartLineView {
    pub product_id: String,
    pub name: String,
    #[ts(type = "number")]
    pub unit_price: i64,
    #[ts(type = "number")]
    pub quantity: i64,
    #[ts(type = "number")]
    pub discount: i64,
    #[ts(type = "number")]
    pub tax: i64,
    /// What the line costs after its discount.
    #[ts(type = "number")]
    pub total: i64,
    /// Stock on hand after this line, when tracked (may go negative).
    #[ts(type = "number | null")]
    pub stock_after: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    pub lines: Vec<CartLineView>,
    #[ts(type = "number")]
    pub subtotal: i64,
    #[ts(type = "number")]
    pub discount: i64,
    #[ts(type = "number")]
    pub tax: i64,
    #[ts(type = "number")]
    pub total: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum TenderInput {
    Cash {
        #[ts(type = "number")]
        tendered: i64,
    },
    Mpesa {
        #[ts(type = "number")]
        amount: i64,
        code: String,
    },
    Card {
        #[ts(type = "number")]
        amount: i64,
        reference: Option<String>,
    },
    Credit {
        #[ts(type = "number")]
        amount: i64,
        #[serde(rename = "customerId")]
        #[ts(rename = "customerId")]
        customer_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutInput {
    /// From `newSaleId` when the cart opened; paying twice with the same id
    /// records the sale once.
    pub sale_id: String,
    pub cart: CartInput,
    pub tenders: Vec<TenderInput>,
    pub customer_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptLineView {
    pub line_no: u32,
    pub name: String,
    #[ts(type = "number")]
    pub quantity: i64,
    #[ts(type = "number")]
    pub unit_price: i64,
    #[ts(type = "number")]
    pub discount: i64,
    #[ts(type = "number")]
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    /// cash, mpesa, card, credit
    pub method: String,
    #[ts(type = "number")]
    pub amount: i64,
    pub reference: Option<String>,
}

/// A recorded sale, void or refund, ready to show and print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    pub sale_id: String,
    pub receipt_no: String,
    /// sale, void, refund
    pub kind: String,
    pub original_sale_id: Option<String>,
    pub store_name: String,
    pub header: String,
    pub footer: String,
    pub cashier: String,
    pub customer: Option<String>,
    pub created_at: String,
    pub business_day: String,
    pub currency: String,
    pub lines: Vec<ReceiptLineView>,
    pub payments: Vec<PaymentView>,
    #[ts(type = "number")]
    pub subtotal: i64,
    #[ts(type = "number")]
    pub discount: i64,
    #[ts(type = "number")]
    pub tax: i64,
    #[ts(type = "number")]
    pub total: i64,
    #[ts(type = "number")]
    pub change: i64,
    pub reason: Option<String>,
    /// The receipt as the printer prints it (monospace, 42 columns).
    pub text: String,
    /// For a sale: whether it has been voided.
    pub voided: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SaleRow {
    pub sale_id: String,
    pub receipt_no: String,
    pub kind: String,
    #[ts(type = "number")]
    pub total: i64,
    pub cashier: String,
    pub created_at: String,
    pub voided: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum RefundToInput {
    Cash,
    Mpesa { code: String },
    Card { reference: Option<String> },
    CustomerAccount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RefundLineInput {
    pub line_no: u32,
    #[ts(type = "number")]
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RefundInput {
    pub sale_id: String,
    pub lines: Vec<RefundLineInput>,
    pub reason: String,
    pub refund_to: RefundToInput,
}

// ---------------------------------------------------------------- money in and out

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExpenseView {
    pub id: String,
    pub category: String,
    pub description: String,
    #[ts(type = "number")]
    pub amount: i64,
    /// cash, mpesa, card, bank…
    pub paid_with: String,
    pub reference: Option<String>,
    pub user_name: Option<String>,
    pub spent_at: String,
    pub business_day: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExpenseInput {
    pub category: String,
    pub description: String,
    #[ts(type = "number")]
    pub amount: i64,
    pub paid_with: String,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub notes: Option<String>,
    #[ts(type = "number")]
    pub credit_limit: i64,
    /// What the customer owes (positive) across every branch's entries.
    #[ts(type = "number")]
    pub balance: i64,
    #[ts(type = "number")]
    pub available_credit: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CustomerInput {
    pub id: Option<String>,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub notes: Option<String>,
    #[ts(type = "number")]
    pub credit_limit: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LedgerView {
    pub id: String,
    /// charge, payment, adjustment…
    pub kind: String,
    /// Positive raises what the customer owes.
    #[ts(type = "number")]
    pub amount: i64,
    pub receipt_no: Option<String>,
    pub method: Option<String>,
    pub reference: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPaymentInput {
    pub customer_id: String,
    #[ts(type = "number")]
    pub amount: i64,
    /// cash, mpesa (with `reference` = the confirmation code) or card.
    pub method: String,
    pub reference: Option<String>,
    pub note: Option<String>,
}

/// Where a customer history came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HistorySource {
    /// The Back Office's answer: every branch's sales and account entries.
    BackOffice,
    /// Only what this till has: its own branch's sales and the account
    /// entries it has pulled (the Back Office could not be asked).
    ThisTill,
}

/// A customer's sales and account at every branch (read-only: rows of
/// other branches have `thisBranch` false and no actions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CustomerHistoryView {
    /// The customer the id stands for (an id merged into another customer
    /// answers that customer).
    pub customer_id: String,
    pub customer_name: String,
    /// What the customer owes across every branch the source knows of.
    #[ts(type = "number")]
    pub balance: i64,
    pub source: HistorySource,
    /// With `this_till`: why the Back Office was not asked or did not answer.
    pub offline_reason: Option<String>,
    /// This till's branch code (rows of other branches are read-only).
    pub branch_code: String,
    pub sales: Vec<HistorySaleView>,
    /// Older sales were left out.
    pub sales_truncated: bool,
    pub ledger: Vec<HistoryLedgerView>,
    pub ledger_truncated: bool,
    /// Records merged into this customer (the same person added again at a
    /// branch), oldest first, with merges an owner undid.
    pub merges: Vec<HistoryMergeView>,
    /// When the answer was made (the server's or this till's time).
    pub as_of: String,
}

/// A customer record the Back Office merged into this one (same phone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HistoryMergeView {
    /// The merged record's own id.
    pub alias_id: String,
    pub name: String,
    pub phone: Option<String>,
    /// Unknown (null) when this till answered offline.
    pub merged_at: Option<String>,
    /// Why, e.g. "same phone +254712345678".
    pub reason: Option<String>,
    /// The branch whose till added the merged record, when known.
    pub branch_name: Option<String>,
    /// When an owner undid it: the record is its own customer again.
    pub undone_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HistorySaleView {
    pub id: String,
    pub receipt_no: String,
    /// sale, void or refund.
    pub kind: String,
    pub branch_code: String,
    pub branch_name: String,
    pub device_code: Option<String>,
    pub created_at: String,
    pub business_day: String,
    #[ts(type = "number")]
    pub total: i64,
    /// The part put on the customer's account.
    #[ts(type = "number")]
    pub on_credit: i64,
    /// From this till's branch; other branches' rows are read-only.
    pub this_branch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HistoryLedgerView {
    pub id: String,
    /// credit_sale, payment, refund or adjustment.
    pub kind: String,
    /// Positive raises what the customer owes.
    #[ts(type = "number")]
    pub amount: i64,
    pub method: Option<String>,
    pub reference: Option<String>,
    pub branch_code: String,
    pub branch_name: String,
    pub created_at: String,
    pub sale_id: Option<String>,
    /// From this till's branch; other branches' rows are read-only.
    pub this_branch: bool,
}

// ---------------------------------------------------------------- people

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UserInput {
    /// Null to add a user (then `pin` is required).
    pub id: Option<String>,
    pub name: String,
    pub role: RoleView,
    pub active: bool,
    pub pin: Option<String>,
}

// ---------------------------------------------------------------- reports

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MethodTotalView {
    pub method: String,
    #[ts(type = "number")]
    pub count: i64,
    #[ts(type = "number")]
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CashierTotalView {
    pub name: String,
    #[ts(type = "number")]
    pub sales_count: i64,
    #[ts(type = "number")]
    pub net: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProductTotalView {
    pub name: String,
    #[ts(type = "number")]
    pub quantity: i64,
    #[ts(type = "number")]
    pub net: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExpenseCategoryView {
    pub category: String,
    #[ts(type = "number")]
    pub count: i64,
    #[ts(type = "number")]
    pub amount: i64,
}

/// One stock-tracked product's stock on hand at this branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StockLevelView {
    pub product_id: String,
    pub name: String,
    /// Thousandths; may be negative.
    #[ts(type = "number")]
    pub quantity: i64,
    #[ts(type = "number | null")]
    pub low_stock: Option<i64>,
    /// Below zero, or at or below its low-stock level.
    pub low: bool,
}

/// Counts over every live stock-tracked product at this branch, however many
/// the report lists. `low`, `out` and `belowZero` never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StockSummaryView {
    #[ts(type = "number")]
    pub tracked: i64,
    /// Above zero, at or below the product's low-stock level.
    #[ts(type = "number")]
    pub low: i64,
    /// Exactly zero on hand.
    #[ts(type = "number")]
    pub out: i64,
    /// Below zero.
    #[ts(type = "number")]
    pub below_zero: i64,
}

/// One business day at this branch, in its time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DayReport {
    pub day: String,
    pub time_zone: String,
    /// The branch reported (this till's): sales, expenses and stock are
    /// its own.
    pub branch_code: String,
    pub branch_name: String,
    pub currency: String,
    #[ts(type = "number")]
    pub sales_count: i64,
    #[ts(type = "number")]
    pub gross_sales: i64,
    #[ts(type = "number")]
    pub voids_and_refunds: i64,
    #[ts(type = "number")]
    pub net_sales: i64,
    #[ts(type = "number")]
    pub tax: i64,
    #[ts(type = "number")]
    pub discounts: i64,
    #[ts(type = "number")]
    pub average_sale: i64,
    pub by_method: Vec<MethodTotalView>,
    pub by_cashier: Vec<CashierTotalView>,
    pub best_sellers: Vec<ProductTotalView>,
    #[ts(type = "number")]
    pub expenses: i64,
    #[ts(type = "number")]
    pub cash_expenses: i64,
    /// Credit customers' payments received that day, by method.
    pub credit_payments: Vec<MethodTotalView>,
    /// Cash that should be in the drawer: cash sales − cash refunds +
    /// cash credit payments − cash expenses.
    #[ts(type = "number")]
    pub expected_cash: i64,
    /// The day's expenses by category, largest first.
    pub expenses_by_category: Vec<ExpenseCategoryView>,
    /// Stock on hand now (not at the end of `day`) of the stock-tracked
    /// products: below zero first, then out, then low, then the rest (each
    /// by name), at most a few hundred, so what needs attention is never cut.
    pub stock: Vec<StockLevelView>,
    /// More products track stock than `stock` lists.
    pub stock_truncated: bool,
    /// Counted over all of them, not only those `stock` lists.
    pub stock_summary: StockSummaryView,
}

// ---------------------------------------------------------------- settings

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TaxRateView {
    pub code: String,
    pub name: String,
    /// Basis points: 1600 = 16%.
    pub basis_points: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct KeyringView {
    pub available: bool,
    /// When unavailable: what is wrong and what to do, for the user.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub store_name: String,
    pub address: String,
    pub phone: String,
    pub tax_pin: String,
    pub receipt_header: String,
    pub receipt_footer: String,
    pub currency: String,
    pub time_zone: String,
    /// inclusive or exclusive
    pub tax_mode: String,
    pub tax_rates: Vec<TaxRateView>,
    pub auto_lock_minutes: u32,
    pub backoffice_url: Option<String>,
    /// The stored key with all but its last 4 characters hidden.
    pub api_key_masked: Option<String>,
    pub keyring: KeyringView,
    pub branch_code: String,
    pub device_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsInput {
    pub store_name: String,
    pub address: String,
    pub phone: String,
    pub tax_pin: String,
    pub receipt_header: String,
    pub receipt_footer: String,
    pub currency: String,
    pub time_zone: String,
    pub tax_mode: String,
    pub auto_lock_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInput {
    pub url: String,
    /// Null keeps the key already stored.
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTest {
    pub server_version: String,
    pub server_time: String,
    /// This till's clock minus the server's (positive: the till is ahead).
    #[ts(type = "number")]
    pub clock_skew_ms: i64,
    /// The device the key belongs to, when the key was checked too.
    pub device: Option<String>,
    pub branch: Option<String>,
}

// ---------------------------------------------------------------- sync

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncStateView {
    NotConfigured,
    Connecting,
    Syncing,
    Online,
    Unreachable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QuarantinedView {
    pub op_id: String,
    #[ts(type = "number")]
    pub device_seq: i64,
    pub kind: String,
    pub reason: String,
}

/// The `sync-status` event's payload, and `syncStatus`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatusView {
    pub state: SyncStateView,
    #[ts(type = "number")]
    pub pending: i64,
    pub quarantined: Vec<QuarantinedView>,
    #[ts(type = "number")]
    pub held_changes: i64,
    pub last_push_at: Option<String>,
    pub last_pull_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// This till's clock minus the server's (positive: the till is ahead).
    #[ts(type = "number | null")]
    pub clock_skew_ms: Option<i64>,
    pub failures: u32,
    #[ts(type = "number | null")]
    pub retry_in_ms: Option<i64>,
    pub backoffice_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EntityPreviewView {
    pub entity: String,
    #[ts(type = "number")]
    pub to_add: i64,
    #[ts(type = "number")]
    pub to_overwrite: i64,
    #[ts(type = "number")]
    pub server_only: i64,
    #[ts(type = "number")]
    pub unchanged: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FullSyncPreviewView {
    pub entities: Vec<EntityPreviewView>,
    #[ts(type = "number")]
    pub to_add: i64,
    #[ts(type = "number")]
    pub to_overwrite: i64,
    #[ts(type = "number")]
    pub server_only: i64,
}

/// The `full-sync-progress` event's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FullSyncProgressView {
    /// preview, upload, finish, push, pull
    pub phase: String,
    pub entity: Option<String>,
    #[ts(type = "number")]
    pub done: i64,
    #[ts(type = "number")]
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FullSyncReportView {
    #[ts(type = "number")]
    pub added: i64,
    #[ts(type = "number")]
    pub overwritten: i64,
    #[ts(type = "number")]
    pub removed: i64,
    #[ts(type = "number")]
    pub rejected: i64,
    pub messages: Vec<String>,
}
