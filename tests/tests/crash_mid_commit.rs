//! A till killed mid-commit keeps every sale whole or not at all.
//!
//! A child process (`till_crash_child`) rings up sales in a loop on a real
//! database file with power-safe durability. The test SIGKILLs it — at random
//! moments, and once while it is provably inside a checkout transaction — then
//! reopens the database and checks:
//! - every sale has exactly its lines, payments and stock movements, and
//!   exactly one outbox op that carries the same sale, and every op has its sale;
//! - every sale the child reported as committed is there (durability);
//! - stock levels equal the sum of their movements; the file passes integrity_check.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use pos_domain::SystemClock;
use pos_store::{Durability, Store};
use sync_protocol::OpBody;

const CHILD: &str = env!("CARGO_BIN_EXE_till_crash_child");

fn spawn(db: &Path, owner: &str) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new(CHILD)
        .arg(db)
        .arg(owner)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child till");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("child output");
    assert_eq!(line.trim(), "ready", "child did not start");
    (child, out)
}

/// Reads the child's output until it exits; returns the receipts it committed.
fn committed(out: BufReader<ChildStdout>) -> BTreeSet<String> {
    out.lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            l.strip_prefix("committed ")
                .map(|r| r.split(' ').next().unwrap_or("").to_string())
        })
        .collect()
}

/// Checks that sales and outbox ops match one to one, and returns the sale ids.
fn check_consistent(db: &Path) -> BTreeSet<String> {
    let store = Store::open_with(db, Arc::new(SystemClock), Durability::PowerSafe).expect("reopen");
    let conn = store.conn();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");

    let sales: BTreeSet<String> = conn
        .prepare("SELECT id FROM sales")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut ops: HashMap<String, usize> = HashMap::new();
    for entry in store.outbox_pending(1_000_000).unwrap() {
        if let OpBody::SaleRecorded(sale) = entry.op.body {
            // The op carries exactly the sale that is in the database.
            assert_eq!(store.sale(sale.id).expect("op without its sale"), sale);
            *ops.entry(sale.id.to_string()).or_default() += 1;
        }
    }
    assert_eq!(
        ops.keys().cloned().collect::<BTreeSet<_>>(),
        sales,
        "sales and ops differ"
    );
    assert!(ops.values().all(|n| *n == 1), "a sale has more than one op");

    for id in &sales {
        let (lines, payments, movements): (i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM sale_lines WHERE sale_id = ?1),
                        (SELECT COUNT(*) FROM payments WHERE sale_id = ?1),
                        (SELECT COUNT(*) FROM stock_movements WHERE sale_id = ?1)",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            (lines, payments, movements),
            (3, 1, 3),
            "sale {id} is partial"
        );
    }
    let bad_levels: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM stock_levels l
             WHERE l.quantity_milli <> (SELECT COALESCE(SUM(m.quantity_milli), 0) FROM stock_movements m
                                        WHERE m.product_id = l.product_id AND m.branch_id = l.branch_id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        bad_levels, 0,
        "a stock level differs from the sum of its movements"
    );
    // Receipt numbers are gapless: a killed transaction gave its number back.
    let (count, max): (i64, Option<String>) = conn
        .query_row("SELECT COUNT(*), MAX(receipt_no) FROM sales", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    if let Some(max) = max {
        assert_eq!(max, format!("MAIN-T1-{count:06}"));
    }
    sales
}

fn receipts(db: &Path) -> BTreeSet<String> {
    let store = Store::open_with(db, Arc::new(SystemClock), Durability::PowerSafe).unwrap();
    store
        .conn()
        .prepare("SELECT id FROM sales")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn killed_at_random_moments_every_sale_is_whole_with_its_op() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("till.sqlite3");
    let owner = whiz_tests::seed_till(&db, 3).unwrap().user_id.to_string();
    // Kill after a varying number of commits plus a varying delay, so the kill
    // lands anywhere in the checkout cycle.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut all_committed = BTreeSet::new();
    for round in 0..12 {
        let (mut child, mut out) = spawn(&db, &owner);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let wait_commits = 2 + (seed >> 33) % 20;
        let mut seen = 0;
        let mut line = String::new();
        while seen < wait_commits {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                panic!("child exited early in round {round}");
            }
            if line.starts_with("committed ") {
                seen += 1;
                all_committed.insert(line.split(' ').nth(1).unwrap().to_string());
            }
        }
        std::thread::sleep(Duration::from_micros((seed >> 40) % 3000));
        child.kill().unwrap(); // SIGKILL: no destructors, no rollback, no flush.
        child.wait().unwrap();
        all_committed.extend(committed(out));
        let sales = check_consistent(&db);
        assert!(
            all_committed.is_subset(&sales),
            "round {round}: a committed sale was lost"
        );
    }
    assert!(all_committed.len() >= 24);
}

#[test]
fn killed_inside_the_checkout_transaction_nothing_of_that_sale_remains() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("till.sqlite3");
    let owner = whiz_tests::seed_till(&db, 3).unwrap().user_id.to_string();

    // A first run commits a few sales normally.
    let (mut child, mut out) = spawn(&db, &owner);
    let mut line = String::new();
    while !line.starts_with("committed ") {
        line.clear();
        out.read_line(&mut line).unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = check_consistent(&db);

    // Make checkouts hang after the sale, its lines and payments are written
    // but before the stock movements and the outbox op: a trigger that spins.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE spin (x INTEGER);
             INSERT INTO spin SELECT value FROM generate_series(1, 1000);
             CREATE TRIGGER hang_mid_checkout AFTER INSERT ON payments BEGIN
                 SELECT COUNT(*) FROM spin a, spin b, spin c, spin d;
             END;",
        )
        .unwrap_or_else(|_| {
            // generate_series is an extension some builds lack: fill by hand.
            conn.execute_batch("CREATE TABLE IF NOT EXISTS spin (x INTEGER)")
                .unwrap();
            for i in 0..1000 {
                conn.execute("INSERT INTO spin VALUES (?1)", [i]).unwrap();
            }
            conn.execute_batch(
                "CREATE TRIGGER hang_mid_checkout AFTER INSERT ON payments BEGIN
                     SELECT COUNT(*) FROM spin a, spin b, spin c, spin d;
                 END;",
            )
            .unwrap();
        });
    }
    let (mut child, mut out) = spawn(&db, &owner);
    line.clear();
    out.read_line(&mut line).unwrap();
    let hung_sale = line
        .trim()
        .strip_prefix("begin ")
        .expect("child began a sale")
        .to_string();
    // The sale is now being written; give it time to reach the spinning trigger.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "child should be stuck mid-transaction"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(committed(out).is_empty());

    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("DROP TRIGGER hang_mid_checkout; DROP TABLE spin;")
            .unwrap();
    }
    let after = check_consistent(&db);
    assert_eq!(after, before, "the killed sale left something behind");
    assert!(!receipts(&db).contains(&hung_sale));
}
