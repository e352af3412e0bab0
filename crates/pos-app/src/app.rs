//! [`App`]: one method per UI command. Each checks the session, parses its
//! input (`input.rs`), calls one core service, and converts the answer
//! (`views.rs`) or the error (`error.rs`). No business rule lives here: the
//! store checks roles and validates; this layer only adds who is signed in.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use pos_domain::{
    Barcode, BranchId, CategoryId, Clock, CustomerId, ExpenseId, OpId, Permission, Pin, ProductId,
    Quantity, Role, SaleId, Sku, TaxCode, Timestamp, TransferId, UserId,
};
use pos_store::catalog::{CategoryUpdate, NewProduct, ProductUpdate};
use pos_store::customers::{CustomerUpdate, NewCustomer};
use pos_store::expenses::{ExpensePaidWith, NewExpense};
use pos_store::reports::BranchInfo;
use pos_store::sales::PricedCart;
use pos_store::settings::SettingsUpdate;
use pos_store::transfers::{Transfer, TransferFilter};
use pos_store::users::UserUpdate;
use pos_store::{Actor, Store, StoreError};
use pos_sync::{
    ApiKey, BackOffice, FullSyncOptions, FullSyncPreview, KeyStore, KeyStoreError, SyncConfig,
    SyncEngine, SyncStatus,
};
use sync_protocol::{SaleKind, SaleRecord};

use crate::api::*;
use crate::error::sentence;
use crate::{input, views};

/// The database file inside the app's data directory.
pub const DATABASE_FILE: &str = "pos.sqlite3";

/// The device preference holding the auto-lock delay in minutes.
pub const AUTO_LOCK_PREF: &str = "auto_lock_minutes";
/// Minutes without a command after which the session locks, unless set.
pub const DEFAULT_AUTO_LOCK_MINUTES: u32 = 5;
/// The longest auto-lock delay accepted (a day).
pub const MAX_AUTO_LOCK_MINUTES: u32 = 24 * 60;

/// Rows a list returns when the UI does not say.
const DEFAULT_LIST: u32 = 200;
/// Width of the printed receipt.
const RECEIPT_COLUMNS: usize = 42;
/// Best sellers on the day report.
const BEST_SELLERS: u32 = 10;
/// Rows of a history (stock movements, ledger).
const HISTORY_ROWS: u32 = 500;
/// Products on the day report's stock list.
const REPORT_STOCK_ROWS: u32 = 500;

/// How the app is started by the shell.
#[derive(Debug)]
pub struct AppConfig {
    pub data_dir: PathBuf,
    pub keys: Arc<dyn KeyStore>,
    pub sync: SyncConfig,
    pub clock: Arc<dyn Clock>,
}

/// Who is signed in on this till, and since when nothing happened.
#[derive(Debug, Clone)]
struct SessionState {
    actor: Actor,
    last_active: Timestamp,
    locked: bool,
}

/// The desktop app's commands over one till's store and sync engine.
/// `Send + Sync`: the shell keeps it in an `Arc` and runs commands
/// concurrently.
pub struct App {
    store: Arc<Mutex<Store>>,
    engine: SyncEngine,
    keys: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    session: Mutex<Option<SessionState>>,
    auto_lock_minutes: AtomicU32,
    /// The last Full Cloud Synchronization preview, which apply uploads.
    preview: Mutex<Option<FullSyncPreview>>,
    ui_ready_at: OnceLock<Timestamp>,
    /// The stored key's masked form, once the keyring has answered: a
    /// keyring can be slow (D-Bus), and every Settings visit needs it.
    /// Cleared when the key is saved or forgotten.
    masked_key: Mutex<Option<Option<String>>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("engine", &self.engine)
            .field("auto_lock_minutes", &self.auto_lock_minutes)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex; a panic while it was held leaves no half transaction
/// (rusqlite rolls back on drop), so a poisoned lock is taken over.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn internal(message: impl AsRef<str>) -> CommandError {
    CommandError::new(ErrorCode::Internal, sentence(message))
}

/// A user's name, also for a user deleted since (old receipts keep theirs).
fn user_name(store: &Store, id: UserId) -> String {
    match store.user(id) {
        Ok(u) => u.name,
        Err(StoreError::Deleted { name, .. }) => name,
        Err(_) => "unknown user".into(),
    }
}

fn receipt_view(store: &Store, sale: &SaleRecord) -> Result<ReceiptView, CommandError> {
    let settings = store.settings()?;
    let customer = match sale.customer_id {
        Some(c) => Some(store.customer(c)?.name),
        None => None,
    };
    let voided = sale.kind == SaleKind::Sale && store.void_of(sale.id)?.is_some();
    let original = match sale.original_sale_id {
        Some(id) => Some(store.sale(id)?.receipt_no),
        None => None,
    };
    let cashier = user_name(store, sale.cashier_id);
    // Laid out from the record in hand: the Pay → receipt path reads the
    // sale once.
    let text = pos_store::receipt::render(
        &settings,
        sale,
        &cashier,
        original.as_deref(),
        RECEIPT_COLUMNS,
    );
    Ok(views::receipt(
        sale,
        views::ReceiptContext {
            settings: &settings,
            cashier,
            customer,
            text,
            voided,
        },
    ))
}

/// A transfer with its branches', products' and users' names, as the UI
/// shows it from this till; `branches` is what [`Store::branches`]
/// answered (read once per list).
fn transfer_view(store: &Store, branches: &[BranchInfo], t: &Transfer) -> TransferView {
    let here = store.identity().branch_id;
    let branch = |id: BranchId| match branches.iter().find(|b| b.id == id) {
        Some(b) => views::branch(b),
        // A branch not pulled yet: its id stands in for its name.
        None => views::branch(&BranchInfo {
            id,
            code: "?".into(),
            name: format!("branch {id}"),
            this_branch: id == here,
            deleted: false,
        }),
    };
    let product = |id: ProductId| match store.product(id) {
        Ok(p) => p.name,
        Err(_) => format!("product {id}"),
    };
    let user = |id: UserId| user_name(store, id);
    views::transfer(
        t,
        &views::TransferNames {
            here,
            branch: &branch,
            product: &product,
            user: &user,
        },
    )
}

fn auto_lock_of(store: &Store) -> Result<u32, CommandError> {
    Ok(store
        .device_pref(AUTO_LOCK_PREF)?
        .and_then(|v| v.parse().ok())
        .filter(|m| *m <= MAX_AUTO_LOCK_MINUTES)
        .unwrap_or(DEFAULT_AUTO_LOCK_MINUTES))
}

impl App {
    /// Opens (creating and migrating) `<data_dir>/pos.sqlite3` and
    /// builds the sync engine with the configured Back Office, if its
    /// address and key are both set.
    pub fn open(config: AppConfig) -> Result<App, CommandError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            internal(format!(
                "the data folder {} could not be created: {e}",
                config.data_dir.display()
            ))
        })?;
        let store = Store::open(&config.data_dir.join(DATABASE_FILE), config.clock.clone())?;
        App::with_store(store, config.keys, config.sync, config.clock)
    }

    /// A till in memory (tests).
    pub fn open_in_memory(
        keys: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<App, CommandError> {
        let store = Store::open_in_memory(clock.clone())?;
        App::with_store(store, keys, SyncConfig::default(), clock)
    }

    fn with_store(
        store: Store,
        keys: Arc<dyn KeyStore>,
        sync: SyncConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<App, CommandError> {
        let auto_lock = auto_lock_of(&store)?;
        // A missing keyring or a bad stored address must not stop the till
        // from selling: it starts unconnected and Settings says why.
        let client = match pos_sync::configured_backoffice(&store, keys.as_ref()) {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "the Back Office connection is not usable");
                None
            }
        };
        let store = Arc::new(Mutex::new(store));
        let engine = SyncEngine::new(store.clone(), client, sync);
        Ok(App {
            store,
            engine,
            keys,
            clock,
            session: Mutex::new(None),
            auto_lock_minutes: AtomicU32::new(auto_lock),
            preview: Mutex::new(None),
            ui_ready_at: OnceLock::new(),
            masked_key: Mutex::new(None),
        })
    }

    /// The sync engine: the shell spawns `engine.run()` and forwards
    /// `engine.subscribe()` as the `sync-status` event.
    pub fn engine(&self) -> &SyncEngine {
        &self.engine
    }

    /// The `sync-status` event's payload for `status`.
    pub fn sync_status_view(&self, status: &SyncStatus) -> SyncStatusView {
        let url = self.store().backoffice_url().unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not read the Back Office address");
            None
        });
        views::sync_status(status, url)
    }

    /// When the UI said it was ready, if it has.
    pub fn ui_ready_at(&self) -> Option<Timestamp> {
        self.ui_ready_at.get().copied()
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    // ------------------------------------------------------------ the gate

    /// The signed-in, unlocked user; locks the session when it has been
    /// idle for longer than the auto-lock delay. Counts as activity.
    fn signed_in(&self) -> Result<Actor, CommandError> {
        let now = self.clock.now();
        let minutes = self.auto_lock_minutes.load(Ordering::SeqCst);
        let actor = {
            let mut session = lock(&self.session);
            let s = session.as_mut().ok_or_else(CommandError::not_signed_in)?;
            if s.locked {
                return Err(CommandError::locked());
            }
            let idle = now.as_millis().saturating_sub(s.last_active.as_millis());
            if minutes > 0 && idle >= i64::from(minutes) * 60_000 {
                s.locked = true;
                return Err(CommandError::locked());
            }
            s.last_active = now;
            s.actor.clone()
        };
        // The user may have been renamed, given another role, deactivated or
        // deleted (here or by a pulled change) since signing in.
        let fresh = match self.store().user(actor.user_id) {
            Ok(u) if u.active => Actor {
                user_id: u.id,
                name: u.name,
                role: u.role,
            },
            Ok(_) | Err(StoreError::Deleted { .. } | StoreError::NotFound { .. }) => {
                *lock(&self.session) = None;
                return Err(CommandError::new(
                    ErrorCode::NotSignedIn,
                    "Your user was deactivated or removed; sign in as another user.",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if fresh != actor
            && let Some(s) = lock(&self.session).as_mut()
            && s.actor.user_id == fresh.user_id
        {
            s.actor = fresh.clone();
        }
        Ok(fresh)
    }

    /// The signed-in user, refused unless their role holds `permission`.
    fn allowed(&self, permission: Permission, action: &'static str) -> Result<Actor, CommandError> {
        let actor = self.signed_in()?;
        actor.require(permission, action)?;
        Ok(actor)
    }

    /// Runs `f` with the signed-in user and the store.
    fn run<T>(
        &self,
        f: impl FnOnce(&mut Store, &Actor) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        let actor = self.signed_in()?;
        f(&mut self.store(), &actor)
    }

    /// After a local write: the status shows the new op, and the engine
    /// sends it soon.
    fn queued(&self) {
        self.engine.refresh_counts_now();
        self.engine.nudge();
    }

    fn session_view(&self, store: &Store, actor: &Actor) -> Result<Session, CommandError> {
        let user = store.user(actor.user_id)?;
        Ok(Session {
            user: views::user(&user),
            can: views::capabilities(user.role),
            auto_lock_minutes: self.auto_lock_minutes.load(Ordering::SeqCst),
        })
    }

    fn start_session(&self, actor: Actor) {
        *lock(&self.session) = Some(SessionState {
            actor,
            last_active: self.clock.now(),
            locked: false,
        });
    }

    // ------------------------------------------------------------ session

    pub fn app_info(&self) -> Result<AppInfo, CommandError> {
        let store = self.store();
        let settings = store.settings()?;
        let users = store.users()?;
        let identity = store.identity();
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            store_name: settings.store_name,
            branch_code: identity.branch_code.clone(),
            device_code: identity.device_code.clone(),
            currency: settings.currency.code().to_string(),
            time_zone: identity.time_zone.name().to_string(),
            today: identity
                .time_zone
                .business_day(self.clock.now())
                .to_string(),
            needs_owner: users.is_empty(),
            auto_lock_minutes: self.auto_lock_minutes.load(Ordering::SeqCst),
            users: users.iter().filter(|u| u.active).map(views::user).collect(),
        })
    }

    /// Sets up the first user of a fresh till, the owner, and signs them in.
    pub fn create_owner(&self, name: String, pin: String) -> Result<Session, CommandError> {
        let name = input::name("name", &name)?;
        let pin = Pin::parse(&pin)?;
        let (actor, session) = {
            let mut store = self.store();
            let actor = store.create_first_owner(name, &pin)?;
            let session = self.session_view(&store, &actor)?;
            (actor, session)
        };
        self.start_session(actor);
        Ok(session)
    }

    pub fn login(&self, user_id: String, pin: String) -> Result<Session, CommandError> {
        let id: UserId = input::id("user id", &user_id)?;
        let (actor, session) = {
            let mut store = self.store();
            let actor = store.login(id, &pin)?;
            let session = self.session_view(&store, &actor)?;
            (actor, session)
        };
        self.start_session(actor);
        Ok(session)
    }

    /// Unlocks the locked (or open) session with its user's PIN.
    pub fn unlock(&self, pin: String) -> Result<Session, CommandError> {
        let user_id = lock(&self.session)
            .as_ref()
            .map(|s| s.actor.user_id)
            .ok_or_else(CommandError::not_signed_in)?;
        let (actor, session) = {
            let mut store = self.store();
            let actor = store.login(user_id, &pin)?;
            let session = self.session_view(&store, &actor)?;
            (actor, session)
        };
        let mut current = lock(&self.session);
        match current.as_ref() {
            // Someone else signed in meanwhile: they keep the till.
            Some(s) if s.actor.user_id != user_id => Err(CommandError::not_signed_in()),
            _ => {
                *current = Some(SessionState {
                    actor,
                    last_active: self.clock.now(),
                    locked: false,
                });
                Ok(session)
            }
        }
    }

    pub fn lock(&self) -> Result<(), CommandError> {
        let mut session = lock(&self.session);
        let s = session.as_mut().ok_or_else(CommandError::not_signed_in)?;
        s.locked = true;
        Ok(())
    }

    pub fn logout(&self) -> Result<(), CommandError> {
        *lock(&self.session) = None;
        Ok(())
    }

    /// Activity ping: keeps the session alive.
    pub fn touch(&self) -> Result<(), CommandError> {
        self.signed_in().map(|_| ())
    }

    /// Records (once) that the UI is up; the shell reports the start-up time.
    pub fn ui_ready(&self) -> Result<(), CommandError> {
        let _ = self.ui_ready_at.set(self.clock.now());
        Ok(())
    }

    // ------------------------------------------------------------ catalog

    pub fn categories(&self) -> Result<Vec<CategoryView>, CommandError> {
        self.run(|store, _| Ok(store.categories()?.iter().map(views::category).collect()))
    }

    pub fn products(&self, query: ProductQuery) -> Result<Vec<ProductView>, CommandError> {
        let category: Option<CategoryId> =
            input::opt_id("category id", query.category_id.as_deref())?;
        let text = input::opt_text(query.text);
        let limit = query
            .limit
            .unwrap_or(DEFAULT_LIST)
            .min(pos_store::catalog::MAX_PAGE) as usize;
        self.run(|store, _| {
            let found = match (&text, category) {
                (Some(text), _) => {
                    let mut found = store.search_products(text, pos_store::catalog::MAX_PAGE)?;
                    if let Some(exact) = store.product_by_code(text)? {
                        found.retain(|p| p.id != exact.id);
                        found.insert(0, exact);
                    }
                    if let Some(c) = category {
                        found.retain(|p| p.category_id == Some(c));
                    }
                    found
                }
                (None, Some(c)) => store.products_in_category(Some(c), limit as u32, 0)?,
                (None, None) => store.all_products(limit as u32, 0)?,
            };
            Ok(found.iter().take(limit).map(views::product).collect())
        })
    }

    /// A product by barcode or SKU.
    pub fn product_by_code(&self, code: String) -> Result<Option<ProductView>, CommandError> {
        self.run(|store, _| Ok(store.product_by_code(&code)?.as_ref().map(views::product)))
    }

    /// Creates a product (`id` null) or updates the fields that changed.
    pub fn save_product(&self, product: ProductInput) -> Result<ProductView, CommandError> {
        let id: Option<ProductId> = input::opt_id("product id", product.id.as_deref())?;
        let name = input::name("product name", &product.name)?;
        let sku = input::opt_text(product.sku)
            .map(|s| Sku::parse(&s))
            .transpose()?;
        let barcode = input::opt_text(product.barcode)
            .map(|b| Barcode::parse(&b))
            .transpose()?;
        let category_id: Option<CategoryId> =
            input::opt_id("category id", product.category_id.as_deref())?;
        let tax_code = TaxCode::parse(&product.tax_code)?;
        let low_stock = product
            .low_stock
            .map(|q| input::quantity("low-stock level", q))
            .transpose()?;
        self.run(|store, actor| {
            let price = input::price(product.price, store.settings()?.currency)?;
            let saved = match id {
                None => store.create_product(
                    actor,
                    NewProduct {
                        name,
                        sku,
                        barcode,
                        category_id,
                        price,
                        tax_code,
                        image: None,
                        track_stock: product.track_stock,
                        low_stock,
                    },
                )?,
                Some(id) => store.update_product(
                    actor,
                    id,
                    ProductUpdate {
                        name: Some(name),
                        sku: Some(sku),
                        barcode: Some(barcode),
                        category_id: Some(category_id),
                        price: Some(price),
                        tax_code: Some(tax_code),
                        image: None,
                        track_stock: Some(product.track_stock),
                        low_stock: Some(low_stock),
                    },
                )?,
            };
            Ok(views::product(&saved))
        })
        .inspect(|_| self.queued())
    }

    pub fn delete_product(&self, id: String) -> Result<(), CommandError> {
        let id: ProductId = input::id("product id", &id)?;
        self.run(|store, actor| Ok(store.delete_product(actor, id)?))
            .inspect(|_| self.queued())
    }

    /// Creates a category (last in the grid) or renames one.
    pub fn save_category(&self, category: CategoryInput) -> Result<CategoryView, CommandError> {
        let id: Option<CategoryId> = input::opt_id("category id", category.id.as_deref())?;
        let name = input::name("category name", &category.name)?;
        self.run(|store, actor| {
            let saved = match id {
                None => {
                    let next = store
                        .categories()?
                        .iter()
                        .map(|c| c.sort_order + 1)
                        .max()
                        .unwrap_or(0);
                    store.create_category(actor, name, next)?
                }
                Some(id) => store.update_category(
                    actor,
                    id,
                    CategoryUpdate {
                        name: Some(name),
                        sort_order: None,
                    },
                )?,
            };
            Ok(views::category(&saved))
        })
        .inspect(|_| self.queued())
    }

    pub fn delete_category(&self, id: String) -> Result<(), CommandError> {
        let id: CategoryId = input::id("category id", &id)?;
        self.run(|store, actor| Ok(store.delete_category(actor, id)?))
            .inspect(|_| self.queued())
    }

    /// Goods received: `quantity` thousandths more of a product.
    pub fn restock(
        &self,
        product_id: String,
        quantity: i64,
        note: Option<String>,
    ) -> Result<ProductView, CommandError> {
        let id: ProductId = input::id("product id", &product_id)?;
        let quantity = input::quantity("quantity", quantity)?;
        let note = input::opt_text(note);
        self.run(|store, actor| {
            store.restock(actor, id, quantity, note)?;
            Ok(views::product(&store.product(id)?))
        })
        .inspect(|_| self.queued())
    }

    /// Records a stock count. The store notes each line's count and
    /// expectation on its movement; `note` is not kept (the store has no
    /// place for a stocktake-wide note yet).
    pub fn stocktake(
        &self,
        lines: Vec<CountedLine>,
        note: Option<String>,
    ) -> Result<Vec<StocktakeLineView>, CommandError> {
        let _ = note;
        let counts = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let field = format!("product id of line {}", i + 1);
                Ok((
                    input::id::<ProductId>(&field, &l.product_id)?,
                    input::quantity("count", l.counted)?,
                ))
            })
            .collect::<Result<Vec<_>, CommandError>>()?;
        self.run(|store, actor| {
            Ok(store
                .stocktake(actor, &counts)?
                .iter()
                .map(views::stocktake_line)
                .collect())
        })
        .inspect(|_| self.queued())
    }

    pub fn low_stock(&self) -> Result<Vec<ProductView>, CommandError> {
        self.run(|store, _| {
            Ok(store
                .low_stock(DEFAULT_LIST)?
                .iter()
                .map(views::product)
                .collect())
        })
    }

    pub fn stock_movements(&self, product_id: String) -> Result<Vec<MovementView>, CommandError> {
        let id: ProductId = input::id("product id", &product_id)?;
        self.run(|store, _| {
            Ok(store
                .stock_movements(id, HISTORY_ROWS)?
                .iter()
                .map(views::movement)
                .collect())
        })
    }

    // ------------------------------------------------------------ branches and transfers

    /// The branches this till knows (its own first, then those pulled from
    /// the Back Office); removed ones are left out.
    pub fn branches(&self) -> Result<Vec<BranchView>, CommandError> {
        self.run(|store, _| {
            Ok(store
                .branches()?
                .iter()
                .filter(|b| !b.deleted)
                .map(views::branch)
                .collect())
        })
    }

    /// This branch's transfers, newest first: all, those to receive, or
    /// those in transit.
    pub fn transfers(
        &self,
        filter: TransferFilterInput,
    ) -> Result<Vec<TransferView>, CommandError> {
        let filter = match filter {
            TransferFilterInput::All => TransferFilter::All,
            TransferFilterInput::ToReceive => TransferFilter::ToReceive,
            TransferFilterInput::InTransit => TransferFilter::InTransit,
        };
        self.run(|store, _| {
            let branches = store.branches()?;
            Ok(store
                .transfers(filter, DEFAULT_LIST)?
                .iter()
                .map(|t| transfer_view(store, &branches, t))
                .collect())
        })
    }

    pub fn transfer(&self, id: String) -> Result<TransferView, CommandError> {
        let id: TransferId = input::id("transfer id", &id)?;
        self.run(|store, _| {
            Ok(transfer_view(
                store,
                &store.branches()?,
                &store.transfer(id)?,
            ))
        })
    }

    /// Sends stock from this branch to another (managers and owners): it
    /// leaves this branch's stock now. One bad line refuses the whole
    /// transfer and changes nothing.
    pub fn send_transfer(&self, transfer: SendTransferInput) -> Result<TransferView, CommandError> {
        let to = transfer.to_branch_id.trim();
        if to.is_empty() {
            return Err(CommandError::invalid(
                "choose the destination branch to send the stock to",
            ));
        }
        let to: BranchId = input::id("destination branch", to)?;
        let lines = transfer
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let n = i + 1;
                let product: ProductId =
                    input::id(&format!("product id of line {n}"), &l.product_id)?;
                let quantity = input::quantity(&format!("quantity of line {n}"), l.quantity)?;
                if quantity <= Quantity::ZERO {
                    return Err(CommandError::invalid(format!(
                        "the quantity of line {n} must be more than zero"
                    )));
                }
                Ok((product, quantity))
            })
            .collect::<Result<Vec<_>, CommandError>>()?;
        let note = input::opt_text(transfer.note);
        self.run(|store, actor| {
            // Checked here too, to name the field: the store would answer
            // "branch not found".
            let branches = store.branches()?;
            if !branches.iter().any(|b| b.id == to && !b.deleted) {
                return Err(CommandError::invalid(
                    "the destination branch is not one this till knows; pull updates from the Back Office, then pick it again",
                ));
            }
            let sent = store.send_transfer(actor, to, &lines, note)?;
            Ok(transfer_view(store, &branches, &sent))
        })
        .inspect(|_| self.queued())
    }

    /// Records what arrived of a transfer to this branch (managers and
    /// owners), once: a counted quantity for every line, zero for what did
    /// not arrive. A line counted differently from what was sent is
    /// flagged as a discrepancy at both branches.
    pub fn receive_transfer(
        &self,
        receipt: ReceiveTransferInput,
    ) -> Result<TransferView, CommandError> {
        let id: TransferId = input::id("transfer id", &receipt.transfer_id)?;
        let mut counted: Vec<(u32, Quantity)> = Vec::with_capacity(receipt.lines.len());
        for l in &receipt.lines {
            let q = input::quantity(
                &format!("received quantity of line {}", l.line_no),
                l.quantity,
            )?;
            if q < Quantity::ZERO {
                return Err(CommandError::invalid(format!(
                    "the received quantity of line {} cannot be negative; enter 0 if nothing arrived",
                    l.line_no
                )));
            }
            if counted.iter().any(|(n, _)| *n == l.line_no) {
                return Err(CommandError::invalid(format!(
                    "line {} is given twice; enter one received quantity per line",
                    l.line_no
                )));
            }
            counted.push((l.line_no, q));
        }
        let note = input::opt_text(receipt.note);
        self.run(|store, actor| {
            let transfer = store.transfer(id)?;
            if let Some((n, _)) = counted
                .iter()
                .find(|(n, _)| !transfer.lines.iter().any(|l| l.line_no == *n))
            {
                return Err(CommandError::invalid(format!(
                    "the transfer has no line {n}; reload it and enter its lines' quantities"
                )));
            }
            let received = transfer
                .lines
                .iter()
                .map(|line| {
                    counted
                        .iter()
                        .find(|(n, _)| *n == line.line_no)
                        .map(|(_, q)| *q)
                        .ok_or_else(|| {
                            CommandError::invalid(format!(
                                "enter the received quantity of line {} (0 if it did not arrive)",
                                line.line_no
                            ))
                        })
                })
                .collect::<Result<Vec<_>, CommandError>>()?;
            let done = store.receive_transfer(actor, id, &received, note)?;
            Ok(transfer_view(store, &store.branches()?, &done))
        })
        .inspect(|_| self.queued())
    }

    // ------------------------------------------------------------ selling

    /// A fresh sale id for a cart that opens: paying twice with it records
    /// the sale once.
    pub fn new_sale_id(&self) -> Result<String, CommandError> {
        self.allowed(Permission::Sell, "sell")?;
        Ok(SaleId::new().to_string())
    }

    /// Prices a cart from the catalog exactly as checkout will.
    pub fn price_cart(&self, cart: CartInput) -> Result<CartView, CommandError> {
        self.allowed(Permission::Sell, "sell")?;
        let store = self.store();
        let currency = store.settings()?.currency;
        let (lines, discount) = input::cart(&cart, currency)?;
        let PricedCart {
            cart: priced,
            totals,
            products,
        } = store.price_cart(&lines, discount)?;
        let mut taken: Vec<(ProductId, i64)> = Vec::new();
        let lines = priced
            .lines
            .iter()
            .zip(&totals.lines)
            .zip(&products)
            .map(|((line, t), product)| {
                let stock_after = product.track_stock.then(|| {
                    let before: i64 = taken
                        .iter()
                        .filter(|(p, _)| *p == product.id)
                        .map(|(_, q)| q)
                        .sum();
                    taken.push((product.id, line.quantity.milli()));
                    product.stock.milli() - before - line.quantity.milli()
                });
                CartLineView {
                    product_id: line.product_id.to_string(),
                    name: line.name.clone(),
                    unit_price: line.unit_price.minor(),
                    quantity: line.quantity.milli(),
                    discount: t.line_discount.minor() + t.cart_discount.minor(),
                    tax: t.tax.minor(),
                    total: t.total.minor(),
                    stock_after,
                }
            })
            .collect();
        Ok(CartView {
            lines,
            subtotal: totals.subtotal.minor(),
            discount: totals.discount.minor(),
            tax: totals.tax.minor(),
            total: totals.total.minor(),
            currency: currency.code().to_string(),
        })
    }

    /// Records a paid sale (once per sale id) and returns its receipt.
    pub fn checkout(&self, checkout: CheckoutInput) -> Result<ReceiptView, CommandError> {
        self.run(|store, actor| {
            let co = input::checkout(&checkout, store.settings()?.currency)?;
            let sale = store.checkout(actor, &co)?;
            receipt_view(store, &sale)
        })
        .inspect(|_| self.queued())
    }

    pub fn recent_sales(&self, limit: u32) -> Result<Vec<SaleRow>, CommandError> {
        self.run(|store, _| {
            Ok(store
                .recent_sales(limit)?
                .iter()
                .map(|s| views::sale_row(s, user_name(store, s.cashier_id)))
                .collect())
        })
    }

    pub fn receipt(&self, sale_id: String) -> Result<ReceiptView, CommandError> {
        let id: SaleId = input::id("sale id", &sale_id)?;
        self.run(|store, _| receipt_view(store, &store.sale(id)?))
    }

    /// Voids a whole sale (managers); returns the void's receipt.
    pub fn void_sale(&self, sale_id: String, reason: String) -> Result<ReceiptView, CommandError> {
        let id: SaleId = input::id("sale id", &sale_id)?;
        self.run(|store, actor| {
            let void = store.void_sale(actor, id, &reason)?;
            receipt_view(store, &void)
        })
        .inspect(|_| self.queued())
    }

    /// Takes items back (managers); returns the refund's receipt.
    pub fn refund(&self, refund: RefundInput) -> Result<ReceiptView, CommandError> {
        let refund = input::refund(&refund)?;
        self.run(|store, actor| {
            let record = store.refund(actor, &refund)?;
            receipt_view(store, &record)
        })
        .inspect(|_| self.queued())
    }

    // ------------------------------------------------------------ expenses

    /// The expense categories this branch has used, for the form's choices.
    pub fn expense_categories(&self) -> Result<Vec<String>, CommandError> {
        self.allowed(Permission::RecordExpense, "record expenses")?;
        Ok(self.store().expense_categories()?)
    }

    /// This branch's expenses on business days `from` to `to`.
    pub fn expenses(&self, from: String, to: String) -> Result<Vec<ExpenseView>, CommandError> {
        let from = input::day("first day", &from)?;
        let to = input::day("last day", &to)?;
        self.allowed(Permission::RecordExpense, "see expenses")?;
        self.run(|store, _| {
            Ok(store
                .expenses(from, to)?
                .iter()
                .map(|e| views::expense(e, Some(user_name(store, e.user_id))))
                .collect())
        })
    }

    pub fn record_expense(&self, expense: ExpenseInput) -> Result<ExpenseView, CommandError> {
        let category = input::name("category", &expense.category)?;
        let paid_with = ExpensePaidWith::parse(expense.paid_with.trim()).ok_or_else(|| {
            CommandError::invalid(format!(
                "'{}' is not a way to pay an expense; use cash, mpesa, card or bank",
                expense.paid_with
            ))
        })?;
        self.run(|store, actor| {
            let amount = input::money("amount", expense.amount, store.settings()?.currency)?;
            let saved = store.record_expense(
                actor,
                NewExpense {
                    category,
                    description: expense.description.clone(),
                    amount,
                    paid_with,
                    reference: input::opt_text(expense.reference.clone()),
                    spent_at: None,
                },
            )?;
            Ok(views::expense(&saved, Some(actor.name.clone())))
        })
        .inspect(|_| self.queued())
    }

    pub fn delete_expense(&self, id: String) -> Result<(), CommandError> {
        let id: ExpenseId = input::id("expense id", &id)?;
        self.run(|store, actor| Ok(store.delete_expense(actor, id)?))
            .inspect(|_| self.queued())
    }

    // ------------------------------------------------------------ customers

    /// Customers whose name or phone matches `text`; empty text lists all by
    /// name.
    pub fn customers(&self, text: String) -> Result<Vec<CustomerView>, CommandError> {
        self.allowed(Permission::ServeCustomers, "see customers")?;
        self.run(|store, _| {
            Ok(store
                .search_customers(&text, pos_store::customers::MAX_SEARCH_RESULTS)?
                .iter()
                .map(views::customer)
                .collect())
        })
    }

    pub fn save_customer(&self, customer: CustomerInput) -> Result<CustomerView, CommandError> {
        let id: Option<CustomerId> = input::opt_id("customer id", customer.id.as_deref())?;
        let name = input::name("customer name", &customer.name)?;
        let phone = input::phone(customer.phone)?;
        let email = input::opt_text(customer.email);
        let notes = input::opt_text(customer.notes);
        self.run(|store, actor| {
            let limit = input::money(
                "credit limit",
                customer.credit_limit,
                store.settings()?.currency,
            )?;
            let saved = match id {
                None => store.create_customer(
                    actor,
                    NewCustomer {
                        name,
                        phone,
                        email,
                        credit_limit: limit,
                        notes,
                    },
                )?,
                Some(id) => store.update_customer(
                    actor,
                    id,
                    CustomerUpdate {
                        name: Some(name),
                        phone: Some(phone),
                        email: Some(email),
                        credit_limit: Some(limit),
                        notes: Some(notes),
                    },
                )?,
            };
            Ok(views::customer(&saved))
        })
        .inspect(|_| self.queued())
    }

    pub fn delete_customer(&self, id: String) -> Result<(), CommandError> {
        let id: CustomerId = input::id("customer id", &id)?;
        self.run(|store, actor| Ok(store.delete_customer(actor, id)?))
            .inspect(|_| self.queued())
    }

    pub fn customer_ledger(&self, id: String) -> Result<Vec<LedgerView>, CommandError> {
        let id: CustomerId = input::id("customer id", &id)?;
        self.allowed(Permission::ServeCustomers, "see customers' accounts")?;
        self.run(|store, _| {
            Ok(store
                .customer_ledger(id, HISTORY_ROWS)?
                .iter()
                .map(views::ledger)
                .collect())
        })
    }

    /// A customer's sales and account at every branch, read-only. Online,
    /// the Back Office's answer (`source: back_office`); when the till is
    /// not connected or the Back Office does not answer, what this till has
    /// (`source: this_till`: its own branch's sales and every ledger entry it
    /// pulled) with `offline_reason` saying why. Changes nothing.
    pub async fn customer_history(
        &self,
        customer_id: String,
    ) -> Result<CustomerHistoryView, CommandError> {
        let id: CustomerId = input::id("customer id", &customer_id)?;
        self.allowed(Permission::ServeCustomers, "see customers' accounts")?;
        let branch_code = self.store().identity().branch_code.clone();
        let reason = match self.engine.backoffice() {
            None => "This till is not connected to a Back Office (Settings > Back Office), so other branches' sales cannot be fetched.".to_string(),
            Some(client) => match client.customer_history(id).await {
                Ok(history) => {
                    return Ok(views::customer_history(
                        &history,
                        HistorySource::BackOffice,
                        None,
                        branch_code,
                    ));
                }
                Err(e) => {
                    tracing::info!(error = %e, "customer history: showing this till's records");
                    match &e {
                        pos_sync::ClientError::Server {
                            code: sync_protocol::ErrorCode::NotFound,
                            ..
                        } => "The Back Office does not have this customer yet (not pushed); showing what this till has.".to_string(),
                        pos_sync::ClientError::Unreachable { url, detail } => format!(
                            "The Back Office at {url} cannot be reached ({detail}), so other branches' sales cannot be fetched."
                        ),
                        _ => sentence(e.to_string()),
                    }
                }
            },
        };
        let history = self.store().customer_history(id, self.clock.now())?;
        Ok(views::customer_history(
            &history,
            HistorySource::ThisTill,
            Some(reason),
            branch_code,
        ))
    }

    /// A payment towards what a customer owes. `note` is not kept (the
    /// store's ledger payment has no note yet).
    pub fn record_customer_payment(
        &self,
        payment: CustomerPaymentInput,
    ) -> Result<CustomerView, CommandError> {
        let id: CustomerId = input::id("customer id", &payment.customer_id)?;
        let method = input::payment_method(&payment.method)?;
        self.run(|store, actor| {
            let amount = input::money("amount", payment.amount, store.settings()?.currency)?;
            let c = store.record_customer_payment(
                actor,
                id,
                amount,
                method,
                input::opt_text(payment.reference.clone()),
            )?;
            Ok(views::customer(&c))
        })
        .inspect(|_| self.queued())
    }

    // ------------------------------------------------------------ users

    /// Every user (managers and owners).
    pub fn users(&self) -> Result<Vec<UserView>, CommandError> {
        let actor = self.signed_in()?;
        if actor.role < Role::Manager {
            return Err(CommandError::forbidden(
                "only a manager or above can see the users; ask a manager",
            ));
        }
        Ok(self.store().users()?.iter().map(views::user).collect())
    }

    /// Adds a user (`id` null; then `pin` is required) or changes one; a
    /// `pin` on an existing user resets it. New users start active.
    pub fn save_user(&self, user: UserInput) -> Result<UserView, CommandError> {
        let id: Option<UserId> = input::opt_id("user id", user.id.as_deref())?;
        let name = input::name("name", &user.name)?;
        let role = input::role(user.role);
        let pin = user
            .pin
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Pin::parse)
            .transpose()?;
        self.run(|store, actor| {
            let saved = match id {
                None => {
                    let pin = pin.ok_or_else(|| {
                        CommandError::invalid("a new user needs a PIN of 4 to 8 digits")
                    })?;
                    store.add_user(actor, name, role, &pin)?
                }
                Some(id) => {
                    let saved = store.update_user(
                        actor,
                        id,
                        UserUpdate {
                            name: Some(name),
                            role: Some(role),
                            active: Some(user.active),
                        },
                    )?;
                    if let Some(pin) = &pin {
                        store.reset_pin(actor, id, pin)?;
                    }
                    saved
                }
            };
            Ok(views::user(&saved))
        })
        .inspect(|_| self.queued())
    }

    pub fn reset_pin(&self, user_id: String, pin: String) -> Result<(), CommandError> {
        let id: UserId = input::id("user id", &user_id)?;
        let pin = Pin::parse(&pin)?;
        self.run(|store, actor| Ok(store.reset_pin(actor, id, &pin)?))
            .inspect(|_| self.queued())
    }

    pub fn unlock_user(&self, user_id: String) -> Result<(), CommandError> {
        let id: UserId = input::id("user id", &user_id)?;
        self.run(|store, actor| Ok(store.unlock_user(actor, id)?))
    }

    pub fn delete_user(&self, user_id: String) -> Result<(), CommandError> {
        let id: UserId = input::id("user id", &user_id)?;
        self.run(|store, actor| Ok(store.delete_user(actor, id)?))
            .inspect(|_| self.queued())
    }

    pub fn change_own_pin(&self, old_pin: String, new_pin: String) -> Result<(), CommandError> {
        let new_pin = Pin::parse(&new_pin)?;
        self.run(|store, actor| Ok(store.change_own_pin(actor, &old_pin, &new_pin)?))
            .inspect(|_| self.queued())
    }

    // ------------------------------------------------------------ reports

    /// One business day's summary; `None` is today in the branch's zone.
    pub fn day_report(&self, day: Option<String>) -> Result<DayReport, CommandError> {
        let day = day
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| input::day("day", d))
            .transpose()?;
        self.run(|store, actor| {
            let zone = store.identity().time_zone;
            let day = day.unwrap_or_else(|| zone.business_day(self.clock.now()));
            let summary = store.day_summary(actor, day)?;
            let cashiers = store.sales_by_cashier(actor, day, day)?;
            let products = store.sales_by_product(actor, day, day, BEST_SELLERS)?;
            let expenses_by_category = store.expenses_by_category(actor, day, day)?;
            let mut stock = store.stock_levels(actor, REPORT_STOCK_ROWS + 1)?;
            let stock_truncated = stock.len() > REPORT_STOCK_ROWS as usize;
            stock.truncate(REPORT_STOCK_ROWS as usize);
            let stock_summary = store.stock_summary(actor)?;
            let here = store.identity().branch_id;
            let branch = store
                .branches()?
                .into_iter()
                .find(|b| b.id == here)
                .ok_or_else(|| internal("this till's branch is missing from its database"))?;
            Ok(views::day_report(
                &summary,
                views::DayReportParts {
                    cashiers: &cashiers,
                    products: &products,
                    time_zone: zone.name(),
                    branch: &branch,
                    expenses_by_category: &expenses_by_category,
                    stock: &stock,
                    stock_truncated,
                    stock_summary,
                },
            ))
        })
    }

    // ------------------------------------------------------------ settings

    /// The key's masked form and the keyring's state. Asks the key store,
    /// so never called with the store locked (a keyring may be slow).
    fn key_status(&self) -> (Option<String>, KeyringView) {
        let available = KeyringView {
            available: true,
            message: None,
        };
        if let Some(masked) = lock(&self.masked_key).clone() {
            return (masked, available);
        }
        match self.keys.load() {
            Ok(key) => {
                let masked = key.map(|k| views::mask_key(k.expose()));
                *lock(&self.masked_key) = Some(masked.clone());
                (masked, available)
            }
            Err(e @ KeyStoreError::BadKey(_)) => (
                None,
                KeyringView {
                    available: true,
                    message: Some(sentence(e.to_string())),
                },
            ),
            Err(e) => (
                None,
                KeyringView {
                    available: false,
                    message: Some(sentence(e.to_string())),
                },
            ),
        }
    }

    fn settings_view(&self) -> Result<SettingsView, CommandError> {
        let (api_key_masked, keyring) = self.key_status();
        let store = self.store();
        let s = store.settings()?;
        let identity = store.identity();
        Ok(SettingsView {
            store_name: s.store_name,
            address: s.address,
            phone: s.phone,
            tax_pin: s.tax_pin,
            receipt_header: s.receipt_header,
            receipt_footer: s.receipt_footer,
            currency: s.currency.code().to_string(),
            time_zone: s.time_zone.name().to_string(),
            tax_mode: s.tax_mode.as_str().to_string(),
            tax_rates: store.tax_rates()?.iter().map(views::tax_rate).collect(),
            auto_lock_minutes: self.auto_lock_minutes.load(Ordering::SeqCst),
            backoffice_url: store.backoffice_url()?,
            api_key_masked,
            keyring,
            branch_code: identity.branch_code.clone(),
            device_code: identity.device_code.clone(),
        })
    }

    /// Anyone signed in may read the settings (the key only masked).
    pub fn settings(&self) -> Result<SettingsView, CommandError> {
        self.signed_in()?;
        self.settings_view()
    }

    /// Saves the business settings and this till's auto-lock delay; one bad
    /// field refuses everything.
    pub fn save_settings(&self, settings: SettingsInput) -> Result<SettingsView, CommandError> {
        if settings.auto_lock_minutes > MAX_AUTO_LOCK_MINUTES {
            return Err(CommandError::invalid(format!(
                "the auto-lock delay is at most {MAX_AUTO_LOCK_MINUTES} minutes (0 never locks)"
            )));
        }
        self.run(|store, actor| {
            store.update_settings(
                actor,
                SettingsUpdate {
                    store_name: Some(settings.store_name),
                    address: Some(settings.address),
                    phone: Some(settings.phone),
                    tax_pin: Some(settings.tax_pin),
                    receipt_header: Some(settings.receipt_header),
                    receipt_footer: Some(settings.receipt_footer),
                    currency: Some(settings.currency),
                    time_zone: Some(settings.time_zone),
                    tax_mode: Some(settings.tax_mode),
                },
            )?;
            let minutes = settings.auto_lock_minutes;
            store.set_device_pref(AUTO_LOCK_PREF, Some(&minutes.to_string()))?;
            self.auto_lock_minutes.store(minutes, Ordering::SeqCst);
            Ok(())
        })?;
        self.queued();
        self.settings_view()
    }

    pub fn save_tax_rate(&self, rate: TaxRateView) -> Result<SettingsView, CommandError> {
        self.run(|store, actor| {
            store.upsert_tax_rate(actor, &rate.code, &rate.name, i64::from(rate.basis_points))?;
            Ok(())
        })?;
        self.queued();
        self.settings_view()
    }

    pub fn retire_tax_rate(&self, code: String) -> Result<SettingsView, CommandError> {
        self.run(|store, actor| Ok(store.retire_tax_rate(actor, &code)?))?;
        self.queued();
        self.settings_view()
    }

    /// Connects this till to a Back Office: checks the address and key,
    /// keeps the key in the key store and the address in the database, and
    /// hands the engine the new client. A null key keeps the stored one.
    pub fn save_connection(
        &self,
        connection: ConnectionInput,
    ) -> Result<SettingsView, CommandError> {
        let actor = self.allowed(Permission::ManageSettings, "change the Back Office address")?;
        let client = match input::opt_text(connection.api_key) {
            Some(text) => {
                let key = ApiKey::parse(&text)?;
                let client = BackOffice::new(&connection.url, key.clone())?;
                *lock(&self.masked_key) = None;
                self.keys.save(&key)?;
                client
            }
            None => {
                // The address first: a typo is reported before the keyring.
                BackOffice::new(&connection.url, ApiKey::parse("placeholder")?)?;
                let key = self.keys.load()?.ok_or_else(|| {
                    CommandError::invalid(
                        "no API key is stored on this till; enter the key from Back Office > Settings > Connected Devices",
                    )
                })?;
                BackOffice::new(&connection.url, key)?
            }
        };
        self.store()
            .set_backoffice_url(&actor, Some(client.base_url()))?;
        self.engine.set_backoffice(Some(client));
        self.engine.nudge();
        self.settings_view()
    }

    /// Asks the Back Office at `connection.url` for its status and, when a
    /// key is given or stored, which device the key belongs to.
    pub async fn test_connection(
        &self,
        connection: ConnectionInput,
    ) -> Result<ConnectionTest, CommandError> {
        self.allowed(
            Permission::ManageSettings,
            "check the Back Office connection",
        )?;
        let key = match input::opt_text(connection.api_key) {
            Some(text) => Some(ApiKey::parse(&text)?),
            None => self.keys.load().ok().flatten(),
        };
        let has_key = key.is_some();
        let key = match key {
            Some(k) => k,
            None => ApiKey::parse("none")?,
        };
        let client = BackOffice::new(&connection.url, key)?;
        let status = client.status().await?;
        let skew = self.clock.now().as_millis() - status.server_time.as_millis();
        let (device, branch) = if has_key {
            let info = client.device().await?;
            (
                Some(format!("{} ({})", info.device_name, info.device_code)),
                Some(format!("{} ({})", info.branch.name, info.branch.code)),
            )
        } else {
            (None, None)
        };
        Ok(ConnectionTest {
            server_version: status.version,
            server_time: views::time(status.server_time),
            clock_skew_ms: skew,
            device,
            branch,
        })
    }

    /// Disconnects the till: forgets the address and the key.
    pub fn forget_connection(&self) -> Result<SettingsView, CommandError> {
        let actor = self.allowed(Permission::ManageSettings, "change the Back Office address")?;
        self.store().set_backoffice_url(&actor, None)?;
        self.engine.set_backoffice(None);
        *lock(&self.masked_key) = None;
        self.keys.delete()?;
        self.settings_view()
    }

    // ------------------------------------------------------------ sync

    fn current_status(&self) -> SyncStatusView {
        self.engine.refresh_counts_now();
        self.sync_status_view(&self.engine.status())
    }

    pub fn sync_status(&self) -> Result<SyncStatusView, CommandError> {
        self.signed_in()?;
        Ok(self.current_status())
    }

    /// **Push Pending Data**; a failed round shows in the status.
    pub async fn push_pending(&self) -> Result<SyncStatusView, CommandError> {
        self.allowed(Permission::ManageSync, "push pending data")?;
        if let Err(e) = self.engine.push_pending().await {
            tracing::warn!(error = %e, "push round failed");
        }
        Ok(self.current_status())
    }

    /// **Pull Updates**; a failed round shows in the status.
    pub async fn pull_updates(&self) -> Result<SyncStatusView, CommandError> {
        self.allowed(Permission::ManageSync, "pull updates")?;
        if let Err(e) = self.engine.pull_updates().await {
            tracing::warn!(error = %e, "pull round failed");
        }
        Ok(self.current_status())
    }

    /// Puts a quarantined op back in line (managers).
    pub fn retry_quarantined(&self, op_id: String) -> Result<SyncStatusView, CommandError> {
        let id: OpId = input::id("operation id", &op_id)?;
        self.run(|store, actor| Ok(store.outbox_retry(actor, id)?))?;
        self.engine.nudge();
        Ok(self.current_status())
    }

    /// Discards a quarantined op (managers): kept, marked, never sent.
    pub fn discard_quarantined(&self, op_id: String) -> Result<SyncStatusView, CommandError> {
        let id: OpId = input::id("operation id", &op_id)?;
        self.run(|store, actor| Ok(store.outbox_discard(actor, id)?))?;
        Ok(self.current_status())
    }

    /// Step 1 of Full Cloud Synchronization; the preview is kept for apply.
    pub async fn full_sync_preview(&self) -> Result<FullSyncPreviewView, CommandError> {
        self.allowed(Permission::ManageSync, "run Full Cloud Synchronization")?;
        let preview = self.engine.full_sync_preview().await?;
        let view = views::full_sync_preview(&preview);
        *lock(&self.preview) = Some(preview);
        Ok(view)
    }

    /// Step 2: uploads what the last preview named, reporting progress.
    pub async fn full_sync_apply(
        &self,
        remove_server_only: bool,
        progress: impl Fn(FullSyncProgressView) + Send + Sync + 'static,
    ) -> Result<FullSyncReportView, CommandError> {
        self.allowed(Permission::ManageSync, "run Full Cloud Synchronization")?;
        let preview = lock(&self.preview).clone().ok_or_else(|| {
            CommandError::invalid("run the Full Cloud Synchronization preview first")
        })?;
        let report = self
            .engine
            .full_sync_apply(
                &preview,
                FullSyncOptions { remove_server_only },
                &move |p| progress(views::full_sync_progress(&p)),
            )
            .await?;
        *lock(&self.preview) = None;
        Ok(views::full_sync_report(&report))
    }
}
