//! Business settings (store name, receipt header/footer, currency, time zone,
//! tax mode) and tax rates. Each setting is its own row with its own clock, so
//! two devices editing different settings never overwrite each other.

use pos_domain::{Currency, TaxCode, TaxMode, TaxRate, TaxTable, TimeZone};
use rusqlite::Connection;

use crate::{Result, Store, StoreError};

/// The business's settings as the till uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessSettings {
    pub store_name: String,
    pub address: String,
    pub phone: String,
    /// The business's tax registration (KRA PIN in Kenya), printed on receipts.
    pub tax_pin: String,
    pub receipt_header: String,
    pub receipt_footer: String,
    pub currency: Currency,
    pub time_zone: TimeZone,
    pub tax_mode: TaxMode,
}

impl Store {
    pub fn settings(&self) -> Result<BusinessSettings> {
        load_settings(self.conn())
    }

    /// The active tax rates and the pricing mode.
    pub fn tax_table(&self) -> Result<TaxTable> {
        load_tax_table(self.conn())
    }
}

pub(crate) fn load_settings(conn: &Connection) -> Result<BusinessSettings> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM business_settings")?;
    let mut rows = stmt.query([])?;
    let mut s = BusinessSettings {
        store_name: String::new(),
        address: String::new(),
        phone: String::new(),
        tax_pin: String::new(),
        receipt_header: String::new(),
        receipt_footer: String::new(),
        currency: Currency::KES,
        time_zone: TimeZone::NAIROBI,
        tax_mode: TaxMode::Inclusive,
    };
    let corrupt = |k: &str, v: &str| StoreError::Corrupt(format!("setting {k} = '{v}'"));
    while let Some(r) = rows.next()? {
        let key: String = r.get(0)?;
        let value: String = r.get(1)?;
        match key.as_str() {
            "store_name" => s.store_name = value,
            "address" => s.address = value,
            "phone" => s.phone = value,
            "tax_pin" => s.tax_pin = value,
            "receipt_header" => s.receipt_header = value,
            "receipt_footer" => s.receipt_footer = value,
            "currency" => {
                s.currency = Currency::from_code(&value).map_err(|_| corrupt(&key, &value))?
            }
            "time_zone" => {
                s.time_zone = TimeZone::parse(&value).map_err(|_| corrupt(&key, &value))?
            }
            "tax_mode" => s.tax_mode = TaxMode::parse(&value).map_err(|_| corrupt(&key, &value))?,
            _ => {}
        }
    }
    Ok(s)
}

pub(crate) fn load_tax_table(conn: &Connection) -> Result<TaxTable> {
    let mode: String = conn.query_row(
        "SELECT value FROM business_settings WHERE key = 'tax_mode'",
        [],
        |r| r.get(0),
    )?;
    let mode =
        TaxMode::parse(&mode).map_err(|_| StoreError::Corrupt(format!("tax mode '{mode}'")))?;
    let mut stmt = conn.prepare_cached(
        "SELECT code, name, basis_points FROM tax_rates WHERE deleted_at IS NULL ORDER BY code",
    )?;
    let rates = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?
        .map(|row| {
            let (code, name, bp) = row?;
            let code = TaxCode::parse(&code)
                .map_err(|_| StoreError::Corrupt(format!("tax code '{code}'")))?;
            Ok(TaxRate::new(code, name, bp)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TaxTable::new(mode, rates))
}
