//! A till that traded offline before it was ever connected to a Back Office
//! is connected later, with the real Back Office in-process on 127.0.0.1 and
//! the real `pos-sync` engine: nothing it recorded is lost or hidden.
//!
//! On connecting, the till adopts the device and branch of its API key and
//! remaps its provisional records and queued ops to them
//! (`pos_store::identity`); the server then takes every sale once, as that
//! branch's, and its stock is the sum of the movements.

mod common;

use std::sync::{Arc, Mutex};

use common::{Server, Till, kes, start_server};
use pos_domain::{Name, PaymentMethod, ProductId, Quantity, SaleId, SystemClock};
use pos_store::customers::NewCustomer;
use pos_store::expenses::{ExpensePaidWith, NewExpense};
use pos_store::{Durability, Store};
use pos_sync::{ApiKey, BackOffice, SyncConfig, SyncEngine};
use rusqlite::Connection;

/// A till that has never seen a Back Office: no URL, no key.
fn offline_till(dir: &std::path::Path, name: &str) -> Till {
    let mut store = Store::open_with(
        &dir.join(format!("{name}.sqlite3")),
        Arc::new(SystemClock),
        Durability::CrashSafe,
    )
    .unwrap();
    let owner = store
        .create_first_owner(
            Name::parse("name", &format!("Owner {name}")).unwrap(),
            &pos_domain::Pin::parse("1234").unwrap(),
        )
        .unwrap();
    let store = Arc::new(Mutex::new(store));
    let engine = SyncEngine::new(store.clone(), None, SyncConfig::default());
    Till {
        store,
        owner,
        engine,
    }
}

/// The owner enters the Back Office URL and the till's key.
fn connect(t: Till, url: &str, key: &str) -> Till {
    let client = BackOffice::new(url, ApiKey::parse(key).unwrap()).unwrap();
    let engine = SyncEngine::new(t.store.clone(), Some(client), SyncConfig::default());
    Till { engine, ..t }
}

fn receipt(t: &Till, sale: SaleId) -> String {
    t.store.lock().unwrap().sale(sale).unwrap().receipt_no
}

fn count(db: &Connection, sql: &str, param: &str) -> i64 {
    db.query_row(sql, [param], |r| r.get(0)).unwrap()
}

/// Every server stock level is the sum of that branch's movements, and every
/// branch/product with movements has its level.
fn assert_server_stock_is_the_sum_of_movements(server: &Server) {
    let db = server.query();
    let off: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM stock_levels l WHERE l.quantity_milli <>
               (SELECT COALESCE(SUM(m.quantity_milli), 0) FROM stock_movements m
                WHERE m.product_id = l.product_id AND m.branch_id = l.branch_id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(off, 0, "server stock levels equal the sums of movements");
    let missing: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM (SELECT DISTINCT product_id, branch_id FROM stock_movements) m
             WHERE NOT EXISTS (SELECT 1 FROM stock_levels l
                               WHERE l.product_id = m.product_id AND l.branch_id = m.branch_id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(missing, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_that_sold_before_it_was_connected_syncs_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;

    // Day one: no Back Office yet. The till sells, restocks, spends petty
    // cash, sells on credit and takes a payment, under its provisional identity.
    let a = offline_till(dir.path(), "a");
    let provisional = a.store.lock().unwrap().identity().clone();
    assert_eq!(
        (
            provisional.branch_code.as_str(),
            provisional.device_code.as_str()
        ),
        ("MAIN", "T1")
    );
    let bread = a.add_product("Bread", 60_00);
    let milk = a.add_product("Milk", 55_00);
    let amina = {
        let mut s = a.store.lock().unwrap();
        s.restock(&a.owner, bread, Quantity::units(20), None)
            .unwrap();
        s.restock(&a.owner, milk, Quantity::units(6), None).unwrap();
        s.record_expense(
            &a.owner,
            NewExpense {
                category: Name::parse("category", "Transport").unwrap(),
                description: "Boda to the market".into(),
                amount: kes(200_00),
                paid_with: ExpensePaidWith::Cash,
                reference: None,
                spent_at: None,
            },
        )
        .unwrap();
        s.create_customer(
            &a.owner,
            NewCustomer {
                name: Name::parse("name", "Amina").unwrap(),
                phone: None,
                email: None,
                credit_limit: kes(1_000_00),
                notes: None,
            },
        )
        .unwrap()
        .id
    };
    let offline_sales = [
        a.sell(bread, 3, 60_00),
        a.sell(milk, 1, 55_00),
        a.sell_on_credit(milk, 1, 55_00, amina),
        a.sell(bread, 2, 60_00),
    ];
    a.store
        .lock()
        .unwrap()
        .record_customer_payment(&a.owner, amina, kes(30_00), PaymentMethod::Cash, None)
        .unwrap();
    let receipts: Vec<String> = offline_sales.iter().map(|s| receipt(&a, *s)).collect();
    assert_eq!(
        receipts,
        [
            "MAIN-T1-000001",
            "MAIN-T1-000002",
            "MAIN-T1-000003",
            "MAIN-T1-000004"
        ]
    );
    let pending = a.pending();

    // Day two: the owner sets up the Back Office (another till already runs
    // in the branch) and connects this one with its key.
    let b = server.till(dir.path(), "b", "Westlands", "Till 1");
    b.sync().await;
    let a = connect(a, &server.url, &server.add_till("Westlands", "Till 2"));
    a.sync().await;
    let registered = a.store.lock().unwrap().identity().clone();
    assert_eq!(
        (
            registered.branch_code.as_str(),
            registered.device_code.as_str()
        ),
        ("WESTLAND", "T2")
    );
    assert_eq!(
        registered.branch_id,
        b.store.lock().unwrap().identity().branch_id
    );
    assert_eq!(a.pending(), 0, "the outbox emptied ({pending} ops)");
    assert_eq!(
        a.store.lock().unwrap().outbox_stats().unwrap().quarantined,
        0
    );

    // The server has every sale once, as the registered branch and device's,
    // under the receipt number the customer holds.
    let db = server.query();
    let (rb, rd) = (
        registered.branch_id.to_string(),
        registered.device_id.to_string(),
    );
    for (sale, receipt_no) in offline_sales.iter().zip(&receipts) {
        let row: (i64, String, String, String) = db
            .query_row(
                "SELECT COUNT(*), MAX(branch_id), MAX(device_id), MAX(receipt_no) FROM sales WHERE id = ?1",
                [sale.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(row, (1, rb.clone(), rd.clone(), receipt_no.clone()));
    }
    // Nothing on the server carries the provisional identity.
    let (pb, pd) = (
        provisional.branch_id.to_string(),
        provisional.device_id.to_string(),
    );
    for table in ["sales", "stock_movements", "customer_ledger", "expenses"] {
        let n: i64 = db
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE branch_id = ?1 OR device_id = ?2"),
                [&pb, &pd],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "{table}");
        let ours = count(
            &db,
            &format!("SELECT COUNT(*) FROM {table} WHERE device_id = ?1"),
            &rd,
        );
        assert!(ours > 0, "{table} reached the server");
    }
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM expenses WHERE branch_id = ?1",
            &rb
        ),
        1
    );
    // Stock on the server is the sum of movements, and what both tills show.
    assert_server_stock_is_the_sum_of_movements(&server);
    let level = |p: ProductId| -> i64 {
        db.query_row(
            "SELECT quantity_milli FROM stock_levels WHERE product_id = ?1 AND branch_id = ?2",
            [p.to_string(), rb.clone()],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(level(bread), 15_000);
    assert_eq!(level(milk), 4_000);
    b.sync().await;
    for t in [&a, &b] {
        assert_eq!(t.stock(bread), Quantity::units(15));
        assert_eq!(t.stock(milk), Quantity::units(4));
    }
    // The credit balance is the ledger's sum, on the server and at both tills.
    let owed: i64 = db
        .query_row(
            "SELECT SUM(amount_minor) FROM customer_ledger WHERE customer_id = ?1",
            [amina.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(owed, 25_00);
    for t in [&a, &b] {
        let s = t.store.lock().unwrap();
        assert_eq!(s.customer(amina).unwrap().balance, kes(25_00));
    }
    // The other till of the branch sees the offline sales with their receipts.
    for (sale, receipt_no) in offline_sales.iter().zip(&receipts) {
        assert_eq!(&receipt(&b, *sale), receipt_no);
    }
    assert!(b.store.lock().unwrap().held_changes().unwrap().is_empty());

    // Receipts after connecting carry the registered codes; the counter goes on.
    let later = a.sell(bread, 1, 60_00);
    assert_eq!(receipt(&a, later), "WESTLAND-T2-000005");
    a.sync().await;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM sales WHERE device_id = ?1", &rd),
        5
    );
    assert_eq!(a.pending(), 0);
    drop(db);
    server.stop().await;
}

/// Two tills of one shop both traded offline: both printed `MAIN-T1-000001`.
/// The Back Office keeps both sales (its receipt numbers are not unique: a
/// receipt is read with the device that printed it), each as its own device's,
/// and each till takes in the other's (the till's receipt numbers are unique
/// per device, `migrations/pos/0004_receipts_per_device.sql`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_offline_first_tills_keep_both_of_their_first_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let c = offline_till(dir.path(), "c");
    let d = offline_till(dir.path(), "d");
    let soda_c = c.add_product("Soda", 50_00);
    let tea_d = d.add_product("Tea", 30_00);
    let sale_c = c.sell(soda_c, 2, 50_00);
    let sale_d = d.sell(tea_d, 1, 30_00);
    assert_eq!(receipt(&c, sale_c), receipt(&d, sale_d));

    let c = connect(c, &server.url, &server.add_till("Main", "Till 1"));
    let d = connect(d, &server.url, &server.add_till("Main", "Till 2"));
    for t in [&c, &d, &c, &d] {
        t.sync().await;
    }
    for t in [&c, &d] {
        assert_eq!(t.pending(), 0);
        assert_eq!(
            t.store.lock().unwrap().outbox_stats().unwrap().quarantined,
            0
        );
    }
    let db = server.query();
    let rows: Vec<(String, String)> = db
        .prepare("SELECT d.code, s.id FROM sales s JOIN devices d ON d.id = s.device_id WHERE s.receipt_no = 'MAIN-T1-000001' ORDER BY d.code")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            ("T1".to_string(), sale_c.to_string()),
            ("T2".to_string(), sale_d.to_string())
        ]
    );
    assert_server_stock_is_the_sum_of_movements(&server);
    // Each till has both sales (receipt numbers are unique per device), the
    // other's stock movement with it, and nothing held aside.
    for (t, own) in [(&c, sale_c), (&d, sale_d)] {
        let s = t.store.lock().unwrap();
        assert!(s.held_changes().unwrap().is_empty());
        for sale in [sale_c, sale_d] {
            assert_eq!(s.sale(sale).unwrap().receipt_no, "MAIN-T1-000001");
        }
        // Looking the number up finds this till's own sale.
        assert_eq!(s.sale_by_receipt("MAIN-T1-000001").unwrap().id, own);
    }
    assert_eq!(c.stock(tea_d), Quantity::units(-1));
    assert_eq!(d.stock(soda_c), Quantity::units(-2));
    drop(db);
    server.stop().await;
}
