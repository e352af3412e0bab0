//! The HTTP sync API's messages: status, push, pull, and the error body.
//!
//! | method and path | request | response |
//! |---|---|---|
//! | `GET /api/status` (no auth) | — | [`StatusResponse`] |
//! | `GET /api/device` | — | [`DeviceInfo`] |
//! | `POST /api/sync` | [`PushRequest`] | [`PushResponse`] |
//! | `GET /api/sync?cursor=…&limit=…` | query | [`PullResponse`] |
//!
//! Every other status is an [`ErrorBody`]. See `docs/sync-protocol.md`.

use std::fmt;
use std::str::FromStr;

use pos_domain::{
    Barcode, BranchId, CategoryId, Currency, CustomerId, DeviceId, ExpenseId, Hlc, Money, Name,
    OpId, PhoneNumber, ProductId, Quantity, Role, Sku, TaxCode, TaxMode, TimeZone, Timestamp,
    UserId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    ExpensePaidWith, LedgerEntryRecord, OpEnvelope, SaleRecord, StockMovementRecord, TaxRateRecord,
    TransferReceivedRecord, TransferSentRecord,
};

/// The most ops one push may carry.
pub const MAX_PUSH_OPS: usize = 500;
/// The most changes one pull page may carry.
pub const MAX_PULL_LIMIT: u32 = 1_000;

/// The lineage of a Back Office database. A restore from backup gives the
/// server a new epoch; a cursor from another epoch is refused and the client
/// re-bootstraps instead of trusting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Epoch(pub Uuid);

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a pull resumes: an epoch and the last server change sequence seen.
/// Opaque to clients; its text form is `EPOCH.SEQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cursor {
    pub epoch: Epoch,
    pub seq: u64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.epoch, self.seq)
    }
}

/// Why a cursor's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCursor(pub String);

impl fmt::Display for BadCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not a sync cursor", self.0)
    }
}

impl std::error::Error for BadCursor {}

impl FromStr for Cursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCursor(s.to_string());
        let (epoch, seq) = s.split_once('.').ok_or_else(bad)?;
        Ok(Cursor {
            epoch: Epoch(Uuid::parse_str(epoch).map_err(|_| bad())?),
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

impl TryFrom<String> for Cursor {
    type Error = BadCursor;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Cursor> for String {
    fn from(c: Cursor) -> String {
        c.to_string()
    }
}

/// `GET /api/status`: who the server is and what time it thinks it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub service: String,
    pub version: String,
    /// [`crate::PROTOCOL_VERSION`] of the server.
    pub protocol: u32,
    pub epoch: Epoch,
    pub server_time: Timestamp,
    /// Clocks more than this far ahead of the server's are clamped.
    pub max_clock_ahead_ms: u64,
}

/// `GET /api/device` (authenticated): which device and branch the API key
/// belongs to. A till adopts this identity when it is connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: DeviceId,
    pub device_code: String,
    pub device_name: String,
    pub kind: DeviceKind,
    pub branch: BranchState,
    /// The highest device sequence the server has accounted for (applied,
    /// duplicate or rejected). Lower than what the till saw acknowledged
    /// means the server lost ops (restored from a backup).
    #[serde(default)]
    pub acknowledged_seq: u64,
}

/// What kind of device a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Desktop,
    Mobile,
}

/// `POST /api/sync`: outbox ops in device-sequence order, starting right after
/// the last op the server acknowledged for this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub ops: Vec<OpEnvelope>,
}

/// The server's answer to a push: one result per op, in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    pub results: Vec<OpResult>,
    pub server_time: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpResult {
    pub op_id: OpId,
    pub device_seq: u64,
    #[serde(flatten)]
    pub outcome: OpOutcome,
}

/// What became of one op. `Applied` and `Duplicate` both mean "acknowledged":
/// the client removes the op from its outbox. `Rejected` is permanent: the
/// client quarantines the op with its reason; it never blocks later ops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OpOutcome {
    Applied,
    /// Applied before (a retry or a replay); nothing was done again.
    Duplicate,
    Rejected {
        code: RejectCode,
        reason: String,
    },
}

impl OpOutcome {
    /// Whether the client may drop the op from its outbox.
    pub fn acknowledged(&self) -> bool {
        matches!(self, OpOutcome::Applied | OpOutcome::Duplicate)
    }
}

/// Why an op was rejected for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The op breaks a rule (bad values, unknown kind for this server).
    Invalid,
    /// The op is about another branch's records.
    WrongBranch,
    /// The op refers to a record the server does not have.
    UnknownReference,
}

/// `GET /api/sync` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullQuery {
    /// Absent: from the beginning (bootstrap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One page of changes after the cursor, in server commit order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    pub epoch: Epoch,
    pub changes: Vec<Change>,
    /// Pass this as `cursor` for the next page (also when `changes` is empty).
    pub next_cursor: Cursor,
    pub has_more: bool,
}

/// One change, with the server's change sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub seq: u64,
    pub body: ChangeBody,
}

/// The state a change leaves a record in. Mutable records come whole (the
/// server's merged state, with its clock and tombstone); append-only records
/// come once.
// A sale is much larger than the other states, but changes live briefly (one
// pull page at a time) and boxing would only add an allocation per change.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum ChangeBody {
    Branch(BranchState),
    Product(ProductState),
    Category(CategoryState),
    Customer(CustomerState),
    /// `alias` was merged into `customer`: resolve it everywhere.
    CustomerAlias {
        alias: CustomerId,
        customer: CustomerId,
    },
    /// An owner undid the merge of `alias`: it is its own customer again.
    /// Forget the alias (idempotent); the record's revived state follows.
    CustomerUnaliased {
        alias: CustomerId,
    },
    User(UserState),
    Settings(SettingsState),
    TaxRate(TaxRateRecord),
    Expense(ExpenseState),
    StockMoved(StockMovementRecord),
    LedgerEntry(LedgerEntryRecord),
    Sale(SaleRecord),
    /// A transfer as sent. Recorded twice: for the sending branch with its
    /// `transfer_out` movements, and for the receiving branch without them.
    TransferSent(TransferSentRecord),
    /// A transfer's receipt. Recorded twice: for the receiving branch with
    /// its `transfer_in` movements, and for the sending branch without them.
    TransferReceived(TransferReceivedRecord),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchState {
    pub id: BranchId,
    pub code: String,
    pub name: String,
    pub time_zone: TimeZone,
    pub hlc: Hlc,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductState {
    pub id: ProductId,
    pub name: Name,
    pub sku: Option<Sku>,
    pub barcode: Option<Barcode>,
    pub category_id: Option<CategoryId>,
    pub price: Money,
    pub tax_code: TaxCode,
    pub image: Option<String>,
    pub track_stock: bool,
    pub low_stock: Option<Quantity>,
    pub created_at: Timestamp,
    pub hlc: Hlc,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryState {
    pub id: CategoryId,
    pub name: Name,
    pub sort_order: i64,
    pub hlc: Hlc,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerState {
    pub id: CustomerId,
    pub name: Name,
    pub phone: Option<PhoneNumber>,
    pub email: Option<String>,
    pub credit_limit: Money,
    pub notes: Option<String>,
    pub created_at: Timestamp,
    pub hlc: Hlc,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    pub id: UserId,
    pub name: Name,
    pub role: Role,
    /// argon2 PHC string.
    pub pin_hash: String,
    pub active: bool,
    pub created_at: Timestamp,
    pub hlc: Hlc,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsState {
    pub store_name: String,
    pub address: String,
    pub phone: String,
    pub tax_pin: String,
    pub receipt_header: String,
    pub receipt_footer: String,
    pub currency: Currency,
    pub time_zone: TimeZone,
    pub tax_mode: TaxMode,
    pub hlc: Hlc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpenseState {
    pub id: ExpenseId,
    pub branch_id: BranchId,
    pub device_id: DeviceId,
    pub user_id: UserId,
    pub category: Name,
    pub description: String,
    pub amount: Money,
    pub paid_with: ExpensePaidWith,
    pub reference: Option<String>,
    pub spent_at: Timestamp,
    pub business_day: String,
    pub created_at: Timestamp,
    pub hlc: Hlc,
    pub deleted_at: Option<Timestamp>,
}

/// Every non-2xx answer: `{"error": {"code": "…", "message": "…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// With `sequence_gap`: the device sequence the server expects next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
}

/// The closed set of error codes, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed JSON, wrong types, a bad query.
    BadRequest,
    /// 401: no API key, or one the server does not know.
    Unauthorized,
    /// 403: a revoked key, or a key used outside its branch.
    Forbidden,
    /// 404.
    NotFound,
    /// 409: the push does not start right after the last acknowledged op.
    SequenceGap,
    /// 409: the cursor belongs to another epoch: bootstrap again.
    EpochChanged,
    /// 409: any other conflict.
    Conflict,
    /// 413.
    PayloadTooLarge,
    /// 429.
    RateLimited,
    /// 500: the server failed; nothing was changed. Retry later.
    Internal,
    /// 503: the server is shutting down or overloaded. Retry later.
    Unavailable,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::SequenceGap | ErrorCode::EpochChanged | ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::Unavailable
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let c = Cursor {
            epoch: Epoch(Uuid::now_v7()),
            seq: 42,
        };
        assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
        assert_eq!(
            serde_json::from_str::<Cursor>(&serde_json::to_string(&c).unwrap()).unwrap(),
            c
        );
        for bad in [
            "",
            "42",
            "abc.1",
            "0193b1c2-0000-7000-8000-000000000000.x",
            ".",
        ] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad}");
        }
    }

    #[test]
    fn outcomes_are_tagged_by_status() {
        let r = OpResult {
            op_id: OpId::new(),
            device_seq: 7,
            outcome: OpOutcome::Rejected {
                code: RejectCode::Invalid,
                reason: "price below zero".into(),
            },
        };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["status"], "rejected");
        assert_eq!(json["code"], "invalid");
        assert_eq!(serde_json::from_value::<OpResult>(json).unwrap(), r);
        assert!(OpOutcome::Duplicate.acknowledged());
        assert!(!r.outcome.acknowledged());
    }

    #[test]
    fn error_bodies_have_the_documented_shape() {
        let e = ErrorBody {
            error: ErrorDetail {
                code: ErrorCode::SequenceGap,
                message: "expected op 5".into(),
                expected_seq: Some(5),
            },
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"error":{"code":"sequence_gap","message":"expected op 5","expected_seq":5}}"#
        );
        assert_eq!(ErrorCode::SequenceGap.http_status(), 409);
        assert!(ErrorCode::Internal.is_transient());
        assert!(!ErrorCode::Forbidden.is_transient());
    }
}
