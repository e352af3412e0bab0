//! Business settings (store name, receipt header/footer, currency, time zone,
//! tax mode) and tax rates. Each setting is its own row with its own clock, so
//! two devices editing different settings never overwrite each other.

use std::collections::HashMap;

use pos_domain::settings::{free_text, receipt_text, tax_pin};
use pos_domain::{
    Currency, Name, Permission, PhoneNumber, TaxCode, TaxMode, TaxRate, TaxTable, TimeZone,
};
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::{OpBody, SettingsPatch, TaxRateRecord};

use crate::{Actor, Result, Store, StoreError};

/// The limits of the settings' text (the domain's, which the Back Office
/// checks too).
pub use pos_domain::settings::{
    MAX_ADDRESS_CHARS, MAX_RECEIPT_TEXT_CHARS, MAX_RECEIPT_TEXT_LINES, MAX_TAX_PIN_CHARS,
};

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

/// Settings as a form sends them: raw text, `None` for "leave as it is".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsUpdate {
    pub store_name: Option<String>,
    pub address: Option<String>,
    /// Empty clears it.
    pub phone: Option<String>,
    /// Empty clears it.
    pub tax_pin: Option<String>,
    pub receipt_header: Option<String>,
    pub receipt_footer: Option<String>,
    /// An ISO code such as `KES`.
    pub currency: Option<String>,
    /// An IANA name such as `Africa/Nairobi`.
    pub time_zone: Option<String>,
    /// `inclusive` or `exclusive`.
    pub tax_mode: Option<String>,
}

impl Store {
    pub fn settings(&self) -> Result<BusinessSettings> {
        load_settings(self.conn())
    }

    /// The active tax rates and the pricing mode.
    pub fn tax_table(&self) -> Result<TaxTable> {
        load_tax_table(self.conn())
    }

    /// Changes business settings (owners only).
    ///
    /// Every field is checked before anything is written; one bad field
    /// refuses the whole update. Only settings whose value changes are written
    /// (each with the new clock) and queued, as one `SettingsChanged` op;
    /// nothing is written or queued when nothing changes.
    pub fn update_settings(
        &mut self,
        actor: &Actor,
        update: SettingsUpdate,
    ) -> Result<BusinessSettings> {
        actor.require(Permission::ManageSettings, "change the business settings")?;
        let wanted = validate(&update)?;
        if changed_rows(&settings_diff(self.conn(), &wanted)?).is_empty() {
            return self.settings();
        }
        self.write(|tx| {
            let patch = settings_diff(tx, &wanted)?;
            let rows = changed_rows(&patch);
            if rows.is_empty() {
                return Ok(None);
            }
            if let Some(currency) = patch.currency {
                check_currency_unused(tx, currency)?;
            }
            if let Some(zone) = patch.time_zone {
                // The business's zone is this till's branch's zone: business
                // days and reports follow it from the next sale on.
                tx.execute(
                    "UPDATE branches SET time_zone = ?2 WHERE id = ?1",
                    params![tx.identity().branch_id.to_string(), zone.name()],
                )?;
            }
            let hlc = tx.tick();
            let hlc_text = hlc.to_string();
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE business_settings SET value = ?2, hlc = ?3 WHERE key = ?1",
                )?;
                for (key, value) in &rows {
                    stmt.execute(params![key, value, hlc_text])?;
                }
            }
            let zone = patch.time_zone;
            tx.enqueue_at(OpBody::SettingsChanged(patch), hlc)?;
            Ok(zone)
        })
        .map(|zone| {
            if let Some(zone) = zone {
                self.set_time_zone(zone);
            }
        })?;
        self.settings()
    }

    /// The live tax rates, by code.
    pub fn tax_rates(&self) -> Result<Vec<TaxRate>> {
        load_rates(self.conn())
    }

    /// Adds a tax rate, changes its name or percentage, or brings a retired
    /// one back (owners only). `basis_points` is hundredths of a percent:
    /// 1600 is 16%. Queues a `TaxRateChanged` op unless nothing changes.
    /// Sales already made keep the rate they were made with.
    pub fn upsert_tax_rate(
        &mut self,
        actor: &Actor,
        code: &str,
        name: &str,
        basis_points: i64,
    ) -> Result<TaxRate> {
        actor.require(Permission::ManageSettings, "change tax rates")?;
        let code = TaxCode::parse(code)?;
        let name = Name::parse("tax rate name", name)?;
        let rate = TaxRate::new(code, name.as_str(), basis_points)?;
        self.write(|tx| {
            let current = find_rate(tx, &rate.code)?;
            if let Some((name, bp, false)) = &current
                && *name == rate.name
                && *bp == i64::from(rate.basis_points())
            {
                return Ok(());
            }
            let hlc = tx.tick();
            tx.execute(
                "INSERT INTO tax_rates (code, name, basis_points, hlc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name,
                     basis_points = excluded.basis_points, hlc = excluded.hlc, deleted_at = NULL",
                params![
                    rate.code.as_str(),
                    rate.name,
                    rate.basis_points(),
                    hlc.to_string()
                ],
            )?;
            let record = TaxRateRecord {
                code: rate.code.clone(),
                name: rate.name.clone(),
                basis_points: rate.basis_points(),
                deleted: false,
            };
            tx.enqueue_at(OpBody::TaxRateChanged(record), hlc)?;
            Ok(())
        })?;
        Ok(rate)
    }

    /// Retires a tax rate (owners only; soft, so it reaches every device).
    /// Refused while live products use it.
    pub fn retire_tax_rate(&mut self, actor: &Actor, code: &str) -> Result<()> {
        actor.require(Permission::ManageSettings, "retire tax rates")?;
        let code = TaxCode::parse(code)?;
        self.write(|tx| {
            let (name, bp) = match find_rate(tx, &code)? {
                None => {
                    return Err(StoreError::NotFound {
                        what: "tax rate",
                        id: code.to_string(),
                    });
                }
                Some((name, _, true)) => {
                    return Err(StoreError::Deleted {
                        what: "tax rate",
                        name,
                    });
                }
                Some((name, bp, false)) => (name, bp),
            };
            let used: i64 = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM products WHERE tax_code = ?1 AND deleted_at IS NULL",
                )?
                .query_row([code.as_str()], |r| r.get(0))?;
            if used > 0 {
                let products = if used == 1 { "product" } else { "products" };
                return Err(StoreError::Invalid(format!(
                    "tax rate {code} is used by {used} {products}; \
                     move them to another tax rate first"
                )));
            }
            let hlc = tx.tick();
            tx.execute(
                "UPDATE tax_rates SET deleted_at = ?2, hlc = ?3 WHERE code = ?1",
                params![code.as_str(), tx.now().as_millis(), hlc.to_string()],
            )?;
            let record = TaxRateRecord {
                code: code.clone(),
                name,
                basis_points: u32::try_from(bp)
                    .map_err(|_| StoreError::Corrupt(format!("tax rate {code} of {bp}")))?,
                deleted: true,
            };
            tx.enqueue_at(OpBody::TaxRateChanged(record), hlc)?;
            Ok(())
        })
    }
}

/// Checks and normalizes every field of an update: the patch it asks for
/// (fields may still equal the current values).
fn validate(u: &SettingsUpdate) -> Result<SettingsPatch> {
    let store_name = u
        .store_name
        .as_deref()
        .map(|t| Name::parse("store name", t).map(String::from))
        .transpose()?;
    let address = u
        .address
        .as_deref()
        .map(|t| free_text("address", t, MAX_ADDRESS_CHARS, None))
        .transpose()?;
    let phone = u
        .phone
        .as_deref()
        .map(|t| match t.trim() {
            "" => Ok(String::new()),
            t => PhoneNumber::parse(t).map(String::from),
        })
        .transpose()?;
    let tax_pin = u.tax_pin.as_deref().map(tax_pin).transpose()?;
    let receipt_header = u
        .receipt_header
        .as_deref()
        .map(|t| receipt_text("receipt header", t))
        .transpose()?;
    let receipt_footer = u
        .receipt_footer
        .as_deref()
        .map(|t| receipt_text("receipt footer", t))
        .transpose()?;
    let currency = u.currency.as_deref().map(Currency::from_code).transpose()?;
    let time_zone = u.time_zone.as_deref().map(TimeZone::parse).transpose()?;
    let tax_mode = u
        .tax_mode
        .as_deref()
        .map(|t| TaxMode::parse(&t.trim().to_ascii_lowercase()))
        .transpose()?;
    Ok(SettingsPatch {
        store_name,
        address,
        phone,
        tax_pin,
        receipt_header,
        receipt_footer,
        currency,
        time_zone,
        tax_mode,
    })
}

/// The fields of `wanted` whose value differs from what is stored.
fn settings_diff(conn: &Connection, wanted: &SettingsPatch) -> Result<SettingsPatch> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM business_settings")?;
    let stored = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<HashMap<_, _>>>()?;
    let differs = |key: &str, value: &str| stored.get(key).map(String::as_str) != Some(value);
    let text = |key: &str, v: &Option<String>| v.clone().filter(|v| differs(key, v));
    Ok(SettingsPatch {
        store_name: text("store_name", &wanted.store_name),
        address: text("address", &wanted.address),
        phone: text("phone", &wanted.phone),
        tax_pin: text("tax_pin", &wanted.tax_pin),
        receipt_header: text("receipt_header", &wanted.receipt_header),
        receipt_footer: text("receipt_footer", &wanted.receipt_footer),
        currency: wanted.currency.filter(|c| differs("currency", c.code())),
        time_zone: wanted.time_zone.filter(|z| differs("time_zone", z.name())),
        tax_mode: wanted.tax_mode.filter(|m| differs("tax_mode", m.as_str())),
    })
}

/// The `business_settings` rows a patch writes: `(key, value)`.
fn changed_rows(p: &SettingsPatch) -> Vec<(&'static str, String)> {
    [
        ("store_name", p.store_name.clone()),
        ("address", p.address.clone()),
        ("phone", p.phone.clone()),
        ("tax_pin", p.tax_pin.clone()),
        ("receipt_header", p.receipt_header.clone()),
        ("receipt_footer", p.receipt_footer.clone()),
        ("currency", p.currency.map(String::from)),
        ("time_zone", p.time_zone.map(String::from)),
        ("tax_mode", p.tax_mode.map(|m| m.as_str().to_string())),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect()
}

/// Refuses a new currency once anything has been priced in the old one.
fn check_currency_unused(conn: &Connection, new: Currency) -> Result<()> {
    let used: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM products) OR EXISTS (SELECT 1 FROM sales)
             OR EXISTS (SELECT 1 FROM customers) OR EXISTS (SELECT 1 FROM expenses)",
        [],
        |r| r.get(0),
    )?;
    if used {
        let old = load_settings(conn)?.currency;
        return Err(StoreError::Invalid(format!(
            "the currency cannot be changed from {old} to {new}: products, sales or customers \
             are already recorded in {old} and their prices and amounts would be wrong; \
             the currency can only be chosen before the first product is added"
        )));
    }
    Ok(())
}

/// A tax rate's row, deleted or not: `(name, basis_points, deleted)`.
fn find_rate(conn: &Connection, code: &TaxCode) -> Result<Option<(String, i64, bool)>> {
    Ok(conn
        .prepare_cached("SELECT name, basis_points, deleted_at FROM tax_rates WHERE code = ?1")?
        .query_row([code.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<i64>>(2)?.is_some()))
        })
        .optional()?)
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
    Ok(TaxTable::new(mode, load_rates(conn)?))
}

/// The live tax rates, by code.
fn load_rates(conn: &Connection) -> Result<Vec<TaxRate>> {
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
    Ok(rates)
}

#[cfg(test)]
mod tests {
    use pos_domain::{DomainError, Role, UserId};
    use sync_protocol::OpEnvelope;

    use super::*;
    use crate::testkit::{Kit, T0, kes, kit};

    const ZERO_HLC: &str = "0000000000000-00000000-0000000000000000";

    type State = (Vec<(String, i64)>, Vec<String>, Vec<String>, Vec<String>);

    /// Everything a settings write can touch.
    fn state(kit: &Kit) -> State {
        (
            kit.snapshot(),
            kit.rows("business_settings"),
            kit.rows("tax_rates"),
            kit.rows("outbox"),
        )
    }

    fn ops(kit: &Kit) -> Vec<OpEnvelope> {
        kit.store
            .outbox_pending(100)
            .unwrap()
            .into_iter()
            .map(|e| e.op)
            .collect()
    }

    fn last_op(kit: &Kit) -> OpEnvelope {
        ops(kit).pop().unwrap()
    }

    fn manager() -> Actor {
        Actor {
            user_id: UserId::new(),
            name: "Akinyi".into(),
            role: Role::Manager,
        }
    }

    fn setting_hlcs(kit: &Kit) -> HashMap<String, String> {
        kit.store
            .conn()
            .prepare("SELECT key, hlc FROM business_settings")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn rate_row(kit: &Kit, code: &str) -> (String, Option<i64>) {
        kit.store
            .conn()
            .query_row(
                "SELECT hlc, deleted_at FROM tax_rates WHERE code = ?1",
                [code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }

    fn lines(n: usize) -> String {
        vec!["line"; n].join("\n")
    }

    #[test]
    fn update_settings_writes_and_queues_only_what_changes() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let queued = ops(&kit).len();
        let settings = kit
            .store
            .update_settings(
                &owner,
                SettingsUpdate {
                    store_name: Some("  Mama Mboga Café ".into()),
                    address: Some(String::new()),
                    phone: Some("0712 345 678".into()),
                    tax_pin: Some(" p051234567x ".into()),
                    receipt_header: Some("Karibu!\r\nOpen 7am–9pm\r\n".into()),
                    receipt_footer: Some("Thank you!".into()),
                    currency: Some("kes".into()),
                    time_zone: Some("Africa/Kampala".into()),
                    tax_mode: Some("Exclusive".into()),
                },
            )
            .unwrap();
        let kampala = TimeZone::parse("Africa/Kampala").unwrap();
        assert_eq!(
            settings,
            BusinessSettings {
                store_name: "Mama Mboga Café".into(),
                address: String::new(),
                phone: "+254712345678".into(),
                tax_pin: "P051234567X".into(),
                receipt_header: "Karibu!\nOpen 7am–9pm".into(),
                receipt_footer: "Thank you!".into(),
                currency: Currency::KES,
                time_zone: kampala,
                tax_mode: TaxMode::Exclusive,
            }
        );
        assert_eq!(kit.store.settings().unwrap(), settings);
        // The till's branch follows the business time zone.
        assert_eq!(kit.store.identity().time_zone, kampala);
        let branch_zone: String = kit
            .store
            .conn()
            .query_row("SELECT time_zone FROM branches", [], |r| r.get(0))
            .unwrap();
        assert_eq!(branch_zone, "Africa/Kampala");

        assert_eq!(ops(&kit).len(), queued + 1);
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::SettingsChanged(SettingsPatch {
                store_name: Some("Mama Mboga Café".into()),
                phone: Some("+254712345678".into()),
                tax_pin: Some("P051234567X".into()),
                receipt_header: Some("Karibu!\nOpen 7am–9pm".into()),
                time_zone: Some(kampala),
                tax_mode: Some(TaxMode::Exclusive),
                ..SettingsPatch::default()
            })
        );
        // Changed rows carry the op's clock; the others keep theirs.
        let hlcs = setting_hlcs(&kit);
        let op_hlc = op.hlc.to_string();
        for key in [
            "store_name",
            "phone",
            "tax_pin",
            "receipt_header",
            "time_zone",
            "tax_mode",
        ] {
            assert_eq!(hlcs[key], op_hlc, "{key}");
        }
        for key in ["address", "receipt_footer", "currency"] {
            assert_eq!(hlcs[key], ZERO_HLC, "{key}");
        }

        // Clearing the phone and tax PIN is a change too.
        let cleared = kit
            .store
            .update_settings(
                &owner,
                SettingsUpdate {
                    phone: Some(" ".into()),
                    tax_pin: Some(String::new()),
                    ..SettingsUpdate::default()
                },
            )
            .unwrap();
        assert_eq!((cleared.phone.as_str(), cleared.tax_pin.as_str()), ("", ""));
        assert_eq!(
            last_op(&kit).body,
            OpBody::SettingsChanged(SettingsPatch {
                phone: Some(String::new()),
                tax_pin: Some(String::new()),
                ..SettingsPatch::default()
            })
        );
    }

    #[test]
    fn an_update_that_changes_nothing_writes_nothing() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let current = kit.store.settings().unwrap();
        let before = state(&kit);
        let same = SettingsUpdate {
            store_name: Some("My Shop".into()),
            address: Some(" ".into()),
            phone: Some(String::new()),
            tax_pin: Some(String::new()),
            receipt_header: Some(String::new()),
            receipt_footer: Some(" Thank you!\n".into()),
            currency: Some("KES".into()),
            time_zone: Some("Africa/Nairobi".into()),
            tax_mode: Some("inclusive".into()),
        };
        assert_eq!(kit.store.update_settings(&owner, same).unwrap(), current);
        let nothing = SettingsUpdate::default();
        assert_eq!(kit.store.update_settings(&owner, nothing).unwrap(), current);
        assert_eq!(state(&kit), before);
    }

    #[test]
    fn values_at_the_limits_are_accepted() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let header = format!("{}\n{}", lines(11), "x".repeat(1000 - lines(11).len() - 1));
        let update = SettingsUpdate {
            store_name: Some("s".repeat(120)),
            address: Some("a".repeat(200)),
            tax_pin: Some("A".repeat(20)),
            receipt_header: Some(header.clone()),
            receipt_footer: Some(lines(12)),
            ..SettingsUpdate::default()
        };
        let s = kit.store.update_settings(&owner, update).unwrap();
        assert_eq!(s.receipt_header.chars().count(), 1000);
        assert_eq!(s.receipt_header, header);
        assert_eq!(s.receipt_footer.lines().count(), 12);
        assert_eq!(s.store_name.len(), 120);
    }

    #[test]
    fn one_bad_field_refuses_the_whole_update() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let before = state(&kit);
        let good = || SettingsUpdate {
            store_name: Some("Duka Letu".into()),
            phone: Some("0712345678".into()),
            ..SettingsUpdate::default()
        };
        type Check = fn(&StoreError) -> bool;
        let cases: Vec<(SettingsUpdate, Check)> = vec![
            (
                SettingsUpdate {
                    store_name: Some("  ".into()),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::Empty {
                            field: "store name"
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    store_name: Some("s".repeat(121)),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::TooLong {
                            field: "store name",
                            len: 121,
                            max: 120
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    store_name: Some("Duka\u{7}".into()),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::BadCharacters {
                            field: "store name",
                            ..
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    address: Some("a".repeat(201)),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::TooLong {
                            field: "address",
                            len: 201,
                            max: 200
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    address: Some("Moi Avenue\u{0}".into()),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::BadCharacters {
                            field: "address",
                            ..
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    phone: Some("12345".into()),
                    ..good()
                },
                |e| matches!(e, StoreError::Rule(DomainError::BadPhone(p)) if p == "12345"),
            ),
            (
                SettingsUpdate {
                    tax_pin: Some("P051-234".into()),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::BadCharacters {
                            field: "tax PIN",
                            ..
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    tax_pin: Some("A".repeat(21)),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::TooLong {
                            field: "tax PIN",
                            len: 21,
                            max: 20
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    receipt_header: Some("x".repeat(1001)),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::TooLong {
                            field: "receipt header",
                            len: 1001,
                            max: 1000
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    receipt_header: Some(lines(13)),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::TooManyTextLines {
                            field: "receipt header",
                            lines: 13,
                            max: 12
                        })
                    ) && e
                        .to_string()
                        .contains("receipt header has 13 lines; at most 12")
                },
            ),
            (
                SettingsUpdate {
                    receipt_footer: Some("Asante\tsana".into()),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::BadCharacters {
                            field: "receipt footer",
                            ..
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    receipt_footer: Some(lines(13)),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::TooManyTextLines {
                            field: "receipt footer",
                            lines: 13,
                            max: 12
                        })
                    )
                },
            ),
            (
                SettingsUpdate {
                    currency: Some("XYZ".into()),
                    ..good()
                },
                |e| matches!(e, StoreError::Rule(DomainError::UnknownCurrency(c)) if c == "XYZ"),
            ),
            (
                SettingsUpdate {
                    currency: Some(String::new()),
                    ..good()
                },
                |e| matches!(e, StoreError::Rule(DomainError::UnknownCurrency(_))),
            ),
            (
                SettingsUpdate {
                    time_zone: Some("Mars/Olympus".into()),
                    ..good()
                },
                |e| matches!(e, StoreError::Rule(DomainError::UnknownTimeZone(z)) if z == "Mars/Olympus"),
            ),
            (
                SettingsUpdate {
                    tax_mode: Some("sometimes".into()),
                    ..good()
                },
                |e| {
                    matches!(
                        e,
                        StoreError::Rule(DomainError::BadCharacters {
                            field: "tax mode",
                            ..
                        })
                    )
                },
            ),
        ];
        for (i, (update, expected)) in cases.into_iter().enumerate() {
            let err = kit.store.update_settings(&owner, update).unwrap_err();
            assert!(expected(&err), "case {i}: {err:?}");
            assert_eq!(state(&kit), before, "case {i}");
        }
        // The good part alone goes through (so the refusals above were the bad fields).
        kit.store.update_settings(&owner, good()).unwrap();
        assert_ne!(state(&kit), before);
    }

    #[test]
    fn only_owners_change_settings_and_tax_rates() {
        let mut kit = kit();
        let manager = manager();
        let before = state(&kit);
        let forbidden = |err: StoreError| {
            assert!(
                matches!(
                    err,
                    StoreError::Forbidden {
                        needed: Role::Owner,
                        ..
                    }
                ),
                "{err:?}"
            )
        };
        let rename = SettingsUpdate {
            store_name: Some("Duka".into()),
            ..SettingsUpdate::default()
        };
        let s = &mut kit.store;
        forbidden(s.update_settings(&manager, rename).unwrap_err());
        forbidden(
            s.upsert_tax_rate(&manager, "VAT8", "VAT 8%", 800)
                .unwrap_err(),
        );
        forbidden(s.retire_tax_rate(&manager, "ZERO").unwrap_err());
        assert_eq!(state(&kit), before);
    }

    #[test]
    fn the_currency_changes_only_before_anything_is_priced_in_it() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let to = |code: &str| SettingsUpdate {
            currency: Some(code.into()),
            ..SettingsUpdate::default()
        };
        let s = kit.store.update_settings(&owner, to("ugx")).unwrap();
        let ugx = Currency::from_code("UGX").unwrap();
        assert_eq!(s.currency, ugx);
        assert_eq!(
            last_op(&kit).body,
            OpBody::SettingsChanged(SettingsPatch {
                currency: Some(ugx),
                ..SettingsPatch::default()
            })
        );
        kit.store.update_settings(&owner, to("KES")).unwrap();

        kit.product("Soda 500ml", 5_000);
        let before = state(&kit);
        let mut usd = to("USD");
        usd.store_name = Some("Duka".into());
        let err = kit.store.update_settings(&owner, usd).unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m)
                if m.contains("cannot be changed from KES to USD") && m.contains("products")),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);
        // Sending the same currency again is not a change.
        kit.store.update_settings(&owner, to("kes")).unwrap();
        assert_eq!(state(&kit), before);
    }

    #[test]
    fn tax_rates_are_added_changed_retired_and_brought_back() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let codes = |kit: &Kit| -> Vec<String> {
            kit.store
                .tax_rates()
                .unwrap()
                .into_iter()
                .map(|r| r.code.to_string())
                .collect()
        };
        assert_eq!(codes(&kit), ["EXEMPT", "VAT16", "ZERO"]);
        let vat8 = TaxCode::parse("VAT8").unwrap();

        let rate = kit
            .store
            .upsert_tax_rate(&owner, " vat8 ", " VAT 8% ", 800)
            .unwrap();
        assert_eq!(rate, TaxRate::new(vat8.clone(), "VAT 8%", 800).unwrap());
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::TaxRateChanged(TaxRateRecord {
                code: vat8.clone(),
                name: "VAT 8%".into(),
                basis_points: 800,
                deleted: false,
            })
        );
        assert_eq!(rate_row(&kit, "VAT8"), (op.hlc.to_string(), None));
        assert_eq!(codes(&kit), ["EXEMPT", "VAT16", "VAT8", "ZERO"]);
        assert_eq!(kit.store.tax_table().unwrap().rate(&vat8).unwrap(), &rate);

        // The same values again: nothing written or queued.
        let before = state(&kit);
        assert_eq!(
            kit.store
                .upsert_tax_rate(&owner, "VAT8", "VAT 8%", 800)
                .unwrap(),
            rate
        );
        assert_eq!(state(&kit), before);

        kit.store
            .upsert_tax_rate(&owner, "VAT8", "VAT 8.5%", 850)
            .unwrap();
        assert_eq!(
            last_op(&kit).body,
            OpBody::TaxRateChanged(TaxRateRecord {
                code: vat8.clone(),
                name: "VAT 8.5%".into(),
                basis_points: 850,
                deleted: false,
            })
        );

        kit.clock.advance_millis(1_000);
        kit.store.retire_tax_rate(&owner, "vat8").unwrap();
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::TaxRateChanged(TaxRateRecord {
                code: vat8.clone(),
                name: "VAT 8.5%".into(),
                basis_points: 850,
                deleted: true,
            })
        );
        assert_eq!(
            rate_row(&kit, "VAT8"),
            (op.hlc.to_string(), Some(T0.plus_millis(1_000).as_millis()))
        );
        assert_eq!(codes(&kit), ["EXEMPT", "VAT16", "ZERO"]);
        assert!(kit.store.tax_table().unwrap().rate(&vat8).is_err());

        let before = state(&kit);
        let err = kit.store.retire_tax_rate(&owner, "VAT8").unwrap_err();
        assert!(
            matches!(&err, StoreError::Deleted { what: "tax rate", name } if name == "VAT 8.5%"),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);

        // Upserting a retired code brings it back.
        kit.store
            .upsert_tax_rate(&owner, "VAT8", "VAT 8%", 800)
            .unwrap();
        assert_eq!(codes(&kit), ["EXEMPT", "VAT16", "VAT8", "ZERO"]);
        assert_eq!(rate_row(&kit, "VAT8").1, None);
        assert!(matches!(
            last_op(&kit).body,
            OpBody::TaxRateChanged(TaxRateRecord { deleted: false, .. })
        ));
    }

    #[test]
    fn bad_tax_rates_are_refused() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let before = state(&kit);
        let s = &mut kit.store;
        let rule = |r: Result<TaxRate>| match r {
            Err(StoreError::Rule(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            rule(s.upsert_tax_rate(&owner, " ", "VAT", 800)),
            DomainError::Empty { field: "tax code" }
        );
        assert!(matches!(
            rule(s.upsert_tax_rate(&owner, "VAT 8", "VAT", 800)),
            DomainError::BadCharacters {
                field: "tax code",
                ..
            }
        ));
        assert!(matches!(
            rule(s.upsert_tax_rate(&owner, &"A".repeat(17), "VAT", 800)),
            DomainError::TooLong {
                field: "tax code",
                ..
            }
        ));
        assert_eq!(
            rule(s.upsert_tax_rate(&owner, "VAT8", "  ", 800)),
            DomainError::Empty {
                field: "tax rate name"
            }
        );
        assert_eq!(
            rule(s.upsert_tax_rate(&owner, "VAT8", "VAT", 10_001)),
            DomainError::BadTaxRate(10_001)
        );
        assert_eq!(
            rule(s.upsert_tax_rate(&owner, "VAT16", "VAT", -1)),
            DomainError::BadTaxRate(-1)
        );
        let err = s.retire_tax_rate(&owner, "NOPE").unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "tax rate",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = s.retire_tax_rate(&owner, "no pe").unwrap_err();
        assert!(
            matches!(err, StoreError::Rule(DomainError::BadCharacters { .. })),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);
    }

    #[test]
    fn a_rate_live_products_use_cannot_be_retired() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let soda = kit.product("Soda", 5_000);
        kit.product("Bread", 6_000);
        let before = state(&kit);
        let err = kit.store.retire_tax_rate(&owner, "VAT16").unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m)
                if m.contains("VAT16 is used by 2 products; move them to another tax rate first")),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);

        // Deleted products do not count.
        kit.store
            .conn()
            .execute(
                "UPDATE products SET deleted_at = 1 WHERE id = ?1",
                [soda.id.to_string()],
            )
            .unwrap();
        let before = state(&kit);
        let err = kit.store.retire_tax_rate(&owner, "VAT16").unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains("used by 1 product;")),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);

        // An unused rate retires.
        kit.store.retire_tax_rate(&owner, "ZERO").unwrap();
        assert!(matches!(
            last_op(&kit).body,
            OpBody::TaxRateChanged(TaxRateRecord { deleted: true, .. })
        ));
    }

    #[test]
    fn sales_follow_a_new_time_zone_at_once() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let p = kit.product("Kahawa", 50_00);
        // 12:00 UTC on 2 March is already 02:00 on 3 March in Kiritimati (UTC+14).
        kit.clock
            .set(pos_domain::Timestamp::from_millis(1_772_452_800_000));
        kit.store
            .update_settings(
                &owner,
                SettingsUpdate {
                    time_zone: Some("Pacific/Kiritimati".into()),
                    ..SettingsUpdate::default()
                },
            )
            .unwrap();
        let sale = kit
            .store
            .checkout(
                &owner,
                &crate::sales::Checkout {
                    sale_id: pos_domain::SaleId::new(),
                    lines: vec![crate::sales::CheckoutLine {
                        product_id: p.id,
                        quantity: pos_domain::Quantity::units(1),
                        discount: pos_domain::Discount::None,
                    }],
                    discount: pos_domain::Discount::None,
                    tenders: vec![pos_domain::Tender::Cash {
                        tendered: kes(50_00),
                    }],
                    customer_id: None,
                },
            )
            .unwrap();
        assert_eq!(sale.business_day, "2026-03-03");
    }
}
