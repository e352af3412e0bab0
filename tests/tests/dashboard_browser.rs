//! The Back Office dashboard in a real browser: headless Chromium (Debian's
//! `/usr/bin/chromium`) driven by `tests/browser/dashboard.mjs`
//! (playwright-core), against a real Back Office on 127.0.0.1, with real
//! tills (`pos-store` + `pos-sync`) on the other side.
//!
//! An owner signs in on a fresh install (a wrong password first), visits
//! every page, changes a product's price, adds a branch, sends it 5 of a
//! product and receives 4 there (flagged as a discrepancy), and creates a
//! device key for a branch; a desktop sync engine with that key pulls the new price and its
//! sale arrives on the Back Office exactly once, where the owner sees it.
//! The owner revokes the key: the till's next push is refused with 403 and
//! its sale stays queued. Screenshots of each page go to
//! `target/e2e-artifacts/dashboard/`.
//!
//! Needs Node.js, `npm ci --prefix tests/browser` and Chromium: run it with
//! `scripts/dashboard-e2e.sh`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backoffice::web::Role;
use common::steps::{Steps, fresh_artifacts, screenshots, workspace_root};
use common::{Server, Till, start_server, till};
use pos_domain::SystemClock;
use pos_sync::{ClientError, SyncError};
use sync_protocol::{ErrorBody, ErrorCode};

const USERNAME: &str = "owner";
const PASSWORD: &str = "chai-na-mandazi-2580";
const PRODUCT: &str = "Chai";
const NEW_PRICE: &str = "150.00";
const BRANCH: &str = "Main";
const DEVICE: &str = "Till 2";
/// The branch the owner adds in the browser.
const NEW_BRANCH: &str = "Westlands";
/// How long one run of the browser script may take, at most.
const BROWSER_DEADLINE: Duration = Duration::from_secs(240);

/// Runs `node tests/browser/dashboard.mjs <phase>` with `vars` (its progress
/// shown as it goes) and returns the JSON line it printed.
async fn browser(
    phase: &str,
    server: &Server,
    artifacts: &Path,
    vars: &[(&str, &str)],
) -> serde_json::Value {
    let root = workspace_root();
    let script = root.join("tests/browser/dashboard.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "tests/browser/node_modules is missing: run `npm ci --prefix tests/browser` \
         (scripts/dashboard-e2e.sh does)"
    );
    let node = std::env::var("WHIZ_NODE").unwrap_or_else(|_| "node".into());
    let mut cmd = Command::new(&node);
    cmd.arg(&script)
        .arg(phase)
        .current_dir(root.join("tests/browser"))
        .env("WHIZ_BASE_URL", &server.url)
        .env("WHIZ_USERNAME", USERNAME)
        .env("WHIZ_PASSWORD", PASSWORD)
        .env("WHIZ_SCREENSHOTS", artifacts)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let phase_name = phase.to_string();
    let output = tokio::time::timeout(
        BROWSER_DEADLINE,
        tokio::task::spawn_blocking(move || cmd.output()),
    )
    .await
    .unwrap_or_else(|_| panic!("the browser's {phase_name} took over {BROWSER_DEADLINE:?}"))
    .unwrap()
    .unwrap_or_else(|e| panic!("could not run {node} (is Node.js installed?): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser's {phase} failed ({}); see its messages above and the screenshots in {}",
        output.status,
        artifacts.display()
    );
    eprintln!(
        "  browser {phase}: done in {} ms",
        started.elapsed().as_millis()
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("the browser's {phase} printed no JSON result: {stdout:?}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON from the browser {line:?}: {e}"))
}

/// The till's copy of `name`: its id and price in minor units.
fn product_on(till: &Till, name: &str) -> (pos_domain::ProductId, i64) {
    let store = till.store.lock().unwrap();
    let found = store.search_products(name, 20).unwrap();
    let p = found
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("the till has no product {name:?}: {found:?}"));
    (p.id, p.price.minor())
}

/// How many times the Back Office holds sale `id`, with its receipt number.
fn server_sales(server: &Server, id: &str) -> (i64, Option<String>) {
    server
        .query()
        .query_row(
            "SELECT COUNT(*), MAX(receipt_no) FROM sales WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node; run by scripts/dashboard-e2e.sh"]
async fn owner_changes_a_price_keys_a_till_sees_its_sale_and_revokes_it() {
    let artifacts = fresh_artifacts("dashboard");
    let dir = tempfile::tempdir().unwrap();
    let mut steps = Steps::default();

    // 1. A fresh Back Office with an owner account and a product that a
    //    till of branch Main made.
    steps.start(
        1,
        "Back Office up, owner account, Chai at 100.00 from a till",
    );
    let server = start_server(dir.path()).await;
    {
        let conn = backoffice::db::open(&server.path, &SystemClock).unwrap();
        backoffice::web::session::add_account(
            &conn,
            &SystemClock,
            USERNAME,
            "Owner Wanjiku",
            Role::Owner,
            PASSWORD,
        )
        .unwrap();
    }
    let seed = server.till(dir.path(), "seed", BRANCH, "Till 1");
    seed.sync().await;
    seed.add_product(PRODUCT, 100_00);
    seed.sync().await;
    assert_eq!(seed.pending(), 0, "Chai reached the Back Office");
    eprintln!("  Back Office at {}", server.url);

    // 2. In the browser: sign in, every page, the new price, a key.
    steps.start(
        2,
        "browser: sign in, every page, Chai to 150.00, a branch, a desktop key for Till 2",
    );
    let out = browser(
        "setup",
        &server,
        &artifacts,
        &[
            ("WHIZ_PRODUCT", PRODUCT),
            ("WHIZ_NEW_PRICE", NEW_PRICE),
            ("WHIZ_BRANCH", BRANCH),
            ("WHIZ_DEVICE_NAME", DEVICE),
            ("WHIZ_NEW_BRANCH", NEW_BRANCH),
        ],
    )
    .await;
    let key = out["key"]
        .as_str()
        .unwrap_or_else(|| panic!("no key in the browser's answer {out}"))
        .to_string();
    assert!(key.starts_with("whiz_"), "the key shown: {key:?}");
    let branches: i64 = server
        .query()
        .query_row(
            "SELECT COUNT(*) FROM branches WHERE name = ?1",
            [NEW_BRANCH],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(branches, 1, "the branch added in the browser");
    // The transfer sent and received in the browser: 5 of Chai left Main,
    // 4 arrived at Westlands, flagged.
    let db = server.query();
    let lines: Vec<(i64, i64)> = db
        .prepare(
            "SELECT l.quantity_milli, rl.quantity_milli FROM transfer_lines l
             JOIN transfer_receipts r ON r.transfer_id = l.transfer_id
             JOIN transfer_receipt_lines rl ON rl.receipt_id = r.id AND rl.line_no = l.line_no",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(lines, vec![(5_000, 4_000)], "one line: 5 sent, 4 received");
    let level = |branch: &str| -> i64 {
        db.query_row(
            "SELECT COALESCE(SUM(l.quantity_milli), 0) FROM stock_levels l
             JOIN branches b ON b.id = l.branch_id JOIN products p ON p.id = l.product_id
             WHERE b.name = ?1 AND p.name = ?2",
            [branch, PRODUCT],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(
        (level(BRANCH), level(NEW_BRANCH)),
        (-5_000, 4_000),
        "Chai at Main and at Westlands after the transfer"
    );
    drop(db);

    // 3. A desktop sync engine with that key pulls the new price; its sale
    //    reaches the Back Office exactly once.
    steps.start(
        3,
        "a till with the new key pulls 150.00; its sale arrives once",
    );
    let till2 = till(dir.path(), "till2", &server.url, &key);
    let pulled = till2.engine.pull_updates().await;
    assert!(
        pulled.is_ok(),
        "Till 2's pull failed: {}",
        pulled.unwrap_err()
    );
    let (chai, price) = product_on(&till2, PRODUCT);
    assert_eq!(price, 150_00, "Till 2's price of Chai after the pull");
    let sale = till2.sell(chai, 1, 150_00);
    let receipt = till2.store.lock().unwrap().sale(sale).unwrap().receipt_no;
    let pushed = till2.engine.push_pending().await;
    assert!(
        pushed.is_ok(),
        "Till 2's push failed: {}",
        pushed.unwrap_err()
    );
    assert_eq!(till2.pending(), 0, "Till 2's outbox after the push");
    // A second push sends nothing again.
    assert!(till2.engine.push_pending().await.is_ok());
    assert_eq!(
        server_sales(&server, &sale.to_string()),
        (1, Some(receipt.clone())),
        "sale {receipt} on the Back Office"
    );
    eprintln!("  sale {receipt} on the Back Office");

    // 4. In the browser: the sale on /sales, its page; revoke Till 2.
    steps.start(4, "browser: the sale on /sales, its page; revoke Till 2");
    browser(
        "revoke",
        &server,
        &artifacts,
        &[("WHIZ_RECEIPT", &receipt), ("WHIZ_DEVICE_NAME", DEVICE)],
    )
    .await;

    // 5. The revoked key: the till's next push is a 403, the sale stays.
    steps.start(5, "revoked: the next push is refused (403), the sale kept");
    let sale2 = till2.sell(chai, 2, 150_00);
    let refused = till2.engine.push_pending().await;
    match &refused {
        Err(SyncError::Client(ClientError::Server {
            status: 403,
            code: ErrorCode::Forbidden,
            message,
            ..
        })) => eprintln!("  refused: {message}"),
        other => panic!("Till 2's push after the revoke: expected a 403, got {other:?}"),
    }
    let status = till2.engine.status();
    let last = status.last_error.clone().unwrap_or_default();
    assert!(
        last.contains("revoked"),
        "Till 2's sync status names the revoked key: {last:?}"
    );
    assert!(till2.pending() >= 1, "the sale waits in Till 2's outbox");
    assert!(
        till2.store.lock().unwrap().sale(sale2).is_ok(),
        "the sale is kept on Till 2"
    );
    assert_eq!(
        server_sales(&server, &sale2.to_string()).0,
        0,
        "the sale after the revoke is not on the Back Office"
    );
    let res = reqwest::Client::new()
        .post(format!("{}/api/sync", server.url))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(r#"{"ops":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        403,
        "POST /api/sync with the revoked key"
    );
    let body: ErrorBody = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(body.error.code, ErrorCode::Forbidden);
    // The other till of the branch is not affected.
    assert!(seed.engine.sync_once().await.is_ok(), "Till 1 still syncs");

    steps.finish();
    drop(steps);
    server.stop().await;
    let shots = screenshots(&artifacts);
    eprintln!("screenshots ({}): {}", shots.len(), shots.join(", "));
    eprintln!("artifacts: {}", artifacts.display());
}
