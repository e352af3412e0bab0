//! Petty cash: money taken out of the till or paid by M-Pesa, card or bank
//! for the shop's running costs (transport, cleaning, repairs …).
//!
//! Expenses belong to the branch that recorded them and count on the business
//! day (in the branch's time zone) they were spent. They are mutable records:
//! a manager's edit is queued as a patch of the changed fields under one HLC
//! (last writer wins per field); deletes are soft, with a tombstone.

use pos_domain::{
    BranchId, BusinessDay, Currency, DeviceId, DomainError, ExpenseId, Money, Name, Permission,
    Timestamp, UserId,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
pub use sync_protocol::ExpensePaidWith;
use sync_protocol::{ExpensePatch, OpBody, Tombstone};

use crate::customers::{check_business_currency, clean_text};
use crate::sql::{col_enum, col_money, col_parse};
use crate::{Actor, Result, Store, StoreError, Tx};

/// The largest single expense, in major units (KES 10,000,000): a bound that
/// catches a typed extra zero or two, not a shop's real spending.
pub const MAX_EXPENSE_MAJOR: i64 = 10_000_000;
/// The longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// The longest reference (M-Pesa code, card slip, bank transfer number).
pub const MAX_REFERENCE: usize = 100;
/// How far ahead of the till's clock an expense may be dated (clock drift).
pub const MAX_AHEAD_MS: i64 = 5 * 60 * 1000;
/// How old an expense may be when it is recorded or re-dated.
pub const MAX_AGE_DAYS: i64 = 90;

/// A petty-cash expense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expense {
    pub id: ExpenseId,
    pub branch_id: BranchId,
    pub device_id: DeviceId,
    /// Who recorded it.
    pub user_id: UserId,
    pub category: String,
    pub description: String,
    pub amount: Money,
    pub paid_with: ExpensePaidWith,
    pub reference: Option<String>,
    /// When the money was spent.
    pub spent_at: Timestamp,
    /// The day `spent_at` falls on in the branch's time zone.
    pub business_day: BusinessDay,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

/// What a new expense needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExpense {
    pub category: Name,
    pub description: String,
    pub amount: Money,
    pub paid_with: ExpensePaidWith,
    pub reference: Option<String>,
    /// When the money was spent; now if not given.
    pub spent_at: Option<Timestamp>,
}

/// Changes to an expense: `None` leaves a field as it is; `reference:
/// Some(None)` clears the reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpenseUpdate {
    pub category: Option<Name>,
    pub description: Option<String>,
    pub amount: Option<Money>,
    pub paid_with: Option<ExpensePaidWith>,
    pub reference: Option<Option<String>>,
    pub spent_at: Option<Timestamp>,
}

const EXPENSE_SELECT: &str = "SELECT id, branch_id, device_id, user_id, category, description,
        amount_minor, currency, paid_with, reference, spent_at, business_day, created_at, deleted_at
    FROM expenses";

fn expense_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Expense> {
    let currency: Currency = col_parse(r, 7)?;
    Ok(Expense {
        id: col_parse(r, 0)?,
        branch_id: col_parse(r, 1)?,
        device_id: col_parse(r, 2)?,
        user_id: col_parse(r, 3)?,
        category: r.get(4)?,
        description: r.get(5)?,
        amount: col_money(r, 6, currency)?,
        paid_with: col_enum(r, 8, ExpensePaidWith::parse)?,
        reference: r.get(9)?,
        spent_at: Timestamp::from_millis(r.get(10)?),
        business_day: col_enum(r, 11, BusinessDay::parse)?,
        created_at: Timestamp::from_millis(r.get(12)?),
        deleted_at: r.get::<_, Option<i64>>(13)?.map(Timestamp::from_millis),
    })
}

fn find_expense(conn: &Connection, id: ExpenseId) -> Result<Option<Expense>> {
    Ok(conn
        .prepare_cached(&format!("{EXPENSE_SELECT} WHERE id = ?1"))?
        .query_row([id.to_string()], expense_row)
        .optional()?)
}

/// An expense that exists and is not deleted, or why not.
fn live_expense(conn: &Connection, id: ExpenseId) -> Result<Expense> {
    let e = find_expense(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: "expense",
        id: id.to_string(),
    })?;
    if e.deleted_at.is_some() {
        return Err(StoreError::Deleted {
            what: "expense",
            name: e.description,
        });
    }
    Ok(e)
}

impl Store {
    /// An expense by id, deleted or not.
    pub fn expense(&self, id: ExpenseId) -> Result<Expense> {
        find_expense(self.conn(), id)?.ok_or_else(|| StoreError::NotFound {
            what: "expense",
            id: id.to_string(),
        })
    }

    /// The categories of every live expense, as first written, sorted
    /// (letter case aside) and without repeats.
    pub fn expense_categories(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare_cached(
            // With MIN(), SQLite takes the bare column from the earliest row.
            "SELECT category, MIN(created_at) FROM expenses WHERE deleted_at IS NULL
             GROUP BY lower(category) ORDER BY lower(category)",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// This branch's live expenses on business days `from` to `to`
    /// (inclusive), newest first.
    pub fn expenses(&self, from: BusinessDay, to: BusinessDay) -> Result<Vec<Expense>> {
        check_range(from, to)?;
        let mut stmt = self.conn().prepare_cached(&format!(
            "{EXPENSE_SELECT}
             WHERE deleted_at IS NULL AND branch_id = ?1 AND business_day BETWEEN ?2 AND ?3
             ORDER BY spent_at DESC, created_at DESC, id DESC"
        ))?;
        let rows = stmt.query_map(
            params![
                self.identity().branch_id.to_string(),
                from.to_string(),
                to.to_string()
            ],
            expense_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// This branch's live expenses on business days `from` to `to`
    /// (inclusive), totalled per category (categories differing only in
    /// letter case count as one), largest first.
    pub fn expense_totals(
        &self,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<Vec<(String, Money)>> {
        check_range(from, to)?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT MIN(category), currency, SUM(amount_minor) AS total FROM expenses
             WHERE deleted_at IS NULL AND branch_id = ?1 AND business_day BETWEEN ?2 AND ?3
             GROUP BY category COLLATE NOCASE, currency
             ORDER BY total DESC, MIN(category) COLLATE NOCASE",
        )?;
        let rows = stmt.query_map(
            params![
                self.identity().branch_id.to_string(),
                from.to_string(),
                to.to_string()
            ],
            |r| {
                let currency: Currency = col_parse(r, 1)?;
                Ok((r.get::<_, String>(0)?, col_money(r, 2, currency)?))
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records money spent from petty cash. `spent_at` (default now) may not
    /// be in the future nor more than [`MAX_AGE_DAYS`] days ago.
    pub fn record_expense(&mut self, actor: &Actor, new: NewExpense) -> Result<Expense> {
        actor.require(Permission::RecordExpense, "record expenses")?;
        check_amount(&new.amount)?;
        let description = description(&new.description)?;
        let reference = clean_text("reference", new.reference.as_deref(), MAX_REFERENCE, false)?;
        let id = ExpenseId::new();
        let user_id = actor.user_id;
        self.write(|tx| {
            check_business_currency(tx, &new.amount)?;
            let spent_at = new.spent_at.unwrap_or(tx.now());
            check_spent_at(tx, spent_at)?;
            let business_day = tx.identity().time_zone.business_day(spent_at);
            let branch_id = tx.identity().branch_id;
            let device_id = tx.identity().device_id;
            let hlc = tx.tick();
            tx.execute(
                "INSERT INTO expenses (id, branch_id, device_id, user_id, category, description,
                                       amount_minor, currency, paid_with, reference, spent_at,
                                       business_day, created_at, hlc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    id.to_string(),
                    branch_id.to_string(),
                    device_id.to_string(),
                    user_id.to_string(),
                    new.category.as_str(),
                    description,
                    new.amount.minor(),
                    new.amount.currency().code(),
                    new.paid_with.as_str(),
                    reference,
                    spent_at.as_millis(),
                    business_day.to_string(),
                    tx.now().as_millis(),
                    hlc.to_string(),
                ],
            )?;
            let patch = ExpensePatch {
                branch_id: Some(branch_id),
                device_id: Some(device_id),
                user_id: Some(user_id),
                category: Some(new.category.clone()),
                description: Some(description.clone()),
                amount: Some(new.amount),
                paid_with: Some(new.paid_with),
                reference: Some(reference.clone()),
                spent_at: Some(spent_at),
                business_day: Some(business_day.to_string()),
                ..ExpensePatch::new(id)
            };
            tx.enqueue_at(OpBody::ExpenseChanged(patch), hlc)?;
            Ok(())
        })?;
        self.expense(id)
    }

    /// Corrects an expense (managers). Only fields that actually change are
    /// written and queued; if nothing changes, nothing is queued. A new
    /// `spent_at` moves the expense to its business day.
    pub fn update_expense(
        &mut self,
        actor: &Actor,
        id: ExpenseId,
        update: ExpenseUpdate,
    ) -> Result<Expense> {
        actor.require(Permission::ManageMoney, "edit expenses")?;
        if let Some(amount) = &update.amount {
            check_amount(amount)?;
        }
        let new_description = update.description.as_deref().map(description).transpose()?;
        let reference = update
            .reference
            .map(|r| clean_text("reference", r.as_deref(), MAX_REFERENCE, false))
            .transpose()?;
        self.write(|tx| {
            let current = live_expense(tx, id)?;
            let mut patch = ExpensePatch::new(id);
            let mut sets: Vec<(&'static str, Value)> = Vec::new();
            if let Some(category) = update.category
                && category.as_str() != current.category
            {
                sets.push(("category", Value::Text(category.to_string())));
                patch.category = Some(category);
            }
            if let Some(d) = new_description
                && d != current.description
            {
                sets.push(("description", Value::Text(d.clone())));
                patch.description = Some(d);
            }
            if let Some(amount) = update.amount
                && amount != current.amount
            {
                check_business_currency(tx, &amount)?;
                sets.push(("amount_minor", Value::Integer(amount.minor())));
                sets.push((
                    "currency",
                    Value::Text(amount.currency().code().to_string()),
                ));
                patch.amount = Some(amount);
            }
            if let Some(paid_with) = update.paid_with
                && paid_with != current.paid_with
            {
                sets.push(("paid_with", Value::Text(paid_with.as_str().to_string())));
                patch.paid_with = Some(paid_with);
            }
            if let Some(reference) = reference
                && reference != current.reference
            {
                sets.push((
                    "reference",
                    reference.clone().map_or(Value::Null, Value::Text),
                ));
                patch.reference = Some(reference);
            }
            if let Some(spent_at) = update.spent_at
                && spent_at != current.spent_at
            {
                check_spent_at(tx, spent_at)?;
                sets.push(("spent_at", Value::Integer(spent_at.as_millis())));
                patch.spent_at = Some(spent_at);
                let day = tx.identity().time_zone.business_day(spent_at);
                if day != current.business_day {
                    sets.push(("business_day", Value::Text(day.to_string())));
                    patch.business_day = Some(day.to_string());
                }
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
                "UPDATE expenses SET {} WHERE id = ?1",
                assignments.join(", ")
            );
            let values = std::iter::once(Value::Text(id.to_string()))
                .chain(sets.into_iter().map(|(_, v)| v));
            tx.execute(&sql, params_from_iter(values))?;
            tx.enqueue_at(OpBody::ExpenseChanged(patch), hlc)?;
            Ok(())
        })?;
        self.expense(id)
    }

    /// Deletes an expense (managers; soft, with a tombstone for every device).
    pub fn delete_expense(&mut self, actor: &Actor, id: ExpenseId) -> Result<()> {
        actor.require(Permission::ManageMoney, "delete expenses")?;
        self.write(|tx| {
            live_expense(tx, id)?;
            let hlc = tx.tick();
            let now = tx.now();
            tx.execute(
                "UPDATE expenses SET deleted_at = ?2, hlc = ?3 WHERE id = ?1",
                params![id.to_string(), now.as_millis(), hlc.to_string()],
            )?;
            tx.enqueue_at(
                OpBody::ExpenseDeleted(Tombstone {
                    id,
                    deleted_at: now,
                }),
                hlc,
            )?;
            Ok(())
        })
    }
}

/// More than zero and at most [`MAX_EXPENSE_MAJOR`].
fn check_amount(amount: &Money) -> Result<()> {
    if !amount.is_positive() {
        return Err(StoreError::Invalid(
            "an expense must be more than zero; enter the amount that was spent".into(),
        ));
    }
    let max = Money::major(MAX_EXPENSE_MAJOR, amount.currency())?;
    if amount.minor() > max.minor() {
        return Err(DomainError::AmountOutOfRange(amount.to_string(), max.to_string()).into());
    }
    Ok(())
}

/// A description: 1 to [`MAX_DESCRIPTION`] characters after trimming.
fn description(text: &str) -> Result<String> {
    Ok(
        clean_text("description", Some(text), MAX_DESCRIPTION, true)?.ok_or(
            DomainError::Empty {
                field: "description",
            },
        )?,
    )
}

/// Not in the future (beyond clock drift) and not older than [`MAX_AGE_DAYS`].
fn check_spent_at(tx: &Tx<'_>, spent_at: Timestamp) -> Result<()> {
    let now = tx.now();
    if spent_at > now.plus_millis(MAX_AHEAD_MS) {
        return Err(StoreError::Invalid(
            "an expense cannot be dated in the future; check the date and time (and the till's clock)"
                .into(),
        ));
    }
    if spent_at < now.plus_millis(-MAX_AGE_DAYS * 86_400_000) {
        return Err(StoreError::Invalid(format!(
            "an expense cannot be dated more than {MAX_AGE_DAYS} days ago; check the date"
        )));
    }
    Ok(())
}

fn check_range(from: BusinessDay, to: BusinessDay) -> Result<()> {
    if from > to {
        return Err(StoreError::Invalid(format!(
            "the period starts ({from}) after it ends ({to}); pick the earlier day first"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use pos_domain::Role;

    use super::*;
    use crate::testkit::{Kit, T0, kes, kit};

    const MINUTE: i64 = 60_000;
    const DAY: i64 = 86_400_000;

    fn day(s: &str) -> BusinessDay {
        BusinessDay::parse(s).unwrap()
    }

    fn new_expense(category: &str, description: &str, minor: i64) -> NewExpense {
        NewExpense {
            category: Name::parse("category", category).unwrap(),
            description: description.into(),
            amount: kes(minor),
            paid_with: ExpensePaidWith::Cash,
            reference: None,
            spent_at: None,
        }
    }

    fn record(k: &mut Kit, new: NewExpense) -> Expense {
        let owner = k.owner.clone();
        k.store.record_expense(&owner, new).unwrap()
    }

    #[test]
    fn a_cashier_records_an_expense_and_every_field_is_queued() {
        let mut k = kit();
        let cashier = k.cashier();
        let e = k
            .store
            .record_expense(
                &cashier,
                NewExpense {
                    paid_with: ExpensePaidWith::Mpesa,
                    reference: Some(" RB12XYZ789 ".into()),
                    ..new_expense("Transport", "  Boda boda to the wholesaler ", 300_00)
                },
            )
            .unwrap();
        let identity = k.store.identity().clone();
        assert_eq!(e.description, "Boda boda to the wholesaler");
        assert_eq!(e.category, "Transport");
        assert_eq!(e.amount, kes(300_00));
        assert_eq!(e.reference.as_deref(), Some("RB12XYZ789"));
        assert_eq!(e.spent_at, T0);
        assert_eq!(e.created_at, T0);
        assert_eq!(e.business_day, day("2026-03-02"));
        assert_eq!(
            (e.branch_id, e.device_id, e.user_id),
            (identity.branch_id, identity.device_id, cashier.user_id)
        );
        assert_eq!(k.store.expense(e.id).unwrap(), e);

        let op = k.store.outbox_pending(100).unwrap().pop().unwrap();
        assert_eq!(
            op.op.body,
            OpBody::ExpenseChanged(ExpensePatch {
                branch_id: Some(identity.branch_id),
                device_id: Some(identity.device_id),
                user_id: Some(cashier.user_id),
                category: Some(Name::parse("category", "Transport").unwrap()),
                description: Some("Boda boda to the wholesaler".into()),
                amount: Some(kes(300_00)),
                paid_with: Some(ExpensePaidWith::Mpesa),
                reference: Some(Some("RB12XYZ789".into())),
                spent_at: Some(T0),
                business_day: Some("2026-03-02".into()),
                ..ExpensePatch::new(e.id)
            })
        );
        let row_hlc: String = k
            .store
            .conn()
            .query_row(
                "SELECT hlc FROM expenses WHERE id = ?1",
                [e.id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(row_hlc, op.op.hlc.to_string());
    }

    #[test]
    fn categories_are_offered_once_each_whatever_their_case() {
        let mut k = kit();
        record(&mut k, new_expense("Transport", "Boda boda", 300_00));
        record(&mut k, new_expense("supplies", "Sugar", 450_00));
        record(&mut k, new_expense("transport", "Matatu", 100_00));
        let gone = record(&mut k, new_expense("Rent", "March", 20_000_00));
        let owner = k.owner.clone();
        k.store.delete_expense(&owner, gone.id).unwrap();
        assert_eq!(
            k.store.expense_categories().unwrap(),
            ["supplies", "Transport"]
        );
    }

    #[test]
    fn the_business_day_is_nairobis() {
        let mut k = kit();
        // 2026-03-01 22:30 UTC is 01:30 on 2 March in Nairobi.
        let late = Timestamp::from_millis(1_772_404_200_000);
        let e = record(
            &mut k,
            NewExpense {
                spent_at: Some(late),
                ..new_expense("Security", "Night guard", 500_00)
            },
        );
        assert_eq!(e.business_day, day("2026-03-02"));
        let OpBody::ExpenseChanged(patch) = k.last_op() else {
            panic!()
        };
        assert_eq!(patch.business_day.as_deref(), Some("2026-03-02"));
        assert_eq!(patch.spent_at, Some(late));
        let ids = |from: &str, to: &str| -> Vec<ExpenseId> {
            k.store
                .expenses(day(from), day(to))
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(ids("2026-03-02", "2026-03-02"), vec![e.id]);
        assert!(ids("2026-03-01", "2026-03-01").is_empty());
    }

    #[test]
    fn bad_expenses_change_nothing() {
        let mut k = kit();
        let cashier = k.cashier();
        let before = k.snapshot();
        let try_record =
            |k: &mut Kit, new: NewExpense| k.store.record_expense(&cashier, new).unwrap_err();

        for minor in [0, -100] {
            let err = try_record(&mut k, new_expense("Misc", "Nothing", minor));
            assert!(matches!(err, StoreError::Invalid(_)), "{minor}: {err:?}");
        }
        let err = try_record(
            &mut k,
            new_expense("Misc", "Typo", MAX_EXPENSE_MAJOR * 100 + 1),
        );
        assert!(
            matches!(err, StoreError::Rule(DomainError::AmountOutOfRange(..))),
            "{err:?}"
        );
        let usd = Money::from_minor(100, Currency::from_code("USD").unwrap()).unwrap();
        let err = try_record(
            &mut k,
            NewExpense {
                amount: usd,
                ..new_expense("Misc", "Dollars", 1)
            },
        );
        assert!(
            matches!(err, StoreError::Rule(DomainError::CurrencyMismatch(..))),
            "{err:?}"
        );
        let err = try_record(&mut k, new_expense("Misc", "   ", 100));
        assert!(
            matches!(
                err,
                StoreError::Rule(DomainError::Empty {
                    field: "description"
                })
            ),
            "{err:?}"
        );
        let err = try_record(
            &mut k,
            new_expense("Misc", &"x".repeat(MAX_DESCRIPTION + 1), 100),
        );
        assert!(
            matches!(
                err,
                StoreError::Rule(DomainError::TooLong {
                    field: "description",
                    len: 501,
                    max: 500
                })
            ),
            "{err:?}"
        );
        let err = try_record(
            &mut k,
            NewExpense {
                reference: Some("r".repeat(MAX_REFERENCE + 1)),
                ..new_expense("Misc", "Long reference", 100)
            },
        );
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
        for spent_at in [
            T0.plus_millis(5 * MINUTE + 1),
            T0.plus_millis(DAY),
            T0.plus_millis(-90 * DAY - 1),
        ] {
            let err = try_record(
                &mut k,
                NewExpense {
                    spent_at: Some(spent_at),
                    ..new_expense("Misc", "Wrong date", 100)
                },
            );
            assert!(
                matches!(err, StoreError::Invalid(_)),
                "{spent_at:?}: {err:?}"
            );
        }
        assert_eq!(k.snapshot(), before);
    }

    #[test]
    fn limits_are_inclusive() {
        let mut k = kit();
        let e = record(
            &mut k,
            NewExpense {
                spent_at: Some(T0.plus_millis(5 * MINUTE)),
                ..new_expense(
                    "Misc",
                    &"x".repeat(MAX_DESCRIPTION),
                    MAX_EXPENSE_MAJOR * 100,
                )
            },
        );
        assert_eq!(e.description.chars().count(), MAX_DESCRIPTION);
        let old = record(
            &mut k,
            NewExpense {
                spent_at: Some(T0.plus_millis(-90 * DAY)),
                ..new_expense("Misc", "Back-dated", 1)
            },
        );
        assert_eq!(old.business_day, day("2025-12-02"));
    }

    #[test]
    fn only_managers_edit_or_delete_expenses() {
        // Every role may record; only managers and owners edit or delete.
        assert!(Role::Cashier.can(Permission::RecordExpense));
        let mut k = kit();
        let cashier = k.cashier();
        let e = record(&mut k, new_expense("Cleaning", "Soap", 150_00));
        let before = k.snapshot();
        let err = k
            .store
            .update_expense(
                &cashier,
                e.id,
                ExpenseUpdate {
                    amount: Some(kes(1)),
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
        let err = k.store.delete_expense(&cashier, e.id).unwrap_err();
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
        assert_eq!(k.snapshot(), before);
        assert_eq!(k.store.expense(e.id).unwrap(), e);
    }

    #[test]
    fn updates_write_and_queue_only_what_changed() {
        let mut k = kit();
        let manager = k.manager();
        let e = record(&mut k, new_expense("Transport", "Matatu fare", 100_00));
        let ops = k.ops().len();

        // The same values again: nothing written, nothing queued.
        let same = ExpenseUpdate {
            category: Some(Name::parse("category", "Transport").unwrap()),
            description: Some(" Matatu fare ".into()),
            amount: Some(kes(100_00)),
            paid_with: Some(ExpensePaidWith::Cash),
            reference: Some(None),
            spent_at: Some(T0),
        };
        assert_eq!(k.store.update_expense(&manager, e.id, same).unwrap(), e);
        assert_eq!(k.ops().len(), ops);

        k.clock.advance_millis(MINUTE);
        let updated = k
            .store
            .update_expense(
                &manager,
                e.id,
                ExpenseUpdate {
                    amount: Some(kes(120_00)),
                    description: Some("Matatu fare, both ways".into()),
                    paid_with: Some(ExpensePaidWith::Cash),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(updated.amount, kes(120_00));
        assert_eq!(updated.description, "Matatu fare, both ways");
        assert_eq!(updated.category, "Transport");
        assert_eq!(updated.created_at, T0);
        assert_eq!(k.ops().len(), ops + 1);
        assert_eq!(
            k.last_op(),
            OpBody::ExpenseChanged(ExpensePatch {
                amount: Some(kes(120_00)),
                description: Some("Matatu fare, both ways".into()),
                ..ExpensePatch::new(e.id)
            })
        );

        // A new time on another Nairobi day moves the expense to that day.
        let yesterday = T0.plus_millis(-DAY);
        let moved = k
            .store
            .update_expense(
                &manager,
                e.id,
                ExpenseUpdate {
                    spent_at: Some(yesterday),
                    reference: Some(Some("slip 44".into())),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(moved.business_day, day("2026-03-01"));
        assert_eq!(
            k.last_op(),
            OpBody::ExpenseChanged(ExpensePatch {
                spent_at: Some(yesterday),
                business_day: Some("2026-03-01".into()),
                reference: Some(Some("slip 44".into())),
                ..ExpensePatch::new(e.id)
            })
        );
        // The same day, a later hour: no business_day in the patch.
        k.store
            .update_expense(
                &manager,
                e.id,
                ExpenseUpdate {
                    spent_at: Some(yesterday.plus_millis(MINUTE)),
                    reference: Some(None),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            k.last_op(),
            OpBody::ExpenseChanged(ExpensePatch {
                spent_at: Some(yesterday.plus_millis(MINUTE)),
                reference: Some(None),
                ..ExpensePatch::new(e.id)
            })
        );
        assert_eq!(k.store.expense(e.id).unwrap().reference, None);
    }

    #[test]
    fn bad_updates_change_nothing() {
        let mut k = kit();
        let manager = k.manager();
        let e = record(
            &mut k,
            new_expense("Repairs", "Fix the fridge door", 800_00),
        );
        let gone = record(&mut k, new_expense("Repairs", "Entered twice", 800_00));
        k.store.delete_expense(&manager, gone.id).unwrap();
        let before = k.snapshot();
        let update = |k: &mut Kit, id: ExpenseId, u: ExpenseUpdate| {
            k.store.update_expense(&manager, id, u).unwrap_err()
        };

        let err = update(
            &mut k,
            e.id,
            ExpenseUpdate {
                amount: Some(kes(0)),
                ..Default::default()
            },
        );
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let err = update(
            &mut k,
            e.id,
            ExpenseUpdate {
                description: Some("".into()),
                ..Default::default()
            },
        );
        assert!(
            matches!(err, StoreError::Rule(DomainError::Empty { .. })),
            "{err:?}"
        );
        let err = update(
            &mut k,
            e.id,
            ExpenseUpdate {
                category: Some(Name::parse("category", "Rent").unwrap()),
                spent_at: Some(T0.plus_millis(DAY)),
                ..Default::default()
            },
        );
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let err = update(
            &mut k,
            gone.id,
            ExpenseUpdate {
                amount: Some(kes(1)),
                ..Default::default()
            },
        );
        assert!(
            matches!(&err, StoreError::Deleted { what: "expense", name } if name == "Entered twice"),
            "{err:?}"
        );
        let err = update(&mut k, ExpenseId::new(), ExpenseUpdate::default());
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "expense",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(k.snapshot(), before);
        assert_eq!(k.store.expense(e.id).unwrap(), e);
    }

    #[test]
    fn deleting_is_soft_and_queues_a_tombstone() {
        let mut k = kit();
        let manager = k.manager();
        let e = record(&mut k, new_expense("Misc", "Wrong entry", 50_00));
        k.clock.advance_millis(MINUTE);
        k.store.delete_expense(&manager, e.id).unwrap();
        assert_eq!(
            k.last_op(),
            OpBody::ExpenseDeleted(Tombstone {
                id: e.id,
                deleted_at: T0.plus_millis(MINUTE)
            })
        );
        assert_eq!(
            k.store.expense(e.id).unwrap().deleted_at,
            Some(T0.plus_millis(MINUTE))
        );
        assert!(
            k.store
                .expenses(day("2026-03-02"), day("2026-03-02"))
                .unwrap()
                .is_empty()
        );
        let before = k.snapshot();
        let err = k.store.delete_expense(&manager, e.id).unwrap_err();
        assert!(matches!(err, StoreError::Deleted { .. }), "{err:?}");
        let err = k
            .store
            .delete_expense(&manager, ExpenseId::new())
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        assert_eq!(k.snapshot(), before);
    }

    #[test]
    fn lists_and_totals_by_business_day() {
        let mut k = kit();
        let manager = k.manager();
        let at = |days: i64, minutes: i64| Some(T0.plus_millis(days * DAY + minutes * MINUTE));
        let feb28 = record(
            &mut k,
            NewExpense {
                spent_at: at(-2, 0),
                ..new_expense("Transport", "Fare", 100_00)
            },
        );
        let mar1 = record(
            &mut k,
            NewExpense {
                spent_at: at(-1, 0),
                ..new_expense("Cleaning", "Soap", 250_00)
            },
        );
        let mar2_early = record(
            &mut k,
            NewExpense {
                spent_at: at(0, -60),
                ..new_expense("transport", "Boda", 70_00)
            },
        );
        let mar2_late = record(
            &mut k,
            NewExpense {
                spent_at: at(0, 0),
                ..new_expense("Transport", "Taxi", 400_00)
            },
        );
        let deleted = record(
            &mut k,
            NewExpense {
                spent_at: at(0, 0),
                ..new_expense("Cleaning", "Duplicate", 999_00)
            },
        );
        k.store.delete_expense(&manager, deleted.id).unwrap();

        let ids = |from: &str, to: &str| -> Vec<ExpenseId> {
            k.store
                .expenses(day(from), day(to))
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(
            ids("2026-03-01", "2026-03-02"),
            vec![mar2_late.id, mar2_early.id, mar1.id]
        );
        assert_eq!(ids("2026-02-28", "2026-02-28"), vec![feb28.id]);
        assert!(ids("2026-03-03", "2026-03-10").is_empty());

        assert_eq!(
            k.store
                .expense_totals(day("2026-02-28"), day("2026-03-02"))
                .unwrap(),
            vec![
                ("Transport".to_string(), kes(570_00)),
                ("Cleaning".to_string(), kes(250_00)),
            ]
        );
        assert_eq!(
            k.store
                .expense_totals(day("2026-03-01"), day("2026-03-01"))
                .unwrap(),
            vec![("Cleaning".to_string(), kes(250_00))]
        );
        assert!(
            k.store
                .expense_totals(day("2026-03-05"), day("2026-03-06"))
                .unwrap()
                .is_empty()
        );

        let err = k
            .store
            .expenses(day("2026-03-02"), day("2026-03-01"))
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let err = k
            .store
            .expense_totals(day("2026-03-02"), day("2026-03-01"))
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
}
