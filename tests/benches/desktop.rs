//! Desktop benchmark: the real `whiz-pos` app (release build) under Xvfb,
//! driven by tauri-driver. Prints figures next to their targets; asserts
//! nothing about time.
//!
//! Run it with `scripts/bench-desktop.sh` (it builds the release binary and
//! the .deb, and provides the display and D-Bus session). CI smoke run:
//! `WHIZ_BENCH_SCALE=smoke scripts/bench-desktop.sh`.
//!
//! Figures:
//! - cold start: spawn → interactive sales screen, as the app reports it
//!   (`whiz-pos: ui ready after N ms`, which includes the scripted PIN
//!   login); median of 5 fresh processes. Target ≤ 1.5 s.
//! - idle memory: sum of `Pss` over the app's process tree (the app and its
//!   WebKit web and network processes) after 10 s idle on the sales screen.
//!   Target ≤ 200 MB.
//! - Pay → receipt with 100,000 products in the till: the UI's own
//!   `data-pay-ms` on the receipt preview (Complete pressed → preview
//!   rendered); median of ≥ 10 three-line cash sales. Target ≤ 100 ms.
//! - release binary and .deb sizes (`WHIZ_BENCH_DEB`). Target .deb ≤ 15 MB.

#[path = "../desktop/mod.rs"]
mod desktop;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use desktop::{Driver, Ui, app_binary, app_env, css, median, tree_pss_kib};
use pos_domain::{Name, Pin, ProductId, SystemClock};
use pos_store::{Durability, Store};
use rusqlite::params;

use pos_app::DATABASE_FILE;
const OWNER: &str = "Bench Owner";
const PIN: &str = "1234";
/// The three products each benchmark sale rings up, found by search among
/// the bulk catalog.
const SALE: [(&str, i64); 3] = [
    ("Tusker Lager 500ml", 250_00),
    ("Coca-Cola 500ml", 80_00),
    ("Supaloaf Bread 400g", 65_00),
];

struct Scale {
    name: &'static str,
    starts: usize,
    products: usize,
    sales: usize,
    idle: Duration,
}

/// `WHIZ_BENCH_STARTS`, `WHIZ_BENCH_PRODUCTS`, `WHIZ_BENCH_SALES` override
/// the scale's figures.
fn scale() -> Scale {
    let mut s = base_scale();
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    if let Some(n) = var("WHIZ_BENCH_STARTS") {
        s.starts = n;
    }
    if let Some(n) = var("WHIZ_BENCH_PRODUCTS") {
        s.products = n;
    }
    if let Some(n) = var("WHIZ_BENCH_SALES") {
        s.sales = n;
    }
    s
}

fn base_scale() -> Scale {
    match std::env::var("WHIZ_BENCH_SCALE").as_deref() {
        Ok("smoke") => Scale {
            name: "smoke",
            starts: 1,
            products: 1_000,
            sales: 3,
            idle: Duration::from_secs(3),
        },
        _ => Scale {
            name: "full",
            starts: 5,
            products: 100_000,
            sales: 12,
            idle: Duration::from_secs(10),
        },
    }
}

/// A till database with an owner and `n` products (plus the three sold), as
/// the app will find it in `WHIZ_DATA_DIR`.
fn seed(data_dir: &Path, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut store = Store::open_with(
        &data_dir.join(DATABASE_FILE),
        Arc::new(SystemClock),
        Durability::CrashSafe,
    )?;
    store.create_first_owner(Name::parse("name", OWNER)?, &Pin::parse(PIN)?)?;
    let conn = store.conn();
    conn.execute_batch("BEGIN")?;
    {
        let mut stmt = conn.prepare(
            "INSERT INTO products (id, name, sku, barcode, price_minor, currency, tax_code, created_at, hlc)
             VALUES (?1, ?2, ?3, ?4, ?5, 'KES', 'VAT16', 0, '0000000000000-00000000-0000000000000000')",
        )?;
        const BRANDS: [&str; 8] = [
            "Kabras",
            "Brookside",
            "Kensalt",
            "Menengai",
            "Ketepa",
            "Ndovu",
            "Pembe",
            "Daima",
        ];
        const ITEMS: [&str; 8] = [
            "Sugar",
            "Milk",
            "Salt",
            "Soap",
            "Tea",
            "Flour",
            "Maize Meal",
            "Yoghurt",
        ];
        for i in 0..n {
            let name = format!("{} {} #{i}", BRANDS[i % 8], ITEMS[(i / 8) % 8]);
            stmt.execute(params![
                ProductId::new().to_string(),
                name,
                format!("SKU{i}"),
                format!("600{i:010}"),
                1000 + (i as i64 * 7919) % 500_000
            ])?;
        }
        for (i, (name, price)) in SALE.iter().enumerate() {
            stmt.execute(params![
                ProductId::new().to_string(),
                name,
                format!("SALE{i}"),
                barcode(i),
                price
            ])?;
        }
    }
    conn.execute_batch("COMMIT")?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(())
}

/// The barcode of `SALE[i]`.
fn barcode(i: usize) -> String {
    format!("700{i:010}")
}

fn mb(kib: u64) -> String {
    format!("{}.{} MB", kib / 1024, (kib % 1024) * 10 / 1024)
}

/// "name[pid] total (anon A, file F)" per process.
fn describe(parts: &[(u32, String, u64)]) -> Vec<String> {
    parts
        .iter()
        .map(|(pid, name, kib)| {
            let anon = desktop::rollup_kib(*pid, "Pss_Anon:").unwrap_or(0);
            let file = desktop::rollup_kib(*pid, "Pss_File:").unwrap_or(0);
            format!(
                "{name}[{pid}] {} (anon {}, file {})",
                mb(*kib),
                mb(anon),
                mb(file)
            )
        })
        .collect()
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "OVER TARGET" }
}

/// One fresh app process: session, login; returns (app-reported ui ready
/// ms, scripted login ms).
async fn start_and_login(driver: &Driver, app: &Path) -> (Ui, u64, u64) {
    let mut ui = driver.session(app).await;
    // A failed wait leaves FAILED.png there.
    ui.artifacts = Some(desktop::workspace_root().join("target/bench-artifacts/desktop"));
    ui.wait(&css("login-user", &[("data-user-name", OWNER)]))
        .await;
    let t = Instant::now();
    ui.login(OWNER, PIN).await;
    ui.wait_id("product-search").await;
    let login = ms(t.elapsed());
    let ready = ui
        .until("the app's 'whiz-pos: ui ready' line", async || {
            driver
                .ui_ready_ms()
                .ok_or_else(|| format!("log tail:\n{}", driver.log_tail(5)))
        })
        .await;
    (ui, ready, login)
}

/// One three-line cash sale; returns the UI's `data-pay-ms`, or the
/// harness's own Complete → preview time when the UI has no such attribute.
async fn one_sale(ui: &Ui) -> (u64, bool) {
    // Scanned, as a cashier would in a big catalog: barcode + Enter.
    for i in 0..SALE.len() {
        ui.type_into(
            "product-search",
            &format!("{}{}", barcode(i), desktop::ENTER),
        )
        .await;
        ui.until(&format!("cart line {} after the scan", i + 1), async || {
            let n = ui.cart().await?.len();
            if n == i + 1 {
                Ok(())
            } else {
                Err(format!("{n} cart lines"))
            }
        })
        .await;
    }
    ui.wait_cart(3).await;
    ui.open_cash_tender(1000).await;
    let t = Instant::now();
    ui.click_id("complete-sale").await;
    let preview = ui.wait_id("receipt-preview").await;
    let harness = ms(t.elapsed());
    let pay_ms = preview
        .attr("data-pay-ms")
        .await
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<f64>().ok());
    ui.click_id("new-sale").await;
    ui.until("an empty cart after New sale", async || {
        let n = ui.cart().await?.len();
        if n == 0 {
            Ok(())
        } else {
            Err(format!("{n} cart lines"))
        }
    })
    .await;
    match pay_ms {
        Some(v) => (v.round() as u64, true),
        None => (harness, false),
    }
}

/// Copies the app's logs to `target/bench-artifacts/desktop/app-logs/` when
/// dropped (also on a panic).
struct KeepLogs(PathBuf);

impl Drop for KeepLogs {
    fn drop(&mut self) {
        let out = desktop::workspace_root().join("target/bench-artifacts/desktop/app-logs");
        if let Ok(entries) = std::fs::read_dir(self.0.join("logs")) {
            let _ = std::fs::create_dir_all(&out);
            for e in entries.flatten() {
                let _ = std::fs::copy(e.path(), out.join(e.file_name()));
            }
        }
    }
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// The newest .deb under `$CARGO_TARGET_DIR/release/bundle/deb/` (or
/// `WHIZ_BENCH_DEB`).
fn find_deb() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WHIZ_BENCH_DEB").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let dir = desktop::target_dir().join("release/bundle/deb");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

fn main() {
    let scale = scale();
    let release = app_binary("release");
    let app = if release.is_file() {
        release
    } else if scale.name == "smoke" {
        app_binary("debug")
    } else {
        eprintln!(
            "no release binary at {} (scripts/bench-desktop.sh builds it)",
            release.display()
        );
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(scale, app));
}

async fn run(scale: Scale, app: PathBuf) {
    println!(
        "WHIZ POS desktop benchmark ({} scale): {}",
        scale.name,
        app.display()
    );
    let work = tempfile::tempdir().unwrap();
    let data_dir = work.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let t = Instant::now();
    seed(&data_dir, scale.products).expect("seed the till database");
    println!(
        "  seeded {} products into {} in {} ms",
        scale.products + SALE.len(),
        DATABASE_FILE,
        ms(t.elapsed())
    );
    let env = app_env(&data_dir, "memory", 3600);
    let _logs = KeepLogs(data_dir.clone());

    // Cold starts: a fresh app process each time; the last one stays for
    // the idle memory and the sales.
    let mut ready = Vec::new();
    let mut logins = Vec::new();
    let mut kept = None;
    for i in 0..scale.starts {
        let log = work.path().join(format!("driver-{i}.log"));
        let driver = Driver::start(&env, &log).await;
        let (ui, r, l) = start_and_login(&driver, &app).await;
        ready.push(r);
        logins.push(l);
        if i + 1 == scale.starts {
            kept = Some((driver, ui));
        } else {
            ui.close().await;
            drop(driver);
        }
    }
    let (driver, ui) = kept.expect("at least one start");
    let start_ms = median(&mut ready);
    let login_ms = median(&mut logins);
    println!(
        "  cold start -> sales screen: median {start_ms} ms of {} runs {:?} (incl. scripted PIN login, median {login_ms} ms)   target <= 1500 ms: {}",
        ready.len(),
        ready,
        verdict(start_ms <= 1500)
    );

    // Idle memory.
    tokio::time::sleep(scale.idle).await;
    let app_pid = driver
        .app_pid()
        .expect("the app's process below tauri-driver");
    let (pss, parts) = tree_pss_kib(app_pid);
    let detail = describe(&parts);
    println!(
        "  idle memory after {} s on the sales screen: PSS {}   target <= 200 MB: {}",
        scale.idle.as_secs(),
        mb(pss),
        verdict(pss <= 200 * 1024)
    );
    println!("    {}", detail.join(", "));

    // Pay -> receipt.
    let mut pays = Vec::new();
    let mut from_ui = true;
    for _ in 0..scale.sales {
        let (v, ui_measured) = one_sale(&ui).await;
        from_ui &= ui_measured;
        pays.push(v);
    }
    let pay_ms = median(&mut pays);
    let source = if from_ui {
        "UI data-pay-ms"
    } else {
        "harness: Complete click -> preview visible, incl. WebDriver round trips (no data-pay-ms in the UI)"
    };
    println!(
        "  Pay -> receipt with {} products: median {pay_ms} ms of {} sales {:?} ({source})   target <= 100 ms: {}",
        scale.products + SALE.len(),
        pays.len(),
        pays,
        verdict(pay_ms <= 100)
    );
    ui.close().await;
    drop(driver);

    // The same without WebDriver: the app spawned directly, idle on its
    // login screen (automation adds its own weight to the web process).
    {
        let direct = desktop::DirectApp::spawn(&app, &env);
        tokio::time::sleep(scale.idle + Duration::from_secs(2)).await;
        let (pss, parts) = tree_pss_kib(direct.pid());
        println!("  idle memory, no WebDriver, login screen: PSS {}", mb(pss));
        println!("    {}", describe(&parts).join(", "));
    }

    // Sizes.
    match file_size(&app) {
        Some(b) => println!("  binary {}: {}", app.display(), mb(b / 1024)),
        None => println!("  binary: not found"),
    }
    match find_deb().and_then(|p| file_size(&p).map(|s| (p, s))) {
        Some((p, b)) => println!(
            "  .deb {}: {}   target <= 15 MB: {}",
            p.display(),
            mb(b / 1024),
            verdict(b <= 15 * 1024 * 1024)
        ),
        None => println!("  .deb: not built (scripts/bench-desktop.sh builds it at full scale)"),
    }
}
