//! The real `whiz-backoffice` binary killed (SIGKILL) in the middle of a
//! push: nothing partial is visible after it restarts, and the till's retry
//! completes — every sale once.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use backoffice::devices::{self, DeviceKind};
use common::{T0, Till, new_product};
use pos_domain::{Hlc, HlcClock, ManualClock, ProductId, Timestamp, UserId};
use rusqlite::Connection;
use sync_protocol::{OpBody, OpOutcome, PushRequest, PushResponse};

/// The server process; killed when dropped, so a failing test leaves none behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(db: &Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_whiz-backoffice"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
        ])
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start whiz-backoffice");
    let server = Server(child);
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(res) = client
            .get(format!("http://127.0.0.1:{port}/api/status"))
            .send()
            .await
            && res.status() == 200
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("whiz-backoffice did not come up on port {port}");
}

fn counts(db: &Path) -> (i64, i64, i64, i64) {
    let conn = Connection::open(db).unwrap();
    let q = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    (
        q("SELECT COUNT(*) FROM sales"),
        q("SELECT COUNT(*) FROM stock_movements"),
        q("SELECT COUNT(*) FROM applied_ops"),
        q("SELECT MAX(last_seq) FROM devices"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_push_the_server_keeps_nothing_partial_and_the_retry_completes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("backoffice.sqlite3");
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
    let new = {
        let mut conn = backoffice::db::open(&db, clock.as_ref()).unwrap();
        devices::add_device(
            &mut conn,
            clock.as_ref(),
            "Westlands",
            "Till 1",
            DeviceKind::Desktop,
        )
        .unwrap()
    };
    let mut till = Till {
        key: new.api_key,
        device_id: new.device.id,
        branch_id: new.device.branch_id,
        code: new.device.code,
        branch_code: new.device.branch_code,
        seq: 0,
        hlc: HlcClock::resume(Hlc::node_of(new.device.id), Hlc::ZERO),
        clock: clock.clone(),
        receipts: 0,
        cashier: UserId::new(),
    };
    let soda = ProductId::new();
    let mut ops = vec![
        till.cashier_op(),
        till.op(new_product(soda, "Soda 500ml", 80_00)),
    ];
    for _ in 0..498 {
        let sale = till.sale(&[
            (soda, "Soda 500ml", 80_00, 1),
            (soda, "Soda 500ml", 80_00, 2),
        ]);
        ops.push(till.op(OpBody::SaleRecorded(sale)));
    }
    let client = reqwest::Client::new();
    let push = |port: u16| {
        client
            .post(format!("http://127.0.0.1:{port}/api/sync"))
            .bearer_auth(&till.key)
            .json(&PushRequest { ops: ops.clone() })
            .send()
    };

    // Push 500 ops and kill the server while it works on them.
    let port = free_port();
    let mut server = serve(&db, port).await;
    let pushing = tokio::spawn(push(port));
    tokio::time::sleep(Duration::from_millis(120)).await;
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let answered = pushing.await.unwrap().is_ok_and(|r| r.status() == 200);

    // All or nothing: never a sale without its movements, never ops half-recorded.
    let (sales, movements, applied, last_seq) = counts(&db);
    if answered {
        assert_eq!((sales, movements, applied, last_seq), (498, 996, 500, 500));
    } else {
        assert!(
            (sales, movements, applied, last_seq) == (0, 0, 0, 0)
                || (sales, movements, applied, last_seq) == (498, 996, 500, 500),
            "partial push visible: {sales} sales, {movements} movements, {applied} ops, last seq {last_seq}"
        );
    }

    // Restarted, the till's retry completes: every sale once.
    let port = free_port();
    let _server = serve(&db, port).await;
    let res = push(port).await.unwrap();
    assert_eq!(res.status(), 200);
    let answer: PushResponse = res.json().await.unwrap();
    assert_eq!(answer.results.len(), 500);
    assert!(
        answer
            .results
            .iter()
            .all(|r| matches!(r.outcome, OpOutcome::Applied | OpOutcome::Duplicate))
    );
    assert_eq!(counts(&db), (498, 996, 500, 500));
}
