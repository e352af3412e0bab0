//! Cross-branch customer history (DESIGN.md invariant 7: "other branches can
//! look up a customer's history read-only").
//!
//! | method and path | request | response |
//! |---|---|---|
//! | `GET /api/customers/{id}/history` | — | [`CustomerHistory`] |
//!
//! Any branch's device may read any customer: customers are shared, and so is
//! their account. Nothing here can be changed through this answer: sales and
//! ledger entries are append-only and belong to the branch that recorded
//! them. See `docs/sync-protocol.md` (Customer history).

use pos_domain::{BranchId, CustomerId, LedgerEntryId, Money, PaymentMethod, SaleId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{LedgerKind, SaleKind};

/// The most sales one history answer lists (newest first).
pub const MAX_HISTORY_SALES: u32 = 200;
/// The most ledger entries one history answer lists (newest first).
pub const MAX_HISTORY_LEDGER: u32 = 500;

/// `GET /api/customers/{id}/history`: a customer's sales and account at
/// every branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerHistory {
    /// The customer the requested id stands for (an id merged into another
    /// answers the customer it was merged into).
    pub customer: HistoryCustomer,
    /// What the customer owes across every branch (the sum of the ledger
    /// over the customer and every id merged into it).
    pub balance: Money,
    /// Sales recorded for the customer (or an id merged into it) at any
    /// branch, newest first, at most [`MAX_HISTORY_SALES`].
    pub sales: Vec<HistorySale>,
    /// Whether older sales were left out.
    pub sales_truncated: bool,
    /// Ledger entries at any branch, newest first, at most
    /// [`MAX_HISTORY_LEDGER`].
    pub ledger: Vec<HistoryLedgerEntry>,
    /// Whether older ledger entries were left out.
    pub ledger_truncated: bool,
    /// The records merged into this customer (the same person added again,
    /// same phone), oldest merge first, including merges an owner undid.
    /// Absent from answers of servers that predate it: empty.
    #[serde(default)]
    pub merges: Vec<HistoryMerge>,
    pub server_time: Timestamp,
}

/// The customer a history is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryCustomer {
    pub id: CustomerId,
    /// The id that was asked for (differs from `id` for an alias).
    pub requested_id: CustomerId,
    pub name: String,
    pub phone: Option<String>,
    /// Whether the customer was deleted (their history stays readable).
    pub deleted: bool,
}

/// A customer record merged into the one a history is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMerge {
    /// The merged record's own id: sales and ledger entries recorded under
    /// it count for this customer (until the merge is undone).
    pub alias_id: CustomerId,
    /// The merged record's own name and phone (not the folded profile).
    pub name: String,
    pub phone: Option<String>,
    /// When the Back Office merged it; `None` in a till's offline answer
    /// (the till knows the alias, not when it was made).
    #[serde(default)]
    pub merged_at: Option<Timestamp>,
    /// Why, e.g. `same phone +254712345678`; `None` offline.
    #[serde(default)]
    pub reason: Option<String>,
    /// The branch whose device created the merged record; `None` when the
    /// dashboard created it or it is not known (offline).
    #[serde(default)]
    pub alias_branch: Option<HistoryBranch>,
    /// The branch whose device created the kept record (this customer).
    #[serde(default)]
    pub customer_branch: Option<HistoryBranch>,
    /// When an owner undid the merge: the record is its own customer again,
    /// and its sales and ledger entries no longer count here.
    #[serde(default)]
    pub undone_at: Option<Timestamp>,
}

/// A branch, as a history row names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryBranch {
    pub id: BranchId,
    pub code: String,
    pub name: String,
}

/// One sale (or void or refund) of the customer's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySale {
    pub id: SaleId,
    pub receipt_no: String,
    pub kind: SaleKind,
    pub branch: HistoryBranch,
    /// The code of the device that recorded it (`T1`), when the server
    /// knows the device.
    pub device_code: Option<String>,
    pub created_at: Timestamp,
    /// The business day in the branch's time zone (`YYYY-MM-DD`).
    pub business_day: String,
    pub total: Money,
    /// The part of the total put on the customer's account (credit
    /// payments; negative for a void or refund of one).
    pub on_credit: Money,
    /// Whether the sale is from the requesting device's branch; every other
    /// row is another branch's and read-only there.
    pub this_branch: bool,
}

/// One entry of the customer's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLedgerEntry {
    pub id: LedgerEntryId,
    pub kind: LedgerKind,
    /// Positive: the customer owes more. Negative: owes less.
    pub amount: Money,
    pub method: Option<PaymentMethod>,
    pub reference: Option<String>,
    pub branch: HistoryBranch,
    pub created_at: Timestamp,
    pub sale_id: Option<SaleId>,
    /// Whether the entry is from the requesting device's branch.
    pub this_branch: bool,
}
