//! Small helpers for moving domain values in and out of SQLite rows.

use std::str::FromStr;

use pos_domain::{Currency, Money, Quantity};
use rusqlite::Row;
use rusqlite::types::Type;

use crate::{Result, StoreError};

/// Reads a column of text and parses it (ids, codes, clocks).
pub(crate) fn col_parse<T: FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T::Err: std::fmt::Display,
{
    let text: String = row.get(idx)?;
    text.parse::<T>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, format!("'{text}': {e}").into())
    })
}

/// Like [`col_parse`] for a nullable column.
pub(crate) fn col_parse_opt<T: FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(text) => text.parse::<T>().map(Some).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                idx,
                Type::Text,
                format!("'{text}': {e}").into(),
            )
        }),
    }
}

/// Reads minor units at `idx` as money in `currency`.
pub(crate) fn col_money(row: &Row<'_>, idx: usize, currency: Currency) -> rusqlite::Result<Money> {
    let minor: i64 = row.get(idx)?;
    Money::from_minor(minor, currency).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, e.to_string().into())
    })
}

/// Like [`col_money`] for a nullable column.
pub(crate) fn col_money_opt(
    row: &Row<'_>,
    idx: usize,
    currency: Currency,
) -> rusqlite::Result<Option<Money>> {
    match row.get::<_, Option<i64>>(idx)? {
        None => Ok(None),
        Some(_) => col_money(row, idx, currency).map(Some),
    }
}

pub(crate) fn col_quantity(row: &Row<'_>, idx: usize) -> rusqlite::Result<Quantity> {
    Ok(Quantity::from_milli(row.get(idx)?))
}

/// Serializes an op body or record for a TEXT column.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

/// Whether a SQLite error is a UNIQUE violation naming `column` (`"products.barcode"`).
pub(crate) fn is_unique_violation(e: &rusqlite::Error, column: &str) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, Some(msg)) => {
            f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE && msg.contains(column)
        }
        _ => false,
    }
}

/// Reads a text column through a `parse` that returns `None` for unknown values.
pub(crate) fn col_enum<T>(
    r: &rusqlite::Row<'_>,
    idx: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unknown value '{text}'").into(),
        )
    })
}
