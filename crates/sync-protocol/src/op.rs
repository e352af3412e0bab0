//! Outbox operations: what a device did, described so the Back Office can
//! apply it exactly once.
//!
//! Append-only facts (a sale with its payments and stock movements, a stock
//! movement, a ledger entry) travel whole. Edits to shared, mutable records
//! travel as **patches**: only the fields that changed, all stamped with the
//! operation's HLC, so the server can apply last-writer-wins per field.
//! Deletes are tombstones.
//!
//! Fields of a patch that may be cleared are `Option<Option<T>>`: absent means
//! "unchanged", `null` means "cleared".

use pos_domain::{
    Barcode, BranchId, CategoryId, Currency, CustomerId, DeviceId, ExpenseId, Hlc, LedgerEntryId,
    Money, MovementId, MovementKind, Name, OpId, PaymentId, PaymentMethod, PhoneNumber, ProductId,
    Quantity, Role, SaleId, Sku, TaxCode, TaxMode, Timestamp, TransferId, TransferReceiptId,
    UserId,
};
use serde::{Deserialize, Deserializer, Serialize};

/// One outbox operation as it is stored and sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpEnvelope {
    /// The idempotency key: the server applies an op id at most once.
    pub op_id: OpId,
    /// This device's gapless operation sequence, starting at 1.
    pub device_seq: u64,
    pub hlc: Hlc,
    pub created_at: Timestamp,
    pub body: OpBody,
}

/// What happened.
// A sale is much larger than a patch, but ops live briefly (one outbox page at
// a time) and boxing would only add an allocation per op.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum OpBody {
    SaleRecorded(SaleRecord),
    StockMoved(StockMovementRecord),
    LedgerEntryAdded(LedgerEntryRecord),
    ProductChanged(ProductPatch),
    ProductDeleted(Tombstone<ProductId>),
    CategoryChanged(CategoryPatch),
    CategoryDeleted(Tombstone<CategoryId>),
    CustomerChanged(CustomerPatch),
    CustomerDeleted(Tombstone<CustomerId>),
    UserChanged(UserPatch),
    UserDeleted(Tombstone<UserId>),
    ExpenseChanged(ExpensePatch),
    ExpenseDeleted(Tombstone<ExpenseId>),
    SettingsChanged(SettingsPatch),
    TaxRateChanged(TaxRateRecord),
    /// Stock sent to another branch (leaves the sending branch now).
    TransferSent(TransferSentRecord),
    /// A transfer received at its destination branch (arrives now).
    TransferReceived(TransferReceivedRecord),
}

impl OpBody {
    /// A short name for logs and the outbox's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            OpBody::SaleRecorded(_) => "sale_recorded",
            OpBody::StockMoved(_) => "stock_moved",
            OpBody::LedgerEntryAdded(_) => "ledger_entry_added",
            OpBody::ProductChanged(_) => "product_changed",
            OpBody::ProductDeleted(_) => "product_deleted",
            OpBody::CategoryChanged(_) => "category_changed",
            OpBody::CategoryDeleted(_) => "category_deleted",
            OpBody::CustomerChanged(_) => "customer_changed",
            OpBody::CustomerDeleted(_) => "customer_deleted",
            OpBody::UserChanged(_) => "user_changed",
            OpBody::UserDeleted(_) => "user_deleted",
            OpBody::ExpenseChanged(_) => "expense_changed",
            OpBody::ExpenseDeleted(_) => "expense_deleted",
            OpBody::SettingsChanged(_) => "settings_changed",
            OpBody::TaxRateChanged(_) => "tax_rate_changed",
            OpBody::TransferSent(_) => "transfer_sent",
            OpBody::TransferReceived(_) => "transfer_received",
        }
    }

    /// The id of the record the op is about, as text.
    pub fn entity_id(&self) -> String {
        match self {
            OpBody::SaleRecorded(s) => s.id.to_string(),
            OpBody::StockMoved(m) => m.id.to_string(),
            OpBody::LedgerEntryAdded(e) => e.id.to_string(),
            OpBody::ProductChanged(p) => p.id.to_string(),
            OpBody::ProductDeleted(t) => t.id.to_string(),
            OpBody::CategoryChanged(c) => c.id.to_string(),
            OpBody::CategoryDeleted(t) => t.id.to_string(),
            OpBody::CustomerChanged(c) => c.id.to_string(),
            OpBody::CustomerDeleted(t) => t.id.to_string(),
            OpBody::UserChanged(u) => u.id.to_string(),
            OpBody::UserDeleted(t) => t.id.to_string(),
            OpBody::ExpenseChanged(e) => e.id.to_string(),
            OpBody::ExpenseDeleted(t) => t.id.to_string(),
            OpBody::SettingsChanged(_) => "settings".to_string(),
            OpBody::TaxRateChanged(r) => r.code.to_string(),
            OpBody::TransferSent(t) => t.id.to_string(),
            OpBody::TransferReceived(r) => r.id.to_string(),
        }
    }
}

/// What kind of sale record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleKind {
    Sale,
    Void,
    Refund,
}

impl SaleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SaleKind::Sale => "sale",
            SaleKind::Void => "void",
            SaleKind::Refund => "refund",
        }
    }

    pub fn parse(s: &str) -> Option<SaleKind> {
        [SaleKind::Sale, SaleKind::Void, SaleKind::Refund]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A sale, void or refund with everything it did: lines, payments, stock
/// movements and the credit ledger entry. Immutable once recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleRecord {
    pub id: SaleId,
    pub receipt_no: String,
    pub kind: SaleKind,
    pub original_sale_id: Option<SaleId>,
    pub branch_id: BranchId,
    pub device_id: DeviceId,
    pub cashier_id: UserId,
    pub customer_id: Option<CustomerId>,
    pub currency: Currency,
    pub tax_mode: TaxMode,
    pub subtotal: Money,
    pub discount: Money,
    pub tax: Money,
    pub total: Money,
    pub change: Money,
    pub reason: Option<String>,
    pub created_at: Timestamp,
    /// YYYY-MM-DD in the branch's time zone.
    pub business_day: String,
    pub lines: Vec<SaleLineRecord>,
    pub payments: Vec<PaymentRecord>,
    pub movements: Vec<StockMovementRecord>,
    pub ledger_entry: Option<LedgerEntryRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleLineRecord {
    pub line_no: u32,
    pub original_line_no: Option<u32>,
    pub product_id: ProductId,
    pub name: String,
    pub sku: Option<String>,
    pub unit_price: Money,
    /// Negative on voids and refunds.
    pub quantity: Quantity,
    pub gross: Money,
    pub discount: Money,
    pub net: Money,
    pub tax_code: TaxCode,
    pub tax_basis_points: u32,
    pub tax: Money,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub id: PaymentId,
    pub method: PaymentMethod,
    /// Negative on voids and refunds.
    pub amount: Money,
    pub tendered: Option<Money>,
    pub change: Option<Money>,
    pub reference: Option<String>,
    pub customer_id: Option<CustomerId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockMovementRecord {
    pub id: MovementId,
    pub product_id: ProductId,
    pub branch_id: BranchId,
    pub device_id: DeviceId,
    pub kind: MovementKind,
    /// Signed: negative leaves stock.
    pub quantity: Quantity,
    pub sale_id: Option<SaleId>,
    pub user_id: Option<UserId>,
    pub note: Option<String>,
    pub created_at: Timestamp,
}

/// Kinds of credit-ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    CreditSale,
    Payment,
    Refund,
    Adjustment,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::CreditSale => "credit_sale",
            LedgerKind::Payment => "payment",
            LedgerKind::Refund => "refund",
            LedgerKind::Adjustment => "adjustment",
        }
    }

    pub fn parse(s: &str) -> Option<LedgerKind> {
        [
            LedgerKind::CreditSale,
            LedgerKind::Payment,
            LedgerKind::Refund,
            LedgerKind::Adjustment,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntryRecord {
    pub id: LedgerEntryId,
    pub customer_id: CustomerId,
    pub branch_id: BranchId,
    pub device_id: DeviceId,
    pub kind: LedgerKind,
    /// Positive: the customer owes more. Negative: owes less.
    pub amount: Money,
    pub sale_id: Option<SaleId>,
    /// How a payment was made (cash, M-Pesa, card).
    pub method: Option<PaymentMethod>,
    pub reference: Option<String>,
    pub user_id: Option<UserId>,
    pub note: Option<String>,
    pub created_at: Timestamp,
}

/// A stock transfer as sent: the goods leave `from_branch` at once, as one
/// `transfer_out` movement per line (negative, of `from_branch`). Immutable;
/// its receipt is a separate record ([`TransferReceivedRecord`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferSentRecord {
    pub id: TransferId,
    pub from_branch: BranchId,
    pub to_branch: BranchId,
    /// The device it was sent from.
    pub device_id: DeviceId,
    /// One line per product, in the order entered; quantities positive.
    pub lines: Vec<TransferLine>,
    pub note: Option<String>,
    pub sent_by: UserId,
    pub sent_at: Timestamp,
    /// The `transfer_out` movements, one per line. In the change feed, only
    /// the sending branch's copy carries them (stock belongs to its branch);
    /// the receiving branch's copy has none.
    #[serde(default)]
    pub movements: Vec<StockMovementRecord>,
}

/// One product of a transfer, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferLine {
    pub product_id: ProductId,
    /// Positive.
    pub quantity: Quantity,
}

/// A transfer received at its destination (`to_branch`), once: the goods
/// arrive as one `transfer_in` movement per line received (none for a line
/// received as zero). A line whose received quantity differs from the sent
/// one is a discrepancy, flagged at both ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReceivedRecord {
    pub id: TransferReceiptId,
    pub transfer_id: TransferId,
    /// The receiving branch (the transfer's `to_branch`).
    pub branch_id: BranchId,
    pub device_id: DeviceId,
    /// One line per line sent, same products; quantities zero or more.
    pub lines: Vec<TransferReceivedLine>,
    pub note: Option<String>,
    pub received_by: UserId,
    pub received_at: Timestamp,
    /// The `transfer_in` movements, of the receiving branch. In the change
    /// feed, only the receiving branch's copy carries them.
    #[serde(default)]
    pub movements: Vec<StockMovementRecord>,
}

/// One product of a transfer, as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReceivedLine {
    pub product_id: ProductId,
    /// Zero or more; may differ from what was sent.
    pub quantity_received: Quantity,
}

/// A soft delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone<Id> {
    pub id: Id,
    pub deleted_at: Timestamp,
}

/// Deserializes a present field (even `null`) as `Some(..)`, so `Option<Option<T>>`
/// tells "absent" (unchanged) from `null` (cleared).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Changed fields of a product. A patch with every field set creates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPatch {
    pub id: ProductId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub sku: Option<Option<Sku>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub barcode: Option<Option<Barcode>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub category_id: Option<Option<CategoryId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_code: Option<TaxCode>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub image: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_stock: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub low_stock: Option<Option<Quantity>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryPatch {
    pub id: CategoryId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerPatch {
    pub id: CustomerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub phone: Option<Option<PhoneNumber>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub email: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_limit: Option<Money>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub notes: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPatch {
    pub id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// An argon2 PHC string. A PIN itself never leaves the till.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpensePatch {
    pub id: ExpenseId,
    /// Set when the expense is created; never changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_id: Option<BranchId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_with: Option<ExpensePaidWith>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub reference: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_day: Option<String>,
}

/// Where the money for an expense came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpensePaidWith {
    Cash,
    Mpesa,
    Card,
    Bank,
}

impl ExpensePaidWith {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpensePaidWith::Cash => "cash",
            ExpensePaidWith::Mpesa => "mpesa",
            ExpensePaidWith::Card => "card",
            ExpensePaidWith::Bank => "bank",
        }
    }

    pub fn parse(s: &str) -> Option<ExpensePaidWith> {
        [
            ExpensePaidWith::Cash,
            ExpensePaidWith::Mpesa,
            ExpensePaidWith::Card,
            ExpensePaidWith::Bank,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Changed business settings (each field is last-writer-wins on its own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_pin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_footer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<pos_domain::TimeZone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_mode: Option<TaxMode>,
}

/// A tax rate created, changed or (with `deleted`) retired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRateRecord {
    pub code: TaxCode,
    pub name: String,
    pub basis_points: u32,
    #[serde(default)]
    pub deleted: bool,
}

impl ProductPatch {
    /// A patch that changes nothing (set the fields that change).
    pub fn new(id: ProductId) -> Self {
        Self {
            id,
            name: None,
            sku: None,
            barcode: None,
            category_id: None,
            price: None,
            tax_code: None,
            image: None,
            track_stock: None,
            low_stock: None,
        }
    }
}

impl CategoryPatch {
    /// A patch that changes nothing (set the fields that change).
    pub fn new(id: CategoryId) -> Self {
        Self {
            id,
            name: None,
            sort_order: None,
        }
    }
}

impl CustomerPatch {
    /// A patch that changes nothing (set the fields that change).
    pub fn new(id: CustomerId) -> Self {
        Self {
            id,
            name: None,
            phone: None,
            email: None,
            credit_limit: None,
            notes: None,
        }
    }
}

impl UserPatch {
    /// A patch that changes nothing (set the fields that change).
    pub fn new(id: UserId) -> Self {
        Self {
            id,
            name: None,
            role: None,
            pin_hash: None,
            active: None,
        }
    }
}

impl ExpensePatch {
    /// A patch that changes nothing (set the fields that change).
    pub fn new(id: ExpenseId) -> Self {
        Self {
            id,
            branch_id: None,
            device_id: None,
            user_id: None,
            category: None,
            description: None,
            amount: None,
            paid_with: None,
            reference: None,
            spent_at: None,
            business_day: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_tell_absent_from_cleared() {
        let id = ProductId::new();
        let absent: ProductPatch = serde_json::from_str(&format!(r#"{{"id":"{id}"}}"#)).unwrap();
        assert_eq!(absent.barcode, None);
        let cleared: ProductPatch =
            serde_json::from_str(&format!(r#"{{"id":"{id}","barcode":null}}"#)).unwrap();
        assert_eq!(cleared.barcode, Some(None));
        let set: ProductPatch =
            serde_json::from_str(&format!(r#"{{"id":"{id}","barcode":"123"}}"#)).unwrap();
        assert_eq!(set.barcode, Some(Some(Barcode::parse("123").unwrap())));
        // A cleared field survives a round trip.
        let json = serde_json::to_string(&cleared).unwrap();
        assert!(json.contains(r#""barcode":null"#), "{json}");
    }

    #[test]
    fn transfers_round_trip() {
        let (from, to, product) = (BranchId::new(), BranchId::new(), ProductId::new());
        let sent = OpBody::TransferSent(TransferSentRecord {
            id: TransferId::new(),
            from_branch: from,
            to_branch: to,
            device_id: DeviceId::new(),
            lines: vec![TransferLine {
                product_id: product,
                quantity: Quantity::units(10),
            }],
            note: Some("weekly top-up".into()),
            sent_by: UserId::new(),
            sent_at: Timestamp::from_millis(1_772_431_200_000),
            movements: vec![StockMovementRecord {
                id: MovementId::new(),
                product_id: product,
                branch_id: from,
                device_id: DeviceId::new(),
                kind: MovementKind::TransferOut,
                quantity: Quantity::units(-10),
                sale_id: None,
                user_id: None,
                note: None,
                created_at: Timestamp::from_millis(1_772_431_200_000),
            }],
        });
        let json = serde_json::to_string(&sent).unwrap();
        assert!(
            json.starts_with(r#"{"type":"transfer_sent","data":{"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<OpBody>(&json).unwrap(), sent);
        let OpBody::TransferSent(t) = &sent else {
            unreachable!()
        };
        let received = OpBody::TransferReceived(TransferReceivedRecord {
            id: TransferReceiptId::new(),
            transfer_id: t.id,
            branch_id: to,
            device_id: DeviceId::new(),
            lines: vec![TransferReceivedLine {
                product_id: product,
                quantity_received: Quantity::units(9),
            }],
            note: None,
            received_by: UserId::new(),
            received_at: Timestamp::from_millis(1_772_431_300_000),
            movements: vec![],
        });
        let json = serde_json::to_string(&received).unwrap();
        assert!(json.contains(r#""type":"transfer_received""#), "{json}");
        assert!(json.contains(r#""quantity_received":9000"#), "{json}");
        assert_eq!(serde_json::from_str::<OpBody>(&json).unwrap(), received);
        assert_eq!(received.kind(), "transfer_received");
        // A feed copy without movements may leave the field out.
        let mut value = serde_json::to_value(t).unwrap();
        value.as_object_mut().unwrap().remove("movements");
        let bare: TransferSentRecord = serde_json::from_value(value).unwrap();
        assert!(bare.movements.is_empty());
    }

    #[test]
    fn bad_values_do_not_deserialize() {
        let id = ProductId::new();
        for bad in [
            format!(r#"{{"id":"{id}","price":{{"minor":-5,"currency":"KES"}},"name":""}}"#),
            format!(r#"{{"id":"{id}","sku":"has space"}}"#),
            format!(r#"{{"id":"{id}","price":{{"minor":5,"currency":"XXX"}}}}"#),
        ] {
            assert!(serde_json::from_str::<ProductPatch>(&bad).is_err(), "{bad}");
        }
    }
}
