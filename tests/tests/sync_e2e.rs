//! The real Back Office and real tills, syncing over HTTP on 127.0.0.1.
//!
//! `whiz-backoffice` runs in-process on a temp database file; each till is a
//! real `pos-store` database file with a real `pos-sync` engine. Nothing is a
//! double: these are the promises of the product, end to end.

mod common;

use common::{kes, start_server};
use pos_domain::{Name, Quantity, Sku, TaxCode};
use pos_store::catalog::{NewProduct, ProductUpdate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tills_selling_offline_all_count_once_and_converge() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let a = server.till(dir.path(), "a", "Westlands", "Till 1");
    let b = server.till(dir.path(), "b", "Westlands", "Till 2");
    let c = server.till(dir.path(), "c", "CBD", "Till 1");
    for t in [&a, &b, &c] {
        t.sync().await; // connect: each till takes its key's branch and device
    }
    assert_eq!(a.store.lock().unwrap().identity().device_code, "T1");
    assert_eq!(b.store.lock().unwrap().identity().device_code, "T2");
    assert_ne!(
        a.store.lock().unwrap().identity().branch_id,
        c.store.lock().unwrap().identity().branch_id
    );

    // Till A adds a beer and receives 10; everyone learns of the beer.
    let beer = {
        let mut s = a.store.lock().unwrap();
        let p = s
            .create_product(
                &a.owner,
                NewProduct {
                    name: Name::parse("name", "Tusker 500ml").unwrap(),
                    sku: Some(Sku::parse("TUSKER-500").unwrap()),
                    barcode: None,
                    category_id: None,
                    price: kes(250_00),
                    tax_code: TaxCode::parse("VAT16").unwrap(),
                    image: None,
                    track_stock: true,
                    low_stock: None,
                },
            )
            .unwrap();
        s.restock(&a.owner, p.id, Quantity::units(10), None)
            .unwrap();
        p.id
    };
    a.sync().await;
    b.sync().await;
    c.sync().await;
    assert_eq!(
        b.stock(beer),
        Quantity::units(10),
        "same branch: B sees A's delivery"
    );
    assert_eq!(c.stock(beer), Quantity::ZERO, "other branch: its own stock");

    // Offline, all three sell four each (C's branch has none: it goes negative).
    let sales = [
        a.sell(beer, 4, 250_00),
        b.sell(beer, 4, 250_00),
        c.sell(beer, 4, 250_00),
    ];
    for t in [&a, &b, &c, &a, &b] {
        t.sync().await;
    }
    for t in [&a, &b, &c] {
        assert_eq!(t.pending(), 0);
    }
    let db = server.query();
    for id in sales {
        let n: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM sales WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "sale {id} reached the Back Office once");
    }
    let levels: Vec<(String, i64)> = db
        .prepare(
            "SELECT b.name, l.quantity_milli FROM stock_levels l JOIN branches b ON b.id = l.branch_id
             WHERE l.product_id = ?1 ORDER BY b.name",
        )
        .unwrap()
        .query_map([beer.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        levels,
        vec![
            ("CBD".to_string(), -4_000),
            ("Westlands".to_string(), 2_000)
        ]
    );
    assert_eq!(
        a.stock(beer),
        Quantity::units(2),
        "both Westlands sales count at A"
    );
    assert_eq!(b.stock(beer), Quantity::units(2), "and at B");
    assert_eq!(
        c.stock(beer),
        Quantity::units(-4),
        "negative stock is allowed and kept"
    );

    // A price change at one till reaches every till.
    a.store
        .lock()
        .unwrap()
        .update_product(
            &a.owner,
            beer,
            ProductUpdate {
                price: Some(kes(300_00)),
                ..ProductUpdate::default()
            },
        )
        .unwrap();
    a.sync().await;
    b.sync().await;
    c.sync().await;
    for t in [&b, &c] {
        assert_eq!(
            t.store.lock().unwrap().product(beer).unwrap().price,
            kes(300_00)
        );
    }

    // B deletes the beer while C, offline, sells one more: the sale is kept and
    // the beer stays deleted everywhere.
    b.store
        .lock()
        .unwrap()
        .delete_product(&b.owner, beer)
        .unwrap();
    b.sync().await;
    let late = c.sell(beer, 1, 300_00);
    c.sync().await;
    a.sync().await;
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sales WHERE id = ?1",
            [late.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1, "the offline sale of a deleted product is kept");
    let deleted: Option<i64> = db
        .query_row(
            "SELECT deleted_at FROM products WHERE id = ?1",
            [beer.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        deleted.is_some(),
        "the product stays deleted on the Back Office"
    );
    for t in [&a, &c] {
        assert!(
            t.store
                .lock()
                .unwrap()
                .product(beer)
                .unwrap()
                .deleted_at
                .is_some()
        );
    }
    assert_eq!(c.stock(beer), Quantity::units(-5));
    server.stop().await;
}
