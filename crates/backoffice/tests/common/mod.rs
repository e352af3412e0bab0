//! Test harness: a real server on 127.0.0.1:0 over a temp database file, a
//! reqwest client, a manual clock, and a pretend till that numbers its ops.
#![allow(dead_code)]

use std::sync::Arc;

use backoffice::devices::{self, DeviceKind};
use backoffice::{AppState, Config, db};
use pos_domain::{
    BranchId, Cart, CartLine, Clock, Currency, DeviceId, Discount, Hlc, HlcClock, ManualClock,
    Money, MovementId, MovementKind, Name, OpId, PaymentId, ProductId, Quantity, SaleId, TaxCode,
    TaxTable, Tender, TimeZone, Timestamp, UserId, settle,
};
use reqwest::StatusCode;
use rusqlite::Connection;
use sync_protocol::{
    ChangeBody, ErrorBody, ErrorCode, OpBody, OpEnvelope, OpOutcome, PaymentRecord, ProductPatch,
    PullResponse, PushRequest, PushResponse, SaleKind, SaleLineRecord, SaleRecord,
    StockMovementRecord, UserPatch,
};
use tokio::sync::oneshot;

pub mod seed;
pub mod web;

/// 2026-03-02 09:00 in Nairobi.
pub const T0: i64 = 1_772_431_200_000;
pub const MINUTE: i64 = 60_000;
pub const DAY: i64 = 24 * 60 * MINUTE;

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub path: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    dir: Option<tempfile::TempDir>,
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backoffice.sqlite3");
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: path.clone(),
        ..Config::default()
    };
    tweak(&mut config);
    let state = AppState::open(config, clock.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(backoffice::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    TestServer {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        clock,
        state,
        path,
        stop: Some(stop),
        handle: Some(handle),
        dir: Some(dir),
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A second connection, as the CLI would open beside the server.
    pub fn admin(&self) -> Connection {
        db::open(&self.path, self.clock.as_ref()).unwrap()
    }

    /// Adds a device with the library call the CLI makes; returns a till for it.
    pub fn till(&self, branch: &str, name: &str) -> Till {
        self.add_till(branch, name, DeviceKind::Desktop)
    }

    /// Adds a device of `kind` as the CLI does; returns a till for it.
    pub fn add_till(&self, branch: &str, name: &str, kind: DeviceKind) -> Till {
        let mut conn = self.admin();
        let new = devices::add_device(&mut conn, self.clock.as_ref(), branch, name, kind).unwrap();
        Till::new(
            self,
            new.api_key,
            new.device.id,
            new.device.branch_id,
            new.device.code,
            new.device.branch_code,
        )
    }

    /// Sets the clock to `millis`.
    pub fn at(&self, millis: i64) {
        self.clock.set(Timestamp::from_millis(millis));
    }

    pub async fn push(&self, key: &str, ops: &[OpEnvelope]) -> reqwest::Response {
        self.client
            .post(self.url("/api/sync"))
            .bearer_auth(key)
            .json(&PushRequest { ops: ops.to_vec() })
            .send()
            .await
            .unwrap()
    }

    pub async fn push_ok(&self, key: &str, ops: &[OpEnvelope]) -> PushResponse {
        let res = self.push(key, ops).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Pushes `ops`, which must all be applied.
    pub async fn push_applied(&self, key: &str, ops: &[OpEnvelope]) -> PushResponse {
        let res = self.push_ok(key, ops).await;
        assert!(
            res.results.iter().all(|r| r.outcome == OpOutcome::Applied),
            "{res:?}"
        );
        res
    }

    pub async fn pull(&self, key: &str, query: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/api/sync{query}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub async fn pull_ok(&self, key: &str, query: &str) -> PullResponse {
        let res = self.pull(key, query).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Everything a till of `key` pulls from the start (one page).
    pub async fn feed(&self, key: &str) -> Vec<ChangeBody> {
        let page = self.pull_ok(key, "").await;
        assert!(!page.has_more);
        page.changes.into_iter().map(|c| c.body).collect()
    }

    /// Everything a request could change (except `last_seen_at` and the
    /// sync log, which record the attempt itself).
    pub fn snapshot(&self) -> String {
        let conn = self.admin();
        let mut out = String::new();
        for (table, cols) in [
            ("meta", "*"),
            ("branches", "*"),
            (
                "devices",
                "id, last_seq, last_push_at, last_pull_at, revoked_at",
            ),
            ("applied_ops", "*"),
            ("changes", "*"),
            ("business_settings", "*"),
            ("tax_rates", "*"),
            ("users", "*"),
            ("categories", "*"),
            ("products", "*"),
            ("customers", "*"),
            ("sales", "*"),
            ("sale_lines", "*"),
            ("payments", "*"),
            ("stock_movements", "*"),
            ("stock_levels", "*"),
            ("customer_ledger", "*"),
            ("expenses", "*"),
        ] {
            let mut stmt = conn
                .prepare(&format!("SELECT {cols} FROM {table} ORDER BY 1"))
                .unwrap();
            let n = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            out.push_str(table);
            out.push('\n');
            while let Some(r) = rows.next().unwrap() {
                for i in 0..n {
                    let v: rusqlite::types::Value = r.get(i).unwrap();
                    out.push_str(&format!("{v:?}|"));
                }
                out.push('\n');
            }
        }
        out
    }

    /// Asserts that a request changed nothing: `before` is
    /// [`TestServer::snapshot`] taken before it.
    #[track_caller]
    pub fn assert_unchanged(&self, before: &str) {
        assert!(self.snapshot() == before, "the request changed something");
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.admin().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Stops the server gracefully; returns the temp dir so the database
    /// can still be read.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        self.dir.take().unwrap()
    }
}

/// Asserts an error answer: its status, a JSON body of the documented shape,
/// and its code.
pub async fn expect_error(res: reqwest::Response, status: u16, code: ErrorCode) -> ErrorBody {
    assert_eq!(res.status().as_u16(), status);
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let text = res.text().await.unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let obj = value.as_object().unwrap();
    assert_eq!(obj.len(), 1, "{text}");
    assert!(
        value["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{text}"
    );
    let body: ErrorBody = serde_json::from_str(&text).unwrap();
    assert_eq!(body.error.code, code, "{text}");
    assert_eq!(code.http_status(), status);
    body
}

/// A pretend till: numbers its ops and stamps them with its own clock.
pub struct Till {
    pub key: String,
    pub device_id: DeviceId,
    pub branch_id: BranchId,
    pub code: String,
    pub branch_code: String,
    pub seq: u64,
    pub hlc: HlcClock,
    pub clock: Arc<ManualClock>,
    pub receipts: u32,
    pub cashier: UserId,
}

pub fn kes(minor: i64) -> Money {
    Money::from_minor(minor, Currency::KES).unwrap()
}

pub fn name(s: &str) -> Name {
    Name::parse("name", s).unwrap()
}

impl Till {
    /// A till for a device of the server's database, with a cashier of its own.
    pub fn new(
        server: &TestServer,
        key: String,
        device_id: DeviceId,
        branch_id: BranchId,
        code: String,
        branch_code: String,
    ) -> Till {
        Till {
            key,
            device_id,
            branch_id,
            code,
            branch_code,
            seq: 0,
            hlc: HlcClock::resume(Hlc::node_of(device_id), Hlc::ZERO),
            clock: server.clock.clone(),
            receipts: 0,
            cashier: UserId::new(),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The next op, stamped now.
    pub fn op(&mut self, body: OpBody) -> OpEnvelope {
        let hlc = self.hlc.tick(self.now());
        self.op_at(body, hlc)
    }

    /// The next op with a chosen clock.
    pub fn op_at(&mut self, body: OpBody, hlc: Hlc) -> OpEnvelope {
        self.seq += 1;
        OpEnvelope {
            op_id: OpId::new(),
            device_seq: self.seq,
            hlc,
            created_at: self.now(),
            body,
        }
    }

    /// The op that creates this till's cashier.
    pub fn cashier_op(&mut self) -> OpEnvelope {
        let body = OpBody::UserChanged(UserPatch {
            name: Some(name("Wanjiku")),
            role: Some(pos_domain::Role::Cashier),
            pin_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into()),
            active: Some(true),
            ..UserPatch::new(self.cashier)
        });
        self.op(body)
    }

    /// A sale of `lines` (product, name, unit price in cents, units) paid in
    /// cash, with its stock movements: what the till's checkout records.
    pub fn sale(&mut self, lines: &[(ProductId, &str, i64, i64)]) -> SaleRecord {
        let now = self.now();
        let cart = Cart {
            currency: Currency::KES,
            lines: lines
                .iter()
                .map(|(id, n, price, units)| CartLine {
                    product_id: *id,
                    name: n.to_string(),
                    unit_price: kes(*price),
                    quantity: Quantity::units(*units),
                    tax_code: TaxCode::parse("VAT16").unwrap(),
                    discount: Discount::None,
                })
                .collect(),
            discount: Discount::None,
        };
        let taxes = TaxTable::kenya_default();
        let totals = cart.totals(&taxes).unwrap();
        let tendered = kes(totals.total.minor() + 100_00);
        let settlement = settle(totals.total, &[Tender::Cash { tendered }]).unwrap();
        let id = SaleId::new();
        self.receipts += 1;
        let receipt_no = format!("{}-{}-{:06}", self.branch_code, self.code, self.receipts);
        SaleRecord {
            id,
            receipt_no,
            kind: SaleKind::Sale,
            original_sale_id: None,
            branch_id: self.branch_id,
            device_id: self.device_id,
            cashier_id: self.cashier,
            customer_id: None,
            currency: Currency::KES,
            tax_mode: taxes.mode,
            subtotal: totals.subtotal,
            discount: totals.discount,
            tax: totals.tax,
            total: totals.total,
            change: settlement.change,
            reason: None,
            created_at: now,
            business_day: TimeZone::NAIROBI.business_day(now).to_string(),
            lines: cart
                .lines
                .iter()
                .zip(&totals.lines)
                .enumerate()
                .map(|(i, (l, t))| SaleLineRecord {
                    line_no: i as u32 + 1,
                    original_line_no: None,
                    product_id: l.product_id,
                    name: l.name.clone(),
                    sku: None,
                    unit_price: l.unit_price,
                    quantity: l.quantity,
                    gross: t.gross,
                    discount: kes(t.line_discount.minor() + t.cart_discount.minor()),
                    net: t.net,
                    tax_code: l.tax_code.clone(),
                    tax_basis_points: t.tax_basis_points,
                    tax: t.tax,
                    total: t.total,
                })
                .collect(),
            payments: settlement
                .payments
                .iter()
                .map(|p| PaymentRecord {
                    id: PaymentId::new(),
                    method: p.method,
                    amount: p.amount,
                    tendered: p.tendered,
                    change: p.change,
                    reference: p.reference.clone(),
                    customer_id: p.customer,
                })
                .collect(),
            movements: cart
                .lines
                .iter()
                .map(|l| StockMovementRecord {
                    id: MovementId::new(),
                    product_id: l.product_id,
                    branch_id: self.branch_id,
                    device_id: self.device_id,
                    kind: MovementKind::Sale,
                    quantity: l.quantity.negated(),
                    sale_id: Some(id),
                    user_id: Some(self.cashier),
                    note: None,
                    created_at: now,
                })
                .collect(),
            ledger_entry: None,
        }
    }
}

/// A till of `branch` with its cashier and a product (Soda 500ml, 80.00).
pub async fn ready_till(server: &TestServer, branch: &str, name: &str) -> (Till, ProductId) {
    let mut till = server.till(branch, name);
    let product = ProductId::new();
    let ops = [
        till.cashier_op(),
        till.op(new_product(product, "Soda 500ml", 80_00)),
    ];
    server.push_applied(&till.key, &ops).await;
    (till, product)
}

/// A patch that creates a product with every field.
pub fn new_product(id: ProductId, n: &str, price: i64) -> OpBody {
    OpBody::ProductChanged(ProductPatch {
        name: Some(name(n)),
        sku: Some(None),
        barcode: Some(None),
        category_id: Some(None),
        price: Some(kes(price)),
        tax_code: Some(TaxCode::parse("VAT16").unwrap()),
        image: Some(None),
        track_stock: Some(true),
        low_stock: Some(None),
        ..ProductPatch::new(id)
    })
}

/// Sets a product's price.
pub fn price_patch(id: ProductId, price: i64) -> OpBody {
    OpBody::ProductChanged(ProductPatch {
        price: Some(kes(price)),
        ..ProductPatch::new(id)
    })
}
