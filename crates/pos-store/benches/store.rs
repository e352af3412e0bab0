//! Store benchmark: fills a till with 100,000 products and 1,000,000 past
//! sales, then measures the cashier's hot paths and prints the figures.
//!
//! Run: `cargo bench -p pos-store --bench store`
//! Smaller (CI smoke run): `WHIZ_BENCH_SCALE=smoke cargo bench -p pos-store --bench store`
//! Keep the filled database between runs: `WHIZ_BENCH_DB=/tmp/whiz-bench.sqlite3` (a
//! copy is benchmarked, so every run starts from the same state).
//!
//! Targets (issue 2): checkout of a 5-line cash sale p99 ≤ 2 ms; barcode
//! lookup p99 ≤ 0.2 ms; 3-letter name search p99 ≤ 10 ms; checkout ≤ 3× a
//! bare SQLite transaction inserting the same number of rows.
//!
//! Figures are printed in microseconds as integers (no floats in this code base).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pos_domain::{
    Currency, Discount, Money, Name, Pin, ProductId, Quantity, SaleId, SystemClock, Tender,
};
use pos_store::sales::{Checkout, CheckoutLine};
use pos_store::{Actor, Durability, Store};
use rusqlite::params;

struct Scale {
    products: usize,
    sales: usize,
    checkouts: usize,
    lookups: usize,
    searches: usize,
}

/// A small deterministic generator (no `rand` dependency needed for a bench).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const BRANDS: &[&str] = &[
    "Tusker",
    "Kabras",
    "Mumias",
    "Pembe",
    "Jogoo",
    "Ketepa",
    "Brookside",
    "Daima",
    "Kimbo",
    "Elianto",
    "Menengai",
    "Sunlight",
    "Omo",
    "Geisha",
    "Colgate",
    "Softcare",
    "Kasuku",
    "Highlands",
    "Delmonte",
    "Dormans",
    "Weetabix",
    "Blue Band",
    "Festive",
    "Supaloaf",
    "Royco",
    "Fresha",
    "Ariel",
    "Axion",
    "Nescafe",
    "Safari",
    "Dasani",
    "Keringet",
    "Minute Maid",
    "Afia",
    "Coca-Cola",
    "Fanta",
    "Sprite",
    "Stoney",
    "Krest",
    "Novida",
    "Nuvita",
    "Manji",
    "Bakers",
    "Cadbury",
    "Tropical",
    "Orbit",
    "PK",
];
const ITEMS: &[&str] = &[
    "Sugar",
    "Maize Flour",
    "Wheat Flour",
    "Cooking Oil",
    "Tea Leaves",
    "Milk",
    "Yoghurt",
    "Butter",
    "Bread",
    "Soap",
    "Detergent",
    "Toothpaste",
    "Rice",
    "Salt",
    "Juice",
    "Water",
    "Soda",
    "Biscuits",
    "Chocolate",
    "Coffee",
    "Cereal",
    "Margarine",
    "Spice Mix",
    "Lager",
    "Tissue",
    "Candles",
    "Matches",
    "Sweets",
    "Chewing Gum",
    "Beans",
    "Lentils",
    "Spaghetti",
    "Noodles",
    "Jam",
    "Honey",
    "Peanut Butter",
];
const SIZES: &[&str] = &[
    "100g",
    "250g",
    "500g",
    "1kg",
    "2kg",
    "5kg",
    "300ml",
    "500ml",
    "1l",
    "2l",
    "Pack of 6",
    "Single",
];

fn scale() -> Scale {
    match std::env::var("WHIZ_BENCH_SCALE").as_deref() {
        Ok("smoke") => Scale {
            products: 2_000,
            sales: 20_000,
            checkouts: 200,
            lookups: 2_000,
            searches: 300,
        },
        _ => Scale {
            products: 100_000,
            sales: 1_000_000,
            checkouts: 2_000,
            lookups: 20_000,
            searches: 2_000,
        },
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scale = scale();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite3");
    println!(
        "WHIZ POS store benchmark: {} products, {} past sales",
        scale.products, scale.sales
    );

    let started = Instant::now();
    let (owner, ids) = match std::env::var_os("WHIZ_BENCH_DB").map(std::path::PathBuf::from) {
        Some(kept) if kept.exists() => {
            std::fs::copy(&kept, &path)?;
            println!("reusing {}", kept.display());
            load(&path)?
        }
        kept => {
            let filled = fill(&path, &scale)?;
            println!("fill: {} s", started.elapsed().as_secs());
            if let Some(kept) = kept {
                std::fs::copy(&path, kept)?;
            }
            filled
        }
    };

    for durability in [Durability::PowerSafe, Durability::CrashSafe] {
        let mut store = Store::open_with(&path, Arc::new(SystemClock), durability)?;
        println!("\n[{durability:?}]");
        let (checkout, checkpoints) = bench_checkout(&mut store, &owner, &ids, &scale)?;
        report("checkout, 5-line cash sale", &checkout, 2_000);
        report("idle checkpoint (between customers)", &checkpoints, 0);
        drop(store);
        let bare = bench_bare_insert(&path, durability, scale.checkouts)?;
        report("bare transaction, 13 rows, one table", &bare, 0);
        let raw = bench_raw_sale_rows(&path, durability, &owner, &ids, scale.checkouts)?;
        report("raw SQL, the same 13 rows and tables", &raw, 0);
        print_ratio("checkout / bare transaction", &checkout, &bare);
        print_ratio("checkout / raw SQL of the same rows", &checkout, &raw);
    }

    let store = Store::open_with(&path, Arc::new(SystemClock), Durability::PowerSafe)?;
    println!();
    let mut rng = Lcg(7);
    let mut lookups = Vec::with_capacity(scale.lookups);
    for _ in 0..scale.lookups {
        let code = barcode(rng.below(scale.products));
        let t = Instant::now();
        let found = store.product_by_code(&code)?;
        lookups.push(t.elapsed());
        assert!(found.is_some(), "barcode {code} not found");
    }
    report("barcode lookup", &lookups, 200);

    let mut searches = Vec::with_capacity(scale.searches);
    let mut hits = 0usize;
    for i in 0..scale.searches {
        let word = if i % 2 == 0 {
            BRANDS[rng.below(BRANDS.len())]
        } else {
            ITEMS[rng.below(ITEMS.len())]
        };
        let prefix: String = word.chars().take(3).collect();
        let t = Instant::now();
        let found = store.search_products(&prefix, 50)?;
        searches.push(t.elapsed());
        hits += found.len();
    }
    report("name search, 3-letter prefix, top 50", &searches, 10_000);
    println!(
        "  (average {} results per search)",
        hits / scale.searches.max(1)
    );
    Ok(())
}

fn barcode(i: usize) -> String {
    format!("600{i:010}")
}

/// The owner and products of a database filled by an earlier run.
fn load(path: &Path) -> Result<(Actor, Vec<ProductId>), Box<dyn std::error::Error>> {
    let store = Store::open_with(path, Arc::new(SystemClock), Durability::CrashSafe)?;
    let conn = store.conn();
    let (id, name): (String, String) =
        conn.query_row("SELECT id, name FROM users WHERE role = 'owner'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let owner = Actor {
        user_id: id.parse()?,
        name,
        role: pos_domain::Role::Owner,
    };
    let ids = conn
        .prepare("SELECT id FROM products ORDER BY pk")?
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|id| Ok(id?.parse()?))
        .collect::<Result<Vec<ProductId>, Box<dyn std::error::Error>>>()?;
    Ok((owner, ids))
}

/// Creates the store, an owner, the catalog and the sales history.
fn fill(path: &Path, scale: &Scale) -> Result<(Actor, Vec<ProductId>), Box<dyn std::error::Error>> {
    let mut store = Store::open_with(path, Arc::new(SystemClock), Durability::CrashSafe)?;
    let owner = store.create_first_owner(Name::parse("name", "Owner")?, &Pin::parse("1234")?)?;
    let identity = store.identity().clone();
    let conn = store.conn();
    let mut rng = Lcg(42);
    let mut ids = Vec::with_capacity(scale.products);

    conn.execute_batch("BEGIN")?;
    {
        let mut stmt = conn.prepare(
            "INSERT INTO products (id, name, sku, barcode, price_minor, currency, tax_code, created_at, hlc)
             VALUES (?1, ?2, ?3, ?4, ?5, 'KES', 'VAT16', 0, '0000000000000-00000000-0000000000000000')",
        )?;
        for i in 0..scale.products {
            let id = ProductId::new();
            let name = format!(
                "{} {} {} #{i}",
                BRANDS[rng.below(BRANDS.len())],
                ITEMS[rng.below(ITEMS.len())],
                SIZES[rng.below(SIZES.len())]
            );
            stmt.execute(params![
                id.to_string(),
                name,
                format!("SKU{i}"),
                barcode(i),
                1000 + rng.below(500_000) as i64
            ])?;
            ids.push(id);
        }
    }
    conn.execute_batch("COMMIT")?;

    // Past sales: 1–5 lines each, cash, spread over a year; already synced
    // (so not in the outbox).
    let day_ms: i64 = 86_400_000;
    let start: i64 = 1_735_689_600_000; // 2025-01-01
    let per_tx = 20_000;
    let mut n = 0;
    while n < scale.sales {
        conn.execute_batch("BEGIN")?;
        {
            let mut sale = conn.prepare_cached(
                "INSERT INTO sales (id, receipt_no, kind, branch_id, device_id, cashier_id, currency, tax_mode,
                                    subtotal_minor, discount_minor, tax_minor, total_minor, change_minor,
                                    created_at, business_day)
                 VALUES (?1, ?2, 'sale', ?3, ?4, ?5, 'KES', 'inclusive', ?6, 0, ?7, ?6, 0, ?8, ?9)",
            )?;
            let mut line = conn.prepare_cached(
                "INSERT INTO sale_lines (sale_id, line_no, product_id, name, unit_price_minor, quantity_milli,
                                         gross_minor, discount_minor, net_minor, tax_code, tax_basis_points,
                                         tax_minor, total_minor)
                 VALUES (?1, ?2, ?3, 'x', ?4, 1000, ?4, 0, ?4, 'VAT16', 1600, ?5, ?4)",
            )?;
            let mut pay = conn.prepare_cached(
                "INSERT INTO payments (id, sale_id, method, amount_minor, tendered_minor, change_minor)
                 VALUES (?1, ?2, 'cash', ?3, ?3, 0)",
            )?;
            let mut mv = conn.prepare_cached(
                "INSERT INTO stock_movements (id, product_id, branch_id, device_id, kind, quantity_milli, sale_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'sale', -1000, ?5, ?6)",
            )?;
            for _ in 0..per_tx.min(scale.sales - n) {
                n += 1;
                let id = SaleId::new().to_string();
                let at = start + (n as i64 * 365 * day_ms) / scale.sales as i64;
                let day = identity
                    .time_zone
                    .business_day(pos_domain::Timestamp::from_millis(at))
                    .to_string();
                let lines = 1 + rng.below(5);
                let prices: Vec<(usize, i64)> = (0..lines)
                    .map(|_| (rng.below(ids.len()), 1000 + rng.below(100_000) as i64))
                    .collect();
                let total: i64 = prices.iter().map(|(_, p)| p).sum();
                sale.execute(params![
                    id,
                    format!("OLD-T1-{n:07}"),
                    identity.branch_id.to_string(),
                    identity.device_id.to_string(),
                    owner.user_id.to_string(),
                    total,
                    total * 16 / 116,
                    at,
                    day
                ])?;
                for (no, (p, price)) in prices.iter().enumerate() {
                    line.execute(params![
                        id,
                        no + 1,
                        ids[*p].to_string(),
                        price,
                        price * 16 / 116
                    ])?;
                    mv.execute(params![
                        pos_domain::MovementId::new().to_string(),
                        ids[*p].to_string(),
                        identity.branch_id.to_string(),
                        identity.device_id.to_string(),
                        id,
                        at
                    ])?;
                }
                pay.execute(params![pos_domain::PaymentId::new().to_string(), id, total])?;
            }
        }
        conn.execute_batch("COMMIT")?;
    }
    conn.execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok((owner, ids))
}

fn bench_checkout(
    store: &mut Store,
    owner: &Actor,
    ids: &[ProductId],
    scale: &Scale,
) -> Result<(Vec<Duration>, Vec<Duration>), Box<dyn std::error::Error>> {
    let mut rng = Lcg(99);
    let mut times = Vec::with_capacity(scale.checkouts);
    let mut checkpoints = Vec::new();
    for i in 0..scale.checkouts + 50 {
        let lines = (0..5)
            .map(|_| CheckoutLine {
                product_id: ids[rng.below(ids.len())],
                quantity: Quantity::units(1 + rng.below(3) as i64),
                discount: Discount::None,
            })
            .collect();
        let co = Checkout {
            sale_id: SaleId::new(),
            lines,
            discount: Discount::None,
            tenders: vec![Tender::Cash {
                tendered: Money::from_minor(100_000_000, Currency::KES)?,
            }],
            customer_id: None,
        };
        let t = Instant::now();
        store.checkout(owner, &co)?;
        if i >= 50 {
            times.push(t.elapsed()); // the first 50 warm the caches
        }
        // The app checkpoints when idle; a till rings up a sale every few
        // seconds at best, so a checkpoint every 20 sales is pessimistic.
        if i % 20 == 19 {
            let t = Instant::now();
            store.checkpoint()?;
            checkpoints.push(t.elapsed());
        }
    }
    Ok((times, checkpoints))
}

/// The floor: one transaction inserting as many rows as a 5-line checkout
/// writes (sale, 5 lines, 1 payment, 5 movements, 1 outbox op = 13 rows).
fn bench_bare_insert(
    path: &Path,
    durability: Durability,
    n: usize,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(
        None,
        "synchronous",
        if durability == Durability::PowerSafe {
            "FULL"
        } else {
            "NORMAL"
        },
    )?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS bench_bare (id TEXT PRIMARY KEY, a INTEGER, b TEXT)",
    )?;
    let mut times = Vec::with_capacity(n);
    for i in 0..n + 50 {
        let t = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        {
            let mut stmt =
                conn.prepare_cached("INSERT INTO bench_bare (id, a, b) VALUES (?1, ?2, ?3)")?;
            for j in 0..13 {
                stmt.execute(params![
                    SaleId::new().to_string(),
                    j,
                    "payload of a typical row, about this long"
                ])?;
            }
        }
        conn.execute_batch("COMMIT")?;
        if i >= 50 {
            times.push(t.elapsed());
        }
    }
    conn.execute_batch("DROP TABLE bench_bare")?;
    Ok(times)
}

/// The floor of a checkout's writes: the rows a 5-line cash sale writes,
/// inserted with plain SQL into the real tables (same indexes, trigger and
/// foreign keys), with no validation, lookups or serialization.
fn bench_raw_sale_rows(
    path: &Path,
    durability: Durability,
    owner: &Actor,
    ids: &[ProductId],
    n: usize,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let store = Store::open_with(path, Arc::new(SystemClock), durability)?;
    let identity = store.identity().clone();
    let (branch, device) = (
        identity.branch_id.to_string(),
        identity.device_id.to_string(),
    );
    let conn = store.conn();
    let payload = "x".repeat(3_000); // about the size of a 5-line sale op
    let mut rng = Lcg(7);
    let mut times = Vec::with_capacity(n);
    let next_seq: i64 =
        conn.query_row("SELECT next_op_seq FROM device_identity", [], |r| r.get(0))?;
    for i in 0..n + 50 {
        let sale = SaleId::new().to_string();
        let lines: Vec<String> = (0..5)
            .map(|_| ids[rng.below(ids.len())].to_string())
            .collect();
        let t = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.prepare_cached(
            "INSERT INTO sales (id, receipt_no, kind, branch_id, device_id, cashier_id, currency, tax_mode,
                                subtotal_minor, discount_minor, tax_minor, total_minor, change_minor,
                                created_at, business_day)
             VALUES (?1, ?2, 'sale', ?3, ?4, ?5, 'KES', 'inclusive', 100, 0, 14, 100, 0, ?6, '2026-03-02')",
        )?
        .execute(params![sale, format!("RAW-{durability:?}-{i:06}"), branch, device, owner.user_id.to_string(), i as i64])?;
        for (no, product) in lines.iter().enumerate() {
            conn.prepare_cached(
                "INSERT INTO sale_lines (sale_id, line_no, product_id, name, unit_price_minor, quantity_milli,
                                         gross_minor, discount_minor, net_minor, tax_code, tax_basis_points,
                                         tax_minor, total_minor)
                 VALUES (?1, ?2, ?3, 'x', 20, 1000, 20, 0, 20, 'VAT16', 1600, 3, 20)",
            )?
            .execute(params![sale, no + 1, product])?;
            conn.prepare_cached(
                "INSERT INTO stock_movements (id, product_id, branch_id, device_id, kind, quantity_milli, sale_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'sale', -1000, ?5, ?6)",
            )?
            .execute(params![pos_domain::MovementId::new().to_string(), product, branch, device, sale, i as i64])?;
        }
        conn.prepare_cached(
            "INSERT INTO payments (id, sale_id, method, amount_minor, tendered_minor, change_minor)
             VALUES (?1, ?2, 'cash', 100, 100, 0)",
        )?
        .execute(params![pos_domain::PaymentId::new().to_string(), sale])?;
        conn.prepare_cached(
            "INSERT INTO outbox (seq, op_id, kind, entity_id, payload, hlc, created_at)
             VALUES (?1, ?2, 'sale_recorded', ?3, ?4, '0000000000000-00000000-0000000000000000', 0)",
        )?
        .execute(params![RAW_SEQ + next_seq + i as i64, pos_domain::OpId::new().to_string(), sale, payload])?;
        conn.execute_batch("COMMIT")?;
        if i >= 50 {
            times.push(t.elapsed());
        }
        if i % 20 == 19 {
            store.checkpoint()?;
        }
    }
    // Take the fake ops out again so the next round's checkouts own their sequence.
    conn.execute("DELETE FROM outbox WHERE seq >= ?1", [RAW_SEQ])?;
    Ok(times)
}

/// Where the raw rows' outbox sequence numbers start, far past any checkout's.
const RAW_SEQ: i64 = 1_000_000_000;

fn print_ratio(what: &str, a: &[Duration], b: &[Duration]) {
    let ratio = percentile(a, 50).as_nanos() * 100 / percentile(b, 50).as_nanos().max(1);
    println!(
        "  {what:<40} p50 ratio {}.{:02}x   target <= 3x",
        ratio / 100,
        ratio % 100
    );
}

fn percentile(sorted_or_not: &[Duration], p: usize) -> Duration {
    let mut v = sorted_or_not.to_vec();
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn report(what: &str, times: &[Duration], target_p99_us: u128) {
    let p50 = percentile(times, 50).as_micros();
    let p99 = percentile(times, 99).as_micros();
    let target = if target_p99_us > 0 {
        format!("   target p99 <= {target_p99_us} us")
    } else {
        String::new()
    };
    println!(
        "  {what:<40} n={:<6} p50 {p50:>6} us   p99 {p99:>6} us{target}",
        times.len()
    );
}
