//! Full Cloud Synchronization and recovery from a restored Back Office, end
//! to end: the real server in-process on a temp file, real tills with the
//! real engine, over HTTP on 127.0.0.1.

mod common;

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Server, Till, kes, proxy, restart_server, start_server, till};
use pos_domain::{ProductId, Quantity, SaleId};
use pos_store::catalog::ProductUpdate;
use pos_sync::{FullSyncOptions, FullSyncPhase, FullSyncProgress};
use sync_protocol::EntityKind;

fn add_product(t: &Till, name: &str, price: i64, stock: i64) -> ProductId {
    let id = t.add_product(name, price);
    if stock > 0 {
        let mut s = t.store.lock().unwrap();
        s.restock(&t.owner, id, Quantity::units(stock), None)
            .unwrap();
    }
    id
}

fn reprice(t: &Till, id: ProductId, price: i64) {
    t.store
        .lock()
        .unwrap()
        .update_product(
            &t.owner,
            id,
            ProductUpdate {
                price: Some(kes(price)),
                ..Default::default()
            },
        )
        .unwrap();
}

fn server_price(server: &Server, id: ProductId) -> (i64, Option<i64>) {
    server
        .query()
        .query_row(
            "SELECT price_minor, deleted_at FROM products WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

fn server_sales(server: &Server) -> Vec<String> {
    let conn = server.query();
    let mut stmt = conn.prepare("SELECT id FROM sales ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn server_stock(server: &Server, id: ProductId) -> i64 {
    server
        .query()
        .query_row(
            "SELECT COALESCE(SUM(quantity_milli), 0) FROM stock_movements WHERE product_id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .unwrap()
}

fn sorted(ids: &[SaleId]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(ToString::to_string).collect();
    v.sort();
    v
}

/// The server's disk dies and the owner restores `backup`: the database is
/// replaced, given a new epoch (`whiz-backoffice restore-epoch`), and the
/// server starts again at the address the tills know.
async fn restore_backup(server: Server, dir: &std::path::Path, backup: &std::path::Path) -> Server {
    let url = server.url.clone();
    server.stop().await;
    let live = dir.join("backoffice.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", live.display()));
    }
    std::fs::copy(backup, &live).unwrap();
    {
        let conn = backoffice::db::open(&live, &pos_domain::SystemClock).unwrap();
        backoffice::db::restore_epoch(&conn, &pos_domain::SystemClock).unwrap();
    }
    restart_server(dir, &url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_from_a_stale_till_destroys_nothing_another_device_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let a = server.till(dir.path(), "a", "Westlands", "Till 1");
    let b = server.till(dir.path(), "b", "Westlands", "Till 2");
    a.sync().await;
    b.sync().await;
    let soda = add_product(&a, "Soda 500ml", 80_00, 20);
    a.sync().await;
    b.sync().await; // B knows the soda; from here on it is stale.

    // A keeps working: a new price, a new product, a sale.
    reprice(&a, soda, 90_00);
    let juice = add_product(&a, "Mango Juice", 120_00, 0);
    let sale_a = a.sell(soda, 3, 90_00);
    a.sync().await;
    // B, offline, sells two sodas at the old price.
    let sale_b = b.sell(soda, 2, 80_00);

    // The manager of B previews a Full Cloud Synchronization.
    let preview = b.engine.full_sync_preview().await.unwrap();
    let products = preview.entity(EntityKind::Product).unwrap();
    assert_eq!(products.to_add, Vec::<String>::new());
    assert_eq!(products.to_overwrite, [soda.to_string()]);
    assert_eq!(products.only_on_server, [juice.to_string()]);
    let sales = preview.entity(EntityKind::Sale).unwrap();
    // B's own sale went up with the push that starts a preview.
    assert!(sales.to_add.is_empty());
    assert_eq!(sales.only_on_server, [sale_a.to_string()]);
    assert_eq!(sales.unchanged, 1);
    assert_eq!(b.pending(), 0);

    let seen = Mutex::new(Vec::<FullSyncProgress>::new());
    let report = b
        .engine
        .full_sync_apply(&preview, FullSyncOptions::default(), &|p| {
            seen.lock().unwrap().push(p)
        })
        .await
        .unwrap();
    assert_eq!(report.overwritten, 1, "{report:?}");
    assert_eq!(report.added, 0);
    assert_eq!(report.removed, 0);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.last().unwrap().phase, FullSyncPhase::Done);
    let uploads: Vec<_> = seen
        .iter()
        .filter(|p| p.phase == FullSyncPhase::Uploading)
        .collect();
    assert!(uploads.windows(2).all(|w| w[0].done <= w[1].done));
    assert_eq!(uploads.last().unwrap().done, 1);

    // B's values won as a new version; A's version is kept, restorable.
    assert_eq!(server_price(&server, soda), (80_00, None));
    let kept: String = server
        .query()
        .query_row(
            "SELECT state FROM record_versions WHERE entity = 'product' AND entity_id = ?1",
            [soda.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(kept.contains("9000"), "the replaced state: {kept}");
    // Nothing A wrote is gone: its product is live, its sale counted once.
    assert_eq!(server_price(&server, juice), (120_00, None));
    assert_eq!(server_sales(&server), sorted(&[sale_a, sale_b]));
    assert_eq!(server_stock(&server, soda), 15_000);
    // B converged in the same run; A learns the new price on its next sync.
    assert_eq!(b.stock(soda), Quantity::units(15));
    assert!(b.store.lock().unwrap().product(juice).is_ok());
    a.sync().await;
    assert_eq!(
        a.store.lock().unwrap().product(soda).unwrap().price,
        kes(80_00)
    );
    assert_eq!(a.stock(soda), Quantity::units(15));

    // Records only on the server go only when the manager ticks it, softly.
    let water = add_product(&a, "Water 1l", 50_00, 0);
    a.sync().await;
    let preview = b.engine.full_sync_preview().await.unwrap();
    assert_eq!(
        preview.entity(EntityKind::Product).unwrap().only_on_server,
        [water.to_string()]
    );
    let untouched = b
        .engine
        .full_sync_apply(&preview, FullSyncOptions::default(), &|_| {})
        .await
        .unwrap();
    assert_eq!(untouched.removed, 0);
    assert_eq!(server_price(&server, water), (50_00, None));

    a.sync().await;
    let water2 = add_product(&a, "Water 500ml", 30_00, 0);
    a.sync().await;
    let preview = b.engine.full_sync_preview().await.unwrap();
    let report = b
        .engine
        .full_sync_apply(
            &preview,
            FullSyncOptions {
                remove_server_only: true,
            },
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.removed, 1, "{report:?}");
    let (price, deleted_at) = server_price(&server, water2);
    assert_eq!(price, 30_00, "soft: the row and its values stay");
    assert!(deleted_at.is_some());
    // Sales only on the server are never removed.
    assert_eq!(server_sales(&server), sorted(&[sale_a, sale_b]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_office_restored_from_an_older_backup_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let a = server.till(dir.path(), "a", "Westlands", "Till 1");
    let b = server.till(dir.path(), "b", "Westlands", "Till 2");
    a.sync().await;
    b.sync().await;
    let soda = add_product(&a, "Soda 500ml", 80_00, 50);
    let mut sales = vec![a.sell(soda, 1, 80_00)];
    a.sync().await;
    b.sync().await;

    // Last night's backup.
    let backup = dir.path().join("backup.sqlite3");
    server
        .query()
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();

    // The day goes on: both tills sell and sync, A changes a price.
    sales.push(a.sell(soda, 2, 80_00));
    reprice(&a, soda, 85_00);
    sales.push(a.sell(soda, 1, 85_00));
    a.sync().await;
    sales.push(b.sell(soda, 4, 85_00));
    b.sync().await;
    a.sync().await;
    assert_eq!(a.pending() + b.pending(), 0, "the server acknowledged all");

    // The server's disk dies; the owner restores last night's backup.
    let server = restore_backup(server, dir.path(), &backup).await;
    assert_eq!(server_sales(&server).len(), 1, "the backup has one sale");

    // A sold one more meanwhile (queued: its sequence is past what the
    // restored server expects).
    sales.push(a.sell(soda, 1, 85_00));
    let report = a.engine.sync_once().await.unwrap();
    assert!(report.recovered, "{report:?}");
    assert!(report.rebootstrapped, "{report:?}");
    assert_eq!(a.pending(), 0);
    // B had nothing queued: the new epoch alone tells it.
    let report = b.engine.sync_once().await.unwrap();
    assert!(report.rebootstrapped, "{report:?}");
    a.sync().await;

    // Every sale once, stock the sum of everything sold, the newer price.
    assert_eq!(server_sales(&server), sorted(&sales));
    assert_eq!(
        server_stock(&server, soda),
        (50 - 1 - 2 - 1 - 4 - 1) * 1_000
    );
    assert_eq!(server_price(&server, soda), (85_00, None));
    for t in [&a, &b] {
        assert_eq!(t.stock(soda), Quantity::units(41));
        assert_eq!(
            t.store.lock().unwrap().product(soda).unwrap().price,
            kes(85_00)
        );
    }
    // And the tills' next ops are accepted in sequence.
    sales.push(b.sell(soda, 1, 85_00));
    b.sync().await;
    assert_eq!(b.pending(), 0);
    assert_eq!(server_sales(&server), sorted(&sales));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_full_sync_resumes_without_applying_anything_twice() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let a = server.till(dir.path(), "a", "Westlands", "Till 1");
    let net = proxy(&server.url).await;
    let b = till(
        dir.path(),
        "b",
        &net.url,
        &server.add_till("Westlands", "Till 2"),
    );
    a.sync().await;
    b.sync().await;
    let products: Vec<ProductId> = (0..1_200)
        .map(|i| add_product(&a, &format!("Item {i:04}"), 100_00, 0))
        .collect();
    a.sync().await;
    b.sync().await;
    // A reprices everything; B, stale, will put its prices back.
    for &p in &products {
        reprice(&a, p, 110_00);
    }
    a.sync().await;

    // The answer to chunk 2 is lost after the server applied it: the chunk
    // is sent again and answered from the server's record.
    let preview = b.engine.full_sync_preview().await.unwrap();
    assert_eq!(
        preview
            .entity(EntityKind::Product)
            .unwrap()
            .to_overwrite
            .len(),
        1_200
    );
    let swallow = net.swallow.clone();
    let report = b
        .engine
        .full_sync_apply(&preview, FullSyncOptions::default(), &|p| {
            if p.phase == FullSyncPhase::Uploading && p.done == 500 {
                swallow.store(true, Ordering::SeqCst);
                let swallow = swallow.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(1_200));
                    swallow.store(false, Ordering::SeqCst);
                });
            }
        })
        .await
        .unwrap();
    assert_eq!(report.overwritten, 1_200, "{report:?}");
    assert!(report.repeated_chunks >= 1, "{report:?}");
    let versions = |server: &Server| -> i64 {
        server
            .query()
            .query_row(
                "SELECT COUNT(*) FROM record_versions WHERE entity = 'product'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(versions(&server), 1_200, "each product replaced once");
    assert_eq!(server_price(&server, products[700]), (100_00, None));

    // Again, and this time the network goes for good after the first chunk.
    a.sync().await;
    for &p in &products {
        reprice(&a, p, 120_00);
    }
    a.sync().await;
    let preview = b.engine.full_sync_preview().await.unwrap();
    let down = net.down.clone();
    let err = b
        .engine
        .full_sync_apply(&preview, FullSyncOptions::default(), &|p| {
            if p.phase == FullSyncPhase::Uploading && p.done == 500 {
                down.store(true, Ordering::SeqCst);
            }
        })
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    net.down.store(false, Ordering::SeqCst);
    // Running it again resumes: what landed previews as unchanged.
    let preview = b.engine.full_sync_preview().await.unwrap();
    let products_left = preview.entity(EntityKind::Product).unwrap();
    assert_eq!(products_left.to_overwrite.len(), 700);
    assert_eq!(products_left.unchanged, 500);
    let report = b
        .engine
        .full_sync_apply(&preview, FullSyncOptions::default(), &|_| {})
        .await
        .unwrap();
    assert_eq!(report.overwritten, 700);
    assert_eq!(versions(&server), 2_400);
    for &p in &products {
        assert_eq!(server_price(&server, p), (100_00, None));
    }
    server.stop().await;
}

/// The server's stock of `product` at `till`'s branch, in units.
fn server_level(server: &Server, product: ProductId, till: &Till) -> i64 {
    let branch = till.store.lock().unwrap().identity().branch_id;
    server
        .query()
        .query_row(
            "SELECT COALESCE(SUM(quantity_milli), 0) FROM stock_movements
             WHERE product_id = ?1 AND branch_id = ?2",
            [product.to_string(), branch.to_string()],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        / 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_go_up_whole_from_each_end_and_are_never_counted_twice() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let a = server.till(dir.path(), "a", "Westlands", "Till 1");
    let b = server.till(dir.path(), "b", "CBD", "Till 1");
    a.sync().await;
    b.sync().await;
    let soda = add_product(&a, "Soda 500ml", 80_00, 20);
    a.sync().await;
    b.sync().await;
    let backup = dir.path().join("backup.sqlite3");
    server
        .query()
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();

    // Westlands sends 10 sodas to CBD, which counts 9.
    let cbd = b.store.lock().unwrap().identity().branch_id;
    let transfer = a
        .store
        .lock()
        .unwrap()
        .send_transfer(&a.owner, cbd, &[(soda, Quantity::units(10))], None)
        .unwrap();
    a.sync().await;
    b.sync().await;
    b.store
        .lock()
        .unwrap()
        .receive_transfer(&b.owner, transfer.id, &[Quantity::units(9)], None)
        .unwrap();
    b.sync().await;
    a.sync().await;
    assert_eq!(
        (
            server_level(&server, soda, &a),
            server_level(&server, soda, &b)
        ),
        (10, 9)
    );

    // A Full Cloud Synchronization from either end finds it all there: the
    // transfer's movements travel with the transfer and its receipt, not
    // again on their own (which would count them twice).
    for (t, kind) in [
        (&a, EntityKind::Transfer),
        (&b, EntityKind::TransferReceipt),
    ] {
        let preview = t.engine.full_sync_preview().await.unwrap();
        for k in [
            EntityKind::Transfer,
            EntityKind::TransferReceipt,
            EntityKind::StockMovement,
        ] {
            let part = preview.entity(k).unwrap();
            assert!(part.to_add.is_empty(), "{k:?}: {part:?}");
        }
        assert_eq!(preview.entity(kind).unwrap().unchanged, 1, "{kind:?}");
        let report = t
            .engine
            .full_sync_apply(&preview, FullSyncOptions::default(), &|_| {})
            .await
            .unwrap();
        assert_eq!(report.added, 0, "{report:?}");
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    }
    assert_eq!(
        (
            server_level(&server, soda, &a),
            server_level(&server, soda, &b)
        ),
        (10, 9)
    );

    // The Back Office is restored from the backup made before the transfer.
    // Each end uploads what it wrote — Westlands the transfer, CBD its
    // receipt — each with its movements, and the state comes back whole.
    let server = restore_backup(server, dir.path(), &backup).await;
    assert_eq!(server_level(&server, soda, &a), 20, "the backup");
    for t in [&a, &b] {
        let report = t.engine.sync_once().await.unwrap();
        assert!(report.recovered, "{report:?}");
    }
    assert_eq!(
        (
            server_level(&server, soda, &a),
            server_level(&server, soda, &b)
        ),
        (10, 9)
    );
    let (sent, received): (i64, i64) = server
        .query()
        .query_row(
            "SELECT (SELECT quantity_milli FROM transfer_lines WHERE transfer_id = ?1),
                    (SELECT rl.quantity_milli FROM transfer_receipts r
                     JOIN transfer_receipt_lines rl ON rl.receipt_id = r.id
                     WHERE r.transfer_id = ?1)",
            [transfer.id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((sent, received), (10_000, 9_000));
    for t in [&a, &b] {
        assert_eq!(t.pending(), 0);
        let seen = t.store.lock().unwrap().transfer(transfer.id).unwrap();
        assert_eq!(
            seen.state(),
            pos_store::transfers::TransferState::ReceivedWithDiscrepancy
        );
    }
    assert_eq!(a.stock(soda), Quantity::units(10));
    assert_eq!(b.stock(soda), Quantity::units(9));
    server.stop().await;
}
