//! Cross-branch customer history, read-only (DESIGN.md invariant 7): the
//! real Back Office in-process on a temp file, a till of branch A (store
//! file + `pos-sync` engine) selling on credit, and the desktop app
//! (`pos-app`) of branch B looking the customer up, online and offline.

mod common;

use std::sync::Arc;

use common::start_server;
use pos_app::{App, AppConfig, ConnectionInput, ErrorCode, HistorySource};
use pos_domain::SystemClock;
use pos_sync::{MemoryKeyStore, SyncConfig};

const BEER: i64 = 250_00;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_branch_history_shows_a_sales_read_only_at_b() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;

    // Branch A (Westlands) registers Njeri and sells her 2 beers on credit.
    let a = server.till(dir.path(), "a", "Westlands", "Till 1");
    a.sync().await;
    let beer = a.add_product("Tusker 500ml", BEER);
    let njeri = a.add_customer("Njeri", "0712 345 678", 5_000_00, None);
    let sale = a.sell_on_credit(beer, 2, BEER, njeri);
    a.sync().await;

    // Branch B (CBD): the desktop app, connected, pulls.
    let b = App::open(AppConfig {
        data_dir: dir.path().join("b"),
        keys: Arc::new(MemoryKeyStore::new()),
        sync: SyncConfig::default(),
        clock: Arc::new(SystemClock),
    })
    .unwrap();
    b.create_owner("Otieno".into(), "1234".into()).unwrap();
    b.save_connection(ConnectionInput {
        url: server.url.clone(),
        api_key: Some(server.add_till("CBD", "Till 1")),
    })
    .unwrap();
    b.push_pending().await.unwrap();
    let status = b.pull_updates().await.unwrap();
    assert!(status.last_error.is_none(), "{status:?}");

    // Online: A's sale, marked as another branch's.
    let h = b.customer_history(njeri.to_string()).await.unwrap();
    assert_eq!(h.source, HistorySource::BackOffice);
    assert_eq!(h.offline_reason, None);
    assert_eq!(h.customer_name, "Njeri");
    assert_eq!(h.balance, 2 * BEER);
    assert_eq!(h.sales.len(), 1);
    let s = &h.sales[0];
    assert_eq!(s.id, sale.to_string());
    assert_eq!(s.branch_name, "Westlands");
    assert_eq!((s.total, s.on_credit), (2 * BEER, 2 * BEER));
    assert!(!s.this_branch, "A's sale is read-only at B");
    assert_eq!(h.ledger.len(), 1);
    assert!(!h.ledger[0].this_branch);

    // Read-only: B cannot void A's sale (it is not B's to change), and
    // looking queued nothing.
    let void = b.void_sale(sale.to_string(), "wrong customer".into());
    assert_eq!(void.unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(b.sync_status().unwrap().pending, 0);

    // Offline: what B has: no sale of A's (sales belong to their branch),
    // but A's ledger entry (pulled), marked as another branch's.
    server.stop().await;
    let h = b.customer_history(njeri.to_string()).await.unwrap();
    assert_eq!(h.source, HistorySource::ThisTill);
    let reason = h.offline_reason.unwrap();
    assert!(reason.contains("cannot be reached"), "{reason}");
    assert!(h.sales.is_empty());
    assert_eq!(h.balance, 2 * BEER);
    assert_eq!(h.ledger.len(), 1);
    assert_eq!(h.ledger[0].branch_name, "Westlands");
    assert!(!h.ledger[0].this_branch);
}
