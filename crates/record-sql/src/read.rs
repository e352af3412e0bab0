//! Reading a mutable record's row back as its state, the same on both sides:
//! the Back Office's merged states (change feed, Full Cloud Synchronization)
//! and the till's records (its Full Cloud Synchronization upload). Their
//! digests must agree, so there is one reader.
//!
//! Each `*_SELECT` lists a table's columns in the order its row reader
//! expects; [`by_id`] and [`all`] add the `WHERE` / `ORDER BY`.

use std::collections::BTreeMap;

use pos_domain::{Currency, Hlc, Money, Name, Quantity, Timestamp};
use rusqlite::types::Type;
use rusqlite::{Connection, Row};
use sync_protocol::{
    CategoryState, CustomerState, ExpensePaidWith, ExpenseState, ProductState, SettingsState,
    UserState,
};

/// A table's select list and the reader of its rows.
#[derive(Debug)]
pub struct Reader<T: 'static> {
    select: &'static str,
    row: fn(&Row<'_>) -> rusqlite::Result<T>,
}

pub const PRODUCT: Reader<ProductState> = Reader {
    select: "SELECT id, name, sku, barcode, category_id, price_minor, currency, tax_code, image,
                    track_stock, low_stock_milli, created_at, hlc, deleted_at
             FROM products",
    row: product,
};

pub const CATEGORY: Reader<CategoryState> = Reader {
    select: "SELECT id, name, sort_order, hlc, deleted_at FROM categories",
    row: category,
};

pub const CUSTOMER: Reader<CustomerState> = Reader {
    select: "SELECT id, name, phone, email, credit_limit_minor, currency, notes, created_at, hlc,
                    deleted_at
             FROM customers",
    row: customer,
};

pub const USER: Reader<UserState> = Reader {
    select: "SELECT id, name, role, pin_hash, active, created_at, hlc, deleted_at FROM users",
    row: user,
};

pub const EXPENSE: Reader<ExpenseState> = Reader {
    select: "SELECT id, branch_id, device_id, user_id, category, description, amount_minor,
                    currency, paid_with, reference, spent_at, business_day, created_at, hlc,
                    deleted_at
             FROM expenses",
    row: expense,
};

/// The record with `id` (`QueryReturnedNoRows` when there is none).
pub fn by_id<T>(conn: &Connection, reader: &Reader<T>, id: &str) -> rusqlite::Result<T> {
    conn.prepare_cached(&format!("{} WHERE id = ?1", reader.select))?
        .query_row([id], reader.row)
}

/// Every record of the table, by id.
pub fn all<T>(conn: &Connection, reader: &Reader<T>) -> rusqlite::Result<Vec<T>> {
    conn.prepare(&format!("{} ORDER BY id", reader.select))?
        .query_map([], reader.row)?
        .collect()
}

/// The business settings: one row per key, the newest key's clock for all.
pub fn settings(conn: &Connection) -> rusqlite::Result<SettingsState> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut hlc = Hlc::ZERO;
    let mut stmt = conn.prepare_cached("SELECT key, value, hlc FROM business_settings")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let key: String = r.get(0)?;
        values.insert(key, r.get(1)?);
        hlc = hlc.max(parsed(r, 2)?);
    }
    let get = |k: &str| values.get(k).cloned().unwrap_or_default();
    Ok(SettingsState {
        store_name: get("store_name"),
        address: get("address"),
        phone: get("phone"),
        tax_pin: get("tax_pin"),
        receipt_header: get("receipt_header"),
        receipt_footer: get("receipt_footer"),
        currency: parse_text(1, &get("currency"))?,
        time_zone: parse_text(1, &get("time_zone"))?,
        tax_mode: parse_text(1, &get("tax_mode"))?,
        hlc,
    })
}

fn product(r: &Row<'_>) -> rusqlite::Result<ProductState> {
    let currency: Currency = parsed(r, 6)?;
    Ok(ProductState {
        id: parsed(r, 0)?,
        name: name(r, 1)?,
        sku: parsed_opt(r, 2)?,
        barcode: parsed_opt(r, 3)?,
        category_id: parsed_opt(r, 4)?,
        price: money(r, 5, currency)?,
        tax_code: parsed(r, 7)?,
        image: r.get(8)?,
        track_stock: r.get(9)?,
        low_stock: r.get::<_, Option<i64>>(10)?.map(Quantity::from_milli),
        created_at: ts(r, 11)?,
        hlc: parsed(r, 12)?,
        deleted_at: ts_opt(r, 13)?,
    })
}

fn category(r: &Row<'_>) -> rusqlite::Result<CategoryState> {
    Ok(CategoryState {
        id: parsed(r, 0)?,
        name: name(r, 1)?,
        sort_order: r.get(2)?,
        hlc: parsed(r, 3)?,
        deleted_at: ts_opt(r, 4)?,
    })
}

fn customer(r: &Row<'_>) -> rusqlite::Result<CustomerState> {
    let currency: Currency = parsed(r, 5)?;
    Ok(CustomerState {
        id: parsed(r, 0)?,
        name: name(r, 1)?,
        phone: parsed_opt(r, 2)?,
        email: r.get(3)?,
        credit_limit: money(r, 4, currency)?,
        notes: r.get(6)?,
        created_at: ts(r, 7)?,
        hlc: parsed(r, 8)?,
        deleted_at: ts_opt(r, 9)?,
    })
}

fn user(r: &Row<'_>) -> rusqlite::Result<UserState> {
    Ok(UserState {
        id: parsed(r, 0)?,
        name: name(r, 1)?,
        role: parsed(r, 2)?,
        pin_hash: r.get(3)?,
        active: r.get(4)?,
        created_at: ts(r, 5)?,
        hlc: parsed(r, 6)?,
        deleted_at: ts_opt(r, 7)?,
    })
}

fn expense(r: &Row<'_>) -> rusqlite::Result<ExpenseState> {
    let currency: Currency = parsed(r, 7)?;
    let paid: String = r.get(8)?;
    let paid_with = ExpensePaidWith::parse(&paid).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            8,
            Type::Text,
            format!("unknown paid_with '{paid}'").into(),
        )
    })?;
    Ok(ExpenseState {
        id: parsed(r, 0)?,
        branch_id: parsed(r, 1)?,
        device_id: parsed(r, 2)?,
        user_id: parsed(r, 3)?,
        category: name(r, 4)?,
        description: r.get(5)?,
        amount: money(r, 6, currency)?,
        paid_with,
        reference: r.get(9)?,
        spent_at: ts(r, 10)?,
        business_day: r.get(11)?,
        created_at: ts(r, 12)?,
        hlc: parsed(r, 13)?,
        deleted_at: ts_opt(r, 14)?,
    })
}

/// Parses a text value read from column `i`.
pub fn parse_text<T>(i: usize, s: &str) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}

pub(crate) fn parsed<T>(r: &Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    parse_text(i, &r.get::<_, String>(i)?)
}

pub(crate) fn parsed_opt<T>(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<T>>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    r.get::<_, Option<String>>(i)?
        .map(|s| parse_text(i, &s))
        .transpose()
}

fn name(r: &Row<'_>, i: usize) -> rusqlite::Result<Name> {
    Name::try_from(r.get::<_, String>(i)?)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}

pub(crate) fn money(r: &Row<'_>, i: usize, currency: Currency) -> rusqlite::Result<Money> {
    Money::from_minor(r.get(i)?, currency)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Integer, Box::new(e)))
}

pub(crate) fn ts(r: &Row<'_>, i: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp::from_millis(r.get(i)?))
}

fn ts_opt(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp::from_millis))
}
