//! Shared by the sync end-to-end tests: a real Back Office in-process on a
//! temp file, and real tills (store file + `pos-sync` engine).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use backoffice::devices::{self, DeviceKind};
use backoffice::{AppState, Config};
use pos_domain::{
    Currency, CustomerId, Discount, Money, Name, PhoneNumber, Pin, ProductId, Quantity, SaleId,
    SystemClock, TaxCode, Tender,
};
use pos_store::catalog::NewProduct;
use pos_store::customers::NewCustomer;
use pos_store::sales::{Checkout, CheckoutLine};
use pos_store::{Actor, Durability, Store};
use pos_sync::{ApiKey, BackOffice, SyncConfig, SyncEngine};
use rusqlite::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub mod steps;

pub fn kes(minor: i64) -> Money {
    Money::from_minor(minor, Currency::KES).unwrap()
}

pub struct Server {
    pub url: String,
    pub path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn start_server(dir: &Path) -> Server {
    start_server_with(dir, |_| {}).await
}

pub async fn start_server_with(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Server {
    start_server_at(dir, "127.0.0.1:0", tweak).await
}

/// Starts the server on `dir`'s database again at the address it had, as
/// after a restart (the tills keep their Back Office URL).
pub async fn restart_server(dir: &Path, url: &str) -> Server {
    let addr = url.trim_start_matches("http://").to_string();
    start_server_at(dir, &addr, |_| {}).await
}

async fn start_server_at(dir: &Path, bind: &str, tweak: impl FnOnce(&mut Config)) -> Server {
    let path = dir.join("backoffice.sqlite3");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: path.clone(),
        ..Config::default()
    };
    tweak(&mut config);
    let state = AppState::open(config, Arc::new(SystemClock)).unwrap();
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(backoffice::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Server {
        url,
        path,
        stop: Some(stop),
        handle,
    }
}

impl Server {
    /// `whiz-backoffice device add --branch … --name …`, as the CLI does it.
    pub fn add_till(&self, branch: &str, name: &str) -> String {
        let mut conn = backoffice::db::open(&self.path, &SystemClock).unwrap();
        devices::add_device(&mut conn, &SystemClock, branch, name, DeviceKind::Desktop)
            .unwrap()
            .api_key
    }

    /// A till in `dir` connected to this server with a new key for
    /// `branch`/`name`.
    pub fn till(&self, dir: &Path, file: &str, branch: &str, name: &str) -> Till {
        till(dir, file, &self.url, &self.add_till(branch, name))
    }

    pub fn query(&self) -> Connection {
        Connection::open(&self.path).unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.handle.await.unwrap().unwrap();
    }
}

pub struct Till {
    pub store: Arc<Mutex<Store>>,
    pub owner: Actor,
    pub engine: SyncEngine,
}

pub fn till(dir: &Path, name: &str, url: &str, key: &str) -> Till {
    let mut store = Store::open_with(
        &dir.join(format!("{name}.sqlite3")),
        Arc::new(SystemClock),
        Durability::CrashSafe,
    )
    .unwrap();
    let owner = store
        .create_first_owner(
            Name::parse("name", &format!("Owner {name}")).unwrap(),
            &Pin::parse("1234").unwrap(),
        )
        .unwrap();
    let store = Arc::new(Mutex::new(store));
    let client = BackOffice::new(url, ApiKey::parse(key).unwrap()).unwrap();
    let engine = SyncEngine::new(store.clone(), Some(client), SyncConfig::default());
    Till {
        store,
        owner,
        engine,
    }
}

/// A product as the tests make one: VAT 16%, stock tracked, no codes.
pub fn new_product(name: &str, price: i64) -> NewProduct {
    NewProduct {
        name: Name::parse("name", name).unwrap(),
        sku: None,
        barcode: None,
        category_id: None,
        price: kes(price),
        tax_code: TaxCode::parse("VAT16").unwrap(),
        image: None,
        track_stock: true,
        low_stock: None,
    }
}

impl Till {
    /// Creates `product` in this till's catalog.
    pub fn add(&self, product: NewProduct) -> ProductId {
        let mut store = self.store.lock().unwrap();
        store.create_product(&self.owner, product).unwrap().id
    }

    /// Creates a product (see [`new_product`]).
    pub fn add_product(&self, name: &str, price: i64) -> ProductId {
        self.add(new_product(name, price))
    }

    /// Registers a credit customer with a phone (typed any way a person
    /// types it), a credit limit in minor units and optional notes.
    pub fn add_customer(
        &self,
        name: &str,
        phone: &str,
        limit: i64,
        notes: Option<&str>,
    ) -> CustomerId {
        self.store
            .lock()
            .unwrap()
            .create_customer(
                &self.owner,
                NewCustomer {
                    name: Name::parse("name", name).unwrap(),
                    phone: Some(PhoneNumber::parse(phone).unwrap()),
                    email: None,
                    credit_limit: kes(limit),
                    notes: notes.map(Into::into),
                },
            )
            .unwrap()
            .id
    }

    /// Sells `units` of `product` at `price` each on `customer`'s account.
    pub fn sell_on_credit(
        &self,
        product: ProductId,
        units: i64,
        price: i64,
        customer: CustomerId,
    ) -> SaleId {
        let mut store = self.store.lock().unwrap();
        store
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
                    tenders: vec![Tender::Credit {
                        amount: kes(units * price),
                        customer,
                    }],
                    customer_id: Some(customer),
                },
            )
            .unwrap()
            .id
    }

    pub async fn sync(&self) {
        let report = self.engine.sync_once().await;
        assert!(report.is_ok(), "sync failed: {}", report.unwrap_err());
    }

    pub fn sell(&self, product: ProductId, units: i64, price: i64) -> SaleId {
        let mut store = self.store.lock().unwrap();
        store
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

    pub fn stock(&self, product: ProductId) -> Quantity {
        self.store.lock().unwrap().product(product).unwrap().stock
    }

    pub fn pending(&self) -> u64 {
        self.store.lock().unwrap().outbox_stats().unwrap().pending
    }
}

/// A TCP proxy in front of the Back Office, to cut a till's network:
/// - while `swallow` is set it lets requests through but drops the server's
///   answers and hangs up — the server has done the work, the till never
///   hears of it;
/// - while `down` is set it hangs up on every connection at once — the Back
///   Office is unreachable.
pub struct Proxy {
    pub url: String,
    pub swallow: Arc<AtomicBool>,
    pub down: Arc<AtomicBool>,
}

pub async fn proxy(server_url: &str) -> Proxy {
    let to: std::net::SocketAddr = server_url.trim_start_matches("http://").parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let swallow = Arc::new(AtomicBool::new(false));
    let down = Arc::new(AtomicBool::new(false));
    let (flag, cut) = (swallow.clone(), down.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if cut.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let (flag, cut) = (flag.clone(), cut.clone());
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(to).await else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                // A kept-alive connection is cut too: each chunk checks.
                let up_cut = cut.clone();
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = from_client.read(&mut buf).await {
                        if n == 0 || up_cut.load(Ordering::SeqCst) {
                            break; // the request never reaches the server
                        }
                        if to_server.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = from_server.read(&mut buf).await {
                    if n == 0 || flag.load(Ordering::SeqCst) || cut.load(Ordering::SeqCst) {
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
    Proxy { url, swallow, down }
}
