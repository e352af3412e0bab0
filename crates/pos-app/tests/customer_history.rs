//! `customer_history` when the Back Office cannot be asked: the till shows
//! what it has (its own branch's sales with the customer and every ledger
//! entry it has pulled, other branches' included), marked `this_till` with a
//! reason, and every row says whether it is this branch's. (The online path
//! against a real Back Office is in `tests/tests/customer_history_e2e.rs`.)

use std::sync::Arc;

use pos_app::*;
use pos_domain::{
    BranchId, CustomerId, DeviceId, Hlc, LedgerEntryId, ManualClock, Money, PaymentMethod,
    TimeZone, Timestamp,
};
use pos_store::Store;
use pos_sync::{MemoryKeyStore, SyncConfig};
use sync_protocol::{
    BranchState, Change, ChangeBody, Cursor, Epoch, LedgerEntryRecord, LedgerKind, PullResponse,
};

/// 2026-03-02 09:00 in Nairobi (06:00 UTC).
const T0: Timestamp = Timestamp::from_millis(1_772_431_200_000);

fn product(name: &str, price: i64) -> ProductInput {
    ProductInput {
        id: None,
        name: name.into(),
        sku: Some(name.replace(' ', "-")),
        barcode: None,
        category_id: None,
        price,
        tax_code: "VAT16".into(),
        track_stock: true,
        low_stock: None,
    }
}

/// A till on disk with its owner signed in, a customer (limit 1,000.00)
/// and a 600.00 credit sale to her.
fn till_with_a_credit_sale(dir: &std::path::Path) -> (App, Arc<ManualClock>, CustomerView) {
    let clock = Arc::new(ManualClock::new(T0));
    let app = App::open(AppConfig {
        data_dir: dir.to_path_buf(),
        keys: Arc::new(MemoryKeyStore::new()),
        sync: SyncConfig::default(),
        clock: clock.clone(),
    })
    .unwrap();
    app.create_owner("Wanjiru".into(), "1234".into()).unwrap();
    let flour = app.save_product(product("Flour", 200_00)).unwrap();
    let amina = app
        .save_customer(CustomerInput {
            id: None,
            name: "Amina".into(),
            phone: None,
            email: None,
            notes: None,
            credit_limit: 1_000_00,
        })
        .unwrap();
    app.checkout(CheckoutInput {
        sale_id: app.new_sale_id().unwrap(),
        cart: CartInput {
            lines: vec![CartLineInput {
                product_id: flour.id.clone(),
                quantity: 3_000,
                discount: DiscountInput::None,
            }],
            discount: DiscountInput::None,
        },
        tenders: vec![TenderInput::Credit {
            amount: 600_00,
            customer_id: amina.id.clone(),
        }],
        customer_id: Some(amina.id.clone()),
    })
    .unwrap();
    (app, clock, amina)
}

#[tokio::test]
async fn offline_the_till_shows_its_own_records_marked_as_this_tills() {
    let dir = tempfile::tempdir().unwrap();
    let (app, clock, amina) = till_with_a_credit_sale(dir.path());

    // Another branch's payment arrives with a pull (ledger entries are
    // shared by every branch; its sale would not be).
    let town = BranchId::new();
    let epoch = Epoch(uuid::Uuid::now_v7());
    let payment = LedgerEntryRecord {
        id: LedgerEntryId::new(),
        customer_id: amina.id.parse::<CustomerId>().unwrap(),
        branch_id: town,
        device_id: DeviceId::new(),
        kind: LedgerKind::Payment,
        amount: Money::from_minor(-100_00, pos_domain::Currency::KES).unwrap(),
        sale_id: None,
        method: Some(PaymentMethod::Cash),
        reference: None,
        user_id: None,
        note: None,
        created_at: Timestamp::from_millis(T0.as_millis() + 60_000),
    };
    let page = PullResponse {
        epoch,
        changes: vec![
            Change {
                seq: 1,
                body: ChangeBody::Branch(BranchState {
                    id: town,
                    code: "TOWN".into(),
                    name: "Town".into(),
                    time_zone: TimeZone::NAIROBI,
                    hlc: Hlc::ZERO,
                    deleted_at: None,
                }),
            },
            Change {
                seq: 2,
                body: ChangeBody::LedgerEntry(payment.clone()),
            },
        ],
        next_cursor: Cursor { epoch, seq: 2 },
        has_more: false,
    };
    let mut store = Store::open(&dir.path().join(DATABASE_FILE), clock.clone()).unwrap();
    store.apply_pulled(&page).unwrap();
    drop(store);

    // Not connected to a Back Office: this till's records, and why.
    let h = app.customer_history(amina.id.clone()).await.unwrap();
    assert_eq!(h.source, HistorySource::ThisTill);
    let reason = h.offline_reason.as_deref().unwrap();
    assert!(reason.contains("not connected"), "{reason}");
    assert_eq!(h.customer_id, amina.id);
    assert_eq!(h.customer_name, "Amina");
    assert_eq!(h.balance, 500_00, "every branch's entries count");
    assert_eq!(h.branch_code, "MAIN");
    assert_eq!(h.sales.len(), 1);
    let sale = &h.sales[0];
    assert!(sale.this_branch);
    assert_eq!((sale.total, sale.on_credit), (600_00, 600_00));
    assert_eq!(sale.branch_code, "MAIN");
    assert_eq!(sale.device_code.as_deref(), Some("T1"));
    assert_eq!(sale.kind, "sale");
    let ledger: Vec<_> = h
        .ledger
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.amount,
                e.branch_code.as_str(),
                e.this_branch,
            )
        })
        .collect();
    assert_eq!(
        ledger,
        [
            ("payment", -100_00, "TOWN", false),
            ("credit_sale", 600_00, "MAIN", true),
        ]
    );
    assert_eq!(h.ledger[0].branch_name, "Town");
    assert_eq!(h.ledger[0].id, payment.id.to_string());

    // Connected, but the Back Office does not answer: the same, with that
    // reason. Nothing was queued by looking.
    let before = app.sync_status().unwrap().pending;
    app.save_connection(ConnectionInput {
        url: "http://127.0.0.1:9".into(),
        api_key: Some("whiz_0123456789abcdef0123456789abcdef01234567".into()),
    })
    .unwrap();
    let h = app.customer_history(amina.id.clone()).await.unwrap();
    assert_eq!(h.source, HistorySource::ThisTill);
    let reason = h.offline_reason.as_deref().unwrap();
    assert!(reason.contains("cannot be reached"), "{reason}");
    assert_eq!(h.sales.len(), 1);
    assert_eq!(h.ledger.len(), 2);
    assert_eq!(app.sync_status().unwrap().pending, before);
}

#[tokio::test]
async fn history_needs_a_signed_in_user_and_a_known_customer() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, amina) = till_with_a_credit_sale(dir.path());
    let unknown = app.customer_history(CustomerId::new().to_string()).await;
    assert_eq!(unknown.unwrap_err().code, ErrorCode::NotFound);
    let bad = app.customer_history("nope".into()).await;
    assert_eq!(bad.unwrap_err().code, ErrorCode::Invalid);
    app.logout().unwrap();
    let signed_out = app.customer_history(amina.id.clone()).await;
    assert_eq!(signed_out.unwrap_err().code, ErrorCode::NotSignedIn);
}
