//! The sync engine end to end over real HTTP, against the protocol test
//! double in `double/` on 127.0.0.1.

mod double;

use std::net::TcpListener as StdListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use double::{Fault, KEY, Route};
use pos_domain::{
    CategoryId, Currency, Discount, Hlc, ManualClock, Money, Name, Pin, ProductId, Quantity,
    SaleId, Sku, TaxCode, Tender, Timestamp,
};
use pos_store::catalog::{NewProduct, Product};
use pos_store::sales::{Checkout, CheckoutLine};
use pos_store::{Actor, Store};
use pos_sync::{
    ApiKey, BackOffice, ClientError, EngineState, SyncConfig, SyncEngine, SyncError, SyncStatus,
};
use sync_protocol::{CategoryState, ChangeBody, OpBody, ProductState};

/// The till's clock: 3 s ahead of the double's.
const T0: Timestamp = Timestamp::from_millis(1_772_431_200_000);

struct Till {
    store: Arc<Mutex<Store>>,
    owner: Actor,
    engine: SyncEngine,
}

fn kes(minor: i64) -> Money {
    Money::from_minor(minor, Currency::KES).unwrap()
}

fn fast() -> SyncConfig {
    SyncConfig {
        interval: Duration::from_millis(50),
        nudge_delay: Duration::from_millis(10),
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(160),
        backoff_floor: Duration::from_millis(5),
        ..SyncConfig::default()
    }
}

fn till(url: &str, key: &str, config: SyncConfig) -> Till {
    let mut store = Store::open_in_memory(Arc::new(ManualClock::new(T0))).unwrap();
    let owner = store
        .create_first_owner(
            Name::parse("name", "Wanjiru").unwrap(),
            &Pin::parse("1234").unwrap(),
        )
        .unwrap();
    let store = Arc::new(Mutex::new(store));
    let client = BackOffice::new(url, ApiKey::parse(key).unwrap()).unwrap();
    let engine = SyncEngine::new(store.clone(), Some(client), config);
    Till {
        store,
        owner,
        engine,
    }
}

impl Till {
    fn product(&self, name: &str, price: i64) -> Product {
        self.store
            .lock()
            .unwrap()
            .create_product(
                &self.owner,
                NewProduct {
                    name: Name::parse("name", name).unwrap(),
                    sku: Some(Sku::parse(&name.replace(' ', "-")).unwrap()),
                    barcode: None,
                    category_id: None,
                    price: kes(price),
                    tax_code: TaxCode::parse("VAT16").unwrap(),
                    image: None,
                    track_stock: true,
                    low_stock: None,
                },
            )
            .unwrap()
    }

    fn sell(&self, product: ProductId, units: i64, price: i64) -> SaleId {
        self.store
            .lock()
            .unwrap()
            .checkout(
                &self.owner,
                &Checkout {
                    sale_id: SaleId::new(),
                    lines: vec![CheckoutLine {
                        product_id: product,
                        quantity: Quantity::units(units),
                        discount: Discount::None,
                    }],
                    discount: Discount::None,
                    tenders: vec![Tender::Cash {
                        tendered: kes(units * price),
                    }],
                    customer_id: None,
                },
            )
            .unwrap()
            .id
    }

    fn pending(&self) -> Vec<pos_store::outbox::OutboxEntry> {
        self.store.lock().unwrap().outbox_pending(10_000).unwrap()
    }

    fn count(&self, table: &str) -> i64 {
        self.store
            .lock()
            .unwrap()
            .conn()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }
}

fn product_change(name: &str, price: i64) -> ChangeBody {
    ChangeBody::Product(ProductState {
        id: ProductId::new(),
        name: Name::parse("name", name).unwrap(),
        sku: None,
        barcode: None,
        category_id: None,
        price: kes(price),
        tax_code: TaxCode::parse("VAT16").unwrap(),
        image: None,
        track_stock: true,
        low_stock: None,
        created_at: T0,
        hlc: Hlc::new(T0.as_millis() as u64, 0, 42),
        deleted_at: None,
    })
}

fn category_change(name: &str) -> ChangeBody {
    ChangeBody::Category(CategoryState {
        id: CategoryId::new(),
        name: Name::parse("name", name).unwrap(),
        sort_order: 0,
        hlc: Hlc::new(T0.as_millis() as u64, 0, 42),
        deleted_at: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_ops_leave_the_outbox_only_when_acknowledged() {
    let server = double::start().await;
    let t = till(&server.url, KEY, fast());
    // Connected before it trades: the till takes the identity of its key.
    t.engine.sync_once().await.unwrap();
    let soda = t.product("Soda", 80_00);
    t.sell(soda.id, 2, 80_00);
    let queued: Vec<u64> = t.pending().iter().map(|e| e.op.device_seq).collect();
    assert!(queued.len() >= 2, "{queued:?}");

    // The server applies the push but the answer is lost on the way back.
    server
        .double
        .fail_next(Route::Push, Fault::DropAfterApplying);
    let err = t.engine.sync_once().await.unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    let kept = t.pending();
    assert_eq!(kept.len(), queued.len(), "nothing is removed unanswered");
    assert!(
        kept.iter()
            .all(|e| e.attempts == 1 && e.last_error.is_some())
    );
    assert_eq!(t.engine.status().state, EngineState::Unreachable);

    // The retry is answered `duplicate`: removed, and applied only once.
    let report = t.engine.sync_once().await.unwrap();
    assert_eq!(report.acknowledged, queued.len());
    assert!(t.pending().is_empty());
    let applied: Vec<u64> = server
        .double
        .applied()
        .iter()
        .map(|o| o.device_seq)
        .collect();
    // Op 1 (the owner) was pushed when the till connected.
    assert_eq!(
        applied,
        [vec![1], queued.clone()].concat(),
        "each op once, in device order"
    );
    // The sale came back through the feed and was recognised.
    assert_eq!(report.changes, 1);
    assert_eq!(t.count("sales"), 1);
    assert_eq!(
        t.store.lock().unwrap().product(soda.id).unwrap().stock,
        Quantity::units(-2)
    );
    let status = t.engine.status();
    assert_eq!(status.state, EngineState::Online);
    assert_eq!(status.pending, 0);
    assert!(status.last_push_at.is_some() && status.last_pull_at.is_some());
    assert_eq!(status.clock_skew_ms, Some(3_000), "the till is 3 s ahead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_op_is_quarantined_and_later_ops_still_go() {
    let server = double::start().await;
    let t = till(&server.url, KEY, fast());
    t.product("Bread", 65_00);
    let bad = t.product("REJECT me", 1_00);
    t.product("Milk", 60_00);

    let report = t.engine.sync_once().await.unwrap();

    assert_eq!(report.quarantined, 1);
    assert!(t.pending().is_empty());
    let status = t.engine.status();
    assert_eq!(status.quarantined.len(), 1);
    let q = &status.quarantined[0];
    assert_eq!(q.kind, "product_changed");
    assert!(
        q.reason.contains("may not start with REJECT"),
        "{}",
        q.reason
    );
    let rejected = t.store.lock().unwrap().outbox_quarantined().unwrap();
    assert!(matches!(&rejected[0].op.body, OpBody::ProductChanged(p) if p.id == bad.id));
    let names: Vec<String> = server
        .double
        .applied()
        .iter()
        .filter_map(|o| match &o.body {
            OpBody::ProductChanged(p) => p.name.as_ref().map(|n| n.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["Bread", "Milk"]);

    // An op written after the quarantined one is not blocked by it.
    t.product("Eggs", 20_00);
    t.engine.sync_once().await.unwrap();
    assert!(t.pending().is_empty());
    assert_eq!(t.engine.status().quarantined.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_push_waits_as_asked_and_goes_again() {
    let server = double::start().await;
    let t = till(&server.url, KEY, fast());
    t.engine.sync_once().await.unwrap();
    let applied_before = server.double.applied().len();
    t.product("Tea", 50_00);
    server.double.fail_next(Route::Push, Fault::RateLimited(1));
    let started = std::time::Instant::now();

    let report = t.engine.sync_once().await.unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(report.acknowledged, 1);
    assert!(t.pending().is_empty());
    assert_eq!(server.double.applied().len(), applied_before + 1);
    let (_, pushes, _) = server.double.counts.get();
    assert_eq!(
        pushes, 3,
        "the first round's, the refused one, the one after the wait"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_keeps_the_ops_and_records_the_error() {
    let server = double::start().await;
    let t = till(
        &server.url,
        KEY,
        SyncConfig {
            push_batch: 2,
            ..fast()
        },
    );
    for name in ["A1", "A2", "A3", "A4", "A5"] {
        t.product(name, 10_00);
    }
    let total = t.pending().len();
    // The first batch goes through; the second meets a 500.
    server.double.fail_next(Route::Push, Fault::Pass);
    server.double.fail_next(Route::Push, Fault::Internal);
    let err = t.engine.sync_once().await.unwrap_err();
    assert!(
        matches!(&err, SyncError::Client(e @ ClientError::Server { .. }) if e.is_transient()),
        "{err}"
    );
    assert_eq!(server.double.applied().len(), 2);
    let left = t.pending();
    assert_eq!(left.len(), total - 2, "only the acknowledged batch left");
    // The failure is recorded on the ops of the refused batch.
    assert_eq!(
        left.iter().map(|e| e.attempts).collect::<Vec<_>>(),
        [1, 1, 0, 0][..total - 2]
    );
    assert!(
        left[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("will be retried")
    );
    let status = t.engine.status();
    // The server was reached: online, with the error shown.
    assert_eq!(status.state, EngineState::Online);
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap()
            .contains("database is locked")
    );
    assert!(status.last_error_at.is_some());
    assert_eq!(status.pending, total as u64 - 2);

    let report = t.engine.sync_once().await.unwrap();
    assert_eq!(report.acknowledged, total - 2);
    assert_eq!(report.push_requests as usize, (total - 2).div_ceil(2));
    assert!(t.pending().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_gap_is_reported_and_nothing_is_deleted() {
    let server = double::start().await;
    let t = till(&server.url, KEY, fast());
    t.product("Tea", 50_00);
    t.engine.sync_once().await.unwrap();
    t.product("Coffee", 90_00);
    let before = t.pending();
    // The server was restored and forgot this till's acknowledged ops.
    server.double.fail_next(Route::Push, Fault::Gap(1));

    let err = t.engine.sync_once().await.unwrap_err();

    assert!(
        matches!(err, SyncError::ServerLostOps { expected: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("Full Cloud Synchronization"),
        "{err}"
    );
    let after = t.pending();
    assert_eq!(
        after.iter().map(|e| e.op.op_id).collect::<Vec<_>>(),
        before.iter().map(|e| e.op.op_id).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_says_where_to_find_the_right_one() {
    let server = double::start().await;
    let t = till(&server.url, "wz_wrong", fast());
    t.product("Tea", 50_00);
    let err = t.engine.sync_once().await.unwrap_err();
    assert!(err.to_string().contains("Connected Devices"), "{err}");
    assert_eq!(t.pending().len(), 2);
    assert_eq!(t.engine.status().state, EngineState::Online);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulled_pages_apply_and_the_cursor_resumes() {
    let server = double::start().await;
    let t = till(
        &server.url,
        KEY,
        SyncConfig {
            pull_limit: 2,
            ..fast()
        },
    );
    let epoch = server.double.epoch();
    server.double.add_changes([
        category_change("Drinks"),
        product_change("Juice", 100_00),
        product_change("Water", 50_00),
        product_change("Soda", 80_00),
        product_change("Tea", 40_00),
    ]);

    let report = t.engine.pull_updates().await.unwrap();

    assert_eq!((report.pages, report.changes), (3, 5));
    assert_eq!(t.count("products"), 4);
    assert_eq!(t.count("categories"), 1);
    let c = |seq: u64| Some(format!("{epoch}.{seq}"));
    assert_eq!(server.double.pull_cursors(), [None, c(2), c(4)]);
    // Nothing was queued by pulling.
    assert_eq!(t.pending().len(), 1, "only the owner's own op");

    // More changes; the second page of the next round fails.
    server
        .double
        .add_changes((0..4).map(|i| product_change(&format!("Item {i}"), 10_00)));
    server.double.fail_next(Route::Pull, Fault::Pass);
    server.double.fail_next(Route::Pull, Fault::Internal);
    let err = t.engine.pull_updates().await.unwrap_err();
    assert!(
        matches!(err, SyncError::Client(ClientError::Server { .. })),
        "{err}"
    );
    // The first page stayed applied, with its cursor.
    assert_eq!(t.count("products"), 6);
    // The retry resumes after it and picks up exactly the rest.
    let report = t.engine.pull_updates().await.unwrap();
    assert_eq!(report.changes, 2);
    assert_eq!(t.count("products"), 8);
    assert_eq!(&server.double.pull_cursors()[3..], [c(5), c(7), c(7)]);
    let stored = t.store.lock().unwrap().sync_cursor().unwrap().unwrap();
    assert_eq!(stored.to_string(), format!("{epoch}.9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_epoch_makes_the_till_pull_everything_again() {
    let server = double::start().await;
    let t = till(&server.url, KEY, fast());
    server.double.add_changes([
        product_change("Juice", 100_00),
        product_change("Water", 50_00),
    ]);
    t.engine.sync_once().await.unwrap();
    assert_eq!(t.count("products"), 2);

    let restored = server.double.restore(vec![
        product_change("Juice", 100_00),
        product_change("Bread", 65_00),
    ]);
    let report = t.engine.sync_once().await.unwrap();

    assert!(report.rebootstrapped);
    assert_eq!(report.changes, 2);
    // Old records stay (a pull never deletes); the restored feed is applied.
    assert_eq!(t.count("products"), 4);
    let cursors = server.double.pull_cursors();
    assert_eq!(
        cursors.last().unwrap(),
        &None,
        "pulled again from the beginning"
    );
    let stored = t.store.lock().unwrap().sync_cursor().unwrap().unwrap();
    assert_eq!(stored.epoch, restored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rounds_join_the_running_one() {
    let server = double::start().await;
    let t = till(&server.url, KEY, fast());
    t.product("Tea", 50_00);
    server.double.set_push_delay(Duration::from_millis(300));

    let (a, b, c) = tokio::join!(
        t.engine.sync_once(),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            t.engine.sync_once().await
        },
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            t.engine.push_pending().await
        },
    );

    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(a, b);
    assert_eq!(a, c, "a push asked during a full round joins it");
    assert_eq!(a.acknowledged, 2);
    assert_eq!(
        server.double.counts.get(),
        (1, 1, 1),
        "one round of requests"
    );
    assert_eq!(server.double.applied().len(), 2);

    // A pull asked during a push-only round waits for it, then runs its own.
    t.product("Coffee", 90_00);
    let (push, pull) = tokio::join!(t.engine.push_pending(), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        t.engine.pull_updates().await
    });
    assert_eq!(push.unwrap().acknowledged, 1);
    assert_eq!(pull.unwrap().pages, 1);
    assert_eq!(server.double.counts.get(), (1, 2, 2));
}

/// A port nothing listens on (yet).
fn free_port() -> std::net::SocketAddr {
    let l = StdListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_unreachable_the_loop_backs_off_with_capped_jitter_and_recovers() {
    let addr = free_port();
    let config = fast();
    let t = till(&format!("http://{addr}"), KEY, config.clone());
    t.product("Tea", 50_00);
    let mut rx = t.engine.subscribe();
    let engine = t.engine.clone();
    let task = tokio::spawn(async move { engine.run().await });

    // Watch the retries: (consecutive failures, delay chosen).
    let mut seen: Vec<(u32, Duration)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.last().is_none_or(|(n, _)| *n < 9) && tokio::time::Instant::now() < deadline {
        rx.changed().await.unwrap();
        let s: SyncStatus = rx.borrow_and_update().clone();
        if let Some(delay) = s.retry_in
            && seen.last().is_none_or(|(n, _)| *n != s.failures)
        {
            assert_eq!(s.state, EngineState::Unreachable);
            seen.push((s.failures, delay));
        }
    }
    assert!(seen.len() >= 5, "{seen:?}");
    for (n, delay) in &seen {
        // The n-th failure waits at most base·2^(n-1), never above the cap.
        let ceiling = (config.backoff_base * 2u32.pow(n - 1)).min(config.backoff_cap);
        assert!(
            *delay >= config.backoff_floor && *delay <= ceiling,
            "{n}: {delay:?}"
        );
    }
    let late: Vec<Duration> = seen
        .iter()
        .filter(|(n, _)| *n >= 5)
        .map(|(_, d)| *d)
        .collect();
    assert!(late.iter().all(|d| *d <= config.backoff_cap));
    let mut distinct = seen.iter().map(|(_, d)| *d).collect::<Vec<_>>();
    distinct.dedup();
    assert!(distinct.len() > 2, "jittered: {seen:?}");
    // Selling goes on meanwhile; the error is on the Sync Status page.
    t.product("Coffee", 90_00);
    let status = t.engine.status();
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot be reached")
    );

    // The Back Office comes up on that address: the loop finds it by itself.
    let server = double::start_on(addr).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = t.engine.status();
        if s.state == EngineState::Online && s.pending == 0 && s.failures == 0 {
            assert_eq!(s.retry_in, None);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.double.applied().len(), 3);
    t.engine.stop();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nudge_pushes_a_sale_without_waiting_for_the_timer() {
    let server = double::start().await;
    let t = till(
        &server.url,
        KEY,
        SyncConfig {
            interval: Duration::from_secs(3600),
            ..fast()
        },
    );
    let tea = t.product("Tea", 50_00);
    let engine = t.engine.clone();
    let task = tokio::spawn(async move { engine.run().await });
    // The first round runs at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.double.applied().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    t.sell(tea.id, 1, 50_00);
    t.engine.nudge();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.double.applied().len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nudge did not push"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t.engine.stop();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_unconfigured_till_says_how_to_connect() {
    let mut store = Store::open_in_memory(Arc::new(ManualClock::new(T0))).unwrap();
    store
        .create_first_owner(
            Name::parse("name", "Wanjiru").unwrap(),
            &Pin::parse("1234").unwrap(),
        )
        .unwrap();
    let engine = SyncEngine::new(Arc::new(Mutex::new(store)), None, fast());
    assert_eq!(engine.status().state, EngineState::NotConfigured);
    assert_eq!(engine.status().pending, 1);
    let err = engine.sync_once().await.unwrap_err();
    assert!(matches!(err, SyncError::NotConfigured));
    assert!(err.to_string().contains("Settings > Back Office"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_address_is_tried_at_once_even_while_backing_off() {
    let dead = free_port();
    let t = till(
        &format!("http://{dead}"),
        KEY,
        SyncConfig {
            backoff_base: Duration::from_secs(30),
            backoff_floor: Duration::from_secs(30),
            ..fast()
        },
    );
    t.product("Tea", 50_00);
    let engine = t.engine.clone();
    let task = tokio::spawn(async move { engine.run().await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while t.engine.status().failures == 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(t.engine.status().state, EngineState::Unreachable);

    // The owner corrects the address in Settings.
    let server = double::start().await;
    let client = BackOffice::new(&server.url, ApiKey::parse(KEY).unwrap()).unwrap();
    t.engine.set_backoffice(Some(client));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.double.applied().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still waiting for the backoff: {:?}",
            t.engine.status()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t.engine.stop();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
