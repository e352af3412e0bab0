//! Faults between a real till and the real Back Office.

mod common;

use std::sync::atomic::Ordering;

use common::{new_product, proxy, start_server, till};
use pos_domain::{Quantity, Sku};
use pos_store::catalog::NewProduct;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_retried_and_the_sale_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let key = server.add_till("Westlands", "Till 1");
    let proxy = proxy(&server.url).await;
    let t = till(dir.path(), "a", &proxy.url, &key);
    t.sync().await;

    let soda = t.add(NewProduct {
        sku: Some(Sku::parse("SODA").unwrap()),
        ..new_product("Soda 500ml", 80_00)
    });
    let sale = t.sell(soda, 2, 80_00);
    let queued = t.pending();

    // The server applies the push; the answer never reaches the till.
    proxy.swallow.store(true, Ordering::SeqCst);
    let err = t.engine.sync_once().await.unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    assert_eq!(
        t.pending(),
        queued,
        "nothing leaves the outbox unacknowledged"
    );
    let db = server.query();
    let count = |sql: &str| -> i64 { db.query_row(sql, [sale.to_string()], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT COUNT(*) FROM sales WHERE id = ?1"),
        1,
        "the server did apply it"
    );

    // The retry is answered `duplicate`: the till lets go; nothing twice.
    proxy.swallow.store(false, Ordering::SeqCst);
    t.sync().await;
    assert_eq!(t.pending(), 0);
    assert_eq!(count("SELECT COUNT(*) FROM sales WHERE id = ?1"), 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM stock_movements WHERE sale_id = ?1"),
        1
    );
    assert_eq!(count("SELECT COUNT(*) FROM payments WHERE sale_id = ?1"), 1);
    let level: i64 = db
        .query_row(
            "SELECT quantity_milli FROM stock_levels WHERE product_id = ?1",
            [soda.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(level, -2_000, "one stock movement, not two");
    assert_eq!(t.stock(soda), Quantity::units(-2));
    server.stop().await;
}
