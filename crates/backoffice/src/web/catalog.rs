//! Products, categories and stock (`/products`, `/categories`): the shared
//! catalog every till sells from, and each branch's stock.
//!
//! - **Products**: a searchable list with each live branch's stock, and one
//!   page per product with its form (name, price, codes, category, tax,
//!   stock tracking, a picture), its stock per branch with the latest
//!   movements, and the restock, adjustment and transfer forms. A transfer
//!   here is a one-line stock transfer (`transfers::send_transfer`): the
//!   goods leave the sending branch at once and reach the other when it
//!   receives them, on its till or on `/transfers`.
//! - **Categories**: made, renamed, reordered and deleted on one page.
//!
//! Values are checked with the domain's own types ([`Name`], [`Sku`],
//! [`Barcode`], [`TaxCode`], [`Money::price`]) and the till's rules (a SKU or
//! barcode names one live product; a category with products is not
//! deleted), so the dashboard accepts exactly what a till accepts.
//!
//! Every change is an op through [`write::apply`]. An edit sends only the
//! fields the person changed, judged against the values the page showed
//! (the form's hidden `was_*` fields), so a till's change to another field
//! made while the page was open is not overwritten with the old value.

use std::collections::HashMap;
use std::str::FromStr;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use maud::{Markup, html};
use pos_domain::{
    Barcode, BranchId, CategoryId, Currency, Money, MovementId, MovementKind, Name, ProductId,
    Quantity, Sku, TaxCode, Timestamp,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use sync_protocol::{
    CategoryPatch, OpBody, ProductPatch, ProductState, StockMovementRecord, Tombstone,
};

use super::page::{self, Nav, WebError, csrf_field, form_error};
use super::session::{Posted, PostedMultipart, Upload, WebUser};
use super::{fmt, transfers, write};
use crate::apply::{business_currency, category_state, product_state};
use crate::devices::{BRANCH_COLUMNS, Branch, branch_row};
use crate::state::AppState;

/// The most products the list shows at once.
pub const MAX_LIST_ROWS: usize = 200;
/// The largest picture a product may have (it travels to every till).
pub const MAX_IMAGE_BYTES: usize = 256 * 1024;
/// How many movements the product page shows per branch.
const MOVEMENTS_SHOWN: i64 = 20;
/// The longest note on a stock movement.
const MAX_NOTE_CHARS: usize = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/products", get(product_list))
        .route("/products/new", get(new_product_form).post(create_product))
        .route("/products/{id}", get(product_page).post(save_product))
        .route("/products/{id}/stock", post(move_stock))
        .route("/products/{id}/delete", post(delete_product))
        .route("/categories", get(category_list).post(create_category))
        .route("/categories/{id}", post(save_category))
        .route("/categories/{id}/delete", post(delete_category))
}

// Shared lookups ---------------------------------------------------------------

fn currency(conn: &Connection) -> Result<Currency, WebError> {
    business_currency(conn).map_err(|e| WebError::internal(&e))
}

fn product_id(text: &str) -> Result<ProductId, WebError> {
    page::path_id(text, format!("there is no product '{text}'"))
}

fn category_id(text: &str) -> Result<CategoryId, WebError> {
    page::path_id(text, format!("there is no category '{text}'"))
}

/// A product that exists and is not deleted, for the forms that change it.
fn live_product(conn: &Connection, id: ProductId) -> Result<ProductState, WebError> {
    let p = product_state(conn, id)
        .optional()?
        .ok_or_else(|| WebError::not_found(format!("there is no product {id}")))?;
    if p.deleted_at.is_some() {
        return Err(WebError::not_found(format!(
            "{} was deleted, so it cannot be changed; its sales history is kept",
            p.name
        )));
    }
    Ok(p)
}

/// The live branches, and closed ones still holding stock of `product`.
fn branches(conn: &Connection, product: Option<&str>) -> rusqlite::Result<Vec<Branch>> {
    conn.prepare_cached(&format!(
        "SELECT {BRANCH_COLUMNS} FROM branches
         WHERE deleted_at IS NULL
            OR id IN (SELECT branch_id FROM stock_levels
                      WHERE product_id = ?1 AND quantity_milli <> 0)
         ORDER BY name COLLATE NOCASE, id"
    ))?
    .query_map([product.unwrap_or("")], branch_row)?
    .collect()
}

/// What the product form offers to choose from.
#[derive(Debug, Clone)]
struct Choices {
    currency: Currency,
    /// Live categories: id, name.
    categories: Vec<(String, String)>,
    /// Live tax rates: code, label.
    tax_rates: Vec<(String, String)>,
}

fn choices(conn: &Connection) -> Result<Choices, WebError> {
    let categories = conn
        .prepare_cached(
            "SELECT id, name FROM categories WHERE deleted_at IS NULL
             ORDER BY sort_order, name COLLATE NOCASE, id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
    let tax_rates = conn
        .prepare_cached(
            "SELECT code, name, basis_points FROM tax_rates WHERE deleted_at IS NULL ORDER BY code",
        )?
        .query_map([], |r| {
            let code: String = r.get(0)?;
            let name: String = r.get(1)?;
            let bp: i64 = r.get(2)?;
            let pct = if bp % 100 == 0 {
                format!("{}%", bp / 100)
            } else {
                format!("{}.{:02}%", bp / 100, bp % 100)
            };
            Ok((code.clone(), format!("{name} ({code}, {pct})")))
        })?
        .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
    Ok(Choices {
        currency: currency(conn)?,
        categories,
        tax_rates,
    })
}

fn live_category_name(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT name FROM categories WHERE id = ?1 AND deleted_at IS NULL")?
        .query_row([id], |r| r.get(0))
        .optional()
}

fn is_live_tax_rate(conn: &Connection, code: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM tax_rates WHERE code = ?1 AND deleted_at IS NULL)",
    )?
    .query_row([code], |r| r.get(0))
}

fn level(conn: &Connection, product: &str, branch: &str) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT quantity_milli FROM stock_levels WHERE product_id = ?1 AND branch_id = ?2",
        )?
        .query_row([product, branch], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

fn is_image_uri(s: &str) -> bool {
    [
        "data:image/png;base64,",
        "data:image/jpeg;base64,",
        "data:image/webp;base64,",
    ]
    .iter()
    .any(|p| s.starts_with(p))
}

// The product form ---------------------------------------------------------------

/// The product form's fields as text, as typed (or as shown).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Values {
    name: String,
    price: String,
    sku: String,
    barcode: String,
    category_id: String,
    tax_code: String,
    track_stock: bool,
    low_stock: String,
}

impl Values {
    fn of(p: &ProductState) -> Values {
        Values {
            name: p.name.as_str().to_string(),
            price: p.price.amount_text(),
            sku: p
                .sku
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            barcode: p
                .barcode
                .as_ref()
                .map(|b| b.as_str().to_string())
                .unwrap_or_default(),
            category_id: p.category_id.map(|c| c.to_string()).unwrap_or_default(),
            tax_code: p.tax_code.as_str().to_string(),
            track_stock: p.track_stock,
            low_stock: p.low_stock.map(|q| fmt::qty(q.milli())).unwrap_or_default(),
        }
    }

    /// A new product's form: the standard tax rate, stock tracked.
    fn blank(choices: &Choices) -> Values {
        let tax_code = choices
            .tax_rates
            .iter()
            .map(|(code, _)| code.as_str())
            .find(|c| *c == "VAT16")
            .or_else(|| choices.tax_rates.first().map(|(c, _)| c.as_str()))
            .unwrap_or_default()
            .to_string();
        Values {
            tax_code,
            track_stock: true,
            ..Values::default()
        }
    }

    /// The typed values (`prefix` "") or what the page showed (`"was_"`,
    /// `None` when the form did not carry them).
    fn read(fields: &HashMap<String, String>, prefix: &str) -> Option<Values> {
        let get = |k: &str| fields.get(&format!("{prefix}{k}")).cloned();
        if !prefix.is_empty() && get("name").is_none() {
            return None;
        }
        let get = |k: &str| get(k).unwrap_or_default();
        let track_stock = if prefix.is_empty() {
            ticked(fields, "track_stock")
        } else {
            get("track_stock") == "1"
        };
        Some(Values {
            name: get("name"),
            price: get("price"),
            sku: get("sku"),
            barcode: get("barcode"),
            category_id: get("category_id"),
            tax_code: get("tax_code"),
            track_stock,
            low_stock: get("low_stock"),
        })
    }
}

/// Whether a checkbox was ticked (a browser leaves an unticked one out).
fn ticked(fields: &HashMap<String, String>, name: &str) -> bool {
    fields.get(name).is_some_and(|v| !v.is_empty())
}

/// The product form's values, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    name: Name,
    price: Money,
    sku: Option<Sku>,
    barcode: Option<Barcode>,
    category_id: Option<CategoryId>,
    tax_code: TaxCode,
    track_stock: bool,
    low_stock: Option<Quantity>,
}

impl Parsed {
    fn of(p: &ProductState) -> Parsed {
        Parsed {
            name: p.name.clone(),
            price: p.price,
            sku: p.sku.clone(),
            barcode: p.barcode.clone(),
            category_id: p.category_id,
            tax_code: p.tax_code.clone(),
            track_stock: p.track_stock,
            low_stock: p.low_stock,
        }
    }
}

fn bad(e: impl std::fmt::Display) -> WebError {
    WebError::bad(e.to_string())
}

/// Checks the form's values as a till checks a product's fields (what needs
/// the database is in [`check_patch`]).
fn parse(v: &Values, currency: Currency) -> Result<Parsed, WebError> {
    let name = Name::parse("the name", &v.name).map_err(bad)?;
    let price = fmt::parse_money("the price", &v.price, currency)?;
    if price.is_negative() {
        return Err(WebError::bad(format!(
            "the price cannot be negative (got {}); type 0 or more",
            v.price.trim()
        )));
    }
    let price = Money::price(price.minor(), currency)
        .map_err(|e| WebError::bad(format!("the price is too large: {e}")))?;
    let sku = match v.sku.trim() {
        "" => None,
        t => Some(Sku::parse(t).map_err(bad)?),
    };
    let barcode = match v.barcode.trim() {
        "" => None,
        t => Some(Barcode::parse(t).map_err(bad)?),
    };
    let category_id = match v.category_id.trim() {
        "" => None,
        t => Some(CategoryId::from_str(t).map_err(|_| {
            WebError::bad(
                "the category is not one of the business's categories; pick one from the list",
            )
        })?),
    };
    let tax_code = TaxCode::parse(&v.tax_code).map_err(bad)?;
    let low_stock = match v.low_stock.trim() {
        "" => None,
        t => {
            let q = fmt::parse_qty("the low-stock level", t)?;
            if q.is_negative() {
                return Err(WebError::bad(format!(
                    "the low-stock level cannot be negative (got {q}); enter 0 or more, or leave it empty"
                )));
            }
            Some(q)
        }
    };
    Ok(Parsed {
        name,
        price,
        sku,
        barcode,
        category_id,
        tax_code,
        track_stock: v.track_stock,
        low_stock,
    })
}

/// The till's checks that need the database, for the fields `patch` sets:
/// a SKU or barcode names one live product; the category and tax rate exist.
fn check_patch(conn: &Connection, patch: &ProductPatch) -> Result<(), WebError> {
    let except = patch.id.to_string();
    let holder = |column: &str, value: &str| -> rusqlite::Result<Option<String>> {
        conn.prepare_cached(&format!(
            "SELECT name FROM products WHERE {column} = ?1 AND deleted_at IS NULL AND id <> ?2"
        ))?
        .query_row([value, except.as_str()], |r| r.get(0))
        .optional()
    };
    if let Some(Some(sku)) = &patch.sku
        && let Some(other) = holder("sku", sku.as_str())?
    {
        return Err(WebError::bad(format!(
            "the SKU {sku} is already used by {other}; each product needs its own"
        )));
    }
    if let Some(Some(barcode)) = &patch.barcode
        && let Some(other) = holder("barcode", barcode.as_str())?
    {
        return Err(WebError::bad(format!(
            "the barcode {barcode} is already used by {other}; each product needs its own"
        )));
    }
    if let Some(Some(c)) = patch.category_id
        && live_category_name(conn, &c.to_string())?.is_none()
    {
        return Err(WebError::bad(
            "the category you chose is not one of the business's categories (it may have been deleted); pick another, or none",
        ));
    }
    if let Some(code) = &patch.tax_code
        && !is_live_tax_rate(conn, code.as_str())?
    {
        return Err(WebError::bad(format!(
            "the tax code {code} is not one of the business's tax rates; pick one from the list"
        )));
    }
    Ok(())
}

/// Sniffs a picture's type from its first bytes (never from its name or the
/// type the browser claims).
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// An uploaded picture as the `data:` URI a product keeps.
fn image_uri(upload: &Upload) -> Result<String, WebError> {
    let n = upload.bytes.len();
    if n > MAX_IMAGE_BYTES {
        return Err(WebError::bad(format!(
            "the image is too large ({} KiB; at most {} KiB): every till downloads it, so make it smaller",
            n.div_ceil(1024),
            MAX_IMAGE_BYTES / 1024
        )));
    }
    let mime = image_type(&upload.bytes).ok_or_else(|| {
        WebError::bad(format!(
            "the image '{}' is not a PNG, JPEG or WebP picture; choose one of those",
            upload.file_name
        ))
    })?;
    Ok(format!(
        "data:{mime};base64,{}",
        STANDARD.encode(&upload.bytes)
    ))
}

/// A posted product form.
#[derive(Debug, Clone)]
struct ProductForm {
    values: Values,
    /// What the page showed (edits only).
    was: Option<Values>,
    remove_image: bool,
    image: Option<Upload>,
}

impl ProductForm {
    fn read(posted: &PostedMultipart) -> ProductForm {
        ProductForm {
            values: Values::read(&posted.fields, "").unwrap_or_default(),
            was: Values::read(&posted.fields, "was_"),
            remove_image: ticked(&posted.fields, "remove_image"),
            image: posted.files.get("image").cloned(),
        }
    }
}

/// How the product form is shown: where it posts, its values, what the
/// page showed (edits), the current picture, and the error it was sent
/// back with.
#[derive(Debug, Clone, Copy)]
struct FormView<'a> {
    action: &'a str,
    values: &'a Values,
    was: Option<&'a Values>,
    image: Option<&'a str>,
    remove_image: bool,
    error: Option<&'a str>,
}

/// Renders the product form (new or edit).
fn product_form(user: &WebUser, choices: &Choices, view: FormView<'_>) -> Markup {
    let FormView {
        action,
        values,
        was,
        image,
        remove_image,
        error,
    } = view;
    let category_known = values.category_id.is_empty()
        || choices
            .categories
            .iter()
            .any(|(id, _)| *id == values.category_id);
    let tax_known = choices.tax_rates.iter().any(|(c, _)| *c == values.tax_code);
    html! {
        (form_error(error))
        form.stack method="post" action=(action) enctype="multipart/form-data" data-testid="product-form" {
            (csrf_field(user))
            @if let Some(was) = was {
                input type="hidden" name="was_name" value=(was.name);
                input type="hidden" name="was_price" value=(was.price);
                input type="hidden" name="was_sku" value=(was.sku);
                input type="hidden" name="was_barcode" value=(was.barcode);
                input type="hidden" name="was_category_id" value=(was.category_id);
                input type="hidden" name="was_tax_code" value=(was.tax_code);
                input type="hidden" name="was_track_stock" value=(if was.track_stock { "1" } else { "0" });
                input type="hidden" name="was_low_stock" value=(was.low_stock);
            }
            label { "Name"
                input type="text" name="name" value=(values.name) maxlength="120" required;
            }
            label { "Price (" (choices.currency.code()) ", as sold, e.g. 250 or 1,250.50)"
                input type="text" name="price" value=(values.price) inputmode="decimal" required;
            }
            div.grid2 {
                label { "SKU (optional)"
                    input type="text" name="sku" value=(values.sku) maxlength="64";
                }
                label { "Barcode (optional)"
                    input type="text" name="barcode" value=(values.barcode) maxlength="48";
                }
            }
            div.grid2 {
                label { "Category"
                    select name="category_id" {
                        option value="" selected[values.category_id.is_empty()] { "(none)" }
                        @for (id, name) in &choices.categories {
                            option value=(id) selected[*id == values.category_id] { (name) }
                        }
                        @if !category_known {
                            option value=(values.category_id) selected { "(a deleted category)" }
                        }
                    }
                }
                label { "Tax rate"
                    select name="tax_code" {
                        @for (code, label) in &choices.tax_rates {
                            option value=(code) selected[*code == values.tax_code] { (label) }
                        }
                        @if !tax_known {
                            option value=(values.tax_code) selected { (values.tax_code) " (not a current tax rate)" }
                        }
                    }
                }
            }
            label.check {
                input type="checkbox" name="track_stock" value="1" checked[values.track_stock];
                "Track stock (tills count it down as it sells)"
            }
            label { "Low-stock level (optional; flagged at or below it)"
                input type="text" name="low_stock" value=(values.low_stock) inputmode="decimal";
            }
            @if let Some(img) = image {
                @if is_image_uri(img) {
                    img src=(img) alt="The product's picture" style="max-width:160px;max-height:160px" data-testid="product-image";
                } @else {
                    p.muted { "Picture: " (img) }
                }
                label.check {
                    input type="checkbox" name="remove_image" value="1" checked[remove_image];
                    "Remove the picture"
                }
            }
            label { "Picture (PNG, JPEG or WebP, at most " (MAX_IMAGE_BYTES / 1024) " KiB; optional)"
                input type="file" name="image" accept="image/png,image/jpeg,image/webp";
            }
            div {
                button.primary type="submit" data-testid="product-save" { "Save" }
            }
        }
    }
}

// GET /products --------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
}

#[derive(Debug)]
struct ListRow {
    id: String,
    name: String,
    sku: Option<String>,
    barcode: Option<String>,
    category: Option<String>,
    price_minor: i64,
    currency: String,
    tax_code: String,
    track_stock: bool,
    low_stock: Option<i64>,
}

#[derive(Debug)]
struct ListData {
    rows: Vec<ListRow>,
    matched: usize,
    branches: Vec<Branch>,
    /// (product, branch) → level in thousandths.
    levels: HashMap<(String, String), i64>,
    categories: Vec<(String, String)>,
}

fn load_list(conn: &Connection, q: &ListQuery) -> Result<ListData, WebError> {
    let needle = q.q.trim().to_lowercase();
    let category = q.category.trim();
    let (filter, arg) = match category {
        "" => ("", None),
        "none" => ("AND p.category_id IS NULL", None),
        id => ("AND p.category_id = ?1", Some(id.to_string())),
    };
    let sql = format!(
        "SELECT p.id, p.name, p.sku, p.barcode, c.name, p.price_minor, p.currency, p.tax_code,
                p.track_stock, p.low_stock_milli
         FROM products p LEFT JOIN categories c ON c.id = p.category_id
         WHERE p.deleted_at IS NULL {filter}
         ORDER BY p.name COLLATE NOCASE, p.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mapped = |r: &rusqlite::Row<'_>| {
        Ok(ListRow {
            id: r.get(0)?,
            name: r.get(1)?,
            sku: r.get(2)?,
            barcode: r.get(3)?,
            category: r.get(4)?,
            price_minor: r.get(5)?,
            currency: r.get(6)?,
            tax_code: r.get(7)?,
            track_stock: r.get(8)?,
            low_stock: r.get(9)?,
        })
    };
    let all = match arg {
        None => stmt.query_map([], mapped)?,
        Some(id) => stmt.query_map([id], mapped)?,
    }
    .collect::<rusqlite::Result<Vec<_>>>()?;
    let hit = |row: &ListRow| {
        needle.is_empty()
            || row.name.to_lowercase().contains(&needle)
            || row
                .sku
                .as_deref()
                .is_some_and(|s| s.to_lowercase().contains(&needle))
            || row
                .barcode
                .as_deref()
                .is_some_and(|b| b.to_lowercase().contains(&needle))
    };
    let mut rows = Vec::new();
    let mut matched = 0;
    for row in all {
        if hit(&row) {
            matched += 1;
            if rows.len() < MAX_LIST_ROWS {
                rows.push(row);
            }
        }
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let ids = serde_json::to_string(&ids).map_err(|e| WebError::internal(&e))?;
    let levels = conn
        .prepare(
            "SELECT product_id, branch_id, quantity_milli FROM stock_levels
             WHERE product_id IN (SELECT value FROM json_each(?1))",
        )?
        .query_map([ids], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?
        .collect::<rusqlite::Result<HashMap<_, _>>>()?;
    Ok(ListData {
        rows,
        matched,
        branches: branches(conn, None)?,
        levels,
        categories: choices(conn)?.categories,
    })
}

/// A stock level as a cell: negative flagged, at or below `low` marked.
fn level_cell(milli: i64, low: Option<i64>) -> Markup {
    html! {
        @if milli < 0 {
            span.tag.bad title="below zero: the till sold more than the records say it had" { (fmt::qty(milli)) }
        } @else if low.is_some_and(|l| milli <= l) {
            span.tag.warn title="at or below the low-stock level" { (fmt::qty(milli)) }
        } @else {
            (fmt::qty(milli))
        }
    }
}

async fn product_list(
    State(state): State<AppState>,
    user: WebUser,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let (search, category) = (q.q.clone(), q.category.clone());
    let data = super::db(&state, move |conn, _| load_list(conn, &q)).await?;
    let live: Vec<&Branch> = data.branches.iter().filter(|b| b.live).collect();
    let body = html! {
        form.filters method="get" action="/products" {
            label { "Search (name, SKU or barcode)"
                input type="search" name="q" value=(search) data-testid="product-search";
            }
            label { "Category"
                select name="category" {
                    option value="" selected[category.is_empty()] { "All" }
                    option value="none" selected[category == "none"] { "(no category)" }
                    @for (id, name) in &data.categories {
                        option value=(id) selected[*id == category] { (name) }
                    }
                }
            }
            button type="submit" { "Search" }
            a.button.primary href="/products/new" data-testid="product-new" { "New product" }
        }
        @if data.matched > data.rows.len() {
            div.notice data-testid="list-capped" {
                "Showing the first " (data.rows.len()) " of " (data.matched)
                " products; search or pick a category to see the others."
            }
        }
        @if data.rows.is_empty() {
            p.muted data-testid="no-products" {
                @if search.trim().is_empty() && category.is_empty() {
                    "No products yet. Add the first with New product."
                } @else {
                    "No product matches."
                }
            }
        } @else {
            table data-testid="product-table" {
                thead { tr {
                    th { "Name" } th { "Category" } th.num { "Price" } th { "Tax" }
                    th { "SKU / barcode" }
                    @for b in &live { th.num { "Stock: " (b.name) } }
                    th { "Low stock" }
                } }
                tbody {
                    @for r in &data.rows {
                        @let levels: Vec<i64> = live.iter()
                            .map(|b| data.levels.get(&(r.id.clone(), b.id.clone())).copied().unwrap_or(0))
                            .collect();
                        @let low_at: Vec<&str> = live.iter().zip(&levels)
                            .filter(|(_, l)| r.track_stock && r.low_stock.is_some_and(|low| **l <= low))
                            .map(|(b, _)| b.name.as_str())
                            .collect();
                        tr data-testid="product-row" {
                            td { a href={ "/products/" (r.id) } { (r.name) } }
                            td { (r.category.as_deref().unwrap_or("—")) }
                            td.num { (fmt::amount(r.price_minor, &r.currency)) }
                            td { (r.tax_code) }
                            td {
                                (r.sku.as_deref().unwrap_or("—"))
                                @if let Some(b) = &r.barcode { br; span.muted { (b) } }
                            }
                            @for (b, l) in live.iter().zip(&levels) {
                                td.num data-testid={ "stock-" (r.id) "-" (b.id) } {
                                    @if r.track_stock { (level_cell(*l, r.low_stock)) }
                                    @else { span.muted { "not tracked" } }
                                }
                            }
                            td {
                                @if !low_at.is_empty() {
                                    span.tag.warn data-testid="low-stock" { "low: " (low_at.join(", ")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page::render(&user, Nav::Products, "Products & stock", body))
}

// New products -------------------------------------------------------------------

fn new_product_page(
    user: &WebUser,
    status: StatusCode,
    choices: &Choices,
    values: &Values,
    error: Option<&str>,
) -> Response {
    let body = html! {
        p { a href="/products" { "← Products" } }
        (product_form(user, choices, FormView {
            action: "/products/new",
            values,
            was: None,
            image: None,
            remove_image: false,
            error,
        }))
    };
    page::render_status(status, user, Nav::Products, "New product", body)
}

async fn new_product_form(
    State(state): State<AppState>,
    user: WebUser,
) -> Result<Response, WebError> {
    let choices = super::db(&state, |conn, _| choices(conn)).await?;
    let values = Values::blank(&choices);
    Ok(new_product_page(
        &user,
        StatusCode::OK,
        &choices,
        &values,
        None,
    ))
}

fn create(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    choices: &Choices,
    form: &ProductForm,
) -> Result<(ProductId, String), WebError> {
    let p = parse(&form.values, choices.currency)?;
    let image = form.image.as_ref().map(image_uri).transpose()?;
    let id = ProductId::new();
    let patch = ProductPatch {
        name: Some(p.name.clone()),
        sku: Some(p.sku),
        barcode: Some(p.barcode),
        category_id: Some(p.category_id),
        price: Some(p.price),
        tax_code: Some(p.tax_code),
        image: Some(image),
        track_stock: Some(p.track_stock),
        low_stock: Some(p.low_stock),
        ..ProductPatch::new(id)
    };
    check_patch(conn, &patch)?;
    let body = OpBody::ProductChanged(patch);
    let detail = format!("{} at {}", p.name, p.price);
    write::apply_one(conn, now, user, body, "product.create", detail)?;
    Ok((id, format!("Added {}: price {}", p.name, p.price)))
}

async fn create_product(
    State(state): State<AppState>,
    posted: PostedMultipart,
) -> Result<Response, WebError> {
    let form = ProductForm::read(&posted);
    let user = posted.user;
    super::db(&state, move |conn, clock| {
        let choices = choices(conn)?;
        match create(conn, clock.now(), &user, &choices, &form) {
            Ok((id, flash)) => Ok(to_product(id, &flash)),
            Err(e) => {
                let m = e.refusal()?;
                let status = StatusCode::BAD_REQUEST;
                Ok(new_product_page(
                    &user,
                    status,
                    &choices,
                    &form.values,
                    Some(&m),
                ))
            }
        }
    })
    .await
}

// The product page ---------------------------------------------------------------

#[derive(Debug)]
struct MovementRow {
    kind: String,
    quantity: i64,
    note: Option<String>,
    at: i64,
    device: String,
}

#[derive(Debug)]
struct BranchStock {
    branch: Branch,
    level: i64,
    movements: Vec<MovementRow>,
}

#[derive(Debug)]
struct PageData {
    product: ProductState,
    choices: Choices,
    stock: Vec<BranchStock>,
}

fn load_page(conn: &Connection, id: ProductId) -> Result<PageData, WebError> {
    let product = product_state(conn, id)
        .optional()?
        .ok_or_else(|| WebError::not_found(format!("there is no product {id}")))?;
    let pid = id.to_string();
    let mut stock = Vec::new();
    for branch in branches(conn, Some(&pid))? {
        let movements = conn
            .prepare_cached(
                "SELECT m.kind, m.quantity_milli, m.note, m.created_at, m.device_id, d.name, d.code
                 FROM stock_movements m LEFT JOIN devices d ON d.id = m.device_id
                 WHERE m.product_id = ?1 AND m.branch_id = ?2
                 ORDER BY m.created_at DESC, m.rowid DESC LIMIT ?3",
            )?
            .query_map(params![pid, branch.id, MOVEMENTS_SHOWN], |r| {
                let device_id: String = r.get(4)?;
                let name: Option<String> = r.get(5)?;
                let code: Option<String> = r.get(6)?;
                let device = if device_id == write::DASHBOARD_DEVICE.to_string() {
                    "Back Office".to_string()
                } else {
                    match (name, code) {
                        (Some(n), Some(c)) => format!("{n} ({c})"),
                        _ => format!("device {}", device_id.get(..8).unwrap_or(&device_id)),
                    }
                };
                Ok(MovementRow {
                    kind: r.get(0)?,
                    quantity: r.get(1)?,
                    note: r.get(2)?,
                    at: r.get(3)?,
                    device,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        stock.push(BranchStock {
            level: level(conn, &pid, &branch.id)?,
            branch,
            movements,
        });
    }
    Ok(PageData {
        product,
        choices: choices(conn)?,
        stock,
    })
}

/// The stock forms' fields as typed.
#[derive(Debug, Clone, Default, Deserialize)]
struct StockForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    branch_id: String,
    #[serde(default)]
    from_branch_id: String,
    #[serde(default)]
    to_branch_id: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    note: String,
}

/// What the product page shows in its forms, and which one failed.
#[derive(Debug, Default)]
struct Shown<'a> {
    edit: Option<&'a ProductForm>,
    edit_error: Option<&'a str>,
    stock: Option<&'a StockForm>,
    stock_error: Option<&'a str>,
}

impl<'a> Shown<'a> {
    /// The product form sent back with its refusal.
    fn edit(form: &'a ProductForm, refusal: &'a str) -> Shown<'a> {
        Shown {
            edit: Some(form),
            edit_error: Some(refusal),
            ..Shown::default()
        }
    }

    /// A stock form sent back with its refusal.
    fn stock(form: &'a StockForm, refusal: &'a str) -> Shown<'a> {
        Shown {
            stock: Some(form),
            stock_error: Some(refusal),
            ..Shown::default()
        }
    }
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "sale" => "Sale",
        "return" => "Return",
        "restock" => "Restock",
        "adjustment" => "Adjustment",
        "stocktake" => "Stocktake",
        "transfer_out" => "Transfer out",
        "transfer_in" => "Transfer in",
        other => other,
    }
}

/// A `<select>` of `branches` named `name`, `chosen` (an id) selected.
pub(crate) fn branch_select(name: &str, branches: &[&Branch], chosen: &str) -> Markup {
    html! {
        select name=(name) {
            @for b in branches {
                option value=(b.id) selected[b.id == chosen] { (b.name) }
            }
        }
    }
}

fn product_page_response(
    user: &WebUser,
    status: StatusCode,
    data: &PageData,
    shown: Shown<'_>,
) -> Response {
    let p = &data.product;
    let id = p.id.to_string();
    let current = Values::of(p);
    let (values, was, remove_image) = match shown.edit {
        Some(f) => (
            &f.values,
            f.was.as_ref().unwrap_or(&current),
            f.remove_image,
        ),
        None => (&current, &current, false),
    };
    let live: Vec<&Branch> = data
        .stock
        .iter()
        .map(|s| &s.branch)
        .filter(|b| b.live)
        .collect();
    let blank = StockForm::default();
    let sf = shown.stock.unwrap_or(&blank);
    let typed = |action: &str| -> &StockForm { if sf.action == action { sf } else { &blank } };
    let (restock, adjust, transfer) = (typed("restock"), typed("adjust"), typed("transfer"));
    let stock_action = format!("/products/{id}/stock");
    let body = html! {
        p { a href="/products" { "← Products" } }
        @if p.deleted_at.is_some() {
            div.notice data-testid="product-deleted" {
                "This product was deleted: tills no longer offer it. Its sales history is kept."
            }
        }
        div.grid2 {
            section.panel {
                h2 { "Details" }
                @if p.deleted_at.is_none() {
                    (product_form(user, &data.choices, FormView {
                        action: &format!("/products/{id}"),
                        values,
                        was: Some(was),
                        image: p.image.as_deref(),
                        remove_image,
                        error: shown.edit_error,
                    }))
                    form method="post" action={ "/products/" (id) "/delete" } style="margin-top:16px" {
                        (csrf_field(user))
                        button.danger type="submit" data-testid="product-delete" { "Delete this product…" }
                    }
                } @else {
                    p { "Price " (p.price) " · tax " (p.tax_code) }
                }
            }
            section.panel {
                h2 { "Stock per branch" }
                @if !p.track_stock {
                    p.muted { "Stock is not tracked for this product; movements are still recorded." }
                }
                table data-testid="stock-table" {
                    thead { tr { th { "Branch" } th.num { "In stock" } } }
                    tbody {
                        @for s in &data.stock {
                            tr {
                                td { (s.branch.name) @if !s.branch.live { " " span.tag { "closed" } } }
                                td.num data-testid={ "stock-" (s.branch.id) } {
                                    (level_cell(s.level, p.low_stock.map(|q| q.milli())))
                                }
                            }
                        }
                    }
                }
                @if p.deleted_at.is_none() && !live.is_empty() {
                    (form_error(shown.stock_error))
                    h2 { "Restock" }
                    form.inline method="post" action=(stock_action) {
                        (csrf_field(user))
                        input type="hidden" name="action" value="restock";
                        label { "Branch" (branch_select("branch_id", &live, &restock.branch_id)) }
                        label { "Quantity received" input type="text" name="quantity" value=(restock.quantity) inputmode="decimal" size="8"; }
                        label { "Note (optional)" input type="text" name="note" value=(restock.note) maxlength="500"; }
                        button.primary type="submit" data-testid="restock-submit" { "Restock" }
                    }
                    h2 { "Adjust" }
                    form.inline method="post" action=(stock_action) {
                        (csrf_field(user))
                        input type="hidden" name="action" value="adjust";
                        label { "Branch" (branch_select("branch_id", &live, &adjust.branch_id)) }
                        label { "Change (e.g. -3 or 12)" input type="text" name="quantity" value=(adjust.quantity) inputmode="decimal" size="8"; }
                        label { "Why (required)" input type="text" name="note" value=(adjust.note) maxlength="500" required; }
                        button type="submit" data-testid="adjust-submit" { "Adjust" }
                    }
                    @if live.len() > 1 {
                        h2 { "Transfer between branches" }
                        p.muted {
                            "The goods leave now; the other branch adds what it counts when it receives the transfer. "
                            a href="/transfers" { "Stock transfers" } " has more lines at once."
                        }
                        form.inline method="post" action=(stock_action) {
                            (csrf_field(user))
                            input type="hidden" name="action" value="transfer";
                            label { "From" (branch_select("from_branch_id", &live, &transfer.from_branch_id)) }
                            label { "To" (branch_select("to_branch_id", &live,
                                if transfer.to_branch_id.is_empty() { live.get(1).map_or("", |b| b.id.as_str()) } else { &transfer.to_branch_id })) }
                            label { "Quantity" input type="text" name="quantity" value=(transfer.quantity) inputmode="decimal" size="8"; }
                            label { "Note (optional)" input type="text" name="note" value=(transfer.note) maxlength="500"; }
                            button type="submit" data-testid="transfer-submit" { "Send transfer" }
                        }
                    }
                }
            }
        }
        h2 { "Latest stock movements" }
        @for s in &data.stock {
            h3 { (s.branch.name) " · in stock " (fmt::qty(s.level)) }
            @if s.movements.is_empty() {
                p.muted { "No movements yet." }
            } @else {
                table data-testid={ "movements-" (s.branch.id) } {
                    thead { tr { th { "When" } th { "Kind" } th.num { "Quantity" } th { "Note" } th { "By" } } }
                    tbody {
                        @for m in &s.movements {
                            tr {
                                td { (fmt::time(Timestamp::from_millis(m.at), s.branch.zone)) }
                                td { (kind_label(&m.kind)) }
                                td.num { (fmt::qty(m.quantity)) }
                                td { (m.note.as_deref().unwrap_or("")) }
                                td { (m.device) }
                            }
                        }
                    }
                }
            }
        }
    };
    page::render_status(status, user, Nav::Products, p.name.as_str(), body)
}

/// Back to product `id`'s page, showing `flash`.
fn to_product(id: ProductId, flash: &str) -> Response {
    page::redirect_with_flash(&format!("/products/{id}"), flash)
}

/// Product `id`'s page again (400), with the form `shown` sent back.
fn product_page_again(
    conn: &Connection,
    user: &WebUser,
    id: ProductId,
    shown: Shown<'_>,
) -> Result<Response, WebError> {
    let data = load_page(conn, id)?;
    Ok(product_page_response(
        user,
        StatusCode::BAD_REQUEST,
        &data,
        shown,
    ))
}

async fn product_page(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = product_id(&id)?;
    let data = super::db(&state, move |conn, _| load_page(conn, id)).await?;
    Ok(product_page_response(
        &user,
        StatusCode::OK,
        &data,
        Shown::default(),
    ))
}

/// The edit as a patch of the fields the person changed: `None` when they
/// changed nothing.
fn edit(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    current: &ProductState,
    form: &ProductForm,
) -> Result<Option<String>, WebError> {
    let cur = currency(conn)?;
    let typed = parse(&form.values, cur)?;
    // What the page showed; the current record if the form did not say.
    let base = form
        .was
        .as_ref()
        .and_then(|w| parse(w, cur).ok())
        .unwrap_or_else(|| Parsed::of(current));
    let image = match &form.image {
        Some(upload) => Some(Some(image_uri(upload)?)),
        None if form.remove_image && current.image.is_some() => Some(None),
        None => None,
    };
    fn changed<T: PartialEq + Clone>(typed: &T, base: &T) -> Option<T> {
        (typed != base).then(|| typed.clone())
    }
    let patch = ProductPatch {
        name: changed(&typed.name, &base.name),
        sku: changed(&typed.sku, &base.sku),
        barcode: changed(&typed.barcode, &base.barcode),
        category_id: changed(&typed.category_id, &base.category_id),
        price: changed(&typed.price, &base.price),
        tax_code: changed(&typed.tax_code, &base.tax_code),
        image,
        track_stock: changed(&typed.track_stock, &base.track_stock),
        low_stock: changed(&typed.low_stock, &base.low_stock),
        ..ProductPatch::new(current.id)
    };
    if patch == ProductPatch::new(current.id) {
        return Ok(None);
    }
    check_patch(conn, &patch)?;
    let fields = write::changed_fields(&[
        ("name", patch.name.is_some()),
        ("sku", patch.sku.is_some()),
        ("barcode", patch.barcode.is_some()),
        ("category", patch.category_id.is_some()),
        ("price", patch.price.is_some()),
        ("tax code", patch.tax_code.is_some()),
        ("picture", patch.image.is_some()),
        ("stock tracking", patch.track_stock.is_some()),
        ("low-stock level", patch.low_stock.is_some()),
    ]);
    let detail = match &patch.price {
        Some(price) => format!("{}; price {price}", fields.join(", ")),
        None => fields.join(", "),
    };
    let body = OpBody::ProductChanged(patch);
    write::apply_one(conn, now, user, body, "product.edit", detail)?;
    let saved = product_state(conn, current.id)?;
    Ok(Some(format!(
        "Saved {} ({}): price {}",
        saved.name,
        fields.join(", "),
        saved.price
    )))
}

async fn save_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: PostedMultipart,
) -> Result<Response, WebError> {
    let id = product_id(&id)?;
    let form = ProductForm::read(&posted);
    let user = posted.user;
    super::db(&state, move |conn, clock| {
        let current = live_product(conn, id)?;
        match edit(conn, clock.now(), &user, &current, &form) {
            Ok(Some(flash)) => Ok(to_product(id, &flash)),
            Ok(None) => Ok(to_product(
                id,
                &format!("Nothing to save: {} is as it was", current.name),
            )),
            Err(e) => product_page_again(conn, &user, id, Shown::edit(&form, &e.refusal()?)),
        }
    })
    .await
}

// Stock --------------------------------------------------------------------------

/// A live branch chosen in `field` of a stock form.
pub(crate) fn chosen_branch<'a>(
    branches: &'a [Branch],
    field: &str,
    id: &str,
) -> Result<&'a Branch, WebError> {
    branches
        .iter()
        .find(|b| b.live && b.id == id.trim())
        .ok_or_else(|| {
            WebError::bad(format!(
                "{field} is not one of the business's branches; pick one from the list"
            ))
        })
}

/// One movement to record: branch, kind, signed quantity.
type Move<'a> = (&'a Branch, MovementKind, Quantity);

fn stock_moves<'a>(
    branches: &'a [Branch],
    f: &StockForm,
) -> Result<(Vec<Move<'a>>, Option<String>, &'static str), WebError> {
    let note = |required: bool| -> Result<Option<String>, WebError> {
        let note = fmt::optional_text("the note", &f.note, MAX_NOTE_CHARS)?;
        if required && note.is_none() {
            return Err(WebError::bad(
                "the note cannot be empty: say why the stock changes (breakage, theft, a count…)",
            ));
        }
        Ok(note)
    };
    match f.action.as_str() {
        "restock" => {
            let branch = chosen_branch(branches, "the branch", &f.branch_id)?;
            let q = fmt::parse_qty("the quantity", &f.quantity)?;
            if q.milli() <= 0 {
                return Err(WebError::bad(
                    "the quantity received must be more than zero",
                ));
            }
            Ok((
                vec![(branch, MovementKind::Restock, q)],
                note(false)?,
                "stock.restock",
            ))
        }
        "adjust" => {
            let branch = chosen_branch(branches, "the branch", &f.branch_id)?;
            let q = fmt::parse_qty("the quantity", &f.quantity)?;
            if q.milli() == 0 {
                return Err(WebError::bad(
                    "the quantity of an adjustment cannot be zero: type how many to add (12) or take away (-3)",
                ));
            }
            let note = note(true)?;
            Ok((
                vec![(branch, MovementKind::Adjustment, q)],
                note,
                "stock.adjust",
            ))
        }
        other => Err(WebError::bad(format!(
            "'{other}' is not a stock action; use the Restock, Adjust or Transfer form"
        ))),
    }
}

fn record_moves(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    product: &ProductState,
    f: &StockForm,
) -> Result<String, WebError> {
    let branches = branches(conn, None)?;
    if f.action == "transfer" {
        return send_one(conn, now, user, product, &branches, f);
    }
    let (moves, note, action) = stock_moves(&branches, f)?;
    let mut writes = Vec::with_capacity(moves.len());
    let mut hlc = write::hlc_after(now, None);
    for (i, (branch, kind, q)) in moves.iter().enumerate() {
        if i > 0 {
            hlc = write::hlc_after(now, Some(hlc));
        }
        let branch_id = BranchId::from_str(&branch.id).map_err(|e| WebError::internal(&e))?;
        writes.push(write::Write {
            body: OpBody::StockMoved(StockMovementRecord {
                id: MovementId::new(),
                product_id: product.id,
                branch_id,
                device_id: write::DASHBOARD_DEVICE,
                kind: *kind,
                quantity: *q,
                sale_id: None,
                user_id: None,
                note: note.clone(),
                created_at: now,
            }),
            branch: Some(branch_id),
            hlc,
            action,
            detail: format!(
                "{} {} {} at {}",
                kind.as_str(),
                q,
                product.name,
                branch.name
            ),
        });
    }
    write::apply(conn, now, user, &writes)?;
    let pid = product.id.to_string();
    let mut levels = Vec::new();
    for (branch, _, _) in &moves {
        levels.push((branch.name.as_str(), level(conn, &pid, &branch.id)?));
    }
    let now_text = levels
        .iter()
        .map(|(b, l)| format!("{b} now {}", fmt::qty(*l)))
        .collect::<Vec<_>>()
        .join(", ");
    let (first, _, q) = moves[0];
    let flash = match action {
        "stock.restock" => format!(
            "Restocked {} of {} at {}: {now_text}.",
            fmt::qty(q.milli()),
            product.name,
            first.name
        ),
        _ => format!(
            "Adjusted {} at {} by {}: {now_text}.",
            product.name,
            first.name,
            fmt::qty(q.milli())
        ),
    };
    Ok(transfers::below_zero(flash, &levels))
}

/// The product page's transfer form: a one-line stock transfer
/// (`transfers::send_transfer`). The goods leave the sending branch now
/// and reach the other when it receives them (on its till, or on the
/// transfer's page), in the quantity it counts.
fn send_one(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    product: &ProductState,
    branches: &[Branch],
    f: &StockForm,
) -> Result<String, WebError> {
    let (from, to) = transfers::route(branches, &f.from_branch_id, &f.to_branch_id)?;
    let q = fmt::parse_qty("the quantity", &f.quantity)?;
    if q.milli() <= 0 {
        return Err(WebError::bad(
            "the quantity to transfer must be more than zero",
        ));
    }
    let note = fmt::optional_text("the note", &f.note, MAX_NOTE_CHARS)?;
    transfers::send_transfer(conn, now, user, (from, to), &[(product.id, q)], note)?;
    let left = level(conn, &product.id.to_string(), &from.id)?;
    let flash = format!(
        "Sent {} of {} from {} to {}: {} now {}. It is in transit until {} receives it (Stock transfers).",
        fmt::qty(q.milli()),
        product.name,
        from.name,
        to.name,
        from.name,
        fmt::qty(left),
        to.name
    );
    Ok(transfers::below_zero(flash, &[(from.name.as_str(), left)]))
}

async fn move_stock(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { user, form }: Posted<StockForm>,
) -> Result<Response, WebError> {
    let id = product_id(&id)?;
    super::db(&state, move |conn, clock| {
        let product = live_product(conn, id)?;
        match record_moves(conn, clock.now(), &user, &product, &form) {
            Ok(flash) => Ok(to_product(id, &flash)),
            Err(e) => product_page_again(conn, &user, id, Shown::stock(&form, &e.refusal()?)),
        }
    })
    .await
}

/// `POST /products/{id}/delete`: first a page saying what deleting does,
/// then (with `confirm=yes`) a tombstone every till pulls.
async fn delete_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { user, form }: Posted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let confirmed = page::is_confirmed(&form);
    let id = product_id(&id)?;
    super::db(&state, move |conn, clock| {
        let product = live_product(conn, id)?;
        if !confirmed {
            return Ok(confirm_delete_product(&user, id, &product));
        }
        let now = clock.now();
        let body = OpBody::ProductDeleted(Tombstone {
            id,
            deleted_at: now,
        });
        let detail = product.name.to_string();
        write::apply_one(conn, now, &user, body, "product.delete", detail)?;
        Ok(page::redirect_with_flash(
            "/products",
            &format!(
                "Deleted {}: tills stop offering it at their next sync. Its sales history is kept.",
                product.name
            ),
        ))
    })
    .await
}

/// The page asking before a product is deleted.
fn confirm_delete_product(user: &WebUser, id: ProductId, p: &ProductState) -> Response {
    let question = format!("Delete {}?", p.name);
    let action = format!("/products/{id}/delete");
    let cancel = format!("/products/{id}");
    page::confirm_page(
        user,
        Nav::Products,
        page::Confirm {
            title: "Delete a product?",
            question: &question,
            what_happens: html! {
                p { (p.name) " disappears from every till's grid on their next sync; past receipts keep it." }
                p { "Its sales history and stock movements are kept, and its page still opens from the sales that sold it, "
                    "but it can no longer be changed or restocked." }
                p { "This cannot be undone. To sell it again, add it as a new product." }
            },
            action_url: &action,
            hidden: &[],
            confirm_label: "Delete the product",
            testid: None,
            cancel_url: &cancel,
        },
    )
}

// Categories -------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
struct CategoryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    sort_order: String,
    /// What the page showed (renames only).
    #[serde(default)]
    was_name: Option<String>,
    #[serde(default)]
    was_sort_order: Option<String>,
}

#[derive(Debug)]
struct CategoryRow {
    id: String,
    name: String,
    sort_order: i64,
    products: i64,
}

fn category_rows(conn: &Connection) -> rusqlite::Result<(Vec<CategoryRow>, i64)> {
    let rows = conn
        .prepare_cached(
            "SELECT c.id, c.name, c.sort_order,
                    (SELECT COUNT(*) FROM products p WHERE p.category_id = c.id AND p.deleted_at IS NULL)
             FROM categories c WHERE c.deleted_at IS NULL
             ORDER BY c.sort_order, c.name COLLATE NOCASE, c.id",
        )?
        .query_map([], |r| {
            Ok(CategoryRow {
                id: r.get(0)?,
                name: r.get(1)?,
                sort_order: r.get(2)?,
                products: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let none: i64 = conn.query_row(
        "SELECT COUNT(*) FROM products WHERE category_id IS NULL AND deleted_at IS NULL",
        [],
        |r| r.get(0),
    )?;
    Ok((rows, none))
}

fn parse_sort_order(text: &str) -> Result<i64, WebError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(0);
    }
    t.parse::<i64>()
        .ok()
        .filter(|n| n.unsigned_abs() <= 1_000_000_000)
        .ok_or_else(|| {
            WebError::bad(format!(
                "the sort order '{t}' is not a whole number; type one like 0, 10 or -5 (smaller comes first)"
            ))
        })
}

/// Refuses `name` if another live category has it, ignoring case (as a till
/// does).
fn check_category_name(conn: &Connection, name: &Name, except: &str) -> Result<(), WebError> {
    let wanted = name.as_str().to_lowercase();
    let (rows, _) = category_rows(conn)?;
    if let Some(other) = rows
        .iter()
        .find(|r| r.id != except && r.name.to_lowercase() == wanted)
    {
        return Err(WebError::bad(format!(
            "there is already a category '{}'; choose another name",
            other.name
        )));
    }
    Ok(())
}

fn categories_page(
    user: &WebUser,
    status: StatusCode,
    conn: &Connection,
    create: Option<&CategoryForm>,
    edit: Option<(&str, &CategoryForm)>,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let (rows, uncategorized) = category_rows(conn)?;
    let blank = CategoryForm {
        sort_order: "0".into(),
        ..CategoryForm::default()
    };
    let create = create.unwrap_or(&blank);
    let body = html! {
        (form_error(error))
        section.panel {
            h2 { "New category" }
            form.inline method="post" action="/categories" {
                (csrf_field(user))
                label { "Name" input type="text" name="name" value=(create.name) maxlength="120" required; }
                label { "Sort order" input type="text" name="sort_order" value=(create.sort_order) size="6" inputmode="numeric"; }
                button.primary type="submit" data-testid="category-add" { "Add" }
            }
        }
        h2 { "Categories" }
        @if rows.is_empty() {
            p.muted { "No categories yet." }
        } @else {
            table data-testid="category-table" {
                thead { tr { th { "Name and sort order (smaller first)" } th.num { "Products" } th {} } }
                tbody {
                    @for r in &rows {
                        @let (name, sort) = match edit {
                            Some((id, f)) if id == r.id => (f.name.clone(), f.sort_order.clone()),
                            _ => (r.name.clone(), r.sort_order.to_string()),
                        };
                        @let (was_name, was_sort) = match edit {
                            Some((id, f)) if id == r.id => (
                                f.was_name.clone().unwrap_or_else(|| r.name.clone()),
                                f.was_sort_order.clone().unwrap_or_else(|| r.sort_order.to_string()),
                            ),
                            _ => (r.name.clone(), r.sort_order.to_string()),
                        };
                        tr data-testid="category-row" {
                            td {
                                form.inline method="post" action={ "/categories/" (r.id) } {
                                    (csrf_field(user))
                                    input type="hidden" name="was_name" value=(was_name);
                                    input type="hidden" name="was_sort_order" value=(was_sort);
                                    input type="text" name="name" value=(name) maxlength="120" required aria-label="Name";
                                    input type="text" name="sort_order" value=(sort) size="6" inputmode="numeric" aria-label="Sort order";
                                    button type="submit" { "Save" }
                                }
                            }
                            td.num {
                                a href={ "/products?category=" (r.id) } data-testid="category-products" { (r.products) }
                            }
                            td {
                                form.inline method="post" action={ "/categories/" (r.id) "/delete" } {
                                    (csrf_field(user))
                                    button.danger type="submit" { "Delete…" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.muted {
            a href="/products?category=none" { (uncategorized) } " live products have no category."
        }
    };
    Ok(page::render_status(
        status,
        user,
        Nav::Categories,
        "Categories",
        body,
    ))
}

/// Answers a POST to the categories page: back to it showing what was done,
/// or the page again (400) with the refusal and the form that was sent (a
/// new category, or one category's row).
fn categories_answer(
    conn: &Connection,
    user: &WebUser,
    done: Result<String, WebError>,
    create: Option<&CategoryForm>,
    edit: Option<(&str, &CategoryForm)>,
) -> Result<Response, WebError> {
    match done {
        Ok(flash) => Ok(page::redirect_with_flash("/categories", &flash)),
        Err(e) => {
            let m = e.refusal()?;
            categories_page(user, StatusCode::BAD_REQUEST, conn, create, edit, Some(&m))
        }
    }
}

async fn category_list(State(state): State<AppState>, user: WebUser) -> Result<Response, WebError> {
    super::db(&state, move |conn, _| {
        categories_page(&user, StatusCode::OK, conn, None, None, None)
    })
    .await
}

fn add_category(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    f: &CategoryForm,
) -> Result<String, WebError> {
    let name = Name::parse("the category name", &f.name).map_err(bad)?;
    let sort_order = parse_sort_order(&f.sort_order)?;
    check_category_name(conn, &name, "")?;
    let patch = CategoryPatch {
        name: Some(name.clone()),
        sort_order: Some(sort_order),
        ..CategoryPatch::new(CategoryId::new())
    };
    let body = OpBody::CategoryChanged(patch);
    write::apply_one(conn, now, user, body, "category.create", name.to_string())?;
    Ok(format!("Added category {name}"))
}

async fn create_category(
    State(state): State<AppState>,
    Posted { user, form }: Posted<CategoryForm>,
) -> Result<Response, WebError> {
    super::db(&state, move |conn, clock| {
        let done = add_category(conn, clock.now(), &user, &form);
        categories_answer(conn, &user, done, Some(&form), None)
    })
    .await
}

fn live_category(
    conn: &Connection,
    id: CategoryId,
) -> Result<sync_protocol::CategoryState, WebError> {
    let c = category_state(conn, id)
        .optional()?
        .ok_or_else(|| WebError::not_found(format!("there is no category {id}")))?;
    if c.deleted_at.is_some() {
        return Err(WebError::not_found(format!(
            "the category {} was deleted",
            c.name
        )));
    }
    Ok(c)
}

fn rename_category(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    id: CategoryId,
    f: &CategoryForm,
) -> Result<String, WebError> {
    let current = live_category(conn, id)?;
    let name = Name::parse("the category name", &f.name).map_err(bad)?;
    let sort_order = parse_sort_order(&f.sort_order)?;
    // What the page showed; the current record if the form did not say.
    let was_name = f
        .was_name
        .as_deref()
        .and_then(|n| Name::parse("name", n).ok())
        .unwrap_or_else(|| current.name.clone());
    let was_sort = f
        .was_sort_order
        .as_deref()
        .and_then(|s| parse_sort_order(s).ok())
        .unwrap_or(current.sort_order);
    let patch = CategoryPatch {
        name: (name != was_name).then(|| name.clone()),
        sort_order: (sort_order != was_sort).then_some(sort_order),
        ..CategoryPatch::new(id)
    };
    if patch == CategoryPatch::new(id) {
        return Ok(format!(
            "Nothing to save: category {} is as it was",
            current.name
        ));
    }
    if let Some(n) = &patch.name {
        check_category_name(conn, n, &id.to_string())?;
    }
    let body = OpBody::CategoryChanged(patch);
    let detail = format!("{name}, sort order {sort_order}");
    write::apply_one(conn, now, user, body, "category.edit", detail)?;
    let saved = category_state(conn, id)?;
    Ok(format!(
        "Saved category {} (sort order {})",
        saved.name, saved.sort_order
    ))
}

async fn save_category(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { user, form }: Posted<CategoryForm>,
) -> Result<Response, WebError> {
    let id = category_id(&id)?;
    super::db(&state, move |conn, clock| {
        let done = rename_category(conn, clock.now(), &user, id, &form);
        categories_answer(conn, &user, done, None, Some((&id.to_string(), &form)))
    })
    .await
}

/// Live category `id`, if no live product is in it (as on a till).
fn removable_category(
    conn: &Connection,
    id: CategoryId,
) -> Result<sync_protocol::CategoryState, WebError> {
    let current = live_category(conn, id)?;
    let products: i64 = conn.query_row(
        "SELECT COUNT(*) FROM products WHERE category_id = ?1 AND deleted_at IS NULL",
        [id.to_string()],
        |r| r.get(0),
    )?;
    if products > 0 {
        return Err(WebError::bad(format!(
            "category '{}' still has {}; move them to another category (or delete them) first",
            current.name,
            fmt::plural(products, "product", "products")
        )));
    }
    Ok(current)
}

fn remove_category(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    id: CategoryId,
) -> Result<String, WebError> {
    let current = removable_category(conn, id)?;
    let body = OpBody::CategoryDeleted(Tombstone {
        id,
        deleted_at: now,
    });
    let detail = current.name.to_string();
    write::apply_one(conn, now, user, body, "category.delete", detail)?;
    Ok(format!("Deleted category {}", current.name))
}

/// `POST /categories/{id}/delete`: first a page saying what deleting does
/// (or why it cannot be deleted), then (with `confirm=yes`) a tombstone.
async fn delete_category(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { user, form }: Posted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let confirmed = page::is_confirmed(&form);
    let id = category_id(&id)?;
    super::db(&state, move |conn, clock| {
        if !confirmed {
            return match removable_category(conn, id) {
                Ok(c) => Ok(confirm_delete_category(&user, id, &c)),
                Err(e) => categories_answer(conn, &user, Err(e), None, None),
            };
        }
        let done = remove_category(conn, clock.now(), &user, id);
        categories_answer(conn, &user, done, None, None)
    })
    .await
}

/// The page asking before a category is deleted.
fn confirm_delete_category(
    user: &WebUser,
    id: CategoryId,
    c: &sync_protocol::CategoryState,
) -> Response {
    let question = format!("Delete the category {}?", c.name);
    let action = format!("/categories/{id}/delete");
    page::confirm_page(
        user,
        Nav::Categories,
        page::Confirm {
            title: "Delete a category?",
            question: &question,
            what_happens: html! {
                p { "The category " (c.name) " disappears from every till on their next sync. "
                    "No live product is in it; past receipts and sales are not changed." }
                p { "This cannot be undone. To use the name again, add a new category." }
            },
            action_url: &action,
            hidden: &[],
            confirm_label: "Delete the category",
            testid: None,
            cancel_url: "/categories",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_known_by_their_first_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n0000"), Some("image/png"));
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(image_type(b"<svg onload=alert(1)>"), None);
        assert_eq!(image_type(b""), None);
    }

    #[test]
    fn the_form_is_checked_like_a_till_checks_a_product() {
        let kes = Currency::from_code("KES").unwrap();
        let v = Values {
            name: " Soda ".into(),
            price: "1,250.50".into(),
            sku: "soda-500".into(),
            tax_code: "vat16".into(),
            low_stock: "2.5".into(),
            ..Values::default()
        };
        let p = parse(&v, kes).unwrap();
        assert_eq!(p.name.as_str(), "Soda");
        assert_eq!(p.price.minor(), 1_250_50);
        assert_eq!(p.sku.unwrap().as_str(), "SODA-500");
        assert_eq!(p.tax_code.as_str(), "VAT16");
        assert_eq!(p.low_stock, Some(Quantity::from_milli(2_500)));
        for (field, text, says) in [
            ("price", "12.345", "the price '12.345'"),
            ("price", "-5", "the price cannot be negative"),
            ("price", "abc", "the price 'abc'"),
            ("name", "  ", "the name cannot be empty"),
            ("low", "-1", "the low-stock level cannot be negative"),
            ("sku", "has space", "SKU"),
        ] {
            let mut bad = v.clone();
            match field {
                "price" => bad.price = text.into(),
                "name" => bad.name = text.into(),
                "low" => bad.low_stock = text.into(),
                _ => bad.sku = text.into(),
            }
            let e = parse(&bad, kes).unwrap_err().to_string();
            assert!(e.contains(says), "{field}={text}: {e}");
        }
    }
}
