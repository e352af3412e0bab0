//! Shared by the sync end-to-end tests: a real Back Office in-process on a
//! temp file, and real tills (store file + `pos-sync` engine).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use backoffice::devices::{self, DeviceKind};
use backoffice::{AppState, Config};
use pos_domain::{
    Currency, Discount, Money, Name, Pin, ProductId, Quantity, SaleId, SystemClock, Tender,
};
use pos_store::sales::{Checkout, CheckoutLine};
use pos_store::{Actor, Durability, Store};
use pos_sync::{ApiKey, BackOffice, SyncConfig, SyncEngine};
use rusqlite::Connection;
use tokio::sync::oneshot;

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
    let path = dir.join("backoffice.sqlite3");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: path.clone(),
        ..Config::default()
    };
    tweak(&mut config);
    let state = AppState::open(config, Arc::new(SystemClock)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
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

impl Till {
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
