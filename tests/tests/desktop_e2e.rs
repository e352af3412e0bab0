//! The desktop app end to end: the real `whiz-pos` binary (Tauri v2 on
//! WebKitGTK) driven through its UI by `tauri-driver`, against a real
//! `whiz-backoffice` on 127.0.0.1.
//!
//! A cashier's day: first run, connecting to the Back Office, logging in,
//! pulling the catalog, a three-line cash sale, pushing it, a price change
//! from the Back Office, and a sale while the Back Office is down that
//! arrives exactly once when it is back; then a manager's stock transfer to
//! another branch (pulled from the Back Office) sent from the Transfers
//! screen and pushed. Screenshots of the main screens go to
//! `target/e2e-artifacts/desktop/`.
//!
//! Needs the built app, `tauri-driver`, WebKitWebDriver, a display and a
//! D-Bus session: run it with `scripts/desktop-e2e.sh`.

#[path = "../desktop/mod.rs"]
mod desktop;

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::steps::{Steps, fresh_artifacts, screenshots};
use common::{Server, kes, new_product, restart_server, start_server};
use desktop::{Driver, ENTER, Ui, app_binary, app_env, css, keystore};
use pos_domain::Barcode;
use pos_store::catalog::ProductUpdate;
use pos_sync::{ApiKey, BackOffice};
use sync_protocol::ChangeBody;

const OWNER: &str = "Wanjiku Owner";
const PIN: &str = "2580";
const BREAD_BARCODE: &str = "6161101600019";

/// Copies the app's own log files next to the screenshots, for whoever
/// reads a failure.
fn keep_app_logs(data_dir: &Path, artifacts: &Path) {
    let logs = data_dir.join("logs");
    if let Ok(entries) = std::fs::read_dir(&logs) {
        let out = artifacts.join("app-logs");
        let _ = std::fs::create_dir_all(&out);
        for e in entries.flatten() {
            let _ = std::fs::copy(e.path(), out.join(e.file_name()));
        }
    }
}

/// Did Settings > Test connection report success? The result element says
/// so by `data-ok`/`data-state`/`data-status` or, failing those, its text.
async fn connection_ok(ui: &Ui) -> Result<String, String> {
    let sel = css("settings-connection-result", &[]);
    let e = ui.first(&sel).await?;
    let text = e.text().await.map_err(|e| e.to_string())?;
    for attr in ["data-ok", "data-state", "data-status", "data-result"] {
        if let Ok(Some(v)) = e.attr(attr).await {
            let v = v.to_ascii_lowercase();
            if ["true", "ok", "success", "connected", "online", "synced"].contains(&v.as_str()) {
                return Ok(text);
            }
            if ["false", "error", "failed", "fail", "unreachable"].contains(&v.as_str()) {
                return Err(format!("{attr}={v:?}, text {text:?}"));
            }
        }
    }
    let lower = text.to_ascii_lowercase();
    let good = ["connected", "success", "ok", "reachable"]
        .iter()
        .any(|w| lower.contains(w));
    let bad = ["fail", "error", "unreachable", "refused", "invalid", "not "]
        .iter()
        .any(|w| lower.contains(w));
    if good && !bad {
        Ok(text)
    } else {
        Err(format!("text {text:?}"))
    }
}

/// Sync page: waits for `data-count` of the pending count to satisfy `ok`.
async fn wait_pending(ui: &Ui, what: &str, ok: impl Fn(u64) -> bool) -> u64 {
    let v = ui
        .wait_attr("sync-pending-count", "data-count", what, |v| {
            v.parse::<u64>().map(&ok).unwrap_or(false)
        })
        .await;
    v.parse().unwrap()
}

async fn wait_indicator(ui: &Ui, state: &str) {
    ui.wait_attr(
        "sync-indicator",
        "data-state",
        &format!("the sync indicator to show {state:?}"),
        |v| v == state,
    )
    .await;
}

/// Presses Pull Updates and waits for the last pull's time (`data-at`) to
/// change and the buttons to be enabled again.
async fn pull_updates(ui: &Ui) {
    ui.click_id("nav-sync").await;
    ui.wait_id("sync-state").await;
    let last_pull = css("sync-last-pull", &[]);
    let before = ui.attr(&last_pull, "data-at").await.unwrap_or_default();
    ui.click_id("pull-updates").await;
    ui.until(
        "Pull Updates to finish (sync-last-pull data-at changes)",
        async || {
            let now = ui.attr(&last_pull, "data-at").await?;
            let idle = ui
                .first(&css("pull-updates", &[]))
                .await?
                .is_enabled()
                .await
                .unwrap_or(false);
            if now != before && !now.is_empty() && idle {
                Ok(())
            } else {
                Err(format!(
                    "sync-last-pull data-at {now:?}, buttons enabled: {idle}"
                ))
            }
        },
    )
    .await;
}

/// How many times the Back Office's API serves the sale with `receipt_no`
/// to another device of its branch (reading the whole pull feed with
/// `auditor`'s key), with its line count and total.
async fn server_sale(auditor: &BackOffice, receipt_no: &str) -> (i64, i64, i64) {
    let (mut count, mut lines, mut total) = (0, 0, 0);
    let mut cursor = None;
    loop {
        let page = auditor
            .pull(cursor, 1_000)
            .await
            .expect("the Back Office serves its pull feed");
        for change in &page.changes {
            if let ChangeBody::Sale(sale) = &change.body
                && sale.receipt_no == receipt_no
            {
                count += 1;
                lines = sale.lines.len() as i64;
                total = sale.total.minor();
            }
        }
        cursor = Some(page.next_cursor);
        if !page.has_more {
            return (count, lines, total);
        }
    }
}

/// Every file below `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

async fn stop_server(server: Server) {
    tokio::time::timeout(Duration::from_secs(15), server.stop())
        .await
        .expect("the Back Office stops within 15 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built desktop app, tauri-driver and a display: run by scripts/desktop-e2e.sh"]
async fn desktop_app_sells_syncs_and_survives_a_back_office_outage() {
    let artifacts = fresh_artifacts("desktop");
    let server_dir = tempfile::tempdir().unwrap();
    let app_dir = tempfile::tempdir().unwrap();
    let data_dir = app_dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    // A step that panics is reported as failed, and the app's logs are kept.
    let mut steps = Steps::with_cleanup({
        let (data_dir, artifacts) = (data_dir.clone(), artifacts.clone());
        move || keep_app_logs(&data_dir, &artifacts)
    });

    // 1. The Back Office, a key for the app, and a catalog made by another
    //    device of the same branch (so the app gets it by pulling).
    steps.start(1, "Back Office up, device key provisioned, catalog seeded");
    let mut server = start_server(server_dir.path()).await;
    let url = server.url.clone();
    let auditor = BackOffice::new(
        &url,
        ApiKey::parse(&server.add_till("Westlands", "Auditor")).unwrap(),
    )
    .unwrap();
    let key = server.add_till("Westlands", "Front till");
    // A second branch (created with its first device), which the app learns
    // of by pulling: the destination of the transfer in step 9.
    server.add_till("CBD", "CBD till");
    let admin = server.till(server_dir.path(), "admin", "Westlands", "Back room");
    admin.sync().await;
    let tusker = admin.add_product("Tusker 500ml", 250_00);
    admin.add_product("Coca-Cola 500ml", 80_00);
    admin.add({
        let mut p = new_product("Bread 400g", 65_00);
        p.barcode = Some(Barcode::parse(BREAD_BARCODE).unwrap());
        p
    });
    admin.add_product("Milk 500ml", 60_00);
    admin.sync().await;
    assert_eq!(admin.pending(), 0, "the catalog reached the Back Office");

    // 2. First run on an empty data dir: create the owner, connect.
    steps.start(2, "first run: owner created, connection saved and tested");
    let app = app_binary("debug");
    let store = keystore();
    eprintln!("  app {} (key store: {store})", app.display());
    let driver = Driver::start(
        &app_env(&data_dir, &store, 3600),
        &artifacts.join("tauri-driver.log"),
    )
    .await;
    let mut ui = driver.session(&app).await;
    ui.artifacts = Some(artifacts.clone());
    ui.wait_id("owner-name").await;
    ui.screenshot(&artifacts, "01-first-run").await;
    ui.type_into("owner-name", OWNER).await;
    ui.type_into("owner-pin", PIN).await;
    ui.click_id("owner-create").await;
    ui.wait_id("current-user").await;
    ui.click_id("nav-settings").await;
    ui.type_into("settings-backoffice-url", &url).await;
    ui.type_into("settings-api-key", &key).await;
    ui.click_id("settings-save-connection").await;
    ui.click_id("settings-test-connection").await;
    let result = ui
        .until("Test connection to report success", async || {
            connection_ok(&ui).await
        })
        .await;
    eprintln!("  connection test: {result:?}");
    ui.screenshot(&artifacts, "09-settings").await;
    if let Some(ms) = driver.ui_ready_ms() {
        eprintln!("  app reported: ui ready after {ms} ms");
    }

    // 3. Lock, log in again through the user list, pull the catalog.
    steps.start(3, "lock, PIN login from the user list, Pull Updates");
    ui.click_id("lock-button").await;
    ui.wait(&css("login-user", &[("data-user-name", OWNER)]))
        .await;
    ui.screenshot(&artifacts, "02-login").await;
    ui.login(OWNER, PIN).await;
    pull_updates(&ui).await;
    ui.click_id("nav-sales").await;
    for name in ["Tusker 500ml", "Coca-Cola 500ml", "Bread 400g"] {
        ui.wait(&css("product-tile", &[("data-product-name", name)]))
            .await;
    }
    let price = ui
        .attr(
            &css("product-tile", &[("data-product-name", "Tusker 500ml")]),
            "data-price",
        )
        .await
        .unwrap();
    assert_eq!(price, "25000", "pulled price of Tusker 500ml");

    // 4. A three-line cash sale with change.
    steps.start(4, "three-line cash sale with change, receipt preview");
    ui.add_tile("Tusker 500ml").await;
    ui.add_tile("Tusker 500ml").await;
    ui.add_tile("Coca-Cola 500ml").await;
    ui.wait_cart(2).await;
    // The scanner: a barcode typed into the search box, then Enter.
    ui.type_into("product-search", &format!("{BREAD_BARCODE}{ENTER}"))
        .await;
    let total = ui.wait_cart(3).await;
    let mut lines = ui.cart().await.unwrap();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            ("Bread 400g".to_string(), 1000),
            ("Coca-Cola 500ml".to_string(), 1000),
            ("Tusker 500ml".to_string(), 2000),
        ]
    );
    assert_eq!(total, 645_00, "2 × 250 + 80 + 65 (VAT inclusive)");
    ui.screenshot(&artifacts, "03-sales-cart").await;
    let change = ui.open_cash_tender(1000).await;
    assert_eq!(change, 355_00, "change from KES 1,000");
    ui.screenshot(&artifacts, "04-checkout").await;
    let receipt1 = ui.complete_sale().await;
    let preview = ui.text(&css("receipt-preview", &[])).await.unwrap();
    assert!(
        preview.contains("355"),
        "the receipt shows KES 355.00 change from 1,000: {preview:?}"
    );
    ui.screenshot(&artifacts, "05-receipt-preview").await;
    eprintln!("  receipt {receipt1}");
    ui.click_id("new-sale").await;

    // 5. Pending until pushed; then on the Back Office exactly once.
    steps.start(
        5,
        "sale pending on Sync Status, Push Pending Data, on the Back Office once",
    );
    ui.click_id("nav-sync").await;
    // The app runs with its loop and its after-sale push held back (see
    // `app_env`), so the sale waits in the outbox until Push Pending Data.
    let pending = wait_pending(&ui, "the Sync page to count the sale as pending", |n| n > 0).await;
    wait_indicator(&ui, "pending").await;
    assert_eq!(
        server_sale(&auditor, &receipt1).await.0,
        0,
        "the sale is not on the Back Office before the push"
    );
    eprintln!("  after the sale: {pending} pending, not yet on the Back Office");
    ui.screenshot(&artifacts, "10-sync-status-after-sale").await;
    ui.click_id("push-pending").await;
    wait_pending(&ui, "the outbox to drain after Push", |n| n == 0).await;
    wait_indicator(&ui, "synced").await;
    assert_eq!(
        server_sale(&auditor, &receipt1).await,
        (1, 3, 645_00),
        "sale {receipt1} on the Back Office: once, 3 lines, KES 645.00"
    );
    ui.screenshot(&artifacts, "11-sync-status-synced").await;

    // 6. A price change made elsewhere reaches the tile.
    steps.start(
        6,
        "price change on the Back Office, Pull Updates, new price on the tile",
    );
    admin
        .store
        .lock()
        .unwrap()
        .update_product(
            &admin.owner,
            tusker,
            ProductUpdate {
                price: Some(kes(275_00)),
                ..ProductUpdate::default()
            },
        )
        .unwrap();
    admin.sync().await;
    pull_updates(&ui).await;
    ui.click_id("nav-sales").await;
    ui.wait_attr_sel(
        &css("product-tile", &[("data-product-name", "Tusker 500ml")]),
        "data-price",
        "the Tusker tile to show the new price 27500",
        |v| v == "27500",
    )
    .await;

    // 7. Back Office down: the sale is kept; back up: it arrives once.
    steps.start(
        7,
        "Back Office down: sale kept, unreachable; back up: pushed once, synced",
    );
    stop_server(server).await;
    ui.add_tile("Coca-Cola 500ml").await;
    ui.wait_cart(1).await;
    let receipt2 = ui.pay_cash(100).await;
    eprintln!("  receipt {receipt2} (offline)");
    ui.click_id("new-sale").await;
    ui.click_id("nav-sync").await;
    ui.click_id("push-pending").await;
    wait_indicator(&ui, "unreachable").await;
    // The manager is told why the push failed, and can dismiss it.
    let why = ui
        .until("the failed push to be explained", async || {
            ui.error_banner().await.ok_or("no error banner".to_string())
        })
        .await;
    assert!(
        why.contains("Push failed") && why.contains("cannot be reached"),
        "the error says the push failed because the Back Office is unreachable: {why:?}"
    );
    ui.click_id("error-dismiss").await;
    let pending = wait_pending(&ui, "the offline sale to stay queued", |n| n >= 1).await;
    eprintln!("  pending while unreachable: {pending}");
    ui.screenshot(&artifacts, "12-sync-status-unreachable")
        .await;
    server = restart_server(server_dir.path(), &url).await;
    ui.click_id("push-pending").await;
    wait_pending(
        &ui,
        "the outbox to drain once the Back Office is back",
        |n| n == 0,
    )
    .await;
    wait_indicator(&ui, "synced").await;
    assert_eq!(
        server_sale(&auditor, &receipt2).await,
        (1, 1, 80_00),
        "offline sale {receipt2} on the Back Office: once"
    );
    assert_eq!(
        server_sale(&auditor, &receipt1).await.0,
        1,
        "the first sale is still there once"
    );

    // 8. The other main screens.
    steps.start(
        8,
        "screenshots of the main screens; the API key in no file of the data dir",
    );
    for (nav, name) in [
        ("nav-products", "06-products"),
        ("nav-customers", "07-customers"),
        ("nav-reports", "08-reports"),
        ("nav-receipts", "14-receipts"),
        ("nav-expenses", "15-expenses"),
        ("nav-users", "16-users"),
        ("nav-sync", "13-sync-status-final"),
    ] {
        let t = Instant::now();
        ui.click_id(nav).await;
        // The screen loads its data on the next frames; it must open
        // without an error.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(e) = ui.error_banner().await {
            ui.screenshot(&artifacts, &format!("{name}-error")).await;
            panic!("{nav} opened with an error: {e}");
        }
        ui.screenshot(&artifacts, name).await;
        eprintln!("  {name}: {} ms", t.elapsed().as_millis());
    }
    // The API key lives in the key store only: not in the database, its
    // write-ahead log, or a log line.
    for file in files_under(&data_dir) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(key.as_str()),
            "the API key is written in {}",
            file.display()
        );
    }

    // 9. Stock sent to the other branch: it leaves now, shows in transit,
    //    and reaches the Back Office with Push.
    steps.start(
        9,
        "Transfers: 3 Tusker sent to CBD, in transit, on the Back Office after Push",
    );
    ui.click_id("nav-transfers").await;
    ui.wait_id("transfers-send-form").await;
    let to = ui
        .until("the CBD branch in the destination list", async || {
            let v = ui
                .js(
                    r#"const s = document.querySelector('[data-testid="send-destination"]');
                       const o = s && [...s.options].find((o) => o.dataset.branchCode === 'CBD');
                       if (!o) return null;
                       s.value = o.value;
                       s.dispatchEvent(new Event('change', { bubbles: true }));
                       return o.value;"#,
                )
                .await?;
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("no CBD option yet: {v}"))
        })
        .await;
    ui.type_into("send-product-search", "Tusker").await;
    ui.click(&css(
        "send-product-add",
        &[("data-product-name", "Tusker 500ml")],
    ))
    .await;
    ui.type_into("send-line-qty", "3").await;
    ui.type_into("send-note", "e2e top-up").await;
    ui.click_id("send-submit").await;
    ui.click_id("confirm-ok").await;
    let row = css(
        "transfer-row",
        &[("data-state", "sent"), ("data-direction", "outgoing")],
    );
    ui.wait(&format!("[data-testid=\"transfers-in-transit\"] {row}"))
        .await;
    let transfer_id = ui.attr(&row, "data-transfer-id").await.unwrap();
    let sent = ui
        .attr(
            &css("transfer-line", &[("data-product-name", "Tusker 500ml")]),
            "data-sent",
        )
        .await
        .unwrap();
    assert_eq!(sent, "3000", "3 Tusker in transit");
    ui.screenshot(&artifacts, "17-transfers").await;
    if let Some(e) = ui.error_banner().await {
        panic!("the transfer was refused: {e}");
    }
    ui.click_id("nav-sync").await;
    ui.click_id("push-pending").await;
    wait_pending(&ui, "the transfer to be pushed", |n| n == 0).await;
    let on_server: (String, String, i64) = server
        .query()
        .query_row(
            "SELECT t.to_branch_id, t.note, l.quantity_milli FROM transfers t
             JOIN transfer_lines l ON l.transfer_id = t.id WHERE t.id = ?1",
            [&transfer_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the transfer is on the Back Office");
    assert_eq!(
        on_server,
        (to, "e2e top-up".to_string(), 3_000),
        "transfer {transfer_id} on the Back Office, to CBD"
    );
    steps.finish();

    ui.close().await;
    drop(driver);
    stop_server(server).await;
    eprintln!("screenshots in {}:", artifacts.display());
    for s in screenshots(&artifacts) {
        eprintln!("  {s}");
    }
}
