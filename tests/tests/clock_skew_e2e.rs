//! Clock skew end to end: a till whose clock runs 6 hours behind and one
//! whose clock says 2030 edit the same product as a correct till, over HTTP
//! against the real Back Office, with the real `pos-sync` engine.
//!
//! Every clock is driven from one manual "real time" (the Back Office's), so
//! the story is exact: each till's clock is real time plus its offset.
//!
//! What a shop owner should see, and why (hybrid logical clocks, `pos_domain::hlc`):
//!
//! - A till stamps an edit with `max(its wall clock, the newest clock it has
//!   seen on a pulled record)`, plus a counter. So the 6-hours-behind till,
//!   having pulled the correct till's price change, stamps its own later
//!   change just after it, and wins, though its wall clock would say it
//!   came 6 hours earlier. (The bounded cost: an edit it makes *without*
//!   having pulled a newer one elsewhere is ordered by its stale clock; its
//!   Sync Status page shows the skew so someone fixes the clock.)
//! - The 2030 till's edit reaches the Back Office clamped to the server's
//!   time plus `max_clock_ahead_ms` (5 minutes): it wins over what came
//!   before, and an edit made anywhere more than 5 minutes later wins over
//!   it, even from a till that never saw it. It does not block edits until 2030.

mod common;

use std::path::Path;
use std::sync::Arc;

use backoffice::{AppState, Config};
use common::{Till, kes};
use pos_domain::{Clock, Hlc, ManualClock, Name, Pin, ProductId, TaxCode, Timestamp};
use pos_store::catalog::{NewProduct, ProductUpdate};
use pos_store::{Durability, Store};
use pos_sync::{ApiKey, BackOffice, SyncConfig, SyncEngine};
use tokio::sync::oneshot;

/// 2026-03-02 09:00 in Nairobi: real time when the story starts.
const T0: i64 = 1_772_431_200_000;
const MINUTE: i64 = 60_000;
const SIX_HOURS: i64 = 6 * 60 * MINUTE;
/// 2030-01-01 00:00 UTC.
const YEAR_2030: i64 = 1_893_456_000_000;
/// The Back Office's default clamp.
const MAX_AHEAD: i64 = 5 * MINUTE;

/// Real time (the manual base) plus a fixed offset: a device clock that is
/// wrong by a constant amount.
#[derive(Debug)]
struct SkewedClock {
    real: Arc<ManualClock>,
    offset_ms: i64,
}

impl Clock for SkewedClock {
    fn now(&self) -> Timestamp {
        self.real.now().plus_millis(self.offset_ms)
    }
}

struct Server {
    url: String,
    path: std::path::PathBuf,
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_server(dir: &Path, real: Arc<ManualClock>) -> Server {
    let path = dir.join("backoffice.sqlite3");
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: path.clone(),
        max_clock_ahead_ms: MAX_AHEAD as u64,
        // Real time is frozen between steps: no bucket would refill.
        rate_limit: None,
        ..Config::default()
    };
    let state = AppState::open(config, real).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(backoffice::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Server {
        url,
        path,
        stop,
        handle,
    }
}

impl Server {
    fn add_till(&self, real: &ManualClock, branch: &str, name: &str) -> String {
        let mut conn = backoffice::db::open(&self.path, real).unwrap();
        backoffice::devices::add_device(
            &mut conn,
            real,
            branch,
            name,
            backoffice::devices::DeviceKind::Desktop,
        )
        .unwrap()
        .api_key
    }

    /// The product as the Back Office has it: (name, price, clock).
    fn product(&self, id: ProductId) -> (String, i64, Hlc) {
        let conn = rusqlite::Connection::open(&self.path).unwrap();
        conn.query_row(
            "SELECT name, price_minor, hlc FROM products WHERE id = ?1",
            [id.to_string()],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, String>(2)?.parse().unwrap(),
                ))
            },
        )
        .unwrap()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}

fn skewed_till(
    dir: &Path,
    name: &str,
    server: &Server,
    real: &Arc<ManualClock>,
    branch: &str,
    offset_ms: i64,
) -> Till {
    let clock = Arc::new(SkewedClock {
        real: real.clone(),
        offset_ms,
    });
    let mut store = Store::open_with(
        &dir.join(format!("{name}.sqlite3")),
        clock,
        Durability::CrashSafe,
    )
    .unwrap();
    let owner = store
        .create_first_owner(
            Name::parse("name", &format!("Owner {name}")).unwrap(),
            &Pin::parse("1234").unwrap(),
        )
        .unwrap();
    let key = server.add_till(real, branch, &format!("Till {name}"));
    let store = Arc::new(std::sync::Mutex::new(store));
    let client = BackOffice::new(&server.url, ApiKey::parse(&key).unwrap()).unwrap();
    let engine = SyncEngine::new(store.clone(), Some(client), SyncConfig::default());
    Till {
        store,
        owner,
        engine,
    }
}

fn edit(t: &Till, id: ProductId, name: Option<&str>, price: Option<i64>) {
    t.store
        .lock()
        .unwrap()
        .update_product(
            &t.owner,
            id,
            ProductUpdate {
                name: name.map(|n| Name::parse("name", n).unwrap()),
                price: price.map(kes),
                ..ProductUpdate::default()
            },
        )
        .unwrap();
}

/// The product as a till has it: (name, price).
fn at(t: &Till, id: ProductId) -> (String, i64) {
    let p = t.store.lock().unwrap().product(id).unwrap();
    (p.name, p.price.minor())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_and_a_future_clock_still_give_the_edit_made_last() {
    let dir = tempfile::tempdir().unwrap();
    let real = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
    let server = start_server(dir.path(), real.clone()).await;
    let right = skewed_till(dir.path(), "right", &server, &real, "Westlands", 0);
    let slow = skewed_till(dir.path(), "slow", &server, &real, "Westlands", -SIX_HOURS);
    right.sync().await;
    slow.sync().await;
    assert_eq!(
        slow.store
            .lock()
            .unwrap()
            .sync_state()
            .unwrap()
            .clock_skew_ms,
        Some(-SIX_HOURS),
        "the slow till's Sync Status shows it is 6 hours behind"
    );

    // 09:01 the correct till adds a soda at 80.00.
    real.advance_millis(MINUTE);
    let soda = right
        .store
        .lock()
        .unwrap()
        .create_product(
            &right.owner,
            NewProduct {
                name: Name::parse("name", "Soda").unwrap(),
                sku: None,
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
    right.sync().await;

    // 09:02 the correct till raises the price to 85.00.
    real.advance_millis(MINUTE);
    edit(&right, soda, None, Some(85_00));
    right.sync().await;

    // 09:03 the slow till (its clock says 03:03) pulls, sees 85.00 and sets
    // 90.00. Its edit is later in real time and made knowing the 85.00: it
    // must win, although its wall clock is 6 hours before the 85.00.
    real.advance_millis(MINUTE);
    slow.sync().await;
    assert_eq!(at(&slow, soda), ("Soda".to_string(), 85_00));
    edit(&slow, soda, None, Some(90_00));
    slow.sync().await;
    right.sync().await;
    let (name, price, hlc) = server.product(soda);
    assert_eq!((name.as_str(), price), ("Soda", 90_00));
    assert_eq!(
        hlc.wall_ms(),
        (T0 + 2 * MINUTE) as u64,
        "stamped just after the 09:02 edit it had seen, not at 03:03"
    );
    assert!(hlc.counter() > 0);
    assert_eq!(at(&right, soda), ("Soda".to_string(), 90_00));

    // 09:04 a till whose clock says 2030 joins (another branch) and learns
    // the soda.
    real.advance_millis(MINUTE);
    let future = skewed_till(
        dir.path(),
        "future",
        &server,
        &real,
        "CBD",
        YEAR_2030 - (T0 + 4 * MINUTE),
    );
    future.sync().await;
    assert_eq!(at(&future, soda), ("Soda".to_string(), 90_00));
    assert_eq!(
        future
            .store
            .lock()
            .unwrap()
            .sync_state()
            .unwrap()
            .clock_skew_ms,
        Some(YEAR_2030 - (T0 + 4 * MINUTE))
    );

    // 09:05 it renames the soda and sets 95.00. Its clock says 2030; the Back
    // Office clamps the edit to 09:05 + 5 minutes. Latest in real time: wins.
    real.advance_millis(MINUTE);
    edit(&future, soda, Some("Soda 500ml"), Some(95_00));
    future.sync().await;
    let (name, price, hlc) = server.product(soda);
    assert_eq!((name.as_str(), price), ("Soda 500ml", 95_00));
    assert_eq!(
        hlc.wall_ms(),
        (T0 + 5 * MINUTE + MAX_AHEAD) as u64,
        "clamped to the server's time plus 5 minutes, not 2030"
    );
    let skew: i64 = rusqlite::Connection::open(&server.path)
        .unwrap()
        .query_row(
            "SELECT clock_skew_ms FROM applied_ops ORDER BY applied_at DESC, device_seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        skew,
        (YEAR_2030 + MINUTE) - (T0 + 5 * MINUTE),
        "the Back Office recorded how far ahead the edit's clock was"
    );

    // 09:11, past the clamp, the correct till changes the price to 97.00
    // without having pulled the 2030 edit: a later real edit wins; the
    // 2030 clock does not hold the price until 2030.
    real.advance_millis(6 * MINUTE);
    assert_eq!(
        at(&right, soda),
        ("Soda".to_string(), 90_00),
        "not pulled yet"
    );
    edit(&right, soda, None, Some(97_00));
    right.sync().await;
    let (name, price, _) = server.product(soda);
    assert_eq!(
        (name.as_str(), price),
        ("Soda 500ml", 97_00),
        "the 2030 name stands (nobody renamed it since), the 09:11 price wins"
    );
    assert_eq!(at(&right, soda), ("Soda 500ml".to_string(), 97_00));

    // 09:12 the slow till pulls and renames it: made last, it wins too.
    real.advance_millis(MINUTE);
    slow.sync().await;
    edit(&slow, soda, Some("Soda 500ml Baridi"), None);
    for t in [&slow, &right, &future, &slow, &right, &future] {
        t.sync().await;
    }

    // Everyone agrees, and it is what was done last.
    let expected = ("Soda 500ml Baridi".to_string(), 97_00);
    let (name, price, _) = server.product(soda);
    assert_eq!((name, price), expected.clone());
    for t in [&right, &slow, &future] {
        assert_eq!(at(t, soda), expected);
        assert_eq!(t.pending(), 0);
        assert!(t.store.lock().unwrap().held_changes().unwrap().is_empty());
    }

    // The 2030 till edits again at 09:20: clamped again, and it is the
    // latest real edit, so it wins; everyone follows.
    real.advance_millis(8 * MINUTE);
    edit(&future, soda, None, Some(99_00));
    for t in [&future, &right, &slow] {
        t.sync().await;
    }
    let (_, price, hlc) = server.product(soda);
    assert_eq!(price, 99_00);
    assert_eq!(hlc.wall_ms(), (T0 + 20 * MINUTE + MAX_AHEAD) as u64);
    for t in [&right, &slow, &future] {
        assert_eq!(at(t, soda).1, 99_00);
    }
    server.stop().await;
}
