//! Credit customers and their ledger. A balance is never stored: it is the sum
//! of ledger entries (credit sale +, payment −), so entries made on two tills
//! offline both count.
//!
//! Customer profiles are shared by every branch and edited last-writer-wins per
//! field: edits are queued as patches (only changed fields, one HLC), deletes
//! are soft. Ledger entries are append-only facts: a payment or a manager's
//! adjustment is a new entry queued whole (`LedgerEntryAdded`); credit sales
//! write theirs through checkout ([`insert_ledger_entry`], [`check_credit`]).
//!
//! The same person added at two branches is merged by the Back Office into
//! one customer; the other id becomes an alias (`customer_aliases`, pulled)
//! and its record a tombstone. Ledger entries keep the id they were recorded
//! with, so a balance is the sum of the entries recorded under the customer
//! **or any id merged into it** (and a merged-away id owes nothing itself).

use pos_domain::{
    BranchId, Currency, CustomerId, DomainError, LedgerEntryId, Money, MpesaCode, Name,
    PaymentMethod, Permission, PhoneNumber, SaleId, Timestamp, UserId,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use sync_protocol::{CustomerPatch, LedgerEntryRecord, LedgerKind, OpBody, Tombstone};

use crate::sql::{col_enum, col_money, col_parse, col_parse_opt, is_unique_violation};
use crate::{Actor, Result, Store, StoreError, Tx};

/// The longest email address kept on a customer.
pub const MAX_EMAIL: usize = 120;
/// The longest notes kept on a customer or a ledger entry.
pub const MAX_NOTES: usize = 1000;
/// The longest payment reference (card slip number and the like).
pub const MAX_REFERENCE: usize = 100;
/// The largest credit limit or single balance adjustment, in major units.
pub const MAX_CREDIT_MAJOR: i64 = 100_000_000;
/// The most customers one search returns.
pub const MAX_SEARCH_RESULTS: u32 = 500;

/// A credit customer as the till shows them, with what they owe now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    pub phone: Option<PhoneNumber>,
    pub email: Option<String>,
    pub credit_limit: Money,
    pub notes: Option<String>,
    /// What the customer owes (positive) or has in credit (negative): the
    /// sum of their ledger.
    pub balance: Money,
    /// How much more they may take on credit: the limit less the balance,
    /// never below zero.
    pub available_credit: Money,
    pub deleted_at: Option<Timestamp>,
}

/// What a new customer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    pub name: Name,
    pub phone: Option<PhoneNumber>,
    /// Empty means none.
    pub email: Option<String>,
    /// Zero for a customer who may not buy on credit (yet).
    pub credit_limit: Money,
    pub notes: Option<String>,
}

/// Changes to a customer: `None` leaves a field as it is; for the clearable
/// fields `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerUpdate {
    pub name: Option<Name>,
    pub phone: Option<Option<PhoneNumber>>,
    pub email: Option<Option<String>>,
    pub credit_limit: Option<Money>,
    pub notes: Option<Option<String>>,
}

/// One entry of a customer's credit ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: LedgerEntryId,
    pub kind: LedgerKind,
    /// Positive: the customer owes more. Negative: owes less.
    pub amount: Money,
    pub sale_id: Option<SaleId>,
    /// The receipt of the sale the entry belongs to, if any.
    pub receipt_no: Option<String>,
    /// How a payment was made (cash, M-Pesa, card).
    pub method: Option<PaymentMethod>,
    /// M-Pesa confirmation code or card reference.
    pub reference: Option<String>,
    pub note: Option<String>,
    pub branch_id: BranchId,
    pub user_id: Option<UserId>,
    pub created_at: Timestamp,
}

/// Columns read by [`customer_row`]. The balance sums the entries recorded
/// under the customer's id and the ids merged into it (none for an alias).
const CUSTOMER_SELECT: &str = "SELECT c.id, c.name, c.phone, c.email, c.credit_limit_minor,
        c.currency, c.notes, c.deleted_at,
        (SELECT COALESCE(SUM(l.amount_minor), 0) FROM customer_ledger l
         WHERE l.customer_id IN (
             SELECT c.id WHERE NOT EXISTS (SELECT 1 FROM customer_aliases a WHERE a.alias_id = c.id)
             UNION ALL SELECT a.alias_id FROM customer_aliases a WHERE a.customer_id = c.id))
    FROM customers c";

/// The ids whose ledger entries count for customer `?1`: itself (unless it
/// was merged into another) and every id merged into it.
const LEDGER_IDS: &str =
    "SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM customer_aliases WHERE alias_id = ?1)
     UNION ALL SELECT alias_id FROM customer_aliases WHERE customer_id = ?1";

fn customer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Customer> {
    let currency: Currency = col_parse(r, 5)?;
    let credit_limit = col_money(r, 4, currency)?;
    let balance = col_money(r, 8, currency)?;
    // The same rule as `check_credit`: owes + credit <= limit.
    let available = credit_limit.minor().saturating_sub(balance.minor()).max(0);
    Ok(Customer {
        id: col_parse(r, 0)?,
        name: r.get(1)?,
        phone: col_parse_opt(r, 2)?,
        email: r.get(3)?,
        credit_limit,
        notes: r.get(6)?,
        balance,
        available_credit: Money::from_minor(available, currency).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                8,
                rusqlite::types::Type::Integer,
                e.to_string().into(),
            )
        })?,
        deleted_at: r.get::<_, Option<i64>>(7)?.map(Timestamp::from_millis),
    })
}

/// A customer by id, deleted or not.
fn find_customer(conn: &Connection, id: CustomerId) -> Result<Option<Customer>> {
    Ok(conn
        .prepare_cached(&format!("{CUSTOMER_SELECT} WHERE c.id = ?1"))?
        .query_row([id.to_string()], customer_row)
        .optional()?)
}

/// A customer who exists and is not deleted, or why not.
pub(crate) fn live_customer(conn: &Connection, id: CustomerId) -> Result<Customer> {
    let c = find_customer(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: "customer",
        id: id.to_string(),
    })?;
    if c.deleted_at.is_some() {
        return Err(StoreError::Deleted {
            what: "customer",
            name: c.name,
        });
    }
    Ok(c)
}

impl Store {
    /// A customer by id, deleted or not, with their balance.
    pub fn customer(&self, id: CustomerId) -> Result<Customer> {
        find_customer(self.conn(), id)?.ok_or_else(|| StoreError::NotFound {
            what: "customer",
            id: id.to_string(),
        })
    }

    /// Live customers whose name contains `query` (case-insensitive; names
    /// starting with it first) or, when the query has 3 or more digits, whose
    /// phone number contains those digits (`0712 345` finds `+254712345678`).
    /// An empty query lists the first `limit` customers by name.
    pub fn search_customers(&self, query: &str, limit: u32) -> Result<Vec<Customer>> {
        let q = query.trim();
        let limit = limit.min(MAX_SEARCH_RESULTS);
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        // A local number's leading 0 is not part of its E.164 form.
        let phone_digits = (digits.len() >= 3).then(|| match digits.strip_prefix('0') {
            Some(rest) if !rest.is_empty() => rest.to_string(),
            _ => digits.clone(),
        });
        let escaped = like_escape(q);
        let mut stmt = self.conn().prepare_cached(&format!(
            "{CUSTOMER_SELECT}
             WHERE c.deleted_at IS NULL
               AND (c.name LIKE '%' || ?1 || '%' ESCAPE '\\'
                    OR (?2 IS NOT NULL AND replace(c.phone, '+', '') LIKE '%' || ?2 || '%'))
             ORDER BY CASE WHEN c.name LIKE ?1 || '%' ESCAPE '\\' THEN 0 ELSE 1 END,
                      c.name COLLATE NOCASE, c.id
             LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![escaped, phone_digits, limit], customer_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The customer `id` stands for: the one it was merged into by the Back
    /// Office (same person added at two branches), or itself.
    pub fn canonical_customer(&self, id: CustomerId) -> Result<CustomerId> {
        let merged: Option<String> = self
            .conn()
            .prepare_cached("SELECT customer_id FROM customer_aliases WHERE alias_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?;
        match merged {
            Some(text) => text
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("customer alias {id}: {e}"))),
            None => Ok(id),
        }
    }

    /// Up to `limit` of a customer's ledger entries, newest first, with those
    /// recorded under ids merged into the customer.
    pub fn customer_ledger(&self, id: CustomerId, limit: u32) -> Result<Vec<LedgerEntry>> {
        self.customer(id)?;
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT l.id, l.kind, l.amount_minor, l.currency, l.sale_id, s.receipt_no, l.method,
                    l.reference, l.note, l.branch_id, l.user_id, l.created_at
             FROM customer_ledger l LEFT JOIN sales s ON s.id = l.sale_id
             WHERE l.customer_id IN ({LEDGER_IDS})
             ORDER BY l.created_at DESC, l.rowid DESC
             LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![id.to_string(), limit], |r| {
            let currency: Currency = col_parse(r, 3)?;
            Ok(LedgerEntry {
                id: col_parse(r, 0)?,
                kind: col_enum(r, 1, LedgerKind::parse)?,
                amount: col_money(r, 2, currency)?,
                sale_id: col_parse_opt(r, 4)?,
                receipt_no: r.get(5)?,
                method: match r.get::<_, Option<String>>(6)? {
                    None => None,
                    Some(_) => Some(col_enum(r, 6, PaymentMethod::parse)?),
                },
                reference: r.get(7)?,
                note: r.get(8)?,
                branch_id: col_parse(r, 9)?,
                user_id: col_parse_opt(r, 10)?,
                created_at: Timestamp::from_millis(r.get(11)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds a credit customer. Any cashier may; giving them a credit limit
    /// above zero takes a manager.
    pub fn create_customer(&mut self, actor: &Actor, new: NewCustomer) -> Result<Customer> {
        actor.require(Permission::ServeCustomers, "add customers")?;
        if new.credit_limit.minor() != 0 {
            actor.require(Permission::ManageMoney, "give a customer credit")?;
        }
        check_limit_range(&new.credit_limit)?;
        let email = parse_email(new.email.as_deref())?;
        let notes = clean_text("notes", new.notes.as_deref(), MAX_NOTES, true)?;
        let id = CustomerId::new();
        self.write(|tx| {
            check_business_currency(tx, &new.credit_limit)?;
            if let Some(phone) = &new.phone {
                check_phone_free(tx, phone, None)?;
            }
            let hlc = tx.tick();
            let res = tx.execute(
                "INSERT INTO customers (id, name, phone, email, credit_limit_minor, currency, notes,
                                        created_at, hlc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id.to_string(),
                    new.name.as_str(),
                    new.phone.as_ref().map(PhoneNumber::as_str),
                    email,
                    new.credit_limit.minor(),
                    new.credit_limit.currency().code(),
                    notes,
                    tx.now().as_millis(),
                    hlc.to_string(),
                ],
            );
            phone_backstop(res, new.phone.as_ref())?;
            let patch = CustomerPatch {
                name: Some(new.name.clone()),
                phone: Some(new.phone.clone()),
                email: Some(email.clone()),
                credit_limit: Some(new.credit_limit),
                notes: Some(notes.clone()),
                ..CustomerPatch::new(id)
            };
            tx.enqueue_at(OpBody::CustomerChanged(patch), hlc)?;
            Ok(())
        })?;
        self.customer(id)
    }

    /// Changes a customer's profile. Only fields that actually change are
    /// written and queued; if nothing changes, nothing is queued. Changing the
    /// credit limit takes a manager.
    pub fn update_customer(
        &mut self,
        actor: &Actor,
        id: CustomerId,
        update: CustomerUpdate,
    ) -> Result<Customer> {
        actor.require(Permission::ServeCustomers, "edit customers")?;
        let email = update
            .email
            .map(|e| parse_email(e.as_deref()))
            .transpose()?;
        let notes = update
            .notes
            .map(|n| clean_text("notes", n.as_deref(), MAX_NOTES, true))
            .transpose()?;
        if let Some(limit) = &update.credit_limit {
            check_limit_range(limit)?;
        }
        self.write(|tx| {
            let current = live_customer(tx, id)?;
            let mut patch = CustomerPatch::new(id);
            let mut sets: Vec<(&'static str, Value)> = Vec::new();
            if let Some(name) = update.name
                && name.as_str() != current.name
            {
                sets.push(("name", Value::Text(name.to_string())));
                patch.name = Some(name);
            }
            if let Some(phone) = update.phone
                && phone != current.phone
            {
                if let Some(p) = &phone {
                    check_phone_free(tx, p, Some(id))?;
                }
                sets.push((
                    "phone",
                    phone
                        .as_ref()
                        .map_or(Value::Null, |p| Value::Text(p.to_string())),
                ));
                patch.phone = Some(phone);
            }
            if let Some(email) = email
                && email != current.email
            {
                sets.push(("email", email.clone().map_or(Value::Null, Value::Text)));
                patch.email = Some(email);
            }
            if let Some(limit) = update.credit_limit
                && limit != current.credit_limit
            {
                actor.require(Permission::ManageMoney, "change a customer's credit limit")?;
                check_business_currency(tx, &limit)?;
                sets.push(("credit_limit_minor", Value::Integer(limit.minor())));
                sets.push(("currency", Value::Text(limit.currency().code().to_string())));
                patch.credit_limit = Some(limit);
            }
            if let Some(notes) = notes
                && notes != current.notes
            {
                sets.push(("notes", notes.clone().map_or(Value::Null, Value::Text)));
                patch.notes = Some(notes);
            }
            if sets.is_empty() {
                return Ok(());
            }
            let hlc = tx.tick();
            sets.push(("hlc", Value::Text(hlc.to_string())));
            let assignments: Vec<String> = sets
                .iter()
                .enumerate()
                .map(|(i, (col, _))| format!("{col} = ?{}", i + 2))
                .collect();
            let sql = format!(
                "UPDATE customers SET {} WHERE id = ?1",
                assignments.join(", ")
            );
            let values = std::iter::once(Value::Text(id.to_string()))
                .chain(sets.into_iter().map(|(_, v)| v));
            let res = tx.execute(&sql, params_from_iter(values));
            phone_backstop(res, patch.phone.as_ref().and_then(Option::as_ref))?;
            tx.enqueue_at(OpBody::CustomerChanged(patch), hlc)?;
            Ok(())
        })?;
        self.customer(id)
    }

    /// Deletes a customer (soft: a tombstone reaches every device). Refused
    /// while their balance is not zero.
    pub fn delete_customer(&mut self, actor: &Actor, id: CustomerId) -> Result<()> {
        actor.require(Permission::ManageMoney, "delete customers")?;
        self.write(|tx| {
            let c = live_customer(tx, id)?;
            if c.balance.is_positive() {
                return Err(StoreError::Invalid(format!(
                    "{} still owes {}; record their payment (or have a manager adjust the balance) before deleting them",
                    c.name, c.balance
                )));
            }
            if c.balance.is_negative() {
                return Err(StoreError::Invalid(format!(
                    "{} has {} in credit on their account; have a manager adjust the balance to zero before deleting them",
                    c.name,
                    c.balance.negated()
                )));
            }
            let hlc = tx.tick();
            let now = tx.now();
            tx.execute(
                "UPDATE customers SET deleted_at = ?2, hlc = ?3 WHERE id = ?1",
                params![id.to_string(), now.as_millis(), hlc.to_string()],
            )?;
            tx.enqueue_at(
                OpBody::CustomerDeleted(Tombstone {
                    id,
                    deleted_at: now,
                }),
                hlc,
            )?;
            Ok(())
        })
    }

    /// Records a payment towards what a customer owes, by cash, M-Pesa (with
    /// its confirmation code, which must not have paid for anything before)
    /// or card. A payment may not exceed what the customer owes.
    pub fn record_customer_payment(
        &mut self,
        actor: &Actor,
        customer: CustomerId,
        amount: Money,
        method: PaymentMethod,
        reference: Option<String>,
    ) -> Result<Customer> {
        actor.require(
            Permission::ServeCustomers,
            "take payments from credit customers",
        )?;
        if !amount.is_positive() {
            return Err(DomainError::NonPositivePayment.into());
        }
        let reference = match method {
            PaymentMethod::Credit => {
                return Err(StoreError::Invalid(
                    "a payment towards a credit account cannot itself be put on credit; take cash, M-Pesa or card".into(),
                ));
            }
            PaymentMethod::Mpesa => {
                let text = reference.as_deref().map(str::trim).unwrap_or_default();
                if text.is_empty() {
                    return Err(StoreError::Invalid(
                        "an M-Pesa payment needs the confirmation code from the customer's M-Pesa message, like QJK3H5TRD2".into(),
                    ));
                }
                Some(MpesaCode::parse(text)?.as_str().to_string())
            }
            PaymentMethod::Cash | PaymentMethod::Card => {
                clean_text("reference", reference.as_deref(), MAX_REFERENCE, false)?
            }
        };
        let user = actor.user_id;
        self.write(|tx| {
            let c = live_customer(tx, customer)?;
            check_business_currency(tx, &amount)?;
            if method == PaymentMethod::Mpesa
                && let Some(code) = &reference
            {
                check_mpesa_code_unused(tx, code)?;
            }
            if amount.minor() > c.balance.minor() {
                return Err(StoreError::Invalid(if c.balance.is_positive() {
                    format!(
                        "{} owes {}; a payment of {amount} is more than that. Take {} or less",
                        c.name, c.balance, c.balance
                    )
                } else {
                    format!("{} owes nothing, so there is nothing to pay", c.name)
                }));
            }
            let entry = LedgerEntryRecord {
                id: LedgerEntryId::new(),
                customer_id: customer,
                branch_id: tx.identity().branch_id,
                device_id: tx.identity().device_id,
                kind: LedgerKind::Payment,
                amount: amount.negated(),
                sale_id: None,
                method: Some(method),
                reference: reference.clone(),
                user_id: Some(user),
                note: None,
                created_at: tx.now(),
            };
            insert_ledger_entry(tx, &entry)?;
            tx.enqueue(OpBody::LedgerEntryAdded(entry))?;
            Ok(())
        })?;
        self.customer(customer)
    }

    /// Corrects a customer's balance by `amount` (positive: they owe more;
    /// negative: less), with a note saying why. Managers only. The result may
    /// go over the credit limit or below zero: the manager decides.
    pub fn adjust_customer_balance(
        &mut self,
        actor: &Actor,
        customer: CustomerId,
        amount: Money,
        note: &str,
    ) -> Result<Customer> {
        actor.require(Permission::ManageMoney, "adjust a customer's balance")?;
        if amount.is_zero() {
            return Err(StoreError::Invalid(
                "an adjustment of zero changes nothing; enter the amount to add (owes more) or take off (owes less)".into(),
            ));
        }
        check_credit_range(&amount)?;
        let note = clean_text("note", Some(note), MAX_NOTES, true)?
            .ok_or(DomainError::Empty { field: "note" })?;
        let user = actor.user_id;
        self.write(|tx| {
            live_customer(tx, customer)?;
            check_business_currency(tx, &amount)?;
            let entry = LedgerEntryRecord {
                id: LedgerEntryId::new(),
                customer_id: customer,
                branch_id: tx.identity().branch_id,
                device_id: tx.identity().device_id,
                kind: LedgerKind::Adjustment,
                amount,
                sale_id: None,
                method: None,
                reference: None,
                user_id: Some(user),
                note: Some(note.clone()),
                created_at: tx.now(),
            };
            insert_ledger_entry(tx, &entry)?;
            tx.enqueue(OpBody::LedgerEntryAdded(entry))?;
            Ok(())
        })?;
        self.customer(customer)
    }
}

/// What a customer owes (positive) in the business currency: the ledger's
/// sum, with the entries of ids merged into the customer.
pub(crate) fn balance_of(conn: &Connection, customer: CustomerId) -> Result<i64> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT COALESCE(SUM(amount_minor), 0) FROM customer_ledger
             WHERE customer_id IN ({LEDGER_IDS})"
        ))?
        .query_row([customer.to_string()], |r| r.get(0))?)
}

/// Refuses credit of `amount` unless the customer exists, is not deleted, and
/// stays within their limit.
pub(crate) fn check_credit(conn: &Connection, customer: CustomerId, amount: Money) -> Result<()> {
    let row = conn
        .prepare_cached(
            "SELECT name, credit_limit_minor, currency, deleted_at FROM customers WHERE id = ?1",
        )?
        .query_row([customer.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                col_parse::<pos_domain::Currency>(r, 2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()?;
    let Some((name, limit, currency, deleted)) = row else {
        return Err(StoreError::NotFound {
            what: "customer",
            id: customer.to_string(),
        });
    };
    if deleted.is_some() {
        return Err(StoreError::Deleted {
            what: "customer",
            name,
        });
    }
    let owes = balance_of(conn, customer)?;
    let would = owes.saturating_add(amount.minor());
    if would > limit {
        return Err(StoreError::CreditLimitExceeded {
            customer: name,
            limit: Money::from_minor(limit, currency)?,
            owes: Money::from_minor(owes, currency)?,
            requested: amount,
            would_owe: Money::from_minor(would, currency)?,
        });
    }
    Ok(())
}

/// Writes one ledger entry. Queues nothing: the caller queues the op that
/// carries it (`LedgerEntryAdded`, or the sale's `SaleRecorded`).
pub(crate) fn insert_ledger_entry(tx: &Tx<'_>, e: &LedgerEntryRecord) -> Result<()> {
    Ok(record_sql::insert_ledger_entry(tx, e)?)
}

/// Refuses an M-Pesa confirmation code (upper-case, as [`MpesaCode`] keeps
/// it) that already paid for a sale or went towards a customer's account.
/// Checkout may use this too, so a code cannot pay twice either way round.
pub(crate) fn check_mpesa_code_unused(conn: &Connection, code: &str) -> Result<()> {
    let sale: Option<String> = conn
        .prepare_cached(
            "SELECT s.receipt_no FROM payments p JOIN sales s ON s.id = p.sale_id
             WHERE p.method = 'mpesa' AND p.amount_minor > 0 AND p.reference = ?1",
        )?
        .query_row([code], |r| r.get(0))
        .optional()?;
    if let Some(receipt) = sale {
        return Err(StoreError::MpesaCodeUsed {
            code: code.to_string(),
            used_for: format!("receipt {receipt}"),
        });
    }
    let account: Option<String> = conn
        .prepare_cached(
            "SELECT c.name FROM customer_ledger l JOIN customers c ON c.id = l.customer_id
             WHERE l.method = 'mpesa' AND l.kind = 'payment' AND l.reference = ?1",
        )?
        .query_row([code], |r| r.get(0))
        .optional()?;
    if let Some(name) = account {
        return Err(StoreError::MpesaCodeUsed {
            code: code.to_string(),
            used_for: format!("a payment on {name}'s account"),
        });
    }
    Ok(())
}

/// Refuses `phone` if a live customer other than `except` has it.
fn check_phone_free(
    conn: &Connection,
    phone: &PhoneNumber,
    except: Option<CustomerId>,
) -> Result<()> {
    let other: Option<String> = conn
        .prepare_cached(
            "SELECT name FROM customers WHERE phone = ?1 AND deleted_at IS NULL AND id <> ?2",
        )?
        .query_row(
            params![
                phone.as_str(),
                except.map(|id| id.to_string()).unwrap_or_default()
            ],
            |r| r.get(0),
        )
        .optional()?;
    match other {
        Some(customer) => Err(StoreError::DuplicatePhone {
            phone: phone.to_string(),
            customer,
        }),
        None => Ok(()),
    }
}

/// Turns the unique-phone index firing (unreachable after
/// [`check_phone_free`] for one writer) into a till-friendly error.
fn phone_backstop(res: rusqlite::Result<usize>, phone: Option<&PhoneNumber>) -> Result<()> {
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e, "customers.phone") => Err(StoreError::DuplicatePhone {
            phone: phone.map(ToString::to_string).unwrap_or_default(),
            customer: "another customer".into(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Refuses an amount that is not in the business's currency.
pub(crate) fn check_business_currency(conn: &Connection, amount: &Money) -> Result<()> {
    let currency = crate::settings::load_settings(conn)?.currency;
    if amount.currency() != currency {
        return Err(DomainError::CurrencyMismatch(
            amount.currency().to_string(),
            currency.to_string(),
        )
        .into());
    }
    Ok(())
}

/// A credit limit: not negative, at most [`MAX_CREDIT_MAJOR`].
fn check_limit_range(limit: &Money) -> Result<()> {
    if limit.is_negative() {
        return Err(StoreError::Invalid(
            "a credit limit cannot be negative; use 0 for a customer who may not buy on credit"
                .into(),
        ));
    }
    check_credit_range(limit)
}

/// Refuses amounts beyond [`MAX_CREDIT_MAJOR`] either way (a typo, not a shop).
fn check_credit_range(amount: &Money) -> Result<()> {
    let max = Money::major(MAX_CREDIT_MAJOR, amount.currency())?;
    if amount.minor().unsigned_abs() > max.minor().unsigned_abs() {
        return Err(DomainError::AmountOutOfRange(amount.to_string(), max.to_string()).into());
    }
    Ok(())
}

/// An email address after a basic sanity check; empty means none.
fn parse_email(text: Option<&str>) -> Result<Option<String>> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let len = t.chars().count();
    if len > MAX_EMAIL {
        return Err(DomainError::TooLong {
            field: "email",
            len,
            max: MAX_EMAIL,
        }
        .into());
    }
    let bad = || {
        StoreError::Invalid(format!(
            "'{}' is not an email address; write it like name@example.com, or leave it empty",
            t.escape_debug()
        ))
    };
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let Some((local, domain)) = t.split_once('@') else {
        return Err(bad());
    };
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(Some(t.to_string()))
}

/// Free text from the till: trimmed, empty means none, at most `max`
/// characters, no control characters (new lines and tabs allowed when
/// `multiline`).
pub(crate) fn clean_text(
    field: &'static str,
    text: Option<&str>,
    max: usize,
    multiline: bool,
) -> Result<Option<String>, DomainError> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let len = t.chars().count();
    if len > max {
        return Err(DomainError::TooLong { field, len, max });
    }
    if t.chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(DomainError::BadCharacters {
            field,
            value: t.escape_debug().to_string(),
            allowed: if multiline {
                "letters, digits, punctuation and new lines"
            } else {
                "letters, digits, spaces and punctuation"
            },
        });
    }
    Ok(Some(t.to_string()))
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use pos_domain::{Currency, Role};

    use super::*;
    use crate::testkit::{Kit, T0, kes, kit};

    fn phone(text: &str) -> PhoneNumber {
        PhoneNumber::parse(text).unwrap()
    }

    fn new_customer(name: &str, phone_text: Option<&str>, limit_minor: i64) -> NewCustomer {
        NewCustomer {
            name: Name::parse("name", name).unwrap(),
            phone: phone_text.map(phone),
            email: None,
            credit_limit: kes(limit_minor),
            notes: None,
        }
    }

    /// A customer created by the owner, and their id.
    fn customer(k: &mut Kit, name: &str, phone_text: Option<&str>, limit_minor: i64) -> CustomerId {
        let owner = k.owner.clone();
        k.store
            .create_customer(&owner, new_customer(name, phone_text, limit_minor))
            .unwrap()
            .id
    }

    /// Puts `minor` on a customer's account (a manager's adjustment).
    fn owes(k: &mut Kit, id: CustomerId, minor: i64) {
        let owner = k.owner.clone();
        k.store
            .adjust_customer_balance(&owner, id, kes(minor), "opening balance")
            .unwrap();
    }

    /// Records a sale paid by M-Pesa `code` (and on credit for `customer`
    /// when given) straight into the tables, as checkout would.
    fn sale_row(k: &mut Kit, receipt: &str, code: &str, customer: Option<CustomerId>) -> SaleId {
        let id = SaleId::new();
        let owner = k.owner.user_id;
        k.store
            .write(|tx| {
                let identity = tx.identity().clone();
                tx.execute(
                    "INSERT INTO sales (id, receipt_no, kind, branch_id, device_id, cashier_id, customer_id,
                                        currency, tax_mode, subtotal_minor, discount_minor, tax_minor,
                                        total_minor, created_at, business_day)
                     VALUES (?1, ?2, 'sale', ?3, ?4, ?5, ?6, 'KES', 'inclusive', 1000, 0, 0, 1000, ?7, '2026-03-02')",
                    params![
                        id.to_string(),
                        receipt,
                        identity.branch_id.to_string(),
                        identity.device_id.to_string(),
                        owner.to_string(),
                        customer.map(|c| c.to_string()),
                        tx.now().as_millis(),
                    ],
                )?;
                tx.execute(
                    "INSERT INTO payments (id, sale_id, method, amount_minor, reference)
                     VALUES (?1, ?2, 'mpesa', 1000, ?3)",
                    params![pos_domain::PaymentId::new().to_string(), id.to_string(), code],
                )?;
                Ok(())
            })
            .unwrap();
        id
    }

    #[test]
    fn a_cashier_adds_a_customer_and_every_field_is_queued() {
        let mut k = kit();
        let cashier = k.cashier();
        let c = k
            .store
            .create_customer(
                &cashier,
                NewCustomer {
                    email: Some("  mama.mboga@example.co.ke ".into()),
                    notes: Some(" pays on Fridays ".into()),
                    ..new_customer("Mama Mboga", Some("0712 345 678"), 0)
                },
            )
            .unwrap();
        assert_eq!(c.name, "Mama Mboga");
        assert_eq!(c.phone, Some(phone("+254712345678")));
        assert_eq!(c.email.as_deref(), Some("mama.mboga@example.co.ke"));
        assert_eq!(c.notes.as_deref(), Some("pays on Fridays"));
        assert_eq!((c.balance, c.available_credit), (kes(0), kes(0)));
        assert_eq!(c.deleted_at, None);
        assert_eq!(k.store.customer(c.id).unwrap(), c);

        let op = k.store.outbox_pending(100).unwrap().pop().unwrap();
        let OpBody::CustomerChanged(patch) = op.op.body else {
            panic!("expected CustomerChanged, got {:?}", op.op.body);
        };
        assert_eq!(
            patch,
            CustomerPatch {
                name: Some(Name::parse("name", "Mama Mboga").unwrap()),
                phone: Some(Some(phone("+254712345678"))),
                email: Some(Some("mama.mboga@example.co.ke".into())),
                credit_limit: Some(kes(0)),
                notes: Some(Some("pays on Fridays".into())),
                ..CustomerPatch::new(c.id)
            }
        );
        let row_hlc: String = k
            .store
            .conn()
            .query_row(
                "SELECT hlc FROM customers WHERE id = ?1",
                [c.id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(row_hlc, op.op.hlc.to_string());
    }

    #[test]
    fn a_manager_gives_credit_and_an_empty_email_is_none() {
        let mut k = kit();
        let manager = k.manager();
        let c = k
            .store
            .create_customer(
                &manager,
                NewCustomer {
                    email: Some("   ".into()),
                    ..new_customer("Baraka Hardware", None, 5_000_00)
                },
            )
            .unwrap();
        assert_eq!(c.email, None);
        assert_eq!(c.credit_limit, kes(5_000_00));
        assert_eq!(c.available_credit, kes(5_000_00));
        let OpBody::CustomerChanged(patch) = k.last_op() else {
            panic!()
        };
        assert_eq!(patch.email, Some(None));
        assert_eq!(patch.phone, Some(None));
        assert_eq!(patch.credit_limit, Some(kes(5_000_00)));
    }

    #[test]
    fn bad_new_customers_change_nothing() {
        let mut k = kit();
        let cashier = k.cashier();
        let owner = k.owner.clone();
        customer(&mut k, "Wafula", Some("0722000111"), 0);
        let before = k.snapshot();

        let err = k
            .store
            .create_customer(&cashier, new_customer("Credit", None, 100))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Forbidden {
                    needed: Role::Manager,
                    ..
                }
            ),
            "{err:?}"
        );

        match k
            .store
            .create_customer(
                &owner,
                new_customer("Other Wafula", Some("+254 722 000 111"), 0),
            )
            .unwrap_err()
        {
            StoreError::DuplicatePhone { phone, customer } => {
                assert_eq!(phone, "+254722000111");
                assert_eq!(customer, "Wafula");
            }
            e => panic!("{e:?}"),
        }

        for bad in [
            "no-at-sign.example.com",
            "two@@example.com",
            "a@b@example.com",
            "has space@example.com",
            "@example.com",
            "jane@",
            "jane@gmail",
            "jane@.com",
        ] {
            let err = k
                .store
                .create_customer(
                    &owner,
                    NewCustomer {
                        email: Some(bad.into()),
                        ..new_customer("Jane", None, 0)
                    },
                )
                .unwrap_err();
            assert!(matches!(err, StoreError::Invalid(_)), "{bad}: {err:?}");
        }
        let long = format!("{}@example.com", "a".repeat(110));
        let err = k
            .store
            .create_customer(
                &owner,
                NewCustomer {
                    email: Some(long),
                    ..new_customer("Jane", None, 0)
                },
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Rule(DomainError::TooLong {
                    field: "email",
                    max: 120,
                    ..
                })
            ),
            "{err:?}"
        );

        let ugx = Money::from_minor(1000, Currency::from_code("UGX").unwrap()).unwrap();
        let err = k
            .store
            .create_customer(
                &owner,
                NewCustomer {
                    credit_limit: ugx,
                    ..new_customer("Jane", None, 0)
                },
            )
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Rule(DomainError::CurrencyMismatch(..))),
            "{err:?}"
        );

        let err = k
            .store
            .create_customer(&owner, new_customer("Jane", None, -1))
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let err = k
            .store
            .create_customer(&owner, new_customer("Jane", None, 100_000_000_00 + 1))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Rule(DomainError::AmountOutOfRange(..))),
            "{err:?}"
        );
        let err = k
            .store
            .create_customer(
                &owner,
                NewCustomer {
                    notes: Some("x".repeat(MAX_NOTES + 1)),
                    ..new_customer("Jane", None, 0)
                },
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Rule(DomainError::TooLong { field: "notes", .. })
            ),
            "{err:?}"
        );

        assert_eq!(k.snapshot(), before);
    }

    #[test]
    fn a_deleted_customers_phone_can_be_used_again() {
        let mut k = kit();
        let owner = k.owner.clone();
        let old = customer(&mut k, "Old Number", Some("0733111222"), 0);
        k.store.delete_customer(&owner, old).unwrap();
        let new = customer(&mut k, "New Owner", Some("0733111222"), 0);
        assert_ne!(old, new);
        assert_eq!(
            k.store.customer(new).unwrap().phone,
            Some(phone("0733111222"))
        );
    }

    #[test]
    fn updates_write_and_queue_only_what_changed() {
        let mut k = kit();
        let cashier = k.cashier();
        let id = k
            .store
            .create_customer(
                &cashier,
                NewCustomer {
                    email: Some("kamau@example.com".into()),
                    notes: Some("regular".into()),
                    ..new_customer("Kamau", Some("0711000001"), 0)
                },
            )
            .unwrap()
            .id;
        let ops = k.ops().len();

        // Everything the same (a form sent back unchanged): nothing written.
        let same = CustomerUpdate {
            name: Some(Name::parse("name", "Kamau").unwrap()),
            phone: Some(Some(phone("0711 000 001"))),
            email: Some(Some(" kamau@example.com".into())),
            credit_limit: Some(kes(0)),
            notes: Some(Some("regular".into())),
        };
        let before = k.store.customer(id).unwrap();
        assert_eq!(k.store.update_customer(&cashier, id, same).unwrap(), before);
        assert_eq!(k.ops().len(), ops);

        let c = k
            .store
            .update_customer(
                &cashier,
                id,
                CustomerUpdate {
                    name: Some(Name::parse("name", "John Kamau").unwrap()),
                    email: Some(None),
                    credit_limit: Some(kes(0)),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(c.name, "John Kamau");
        assert_eq!(c.email, None);
        assert_eq!(c.notes.as_deref(), Some("regular"));
        assert_eq!(c.phone, Some(phone("0711000001")));
        assert_eq!(k.ops().len(), ops + 1);
        let OpBody::CustomerChanged(patch) = k.last_op() else {
            panic!()
        };
        assert_eq!(
            patch,
            CustomerPatch {
                name: Some(Name::parse("name", "John Kamau").unwrap()),
                email: Some(None),
                ..CustomerPatch::new(id)
            }
        );

        // Clearing the notes with an empty string clears them.
        let c = k
            .store
            .update_customer(
                &cashier,
                id,
                CustomerUpdate {
                    notes: Some(Some("  ".into())),
                    phone: Some(None),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!((c.notes, c.phone), (None, None));
        let OpBody::CustomerChanged(patch) = k.last_op() else {
            panic!()
        };
        assert_eq!(
            patch,
            CustomerPatch {
                notes: Some(None),
                phone: Some(None),
                ..CustomerPatch::new(id)
            }
        );
    }

    #[test]
    fn a_manager_changes_the_limit() {
        let mut k = kit();
        let manager = k.manager();
        let id = customer(&mut k, "Njeri", None, 1_000_00);
        let c = k
            .store
            .update_customer(
                &manager,
                id,
                CustomerUpdate {
                    credit_limit: Some(kes(2_500_00)),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(c.credit_limit, kes(2_500_00));
        assert_eq!(c.available_credit, kes(2_500_00));
        let OpBody::CustomerChanged(patch) = k.last_op() else {
            panic!()
        };
        assert_eq!(
            patch,
            CustomerPatch {
                credit_limit: Some(kes(2_500_00)),
                ..CustomerPatch::new(id)
            }
        );
    }

    #[test]
    fn bad_updates_change_nothing() {
        let mut k = kit();
        let cashier = k.cashier();
        let owner = k.owner.clone();
        let id = customer(&mut k, "Achieng", Some("0700111222"), 1_000_00);
        customer(&mut k, "Chebet", Some("0700333444"), 0);
        let gone = customer(&mut k, "Gone", None, 0);
        k.store.delete_customer(&owner, gone).unwrap();
        let before = k.snapshot();
        let customer_before = k.store.customer(id).unwrap();

        let err = k
            .store
            .update_customer(
                &cashier,
                id,
                CustomerUpdate {
                    name: Some(Name::parse("name", "Achieng O.").unwrap()),
                    credit_limit: Some(kes(5_000_00)),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Forbidden {
                    needed: Role::Manager,
                    ..
                }
            ),
            "{err:?}"
        );

        let err = k
            .store
            .update_customer(
                &owner,
                id,
                CustomerUpdate {
                    phone: Some(Some(phone("0700333444"))),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::DuplicatePhone { customer, .. } if customer == "Chebet"),
            "{err:?}"
        );

        let err = k
            .store
            .update_customer(
                &owner,
                id,
                CustomerUpdate {
                    email: Some(Some("not an email".into())),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

        let err = k
            .store
            .update_customer(
                &owner,
                id,
                CustomerUpdate {
                    credit_limit: Some(kes(-100)),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

        let err = k
            .store
            .update_customer(
                &owner,
                gone,
                CustomerUpdate {
                    name: Some(Name::parse("name", "Back").unwrap()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Deleted { what: "customer", name } if name == "Gone"),
            "{err:?}"
        );

        let err = k
            .store
            .update_customer(&owner, CustomerId::new(), CustomerUpdate::default())
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "customer",
                    ..
                }
            ),
            "{err:?}"
        );

        assert_eq!(k.snapshot(), before);
        assert_eq!(k.store.customer(id).unwrap(), customer_before);
    }

    #[test]
    fn deleting_needs_a_manager_and_a_zero_balance() {
        let mut k = kit();
        let cashier = k.cashier();
        let manager = k.manager();
        let id = customer(&mut k, "Mwangi", Some("0799000000"), 1_000_00);
        owes(&mut k, id, 500_00);
        let before = k.snapshot();

        let err = k.store.delete_customer(&cashier, id).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Forbidden {
                    needed: Role::Manager,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = k.store.delete_customer(&manager, id).unwrap_err();
        let StoreError::Invalid(msg) = &err else {
            panic!("{err:?}")
        };
        assert!(msg.contains("Mwangi still owes KES 500.00"), "{msg}");
        let err = k
            .store
            .delete_customer(&manager, CustomerId::new())
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        assert_eq!(k.snapshot(), before);

        // Money on account (owes less than nothing) also blocks deleting.
        k.store
            .adjust_customer_balance(&manager, id, kes(-600_00), "overpaid at branch 2")
            .unwrap();
        let before = k.snapshot();
        let err = k.store.delete_customer(&manager, id).unwrap_err();
        let StoreError::Invalid(msg) = &err else {
            panic!("{err:?}")
        };
        assert!(msg.contains("KES 100.00 in credit"), "{msg}");
        assert_eq!(k.snapshot(), before);

        k.store
            .adjust_customer_balance(&manager, id, kes(100_00), "refunded in cash")
            .unwrap();
        k.clock.advance_millis(1000);
        k.store.delete_customer(&manager, id).unwrap();
        let c = k.store.customer(id).unwrap();
        assert_eq!(c.deleted_at, Some(T0.plus_millis(1000)));
        assert_eq!(
            k.last_op(),
            OpBody::CustomerDeleted(Tombstone {
                id,
                deleted_at: T0.plus_millis(1000)
            })
        );
        assert!(k.store.search_customers("Mwangi", 10).unwrap().is_empty());

        let before = k.snapshot();
        let err = k.store.delete_customer(&manager, id).unwrap_err();
        assert!(matches!(err, StoreError::Deleted { .. }), "{err:?}");
        assert_eq!(k.snapshot(), before);
    }

    #[test]
    fn search_by_name_or_phone_digits() {
        let mut k = kit();
        let wanjiku = customer(&mut k, "Mary Wanjiku", Some("0712345678"), 0);
        let wanjiru = customer(&mut k, "Wanjiru Kariuki", Some("0722111333"), 0);
        let ali = customer(&mut k, "Ali Hassan", Some("+256772123456"), 0);
        let percent = customer(&mut k, "100% Juice Ltd", None, 0);
        let gone = customer(&mut k, "Wanjala Gone", None, 0);
        let owner = k.owner.clone();
        k.store.delete_customer(&owner, gone).unwrap();

        let ids = |q: &str, limit: u32| -> Vec<CustomerId> {
            k.store
                .search_customers(q, limit)
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect()
        };
        // Case-insensitive; names starting with the query come first.
        assert_eq!(ids("WANJ", 10), vec![wanjiru, wanjiku]);
        assert_eq!(ids("kariuki", 10), vec![wanjiru]);
        // Phone digits, typed the local way or the international way.
        assert_eq!(ids("0712 345", 10), vec![wanjiku]);
        assert_eq!(ids("+254 712", 10), vec![wanjiku]);
        assert_eq!(ids("772123", 10), vec![ali]);
        assert_eq!(ids("333", 10), vec![wanjiru]);
        // Fewer than 3 digits do not search phones.
        assert!(ids("07", 10).is_empty());
        // LIKE wildcards are literal.
        assert_eq!(ids("%", 10), vec![percent]);
        assert!(ids("_", 10).is_empty());
        // Empty query: the first `limit` by name, live only.
        assert_eq!(ids("", 10), vec![percent, ali, wanjiku, wanjiru]);
        assert_eq!(ids("  ", 2), vec![percent, ali]);
        assert!(ids("nobody", 10).is_empty());
    }

    #[test]
    fn search_results_carry_balances() {
        let mut k = kit();
        let id = customer(&mut k, "Otieno", None, 1_000_00);
        owes(&mut k, id, 250_00);
        let found = k.store.search_customers("otieno", 5).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].balance, kes(250_00));
        assert_eq!(found[0].available_credit, kes(750_00));
    }

    #[test]
    fn available_credit_never_goes_below_zero() {
        let mut k = kit();
        let id = customer(&mut k, "Over", None, 100_00);
        owes(&mut k, id, 300_00);
        let c = k.store.customer(id).unwrap();
        assert_eq!((c.balance, c.available_credit), (kes(300_00), kes(0)));
    }

    #[test]
    fn cash_payment_reduces_the_balance_and_is_queued() {
        let mut k = kit();
        let cashier = k.cashier();
        let id = customer(&mut k, "Kiprop", None, 2_000_00);
        owes(&mut k, id, 1_500_00);
        k.clock.advance_millis(60_000);
        let c = k
            .store
            .record_customer_payment(
                &cashier,
                id,
                kes(1_000_00),
                PaymentMethod::Cash,
                Some("  ".into()),
            )
            .unwrap();
        assert_eq!(c.balance, kes(500_00));
        assert_eq!(c.available_credit, kes(1_500_00));

        let OpBody::LedgerEntryAdded(e) = k.last_op() else {
            panic!()
        };
        let identity = k.store.identity().clone();
        assert_eq!(
            e,
            LedgerEntryRecord {
                id: e.id,
                customer_id: id,
                branch_id: identity.branch_id,
                device_id: identity.device_id,
                kind: LedgerKind::Payment,
                amount: kes(-1_000_00),
                sale_id: None,
                method: Some(PaymentMethod::Cash),
                reference: None,
                user_id: Some(cashier.user_id),
                note: None,
                created_at: T0.plus_millis(60_000),
            }
        );
        let ledger = k.store.customer_ledger(id, 10).unwrap();
        assert_eq!(ledger[0].id, e.id);
        assert_eq!(ledger[0].amount, kes(-1_000_00));

        // Paying off exactly what is owed is fine.
        let c = k
            .store
            .record_customer_payment(&cashier, id, kes(500_00), PaymentMethod::Card, None)
            .unwrap();
        assert_eq!(c.balance, kes(0));
    }

    #[test]
    fn mpesa_payments_need_an_unused_code() {
        let mut k = kit();
        let cashier = k.cashier();
        let a = customer(&mut k, "Atieno", None, 5_000_00);
        let b = customer(&mut k, "Barasa", None, 5_000_00);
        owes(&mut k, a, 3_000_00);
        owes(&mut k, b, 3_000_00);
        sale_row(&mut k, "MAIN-T1-000007", "SALE000001", None);

        k.store
            .record_customer_payment(
                &cashier,
                a,
                kes(1_000_00),
                PaymentMethod::Mpesa,
                Some(" qjk3h5trd2 ".into()),
            )
            .unwrap();
        let OpBody::LedgerEntryAdded(e) = k.last_op() else {
            panic!()
        };
        assert_eq!(e.reference.as_deref(), Some("QJK3H5TRD2"));
        assert_eq!(e.method, Some(PaymentMethod::Mpesa));
        let before = k.snapshot();

        // The same code again, for anyone, in any letter case.
        let err = k
            .store
            .record_customer_payment(
                &cashier,
                b,
                kes(100_00),
                PaymentMethod::Mpesa,
                Some("QJK3H5TRD2".into()),
            )
            .unwrap_err();
        match err {
            StoreError::MpesaCodeUsed { code, used_for } => {
                assert_eq!(code, "QJK3H5TRD2");
                assert!(used_for.contains("Atieno"), "{used_for}");
            }
            e => panic!("{e:?}"),
        }
        // A code that paid for a sale.
        let err = k
            .store
            .record_customer_payment(
                &cashier,
                b,
                kes(100_00),
                PaymentMethod::Mpesa,
                Some("sale000001".into()),
            )
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::MpesaCodeUsed { used_for, .. } if used_for == "receipt MAIN-T1-000007"),
            "{err:?}"
        );
        // No code, a bad code.
        let err = k
            .store
            .record_customer_payment(&cashier, b, kes(100_00), PaymentMethod::Mpesa, None)
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let err = k
            .store
            .record_customer_payment(
                &cashier,
                b,
                kes(100_00),
                PaymentMethod::Mpesa,
                Some("QJK3".into()),
            )
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Rule(DomainError::BadMpesaCode(_))),
            "{err:?}"
        );
        assert_eq!(k.snapshot(), before);
    }

    #[test]
    fn bad_payments_change_nothing() {
        let mut k = kit();
        let cashier = k.cashier();
        let owner = k.owner.clone();
        let id = customer(&mut k, "Chepkoech", None, 5_000_00);
        owes(&mut k, id, 1_200_00);
        let clear = customer(&mut k, "Nothing Owed", None, 5_000_00);
        let gone = customer(&mut k, "Gone", None, 0);
        k.store.delete_customer(&owner, gone).unwrap();
        let before = k.snapshot();
        let pay = |k: &mut Kit, c: CustomerId, amount: Money, method: PaymentMethod| {
            k.store
                .record_customer_payment(&cashier, c, amount, method, None)
                .unwrap_err()
        };

        let err = pay(&mut k, id, kes(1_200_01), PaymentMethod::Cash);
        let StoreError::Invalid(msg) = &err else {
            panic!("{err:?}")
        };
        assert!(msg.contains("Chepkoech owes KES 1,200.00"), "{msg}");
        let err = pay(&mut k, clear, kes(1), PaymentMethod::Cash);
        let StoreError::Invalid(msg) = &err else {
            panic!("{err:?}")
        };
        assert!(msg.contains("owes nothing"), "{msg}");
        for amount in [kes(0), kes(-100)] {
            let err = pay(&mut k, id, amount, PaymentMethod::Cash);
            assert!(
                matches!(err, StoreError::Rule(DomainError::NonPositivePayment)),
                "{err:?}"
            );
        }
        let err = pay(&mut k, id, kes(100), PaymentMethod::Credit);
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let usd = Money::from_minor(100, Currency::from_code("USD").unwrap()).unwrap();
        let err = pay(&mut k, id, usd, PaymentMethod::Cash);
        assert!(
            matches!(err, StoreError::Rule(DomainError::CurrencyMismatch(..))),
            "{err:?}"
        );
        let err = pay(&mut k, gone, kes(100), PaymentMethod::Cash);
        assert!(matches!(err, StoreError::Deleted { .. }), "{err:?}");
        let err = pay(&mut k, CustomerId::new(), kes(100), PaymentMethod::Cash);
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        let err = k
            .store
            .record_customer_payment(
                &cashier,
                id,
                kes(100),
                PaymentMethod::Card,
                Some("x".repeat(MAX_REFERENCE + 1)),
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Rule(DomainError::TooLong {
                    field: "reference",
                    ..
                })
            ),
            "{err:?}"
        );

        assert_eq!(k.snapshot(), before);
        assert_eq!(k.store.customer(id).unwrap().balance, kes(1_200_00));
    }

    #[test]
    fn a_manager_adjusts_a_balance_with_a_note() {
        let mut k = kit();
        let manager = k.manager();
        let cashier = k.cashier();
        let id = customer(&mut k, "Mutua", None, 1_000_00);

        let c = k
            .store
            .adjust_customer_balance(&manager, id, kes(350_00), "  old paper book balance ")
            .unwrap();
        assert_eq!(c.balance, kes(350_00));
        let OpBody::LedgerEntryAdded(e) = k.last_op() else {
            panic!()
        };
        assert_eq!(e.kind, LedgerKind::Adjustment);
        assert_eq!(e.amount, kes(350_00));
        assert_eq!(e.note.as_deref(), Some("old paper book balance"));
        assert_eq!(e.user_id, Some(manager.user_id));
        assert_eq!(e.method, None);
        let c = k
            .store
            .adjust_customer_balance(&manager, id, kes(-50_00), "goodwill")
            .unwrap();
        assert_eq!(c.balance, kes(300_00));

        let before = k.snapshot();
        let err = k
            .store
            .adjust_customer_balance(&cashier, id, kes(100), "please")
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Forbidden {
                    needed: Role::Manager,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = k
            .store
            .adjust_customer_balance(&manager, id, kes(0), "nothing")
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let err = k
            .store
            .adjust_customer_balance(&manager, id, kes(100), "   ")
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Rule(DomainError::Empty { field: "note" })),
            "{err:?}"
        );
        let err = k
            .store
            .adjust_customer_balance(&manager, CustomerId::new(), kes(100), "who")
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        assert_eq!(k.snapshot(), before);
    }

    #[test]
    fn the_ledger_is_newest_first_with_receipts() {
        let mut k = kit();
        let cashier = k.cashier();
        let id = customer(&mut k, "Halima", None, 10_000_00);
        let sale = sale_row(&mut k, "MAIN-T1-000042", "SALE000042", Some(id));
        k.store
            .write(|tx| {
                let identity = tx.identity().clone();
                insert_ledger_entry(
                    tx,
                    &LedgerEntryRecord {
                        id: LedgerEntryId::new(),
                        customer_id: id,
                        branch_id: identity.branch_id,
                        device_id: identity.device_id,
                        kind: LedgerKind::CreditSale,
                        amount: kes(2_000_00),
                        sale_id: Some(sale),
                        method: None,
                        reference: None,
                        user_id: None,
                        note: None,
                        created_at: tx.now(),
                    },
                )
            })
            .unwrap();
        k.clock.advance_millis(60_000);
        k.store
            .record_customer_payment(
                &cashier,
                id,
                kes(500_00),
                PaymentMethod::Mpesa,
                Some("ABC123DEF4".into()),
            )
            .unwrap();
        k.clock.advance_millis(60_000);
        let owner = k.owner.clone();
        k.store
            .adjust_customer_balance(&owner, id, kes(-100_00), "rounding")
            .unwrap();

        let ledger = k.store.customer_ledger(id, 10).unwrap();
        let kinds: Vec<_> = ledger.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                LedgerKind::Adjustment,
                LedgerKind::Payment,
                LedgerKind::CreditSale
            ]
        );
        assert_eq!(ledger[0].note.as_deref(), Some("rounding"));
        assert_eq!(ledger[1].method, Some(PaymentMethod::Mpesa));
        assert_eq!(ledger[1].reference.as_deref(), Some("ABC123DEF4"));
        assert_eq!(ledger[1].created_at, T0.plus_millis(60_000));
        assert_eq!(ledger[2].receipt_no.as_deref(), Some("MAIN-T1-000042"));
        assert_eq!(ledger[2].sale_id, Some(sale));
        assert_eq!(ledger[2].amount, kes(2_000_00));
        assert_eq!(k.store.customer(id).unwrap().balance, kes(1_400_00));
        assert_eq!(k.store.customer_ledger(id, 1).unwrap().len(), 1);

        let err = k.store.customer_ledger(CustomerId::new(), 10).unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }

    #[test]
    fn check_credit_allows_up_to_the_limit() {
        let mut k = kit();
        let id = customer(&mut k, "Limit", None, 1_000_00);
        owes(&mut k, id, 400_00);
        check_credit(k.store.conn(), id, kes(600_00)).unwrap();
        check_credit(k.store.conn(), id, kes(0)).unwrap();
    }

    #[test]
    fn check_credit_over_the_limit_gives_the_figures() {
        let mut k = kit();
        let id = customer(&mut k, "Limit", None, 1_000_00);
        owes(&mut k, id, 400_00);
        match check_credit(k.store.conn(), id, kes(600_01)).unwrap_err() {
            StoreError::CreditLimitExceeded {
                customer,
                limit,
                owes,
                requested,
                would_owe,
            } => {
                assert_eq!(customer, "Limit");
                assert_eq!(limit, kes(1_000_00));
                assert_eq!(owes, kes(400_00));
                assert_eq!(requested, kes(600_01));
                assert_eq!(would_owe, kes(1_000_01));
            }
            e => panic!("{e:?}"),
        }
        // A customer with no credit limit cannot take any credit.
        let none = customer(&mut k, "Cash Only", None, 0);
        assert!(matches!(
            check_credit(k.store.conn(), none, kes(1)),
            Err(StoreError::CreditLimitExceeded { .. })
        ));
    }

    #[test]
    fn check_credit_refuses_deleted_and_unknown_customers() {
        let mut k = kit();
        let owner = k.owner.clone();
        let id = customer(&mut k, "Left Town", None, 1_000_00);
        k.store.delete_customer(&owner, id).unwrap();
        assert!(matches!(
            check_credit(k.store.conn(), id, kes(1)),
            Err(StoreError::Deleted {
                what: "customer",
                ..
            })
        ));
        assert!(matches!(
            check_credit(k.store.conn(), CustomerId::new(), kes(1)),
            Err(StoreError::NotFound {
                what: "customer",
                ..
            })
        ));
    }
}
