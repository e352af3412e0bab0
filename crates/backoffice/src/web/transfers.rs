//! Stock transfers between branches (`/transfers`): every transfer, sent by
//! a till or from here, with where it is (in transit, received, received
//! with a discrepancy); one transfer's lines (`/transfers/{id}`), sent
//! against received; sending one (`/transfers/new`) and receiving one.
//!
//! A transfer is two append-only facts, like at the tills (DESIGN.md
//! invariants 6 and 7): the **sending** branch records `transfer_sent` (the
//! goods leave its stock at once, `transfer_out` movements), and the
//! **receiving** branch records `transfer_received` once, with what it
//! counted (`transfer_in` movements of those quantities). Stock belongs to
//! its branch, so the dashboard writes each fact *as that branch*: the op
//! goes through [`write::apply_for`] with the sending branch (or the
//! receiving one) as its context, and [`crate::apply`] checks it exactly as
//! it checks a till's push. A branch with no till (a store room), or an
//! owner who counted the delivery, receives it here; a till of the
//! receiving branch may receive it instead, and whichever comes first is the
//! receipt (a transfer is received once).
//!
//! The forms need no script: the send form has [`FIRST_ROWS`] line rows, and
//! its "Add a line" button posts the form back with one more row, keeping
//! what was typed. A line names its product by SKU, barcode or exact name,
//! typed or picked from one shared `<datalist>` of the live products (never
//! a `<select>` per row: a catalogue of thousands would repeat in each).

use std::collections::HashMap;
use std::str::FromStr;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use pos_domain::{
    BranchId, MovementId, MovementKind, ProductId, Quantity, Timestamp, TransferId,
    TransferReceiptId, UserId,
};
use record_sql::transfers::{self as read, Side, StateFilter, TransferState, TransferView};
use rusqlite::{Connection, OptionalExtension};
use sync_protocol::{
    OpBody, StockMovementRecord, TransferLine, TransferReceivedLine, TransferReceivedRecord,
    TransferSentRecord,
};

use super::catalog::{branch_select, chosen_branch};
use super::fmt::{self, plural};
use super::page::{self, Nav, WebError, csrf_field, form_error};
use super::sales::{branch_filter, check_branch, query_fields, shown};
use super::session::{Posted, WebUser};
use super::{db, write};
use crate::devices::{Branch, all_branches};
use crate::state::AppState;

/// The most transfers the list shows (newest first, after the filters).
pub const LIST_LIMIT: u32 = 500;
/// A send's notice lists its lines up to this many; past it, it counts them
/// (the notice travels in a cookie).
pub const FLASH_LINES: usize = 5;
/// Line rows of a new send form.
pub const FIRST_ROWS: usize = 5;
/// The most lines one transfer may have.
pub const MAX_LINES: usize = 100;
/// The longest note on a transfer.
const MAX_NOTE_CHARS: usize = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/transfers", get(list).post(send))
        .route("/transfers/new", get(new_form))
        .route("/transfers/{id}", get(detail))
        .route("/transfers/{id}/receive", post(receive))
}

// Reading ------------------------------------------------------------------------

/// How a state reads in the filter and on its badge.
fn state_label(s: TransferState) -> &'static str {
    match s {
        TransferState::Sent => "In transit",
        TransferState::Received => "Received",
        TransferState::ReceivedWithDiscrepancy => "Received with discrepancy",
    }
}

const STATES: [TransferState; 3] = [
    TransferState::Sent,
    TransferState::Received,
    TransferState::ReceivedWithDiscrepancy,
];

/// The badge of a transfer's state (`data-state` is its code).
fn state_badge(s: TransferState) -> Markup {
    let class = match s {
        TransferState::Sent => "tag warn",
        TransferState::Received => "tag good",
        TransferState::ReceivedWithDiscrepancy => "tag bad",
    };
    html! { span class=(class) data-testid="transfer-state" data-state=(s.as_str()) { (state_label(s)) } }
}

/// The branches' names and time zones, read once per page.
struct Names {
    branches: HashMap<String, Branch>,
}

impl Names {
    fn load(conn: &Connection) -> rusqlite::Result<Names> {
        Ok(Names {
            branches: all_branches(conn)?
                .into_iter()
                .map(|b| (b.id.clone(), b))
                .collect(),
        })
    }

    fn branch(&self, id: BranchId) -> String {
        let id = id.to_string();
        self.branches
            .get(&id)
            .map_or_else(|| format!("branch {}", &id[..8]), |b| b.name.clone())
    }

    fn zone(&self, id: BranchId) -> pos_domain::TimeZone {
        self.branches
            .get(&id.to_string())
            .map(|b| b.zone)
            .unwrap_or_default()
    }
}

fn product_name(conn: &Connection, id: ProductId) -> rusqlite::Result<String> {
    Ok(conn
        .prepare_cached("SELECT name FROM products WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?
        .unwrap_or_else(|| format!("product {id}")))
}

/// Who recorded something, and where: a till user at a till ("Wanjiku at
/// T1"), or a dashboard account in the Back Office.
fn who(conn: &Connection, user: UserId, device: pos_domain::DeviceId) -> rusqlite::Result<String> {
    let name: Option<String> = conn
        .prepare_cached(
            "SELECT COALESCE((SELECT name FROM users WHERE id = ?1),
                             (SELECT name FROM web_users WHERE id = ?1))",
        )?
        .query_row([user.to_string()], |r| r.get(0))?;
    let name = name.unwrap_or_else(|| "someone".into());
    if device == write::DASHBOARD_DEVICE {
        return Ok(format!("{name} (Back Office)"));
    }
    let till: Option<(String, String)> = conn
        .prepare_cached("SELECT name, code FROM devices WHERE id = ?1")?
        .query_row([device.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match till {
        Some((till, code)) => format!("{name} at {till} ({code})"),
        None => name,
    })
}

/// A transfer as the pages show it.
struct Shown {
    t: TransferView,
    from: String,
    to: String,
    sent_at: String,
    sent_by: String,
    received_at: Option<String>,
    received_by: Option<String>,
    /// Product names, per line.
    products: Vec<String>,
}

fn shown_transfer(conn: &Connection, names: &Names, t: TransferView) -> rusqlite::Result<Shown> {
    let products = t
        .lines
        .iter()
        .map(|l| product_name(conn, l.product_id))
        .collect::<rusqlite::Result<_>>()?;
    let (received_at, received_by) = match &t.receipt {
        Some(r) => (
            Some(fmt::time(r.received_at, names.zone(t.to_branch))),
            Some(who(conn, r.received_by, r.device_id)?),
        ),
        None => (None, None),
    };
    Ok(Shown {
        from: names.branch(t.from_branch),
        to: names.branch(t.to_branch),
        sent_at: fmt::time(t.sent_at, names.zone(t.from_branch)),
        sent_by: who(conn, t.sent_by, t.device_id)?,
        received_at,
        received_by,
        products,
        t,
    })
}

// The list -------------------------------------------------------------------------

struct ListData {
    branches: Vec<Branch>,
    branch: Option<String>,
    state: Option<TransferState>,
    rows: Vec<Shown>,
    more: bool,
}

fn load_list(conn: &Connection, raw: Option<&str>) -> Result<ListData, WebError> {
    let mut q = query_fields(raw)?;
    let branches = all_branches(conn)?;
    let branch = q.remove("branch");
    check_branch(&branches, branch.as_deref())?;
    let state = q
        .remove("state")
        .map(|s| {
            STATES
                .into_iter()
                .find(|st| st.as_str() == s)
                .ok_or_else(|| {
                    WebError::bad(format!(
                        "the state '{}' is not one of sent, received or received_with_discrepancy",
                        shown(&s)
                    ))
                })
        })
        .transpose()?;
    let branch_id = branch
        .as_deref()
        .map(BranchId::from_str)
        .transpose()
        .map_err(|e| WebError::internal(&e))?;
    // Filtered in SQL, before the limit: an old transfer still in transit
    // is listed however many were sent after it.
    let side = branch_id.map_or(Side::Any, Side::Either);
    let filter = state.map_or(StateFilter::Any, StateFilter::Is);
    let all = read::list(conn, side, filter, LIST_LIMIT)?;
    let more = all.len() == LIST_LIMIT as usize;
    let names = Names::load(conn)?;
    let rows = all
        .into_iter()
        .map(|t| shown_transfer(conn, &names, t))
        .collect::<rusqlite::Result<_>>()?;
    Ok(ListData {
        branches,
        branch,
        state,
        rows,
        more,
    })
}

fn quantities(s: &Shown) -> String {
    s.t.lines
        .iter()
        .zip(&s.products)
        .map(|(l, p)| format!("{} × {p}", fmt::qty(l.sent.milli())))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_page(d: &ListData) -> Markup {
    html! {
        p.muted {
            "Stock leaves the sending branch when a transfer is sent, and arrives at the other branch when it is received, "
            "in the quantities counted there. A transfer received otherwise than sent is flagged."
        }
        p { a.button.primary href="/transfers/new" data-testid="transfer-new" { "Send a transfer…" } }
        form.filters method="get" action="/transfers" data-testid="transfer-filters" {
            (branch_filter(&d.branches, d.branch.as_deref()))
            label { "State"
                select name="state" {
                    option value="" { "Every state" }
                    @for s in STATES {
                        option value=(s.as_str()) selected[d.state == Some(s)] { (state_label(s)) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        table data-testid="transfers" {
            thead { tr {
                th { "Sent" } th { "From → to" } th { "Goods" } th { "Sent by" }
                th { "Received" } th { "Received by" } th { "State" }
            } }
            tbody {
                @for s in &d.rows {
                    tr data-testid={ "transfer-" (s.t.id) } {
                        td { a href={ "/transfers/" (s.t.id) } { (s.sent_at) } }
                        td { (s.from) " → " (s.to) }
                        td { (quantities(s)) }
                        td { (s.sent_by) }
                        td { (s.received_at.as_deref().unwrap_or("—")) }
                        td { (s.received_by.as_deref().unwrap_or("—")) }
                        td { (state_badge(s.t.state())) }
                    }
                }
                @if d.rows.is_empty() {
                    tr { td colspan="7" .muted { "No transfers match." } }
                }
            }
        }
        @if d.more {
            p.notice data-testid="transfers-more" {
                "Only the newest " (LIST_LIMIT) " matching transfers are shown; narrow the list to one branch or state to see older ones."
            }
        }
    }
}

/// `GET /transfers?branch=&state=`.
async fn list(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let data = db(&state, move |conn, _| load_list(conn, raw.as_deref())).await?;
    Ok(page::render(
        &user,
        Nav::Transfers,
        "Stock transfers",
        list_page(&data),
    ))
}

// Sending --------------------------------------------------------------------------

/// The live branch pair a transfer goes between, from the form's fields:
/// two of `branches`, different.
pub(crate) fn route<'a>(
    branches: &'a [Branch],
    from: &str,
    to: &str,
) -> Result<(&'a Branch, &'a Branch), WebError> {
    let from = chosen_branch(branches, "the branch to send from", from)?;
    let to = chosen_branch(branches, "the branch to send to", to)?;
    if from.id == to.id {
        return Err(WebError::bad(
            "the branch to send to must be another branch than the one it leaves",
        ));
    }
    Ok((from, to))
}

fn branch_id(b: &Branch) -> Result<BranchId, WebError> {
    BranchId::from_str(&b.id).map_err(|e| WebError::internal(&e))
}

fn user_id(user: &WebUser) -> Result<UserId, WebError> {
    UserId::from_str(&user.id).map_err(|e| WebError::internal(&e))
}

/// A movement the dashboard records for a transfer.
fn movement(
    branch: BranchId,
    product: ProductId,
    kind: MovementKind,
    quantity: Quantity,
    note: Option<String>,
    now: Timestamp,
) -> StockMovementRecord {
    StockMovementRecord {
        id: MovementId::new(),
        product_id: product,
        branch_id: branch,
        device_id: write::DASHBOARD_DEVICE,
        kind,
        quantity,
        sale_id: None,
        user_id: None,
        note,
        created_at: now,
    }
}

/// Sends `lines` (product, positive quantity) from `from` to `to` as
/// `user`: one `transfer_sent` op of the sending branch, its stock leaving
/// at once. Used by this page and by the product page's transfer form.
pub(crate) fn send_transfer(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    (from, to): (&Branch, &Branch),
    lines: &[(ProductId, Quantity)],
    note: Option<String>,
) -> Result<TransferId, WebError> {
    let from_id = branch_id(from)?;
    let record = TransferSentRecord {
        id: TransferId::new(),
        from_branch: from_id,
        to_branch: branch_id(to)?,
        device_id: write::DASHBOARD_DEVICE,
        lines: lines
            .iter()
            .map(|&(product_id, quantity)| TransferLine {
                product_id,
                quantity,
            })
            .collect(),
        note: note.clone(),
        sent_by: user_id(user)?,
        sent_at: now,
        movements: lines
            .iter()
            .map(|&(p, q)| {
                movement(
                    from_id,
                    p,
                    MovementKind::TransferOut,
                    q.negated(),
                    note.clone(),
                    now,
                )
            })
            .collect(),
    };
    let id = record.id;
    let detail = format!(
        "{} from {} to {}",
        plural(lines.len() as i64, "line", "lines"),
        from.name,
        to.name
    );
    write::apply_for(
        conn,
        now,
        user,
        Some(from_id),
        OpBody::TransferSent(record),
        "transfer.send",
        detail,
    )?;
    Ok(id)
}

/// The send form's fields as typed: `from_branch_id`, `to_branch_id`,
/// `note`, `rows`, and `product_N` / `quantity_N` per row.
#[derive(Debug, Clone, Default)]
struct SendForm {
    from: String,
    to: String,
    note: String,
    rows: Vec<(String, String)>,
}

impl SendForm {
    fn read(f: &HashMap<String, String>) -> SendForm {
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        let n = get("rows")
            .trim()
            .parse::<usize>()
            .unwrap_or(FIRST_ROWS)
            .clamp(1, MAX_LINES);
        SendForm {
            from: get("from_branch_id"),
            to: get("to_branch_id"),
            note: get("note"),
            rows: (1..=n)
                .map(|i| (get(&format!("product_{i}")), get(&format!("quantity_{i}"))))
                .collect(),
        }
    }
}

/// The live product a send form's line names: its SKU or barcode (exactly;
/// a SKU in any case, as SKUs are stored upper-case), else its exact name
/// in any case. `None` when nothing matches; an error naming the line when
/// more than one product does. A product id is taken too (forms and links
/// made before the form named products by code).
fn resolve_product(
    conn: &Connection,
    n: usize,
    typed: &str,
) -> Result<Option<(ProductId, String)>, WebError> {
    fn live(
        conn: &Connection,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> rusqlite::Result<Vec<(String, String)>> {
        conn.prepare_cached(sql)?
            .query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }
    if let Ok(id) = ProductId::from_str(typed) {
        let found = live(
            conn,
            "SELECT id, name FROM products WHERE id = ?1 AND deleted_at IS NULL",
            [id.to_string()],
        )?;
        if let Some((_, name)) = found.into_iter().next() {
            return Ok(Some((id, name)));
        }
    }
    let by_code = live(
        conn,
        "SELECT id, name FROM products
         WHERE deleted_at IS NULL AND (sku = ?1 OR barcode = ?2)
         ORDER BY name COLLATE NOCASE, id LIMIT 6",
        [typed.to_ascii_uppercase(), typed.to_string()],
    )?;
    let (found, what) = if by_code.is_empty() {
        let by_name = live(
            conn,
            "SELECT id, name FROM products
             WHERE deleted_at IS NULL AND name = ?1 COLLATE NOCASE
             ORDER BY name, id LIMIT 6",
            [typed],
        )?;
        (by_name, "the name")
    } else {
        (by_code, "the SKU or barcode")
    };
    match found.as_slice() {
        [] => Ok(None),
        [(id, name)] => Ok(Some((
            ProductId::from_str(id).map_err(|e| WebError::internal(&e))?,
            name.clone(),
        ))),
        many => {
            let names = many
                .iter()
                .take(5)
                .map(|(_, name)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let count = if many.len() > 5 {
                "more than 5".to_string()
            } else {
                many.len().to_string()
            };
            Err(WebError::bad(format!(
                "line {n}: '{}' is {what} of {count} products ({names}); type the product's SKU or barcode instead, or send it from its product page",
                shown(typed)
            )))
        }
    }
}

/// The lines of a send form: rows left empty are skipped; a product is on
/// one line only.
fn send_lines(
    conn: &Connection,
    f: &SendForm,
) -> Result<Vec<(ProductId, String, Quantity)>, WebError> {
    let mut lines: Vec<(ProductId, String, Quantity)> = Vec::new();
    for (i, (product, quantity)) in f.rows.iter().enumerate() {
        let n = i + 1;
        let (product, quantity) = (product.trim(), quantity.trim());
        if product.is_empty() && quantity.is_empty() {
            continue;
        }
        if product.is_empty() {
            return Err(WebError::bad(format!(
                "line {n} has a quantity but no product: type its SKU, barcode or name"
            )));
        }
        let Some((id, name)) = resolve_product(conn, n, product)? else {
            return Err(WebError::bad(format!(
                "line {n}: no product with SKU, barcode or name '{}'",
                shown(product)
            )));
        };
        let q = fmt::parse_qty(&format!("the quantity of line {n}"), quantity)?;
        if q.milli() <= 0 {
            return Err(WebError::bad(format!(
                "the quantity of line {n} ({name}) must be more than zero"
            )));
        }
        if let Some(first) = lines.iter().position(|(p, _, _)| *p == id) {
            return Err(WebError::bad(format!(
                "{name} is on line {} and on line {n}: put the whole quantity on one line",
                first + 1
            )));
        }
        lines.push((id, name, q));
    }
    if lines.is_empty() {
        return Err(WebError::bad(
            "the transfer has no lines: type a product's SKU, barcode or name and a quantity",
        ));
    }
    Ok(lines)
}

/// `flash` with a warning for each of `levels` (what, quantity) below zero:
/// the one rule of the product page's stock forms and of a transfer's send.
pub(crate) fn below_zero(mut flash: String, levels: &[(&str, i64)]) -> String {
    for (b, l) in levels {
        if *l < 0 {
            flash.push_str(&format!(
                " {b} is now below zero ({}): more left than was recorded; count it and adjust.",
                fmt::qty(*l)
            ));
        }
    }
    flash
}

/// A product's stock at a branch, in thousandths.
fn level(conn: &Connection, product: ProductId, branch: &str) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT quantity_milli FROM stock_levels WHERE product_id = ?1 AND branch_id = ?2",
        )?
        .query_row([product.to_string(), branch.to_string()], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The notice after a send: its lines (counted past [`FLASH_LINES`], as
/// the notice travels in a cookie), and the products the send took below
/// zero at the sending branch.
fn sent_notice(
    conn: &Connection,
    (from, to): (&Branch, &Branch),
    lines: &[(ProductId, String, Quantity)],
) -> rusqlite::Result<String> {
    let goods = if lines.len() <= FLASH_LINES {
        lines
            .iter()
            .map(|(_, name, q)| format!("{} × {name}", fmt::qty(q.milli())))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        plural(lines.len() as i64, "line", "lines")
    };
    let flash = format!(
        "Sent {goods} from {} to {}. It left {}'s stock now; {} adds it when the transfer is received.",
        from.name, to.name, from.name, to.name
    );
    let mut below = Vec::new();
    for (p, name, _) in lines {
        let l = level(conn, *p, &from.id)?;
        if l < 0 {
            below.push((format!("{name} at {}", from.name), l));
        }
    }
    Ok(if below.len() <= FLASH_LINES {
        let levels: Vec<(&str, i64)> = below.iter().map(|(w, l)| (w.as_str(), *l)).collect();
        below_zero(flash, &levels)
    } else {
        format!(
            "{flash} {} at {} are now below zero: more left than was recorded; count them and adjust (the Products page shows which).",
            plural(below.len() as i64, "product", "products"),
            from.name
        )
    })
}

fn do_send(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    f: &SendForm,
) -> Result<(TransferId, String), WebError> {
    let branches = all_branches(conn)?;
    let (from, to) = route(&branches, &f.from, &f.to)?;
    let lines = send_lines(conn, f)?;
    let note = fmt::optional_text("the note", &f.note, MAX_NOTE_CHARS)?;
    let plain: Vec<(ProductId, Quantity)> = lines.iter().map(|(p, _, q)| (*p, *q)).collect();
    let id = send_transfer(conn, now, user, (from, to), &plain, note)?;
    Ok((id, sent_notice(conn, (from, to), &lines)?))
}

/// What the send form offers.
struct SendChoices {
    branches: Vec<Branch>,
    /// Live products, by name.
    products: Vec<ProductChoice>,
}

/// A live product in the send form's datalist.
struct ProductChoice {
    name: String,
    sku: Option<String>,
    barcode: Option<String>,
}

impl ProductChoice {
    /// What picking it types: its SKU, else its name.
    fn value(&self) -> &str {
        self.sku.as_deref().unwrap_or(&self.name)
    }

    /// How the list shows it: the name, and its codes.
    fn label(&self) -> String {
        let mut label = self.name.clone();
        if let Some(sku) = &self.sku {
            label.push_str(&format!(" · SKU {sku}"));
        }
        if let Some(barcode) = &self.barcode {
            label.push_str(&format!(" · barcode {barcode}"));
        }
        label
    }
}

fn send_choices(conn: &Connection) -> rusqlite::Result<SendChoices> {
    let products = conn
        .prepare_cached(
            "SELECT name, sku, barcode FROM products WHERE deleted_at IS NULL
             ORDER BY name COLLATE NOCASE, id",
        )?
        .query_map([], |r| {
            Ok(ProductChoice {
                name: r.get(0)?,
                sku: r.get(1)?,
                barcode: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(SendChoices {
        branches: all_branches(conn)?.into_iter().filter(|b| b.live).collect(),
        products,
    })
}

/// The id of the send form's one list of products.
const PRODUCT_LIST: &str = "transfer-products";

fn send_page(
    user: &WebUser,
    status: StatusCode,
    c: &SendChoices,
    f: &SendForm,
    error: Option<&str>,
) -> Response {
    let live: Vec<&Branch> = c.branches.iter().collect();
    let body = html! {
        p { a href="/transfers" { "← Transfers" } }
        @if c.branches.len() < 2 {
            div.notice { "A transfer needs two open branches; add another on the Branches page." }
        }
        p.muted {
            "The goods leave the sending branch's stock as soon as you send. The receiving branch adds what it counts "
            "when it receives the transfer: on its till, or here on the transfer's page."
        }
        (form_error(error))
        form.stack method="post" action="/transfers" data-testid="transfer-send-form" {
            (csrf_field(user))
            input type="hidden" name="rows" value=(f.rows.len());
            label { "From" (branch_select("from_branch_id", &live, f.from.trim())) }
            label { "To" (branch_select("to_branch_id", &live, f.to.trim())) }
            p.muted { "Name each line's product by its SKU, its barcode (scan it into the field) or its exact name; the list offers them as you type." }
            datalist id=(PRODUCT_LIST) data-testid="transfer-products" {
                @for p in &c.products {
                    option value=(p.value()) { (p.label()) }
                }
            }
            table data-testid="transfer-lines" {
                thead { tr { th { "Line" } th { "Product (SKU, barcode or name)" } th.num { "Quantity" } } }
                tbody {
                    @for (i, (product, quantity)) in f.rows.iter().enumerate() {
                        @let n = i + 1;
                        tr {
                            td { (n) }
                            td {
                                input type="text" list=(PRODUCT_LIST) name={ "product_" (n) } value=(product)
                                    autocomplete="off" size="30"
                                    aria-label={ "Product of line " (n) ": SKU, barcode or name" };
                            }
                            td.num {
                                input type="text" name={ "quantity_" (n) } value=(quantity) inputmode="decimal" size="8"
                                    aria-label={ "Quantity of line " (n) };
                            }
                        }
                    }
                }
            }
            @if f.rows.len() < MAX_LINES {
                div { button type="submit" name="add_line" value="1" formnovalidate data-testid="transfer-add-line" { "Add a line" } }
            }
            label { "Note (optional)" input type="text" name="note" value=(f.note) maxlength=(MAX_NOTE_CHARS); }
            div { button.primary type="submit" data-testid="transfer-send" { "Send the transfer" } }
        }
    };
    page::render_status(status, user, Nav::Transfers, "Send a transfer", body)
}

/// `GET /transfers/new?from=<branch>`.
async fn new_form(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let q = query_fields(raw.as_deref())?;
    let choices = db(&state, |conn, _| Ok(send_choices(conn)?)).await?;
    // From the branch asked for (or the first), to the first other one.
    let ids: Vec<&str> = choices.branches.iter().map(|b| b.id.as_str()).collect();
    let from = q
        .get("from")
        .map(String::as_str)
        .filter(|f| ids.contains(f))
        .or(ids.first().copied())
        .unwrap_or_default();
    let to = ids
        .iter()
        .find(|id| **id != from)
        .copied()
        .unwrap_or_default();
    let form = SendForm {
        from: from.to_string(),
        to: to.to_string(),
        rows: vec![Default::default(); FIRST_ROWS],
        ..SendForm::default()
    };
    Ok(send_page(&user, StatusCode::OK, &choices, &form, None))
}

/// `POST /transfers`: "Add a line" shows the form again with one more row;
/// otherwise sends the transfer and opens its page.
async fn send(
    State(state): State<AppState>,
    Posted { user, form }: Posted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let mut f = SendForm::read(&form);
    if form.contains_key("add_line") {
        if f.rows.len() < MAX_LINES {
            f.rows.push(Default::default());
        }
        let choices = db(&state, |conn, _| Ok(send_choices(conn)?)).await?;
        return Ok(send_page(&user, StatusCode::OK, &choices, &f, None));
    }
    db(&state, move |conn, clock| {
        match do_send(conn, clock.now(), &user, &f) {
            Ok((id, flash)) => Ok(page::redirect_with_flash(
                &format!("/transfers/{id}"),
                &flash,
            )),
            Err(e) => {
                let refusal = e.refusal()?;
                let choices = send_choices(conn)?;
                Ok(send_page(
                    &user,
                    StatusCode::BAD_REQUEST,
                    &choices,
                    &f,
                    Some(&refusal),
                ))
            }
        }
    })
    .await
}

// One transfer, and receiving it ----------------------------------------------------

fn transfer_id(text: &str) -> Result<TransferId, WebError> {
    page::path_id(text, format!("there is no transfer '{}'", shown(text)))
}

fn load_one(conn: &Connection, id: TransferId) -> Result<Shown, WebError> {
    let t = read::transfer(conn, id)?
        .ok_or_else(|| WebError::not_found(format!("there is no transfer {id}")))?;
    let names = Names::load(conn)?;
    Ok(shown_transfer(conn, &names, t)?)
}

fn detail_page(
    user: &WebUser,
    status: StatusCode,
    s: &Shown,
    typed: Option<&HashMap<String, String>>,
    error: Option<&str>,
) -> Response {
    let t = &s.t;
    let state = t.state();
    let body = html! {
        p { a href="/transfers" { "← Transfers" } }
        div.cards {
            div.card { div.label { "From → to" } div.value { (s.from) " → " (s.to) } }
            div.card { div.label { "State" } div.value { (state_badge(state)) } }
            div.card { div.label { "Sent" } div { (s.sent_at) " by " (s.sent_by) } }
            div.card { div.label { "Received" } div data-testid="transfer-received" {
                @match (&s.received_at, &s.received_by) {
                    (Some(at), Some(by)) => { (at) " by " (by) }
                    _ => { "Not yet: in transit" }
                }
            } }
        }
        @if state != TransferState::Sent { (form_error(error)) }
        @if let Some(note) = &t.note { p { "Note when sent: " (note) } }
        @if let Some(note) = t.receipt.as_ref().and_then(|r| r.note.as_ref()) { p { "Note when received: " (note) } }
        @if state == TransferState::ReceivedWithDiscrepancy {
            div.notice data-testid="transfer-discrepancy" {
                "Received otherwise than sent: the difference is neither at " (s.from) " nor at " (s.to)
                ". Find out what happened on the way; an adjustment at either branch corrects its stock."
            }
        }
        h2 { "Lines" }
        table data-testid="transfer-lines" {
            thead { tr { th { "Line" } th { "Product" } th.num { "Sent" } th.num { "Received" } th.num { "Difference" } } }
            tbody {
                @for (l, name) in t.lines.iter().zip(&s.products) {
                    @let diff = l.received.map(|r| r.milli() - l.sent.milli());
                    tr data-testid={ "line-" (l.line_no) } class=[l.is_discrepancy().then_some("diff")] {
                        td { (l.line_no) }
                        td { a href={ "/products/" (l.product_id) } { (name) } }
                        td.num { (fmt::qty(l.sent.milli())) }
                        td.num { (l.received.map_or_else(|| "—".to_string(), |r| fmt::qty(r.milli()))) }
                        td.num data-testid={ "diff-" (l.line_no) } {
                            @match diff {
                                Some(0) => { "0" }
                                Some(d) => { span.tag.bad { @if d > 0 { "+" } (fmt::qty(d)) } }
                                None => { "—" }
                            }
                        }
                    }
                }
            }
        }
        @if state == TransferState::Sent {
            h2 { "Receive at " (s.to) }
            section.panel {
                p.muted {
                    "Count what arrived and type it per line (0 for a line that did not arrive). "
                    "The counted quantities are added to " (s.to) "'s stock. A transfer is received once: "
                    "if a till of " (s.to) " receives it first, that receipt counts."
                }
                div.notice data-testid="discrepancy-warning" {
                    "If a quantity differs from what was sent, the transfer is marked received with a discrepancy, "
                    "at both branches, and the difference is in neither branch's stock."
                }
                (form_error(error))
                form.stack method="post" action={ "/transfers/" (t.id) "/receive" } data-testid="transfer-receive-form" {
                    (csrf_field(user))
                    @for (l, name) in t.lines.iter().zip(&s.products) {
                        @let field = format!("received_{}", l.line_no);
                        @let value = typed.and_then(|f| f.get(&field)).cloned().unwrap_or_else(|| fmt::qty(l.sent.milli()));
                        label { (name) " (sent " (fmt::qty(l.sent.milli())) ")"
                            input type="text" name=(field) value=(value) inputmode="decimal" size="8";
                        }
                    }
                    label { "Note (optional)"
                        input type="text" name="note" maxlength=(MAX_NOTE_CHARS)
                            value=(typed.and_then(|f| f.get("note")).map_or("", String::as_str));
                    }
                    div { button.primary type="submit" data-testid="transfer-receive" { "Receive at " (s.to) } }
                }
            }
        }
    };
    page::render_status(status, user, Nav::Transfers, "Stock transfer", body)
}

/// `GET /transfers/{id}`.
async fn detail(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = transfer_id(&id)?;
    let s = db(&state, move |conn, _| load_one(conn, id)).await?;
    Ok(detail_page(&user, StatusCode::OK, &s, None, None))
}

/// Records the receipt of `s` with the quantities of `form`, as the
/// receiving branch; the notice to show.
fn do_receive(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    s: &Shown,
    form: &HashMap<String, String>,
) -> Result<String, WebError> {
    let t = &s.t;
    if t.receipt.is_some() {
        return Err(WebError::bad(format!(
            "this transfer was received already ({}); a transfer is received once: correct a count with an adjustment",
            s.received_at.as_deref().unwrap_or("")
        )));
    }
    let mut lines = Vec::with_capacity(t.lines.len());
    for (l, name) in t.lines.iter().zip(&s.products) {
        let text = form
            .get(&format!("received_{}", l.line_no))
            .map_or("", String::as_str);
        let field = format!("the quantity received of {name} (line {})", l.line_no);
        if text.trim().is_empty() {
            return Err(WebError::bad(format!(
                "{field} is empty: type what arrived (0 if none)"
            )));
        }
        let q = fmt::parse_qty(&field, text)?;
        if q.is_negative() {
            return Err(WebError::bad(format!(
                "{field} is below zero: type what arrived (0 if none)"
            )));
        }
        lines.push((l.product_id, q));
    }
    let note = fmt::optional_text(
        "the note",
        form.get("note").map_or("", String::as_str),
        MAX_NOTE_CHARS,
    )?;
    let record = TransferReceivedRecord {
        id: TransferReceiptId::new(),
        transfer_id: t.id,
        branch_id: t.to_branch,
        device_id: write::DASHBOARD_DEVICE,
        lines: lines
            .iter()
            .map(|&(product_id, quantity_received)| TransferReceivedLine {
                product_id,
                quantity_received,
            })
            .collect(),
        note: note.clone(),
        received_by: user_id(user)?,
        received_at: now,
        movements: lines
            .iter()
            .filter(|(_, q)| q.milli() > 0)
            .map(|&(p, q)| {
                movement(
                    t.to_branch,
                    p,
                    MovementKind::TransferIn,
                    q,
                    note.clone(),
                    now,
                )
            })
            .collect(),
    };
    let differs = t
        .lines
        .iter()
        .zip(&lines)
        .filter(|(l, (_, q))| l.sent != *q)
        .count();
    write::apply_for(
        conn,
        now,
        user,
        Some(t.to_branch),
        OpBody::TransferReceived(record),
        "transfer.receive",
        format!("transfer {} at {}; {differs} lines differ", t.id, s.to),
    )?;
    Ok(if differs == 0 {
        format!("Received at {}: every line as sent.", s.to)
    } else {
        format!(
            "Received at {} with a discrepancy: {} not as sent. The counted quantities were added to {}'s stock.",
            s.to,
            plural(differs as i64, "line", "lines"),
            s.to
        )
    })
}

/// `POST /transfers/{id}/receive`.
async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { user, form }: Posted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let id = transfer_id(&id)?;
    db(&state, move |conn, clock| {
        let s = load_one(conn, id)?;
        match do_receive(conn, clock.now(), &user, &s, &form) {
            Ok(flash) => Ok(page::redirect_with_flash(
                &format!("/transfers/{id}"),
                &flash,
            )),
            Err(e) => {
                let refusal = e.refusal()?;
                let s = load_one(conn, id)?;
                Ok(detail_page(
                    &user,
                    StatusCode::BAD_REQUEST,
                    &s,
                    Some(&form),
                    Some(&refusal),
                ))
            }
        }
    })
    .await
}
