//! Faults between a real till and the real Back Office.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{kes, start_server, till};
use pos_domain::{Name, Quantity, Sku, TaxCode};
use pos_store::catalog::NewProduct;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy in front of the Back Office that, while `swallow` is set,
/// lets requests through but drops the server's answers on the floor and
/// hangs up — the server has done the work, the till never hears of it.
struct Proxy {
    url: String,
    swallow: Arc<AtomicBool>,
}

async fn proxy(to: SocketAddr) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let swallow = Arc::new(AtomicBool::new(false));
    let flag = swallow.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let flag = flag.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(to).await else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
                });
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = from_server.read(&mut buf).await {
                    if n == 0 || flag.load(Ordering::SeqCst) {
                        break; // hang up without passing the answer on
                    }
                    if to_client.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    Proxy { url, swallow }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_retried_and_the_sale_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let key = server.add_till("Westlands", "Till 1");
    let proxy = proxy(server.url.trim_start_matches("http://").parse().unwrap()).await;
    let t = till(dir.path(), "a", &proxy.url, &key);
    t.sync().await;

    let soda = t
        .store
        .lock()
        .unwrap()
        .create_product(
            &t.owner,
            NewProduct {
                name: Name::parse("name", "Soda 500ml").unwrap(),
                sku: Some(Sku::parse("SODA").unwrap()),
                barcode: None,
                category_id: None,
                price: kes(80_00),
                tax_code: TaxCode::parse("VAT16").unwrap(),
                image: None,
                track_stock: true,
                low_stock: None,
            },
        )
        .unwrap()
        .id;
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
