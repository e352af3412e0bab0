//! Full Cloud Synchronization (`POST /api/sync/full`): make the Back Office
//! match this desktop without destroying what other devices wrote
//! (DESIGN.md invariant 8).
//!
//! One endpoint, three steps, each a [`FullSyncRequest`]:
//!
//! 1. **Preview**, per entity, in parts: the till sends a part of its
//!    manifest (`id` and [`digest`] of each record, sorted by id) covering an
//!    id range `(after, through]`; the server compares it with its own records
//!    in that range and answers what it would add, overwrite and what only it
//!    has ([`PreviewPart`]). Stateless: any part can be asked again.
//! 2. **Apply**, in chunks of at most [`MAX_FULL_SYNC_RECORDS`] records
//!    ([`ApplyChunk`]): append-only records (sales, stock movements, ledger
//!    entries, transfers and their receipts) are unioned; mutable records overwrite the server's as new
//!    versions (the replaced state is kept, restorable) in
//!    [`FullSyncMode::Overwrite`], or merge by last-writer-wins on their own
//!    clocks in [`FullSyncMode::Restore`]. Records only on the server are
//!    soft-removed only when the chunk lists them in `remove`, which a till
//!    does only when the manager ticked that option. Each chunk is one
//!    transaction, keyed by `(session, chunk)`: a retried chunk is answered
//!    from the record of the first (`duplicate: true`) and changes nothing.
//!    A run cut short is resumed by previewing again: what already landed
//!    previews as unchanged.
//! 3. **Finish** ([`FinishRequest`]): the till says which of its operations
//!    the upload accounts for, so a server restored from an older backup
//!    accepts the till's next operation instead of waiting for lost ones.

use pos_domain::{Hlc, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::{
    CategoryState, CustomerState, ExpenseState, LedgerEntryRecord, ProductState, RejectCode,
    SaleRecord, SettingsState, StockMovementRecord, TaxRateRecord, TransferReceivedRecord,
    TransferSentRecord, UserState,
};

/// The most records (plus removals) one apply chunk may carry.
pub const MAX_FULL_SYNC_RECORDS: usize = 500;
/// The most bytes of records a device puts in one apply chunk (their JSON),
/// well under the Back Office's request limit (16 MiB by default): 500 sales
/// or transfers of many lines each would not fit in one request. A single
/// record larger than this goes alone.
pub const MAX_FULL_SYNC_CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// The most manifest entries one preview part may carry.
pub const MAX_MANIFEST_ENTRIES: usize = 5_000;

/// The kinds of record Full Cloud Synchronization compares and uploads.
/// Branches and devices are managed at the Back Office and never uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Settings,
    TaxRate,
    Category,
    Product,
    User,
    Customer,
    Expense,
    /// A sale, void or refund with its lines, payments, movements and ledger
    /// entry. Append-only.
    Sale,
    /// A stock movement that is not part of a sale or a transfer. Append-only.
    StockMovement,
    /// A ledger entry that is not part of a sale. Append-only.
    LedgerEntry,
    /// A transfer this branch sent, with its `transfer_out` movements.
    /// Append-only.
    Transfer,
    /// A transfer this branch received, with its `transfer_in` movements.
    /// Append-only; after [`EntityKind::Transfer`] (the receiving branch's
    /// till cannot upload the transfer itself: the sender does).
    TransferReceipt,
}

impl EntityKind {
    /// Every kind, in upload order (what others refer to comes first).
    pub const ALL: [EntityKind; 12] = [
        EntityKind::Settings,
        EntityKind::TaxRate,
        EntityKind::Category,
        EntityKind::Product,
        EntityKind::User,
        EntityKind::Customer,
        EntityKind::Expense,
        EntityKind::Sale,
        EntityKind::StockMovement,
        EntityKind::LedgerEntry,
        EntityKind::Transfer,
        EntityKind::TransferReceipt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Settings => "settings",
            EntityKind::TaxRate => "tax_rate",
            EntityKind::Category => "category",
            EntityKind::Product => "product",
            EntityKind::User => "user",
            EntityKind::Customer => "customer",
            EntityKind::Expense => "expense",
            EntityKind::Sale => "sale",
            EntityKind::StockMovement => "stock_movement",
            EntityKind::LedgerEntry => "ledger_entry",
            EntityKind::Transfer => "transfer",
            EntityKind::TransferReceipt => "transfer_receipt",
        }
    }

    /// Append-only records are never overwritten nor removed: the server
    /// keeps the union.
    pub fn is_append_only(self) -> bool {
        matches!(
            self,
            EntityKind::Sale
                | EntityKind::StockMovement
                | EntityKind::LedgerEntry
                | EntityKind::Transfer
                | EntityKind::TransferReceipt
        )
    }

    /// Whether a record of this kind that only the server has may be
    /// soft-removed (settings and tax rates are retired, not removed).
    pub fn is_removable(self) -> bool {
        matches!(
            self,
            EntityKind::Category
                | EntityKind::Product
                | EntityKind::User
                | EntityKind::Customer
                | EntityKind::Expense
        )
    }
}

/// `POST /api/sync/full`: one step, tagged by `step`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum FullSyncRequest {
    Preview(PreviewPart),
    Apply(ApplyChunk),
    Finish(FinishRequest),
}

/// The answer to each step, tagged by `step`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum FullSyncResponse {
    Preview(PreviewAnswer),
    Apply(ApplyAnswer),
    Finish(FinishAnswer),
}

/// One record of a till's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The record's id (for settings: `settings`; for a tax rate: its code).
    pub id: String,
    /// [`digest`] of the record's content (empty for append-only records:
    /// only presence counts).
    pub digest: String,
}

/// A part of a till's manifest: its records of `entity` with ids in
/// `(after, through]` (`None`: unbounded on that side), sorted by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewPart {
    pub entity: EntityKind,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub through: Option<String>,
    pub records: Vec<ManifestEntry>,
}

/// What the server would do with that part.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PreviewAnswer {
    pub entity: Option<EntityKind>,
    /// Ids the till has and the server does not.
    pub to_add: Vec<String>,
    /// Ids both have with different content (mutable records only).
    pub to_overwrite: Vec<String>,
    /// Ids in the range that only the server has (live records; for
    /// append-only kinds these are kept regardless).
    pub only_on_server: Vec<String>,
    /// Records identical on both sides.
    pub unchanged: u64,
}

/// How the mutable records of a chunk land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullSyncMode {
    /// The manager's Full Cloud Synchronization: this till's values win, as
    /// new versions stamped by the server; replaced states are kept.
    Overwrite,
    /// Recovery after the Back Office lost data (restored from a backup):
    /// records merge by last-writer-wins on their own clocks, exactly as if
    /// their ops were pushed again. Nothing newer is overwritten.
    Restore,
}

/// A record as uploaded: the whole state.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum FullRecord {
    Settings(SettingsState),
    TaxRate(TaxRateRecord),
    Category(CategoryState),
    Product(ProductState),
    User(UserState),
    Customer(CustomerState),
    Expense(ExpenseState),
    Sale(SaleRecord),
    StockMovement(StockMovementRecord),
    LedgerEntry(LedgerEntryRecord),
    Transfer(TransferSentRecord),
    TransferReceipt(TransferReceivedRecord),
}

impl FullRecord {
    pub fn entity(&self) -> EntityKind {
        match self {
            FullRecord::Settings(_) => EntityKind::Settings,
            FullRecord::TaxRate(_) => EntityKind::TaxRate,
            FullRecord::Category(_) => EntityKind::Category,
            FullRecord::Product(_) => EntityKind::Product,
            FullRecord::User(_) => EntityKind::User,
            FullRecord::Customer(_) => EntityKind::Customer,
            FullRecord::Expense(_) => EntityKind::Expense,
            FullRecord::Sale(_) => EntityKind::Sale,
            FullRecord::StockMovement(_) => EntityKind::StockMovement,
            FullRecord::LedgerEntry(_) => EntityKind::LedgerEntry,
            FullRecord::Transfer(_) => EntityKind::Transfer,
            FullRecord::TransferReceipt(_) => EntityKind::TransferReceipt,
        }
    }

    /// The id a manifest names this record by.
    pub fn id(&self) -> String {
        match self {
            FullRecord::Settings(_) => SETTINGS_ID.to_string(),
            FullRecord::TaxRate(r) => r.code.to_string(),
            FullRecord::Category(c) => c.id.to_string(),
            FullRecord::Product(p) => p.id.to_string(),
            FullRecord::User(u) => u.id.to_string(),
            FullRecord::Customer(c) => c.id.to_string(),
            FullRecord::Expense(e) => e.id.to_string(),
            FullRecord::Sale(s) => s.id.to_string(),
            FullRecord::StockMovement(m) => m.id.to_string(),
            FullRecord::LedgerEntry(e) => e.id.to_string(),
            FullRecord::Transfer(t) => t.id.to_string(),
            FullRecord::TransferReceipt(r) => r.id.to_string(),
        }
    }

    /// The record's manifest entry.
    pub fn manifest_entry(&self) -> ManifestEntry {
        ManifestEntry {
            id: self.id(),
            digest: digest(self),
        }
    }
}

/// The manifest id of the one settings record.
pub const SETTINGS_ID: &str = "settings";

/// The content digest of a record: SHA-256 (hex) of its JSON with the clock
/// left out, so two sides holding the same values agree whatever clock
/// stamped them. Empty for append-only records (only presence counts).
pub fn digest(record: &FullRecord) -> String {
    fn unclocked<T: Clone, F: FnOnce(&mut T)>(state: &T, clear: F) -> T {
        let mut copy = state.clone();
        clear(&mut copy);
        copy
    }
    let json = match record {
        FullRecord::Sale(_)
        | FullRecord::StockMovement(_)
        | FullRecord::LedgerEntry(_)
        | FullRecord::Transfer(_)
        | FullRecord::TransferReceipt(_) => {
            return String::new();
        }
        FullRecord::Settings(s) => to_json(&unclocked(s, |s| s.hlc = Hlc::ZERO)),
        FullRecord::TaxRate(r) => to_json(r),
        FullRecord::Category(c) => to_json(&unclocked(c, |c| c.hlc = Hlc::ZERO)),
        FullRecord::Product(p) => to_json(&unclocked(p, |p| p.hlc = Hlc::ZERO)),
        FullRecord::User(u) => to_json(&unclocked(u, |u| u.hlc = Hlc::ZERO)),
        FullRecord::Customer(c) => to_json(&unclocked(c, |c| c.hlc = Hlc::ZERO)),
        FullRecord::Expense(e) => to_json(&unclocked(e, |e| e.hlc = Hlc::ZERO)),
    };
    let hash = Sha256::digest(json.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs cannot fail (no maps with non-string
    // keys, no custom serializers that error).
    serde_json::to_string(value).unwrap_or_default()
}

/// A record to soft-remove (only on the server; the manager ticked removal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    pub entity: EntityKind,
    pub id: String,
}

/// One chunk of the upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyChunk {
    /// Chosen by the till for one run; with `chunk`, the idempotency key.
    pub session: Uuid,
    /// 1, 2, 3, … within the session.
    pub chunk: u32,
    pub mode: FullSyncMode,
    pub records: Vec<FullRecord>,
    /// Records to soft-remove ([`FullSyncMode::Overwrite`] only).
    #[serde(default)]
    pub remove: Vec<RecordRef>,
}

/// What a chunk did. A retried chunk gets the first answer again with
/// `duplicate: true`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApplyAnswer {
    pub session: Uuid,
    pub chunk: u32,
    pub duplicate: bool,
    /// Records the server did not have.
    pub added: u64,
    /// Mutable records whose content changed (the replaced state kept as a
    /// version in Overwrite mode).
    pub overwritten: u64,
    /// Records already present with the same content (or, in Restore mode,
    /// whose server values are newer).
    pub unchanged: u64,
    /// Records soft-removed.
    pub removed: u64,
    /// Records refused, each with its reason; the rest of the chunk applied.
    pub rejected: Vec<RecordRejection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRejection {
    pub entity: EntityKind,
    pub id: String,
    pub code: RejectCode,
    pub reason: String,
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishRequest {
    pub session: Uuid,
    /// The highest device sequence whose op this till had seen acknowledged
    /// before the run: the upload accounts for its effects. A server that
    /// lost those ops (restored from a backup) moves its expected sequence
    /// past it; otherwise nothing changes.
    pub acknowledged_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishAnswer {
    pub session: Uuid,
    /// The device sequence the server expects next.
    pub next_device_seq: u64,
    pub server_time: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pos_domain::{Currency, Money, Name, ProductId, TaxCode};

    fn product() -> ProductState {
        ProductState {
            id: ProductId::new(),
            name: Name::parse("name", "Soda 500ml").unwrap(),
            sku: None,
            barcode: None,
            category_id: None,
            price: Money::from_minor(80_00, Currency::KES).unwrap(),
            tax_code: TaxCode::parse("VAT16").unwrap(),
            image: None,
            track_stock: true,
            low_stock: None,
            created_at: Timestamp::from_millis(1_772_431_200_000),
            hlc: Hlc::new(1_772_431_200_000, 0, 1),
            deleted_at: None,
        }
    }

    #[test]
    fn digests_ignore_the_clock_and_see_every_value() {
        let p = product();
        let a = digest(&FullRecord::Product(p.clone()));
        assert_eq!(a.len(), 64);
        let reclocked = ProductState {
            hlc: Hlc::new(1_800_000_000_000, 3, 9),
            ..p.clone()
        };
        assert_eq!(digest(&FullRecord::Product(reclocked)), a);
        let repriced = ProductState {
            price: Money::from_minor(85_00, Currency::KES).unwrap(),
            ..p.clone()
        };
        assert_ne!(digest(&FullRecord::Product(repriced)), a);
        let deleted = ProductState {
            deleted_at: Some(Timestamp::from_millis(1_772_431_300_000)),
            ..p
        };
        assert_ne!(digest(&FullRecord::Product(deleted)), a);
    }

    #[test]
    fn requests_are_tagged_by_step() {
        let chunk = FullSyncRequest::Apply(ApplyChunk {
            session: Uuid::now_v7(),
            chunk: 1,
            mode: FullSyncMode::Overwrite,
            records: vec![FullRecord::Product(product())],
            remove: vec![],
        });
        let json = serde_json::to_value(&chunk).unwrap();
        assert_eq!(json["step"], "apply");
        assert_eq!(json["mode"], "overwrite");
        assert_eq!(json["records"][0]["type"], "product");
        assert_eq!(
            serde_json::from_value::<FullSyncRequest>(json).unwrap(),
            chunk
        );
        let preview: FullSyncRequest = serde_json::from_str(
            r#"{"step":"preview","entity":"product","records":[{"id":"a","digest":"b"}]}"#,
        )
        .unwrap();
        assert!(matches!(
            preview,
            FullSyncRequest::Preview(PreviewPart {
                entity: EntityKind::Product,
                after: None,
                ..
            })
        ));
        assert!(serde_json::from_str::<FullSyncRequest>(r#"{"step":"nuke"}"#).is_err());
    }

    #[test]
    fn only_mutable_kinds_are_removable_and_append_only_kinds_have_no_digest() {
        for kind in EntityKind::ALL {
            assert!(!(kind.is_append_only() && kind.is_removable()), "{kind:?}");
        }
        assert!(!EntityKind::Settings.is_removable());
        assert!(!EntityKind::TaxRate.is_removable());
    }
}
