//! Reports over the till's local data: sales by day, by payment method, by
//! cashier and by product, and the day-closing summary with the cash expected
//! in the drawer. Managers and owners only ([`Permission::ViewReports`]).
//!
//! Rules every report follows:
//!
//! - **Business days, not UTC dates.** Rows are grouped by the `business_day`
//!   stamped on each sale at checkout in the branch's time zone, so a sale at
//!   01:30 in Nairobi belongs to that Nairobi day even though it is still the
//!   previous day in UTC. Ranges are inclusive (`from..=to`), at most
//!   [`MAX_RANGE_DAYS`] days.
//! - **A void or refund counts on its own business day**, and against the user
//!   who recorded it, not on the day or against the cashier of the sale it
//!   reverses: sales are immutable, so a day's figures never change once the
//!   day is closed. A Tuesday void of a Monday sale lowers Tuesday's net sales
//!   (possibly below zero) and leaves Monday's report as it was printed.
//! - Reversals carry negative amounts and quantities, so every "net" figure is
//!   a plain sum over sales and reversals together.
//! - Only this till's branch is reported (sales, expenses and ledger entries
//!   belong to their branch), in the business currency.
//! - The till also answers for the branch itself: which branches it knows
//!   ([`Store::branches`], its own and those pulled from the Back Office, so
//!   a report can name its branch and a transfer can pick its destination),
//!   this branch's stock on hand ([`Store::stock_levels`]) and its
//!   expenses by category ([`Store::expenses_by_category`]).
//! - Every query reads through an index (`sales_day` on `(business_day, kind)`
//!   and the primary keys / foreign-key indexes from there), so a report over
//!   a day costs the same after years of trading.

use chrono::NaiveDate;
use pos_domain::{
    BranchId, BusinessDay, Currency, Money, PaymentMethod, Permission, ProductId, Quantity, UserId,
};
use rusqlite::params;
use serde::Serialize;

use crate::sql::{col_parse, col_quantity};
use crate::{Actor, Result, Store, StoreError};

/// The longest range a report covers, in days (a leap year).
pub const MAX_RANGE_DAYS: i64 = 366;

/// The most rows [`Store::sales_by_product`] returns.
pub const MAX_PRODUCT_ROWS: u32 = 1000;

/// One business day's sales figures. All amounts are in the business currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaySales {
    pub day: BusinessDay,
    /// Sales rung up that day (voids and refunds are not counted).
    pub sales_count: u64,
    /// Σ total of that day's sales.
    pub gross_sales: Money,
    /// Σ total of that day's voids and refunds (zero or negative).
    pub voids_and_refunds: Money,
    /// `gross_sales + voids_and_refunds`.
    pub net_sales: Money,
    /// Tax on sales, net of the tax given back by voids and refunds.
    pub tax: Money,
    /// Discounts given, net of the discounts reversed by voids and refunds.
    pub discounts: Money,
    /// `gross_sales / sales_count`, rounded down to the minor unit (integer
    /// division); zero on a day without sales.
    pub average_sale: Money,
}

impl DaySales {
    /// A day without any sale, void or refund.
    fn empty(day: BusinessDay, currency: Currency) -> DaySales {
        let zero = Money::zero(currency);
        DaySales {
            day,
            sales_count: 0,
            gross_sales: zero,
            voids_and_refunds: zero,
            net_sales: zero,
            tax: zero,
            discounts: zero,
            average_sale: zero,
        }
    }
}

/// Money taken (or, for customer-credit payments, received) by one method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodTotal {
    pub method: PaymentMethod,
    /// Payment records, reversal payments included (each is its own
    /// transaction on the M-Pesa or card statement).
    pub count: u64,
    /// Net amount: payments minus the money given back by voids and refunds.
    pub amount: Money,
}

/// What one user rang up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashierTotal {
    pub user_id: UserId,
    /// The user's current name (deleted users still appear).
    pub name: String,
    /// Sales this user rang up (not their voids and refunds).
    pub sales_count: u64,
    /// Σ total of this user's sales, voids and refunds.
    pub net: Money,
}

/// What one product sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductTotal {
    pub product_id: ProductId,
    /// The name on the most recent sale of the product in the range (the
    /// name it was sold under, not today's catalog name).
    pub name: String,
    /// Σ quantity sold, less quantities voided or refunded.
    pub quantity: Quantity,
    /// Σ line totals, less the totals of voided or refunded lines.
    pub net: Money,
}

/// The day-closing summary of one business day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaySummary {
    pub day: BusinessDay,
    /// The day's sales figures (zeros on a quiet day).
    pub sales: DaySales,
    /// Sales payments by method, net of refunds: cash, mpesa, card, credit.
    pub payments: Vec<MethodTotal>,
    /// All live expenses of the day, however they were paid.
    pub expenses: Money,
    /// The part of `expenses` paid out of the cash drawer.
    pub cash_expenses: Money,
    /// Payments received from credit customers towards their balance, by
    /// method (cash, mpesa, card), as positive amounts.
    pub credit_payments: Vec<MethodTotal>,
    /// Cash that should be in the drawer on top of the opening float; see
    /// [`Store::day_summary`] for the formula.
    pub expected_cash: Money,
}

/// A branch this till knows: its own, or one pulled from the Back Office
/// (branches are shared by every branch, DESIGN.md invariant 7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BranchInfo {
    pub id: BranchId,
    pub code: String,
    pub name: String,
    /// This till's own branch.
    pub this_branch: bool,
    /// Removed at the Back Office: still named on old transfers, never a
    /// destination.
    pub deleted: bool,
}

/// The stock on hand of one stock-tracked product at this branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockLevel {
    pub product_id: ProductId,
    pub name: String,
    /// The sum of this branch's movements (may be negative).
    pub quantity: Quantity,
    pub low_stock: Option<Quantity>,
}

/// How many of this branch's live stock-tracked products need attention,
/// over all of them (not only the rows [`Store::stock_levels`] returned).
/// `low`, `out` and `below_zero` never overlap: a product is counted in the
/// first that applies of below zero, out (exactly zero), low (above zero and
/// at or below its low-stock level).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StockSummary {
    /// Live products that track stock.
    pub tracked: u64,
    /// Above zero, at or below the product's low-stock level.
    pub low: u64,
    /// Exactly zero on hand.
    pub out: u64,
    /// Below zero (more sold than was ever received).
    pub below_zero: u64,
}

impl StockSummary {
    /// Products that need restocking or a count: low, out or below zero.
    pub fn attention(&self) -> u64 {
        self.low + self.out + self.below_zero
    }
}

impl StockLevel {
    /// Below zero, or at or below the product's low-stock level.
    pub fn is_low(&self) -> bool {
        self.quantity < Quantity::ZERO || self.low_stock.is_some_and(|l| self.quantity <= l)
    }
}

/// The live expenses of one category in a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpenseCategoryTotal {
    pub category: String,
    pub count: u64,
    pub amount: Money,
}

/// Every branch the till holds, its own first, then by name.
const BRANCHES_SQL: &str = "
    SELECT id, code, name, deleted_at IS NOT NULL FROM branches
    ORDER BY id <> ?1, name, code, id";

/// Live stock-tracked products with this branch's level (`?1`): below zero
/// first, then out (zero), then low, then the rest, each by name. What needs
/// attention comes first, so a `LIMIT` never cuts it before a product in
/// good supply.
const STOCK_LEVELS_SQL: &str = "
    SELECT p.id, p.name, COALESCE(l.quantity_milli, 0) AS q, p.low_stock_milli
    FROM products p LEFT JOIN stock_levels l ON l.product_id = p.id AND l.branch_id = ?1
    WHERE p.deleted_at IS NULL AND p.track_stock = 1
    ORDER BY CASE WHEN q < 0 THEN 0
                  WHEN q = 0 THEN 1
                  WHEN q <= p.low_stock_milli THEN 2
                  ELSE 3 END,
             p.name, p.id
    LIMIT ?2";

/// Counts over every live stock-tracked product with this branch's level
/// (`?1`): tracked, low, out, below zero (as [`StockSummary`] defines them).
/// Walks the live products once (the `products_live_name` partial index) and
/// finds each level by the `stock_levels` primary key.
const STOCK_SUMMARY_SQL: &str = "
    SELECT COUNT(*),
           COALESCE(SUM(q > 0 AND q <= low), 0),
           COALESCE(SUM(q = 0), 0),
           COALESCE(SUM(q < 0), 0)
    FROM (SELECT COALESCE(l.quantity_milli, 0) AS q, p.low_stock_milli AS low
          FROM products p LEFT JOIN stock_levels l ON l.product_id = p.id AND l.branch_id = ?1
          WHERE p.deleted_at IS NULL AND p.track_stock = 1)";

/// This branch's live expenses in a range by category, largest first.
const EXPENSES_BY_CATEGORY_SQL: &str = "
    SELECT category, COUNT(*), SUM(amount_minor) AS total
    FROM expenses
    WHERE business_day BETWEEN ?1 AND ?2 AND deleted_at IS NULL AND branch_id = ?3
    GROUP BY category
    ORDER BY total DESC, category";

/// Sales, voids and refunds of each business day in a range.
const SALES_BY_DAY_SQL: &str = "
    SELECT business_day,
           SUM(kind = 'sale'),
           SUM(CASE WHEN kind = 'sale' THEN total_minor ELSE 0 END),
           SUM(CASE WHEN kind = 'sale' THEN 0 ELSE total_minor END),
           SUM(tax_minor),
           SUM(discount_minor)
    FROM sales
    WHERE business_day BETWEEN ?1 AND ?2 AND branch_id = ?3
    GROUP BY business_day
    ORDER BY business_day";

/// Payments of the sales, voids and refunds in a range, by method.
const PAYMENTS_BY_METHOD_SQL: &str = "
    SELECT p.method, COUNT(*), SUM(p.amount_minor)
    FROM sales s JOIN payments p ON p.sale_id = s.id
    WHERE s.business_day BETWEEN ?1 AND ?2 AND s.branch_id = ?3
    GROUP BY p.method";

/// Sales, voids and refunds in a range by the user who recorded them. A user
/// missing from `users` still counts, under their id.
const SALES_BY_CASHIER_SQL: &str = "
    SELECT s.cashier_id,
           COALESCE(u.name, s.cashier_id) AS name,
           SUM(s.kind = 'sale'),
           SUM(s.total_minor) AS net
    FROM sales s LEFT JOIN users u ON u.id = s.cashier_id
    WHERE s.business_day BETWEEN ?1 AND ?2 AND s.branch_id = ?3
    GROUP BY s.cashier_id
    ORDER BY net DESC, name, s.cashier_id";

/// Sale lines in a range by product. With exactly one `MAX()` aggregate,
/// SQLite takes the bare `l.name` from the row holding the maximum: the most
/// recent *sale* (reversals rank below every sale, since a void of an old
/// sale repeats its old name).
const SALES_BY_PRODUCT_SQL: &str = "
    SELECT l.product_id,
           l.name AS name,
           SUM(l.quantity_milli),
           SUM(l.total_minor) AS net,
           MAX(CASE s.kind WHEN 'sale' THEN s.created_at ELSE -1 END)
    FROM sales s JOIN sale_lines l ON l.sale_id = s.id
    WHERE s.business_day BETWEEN ?1 AND ?2 AND s.branch_id = ?3
    GROUP BY l.product_id
    ORDER BY net DESC, name, l.product_id
    LIMIT ?4";

/// A day's live expenses: all of them, and those paid in cash.
const EXPENSES_OF_DAY_SQL: &str = "
    SELECT COALESCE(SUM(amount_minor), 0),
           COALESCE(SUM(CASE WHEN paid_with = 'cash' THEN amount_minor ELSE 0 END), 0)
    FROM expenses
    WHERE business_day = ?1 AND deleted_at IS NULL AND branch_id = ?2";

/// Credit customers' payments made in `[start, end)`, by method, as positive
/// amounts (the ledger records them as negative).
const CREDIT_PAYMENTS_SQL: &str = "
    SELECT method, COUNT(*), -SUM(amount_minor)
    FROM customer_ledger
    WHERE kind = 'payment' AND created_at >= ?1 AND created_at < ?2 AND branch_id = ?3
    GROUP BY method";

impl Store {
    /// Sales figures for each business day in `from..=to` that has any sale,
    /// void or refund, oldest first.
    pub fn sales_by_day(
        &self,
        actor: &Actor,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<Vec<DaySales>> {
        let currency = self.open_report(actor, from, to)?;
        self.day_sales(from, to, currency)
    }

    /// Payments in `from..=to` by method, always the four methods in the order
    /// cash, mpesa, card, credit (zero when unused). Money given back by
    /// voids and refunds is subtracted from the method it went back by.
    pub fn sales_by_payment_method(
        &self,
        actor: &Actor,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<Vec<MethodTotal>> {
        let currency = self.open_report(actor, from, to)?;
        self.method_totals(from, to, currency)
    }

    /// Sales in `from..=to` by the user who recorded them, highest net first.
    /// A void or refund counts against the manager who recorded it.
    pub fn sales_by_cashier(
        &self,
        actor: &Actor,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<Vec<CashierTotal>> {
        let currency = self.open_report(actor, from, to)?;
        self.branch_days(SALES_BY_CASHIER_SQL, from, to, |r| {
            Ok(CashierTotal {
                user_id: col_parse(r, 0)?,
                name: r.get(1)?,
                sales_count: count(r.get(2)?)?,
                net: Money::from_minor(r.get(3)?, currency)?,
            })
        })
    }

    /// Best sellers in `from..=to`: at most `limit` products (capped at
    /// [`MAX_PRODUCT_ROWS`]) by net amount, highest first, then by name.
    /// Voided and refunded quantities and amounts are subtracted.
    pub fn sales_by_product(
        &self,
        actor: &Actor,
        from: BusinessDay,
        to: BusinessDay,
        limit: u32,
    ) -> Result<Vec<ProductTotal>> {
        let currency = self.open_report(actor, from, to)?;
        let mut stmt = self.conn().prepare_cached(SALES_BY_PRODUCT_SQL)?;
        let mut rows = stmt.query(params![
            from.to_string(),
            to.to_string(),
            self.identity().branch_id.to_string(),
            limit.min(MAX_PRODUCT_ROWS),
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(ProductTotal {
                product_id: col_parse(r, 0)?,
                name: r.get(1)?,
                quantity: col_quantity(r, 2)?,
                net: Money::from_minor(r.get(3)?, currency)?,
            });
        }
        Ok(out)
    }

    /// The day-closing summary of `day`: its sales figures, payments by
    /// method, expenses, payments received from credit customers, and the
    /// cash expected in the drawer:
    ///
    /// ```text
    /// expected_cash = cash payments of the day's sales
    ///                   (minus cash given back by the day's voids and refunds)
    ///               + cash received from credit customers during the day
    ///               - expenses of the day paid in cash
    /// ```
    ///
    /// The opening float is not included. Sales, payments and expenses are
    /// taken by their business day; credit-customer payments (whose ledger
    /// rows carry no business day) by their time, within the day's bounds in
    /// the branch's time zone. A ledger payment without a method is not
    /// counted under any method.
    pub fn day_summary(&self, actor: &Actor, day: BusinessDay) -> Result<DaySummary> {
        actor.require(Permission::ViewReports, "view reports")?;
        let currency = self.report_currency()?;
        let branch = self.identity().branch_id.to_string();
        let sales = self
            .day_sales(day, day, currency)?
            .into_iter()
            .next()
            .unwrap_or_else(|| DaySales::empty(day, currency));
        let payments = self.method_totals(day, day, currency)?;

        let (expenses, cash_expenses): (i64, i64) = self
            .conn()
            .prepare_cached(EXPENSES_OF_DAY_SQL)?
            .query_row(params![day.to_string(), branch], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;

        let (start, end) = self.identity().time_zone.day_bounds(day);
        let methods = [
            PaymentMethod::Cash,
            PaymentMethod::Mpesa,
            PaymentMethod::Card,
        ];
        let mut received = methods.map(|m| (m, 0u64, 0i64));
        let mut stmt = self.conn().prepare_cached(CREDIT_PAYMENTS_SQL)?;
        let mut rows = stmt.query(params![start.as_millis(), end.as_millis(), branch])?;
        while let Some(r) = rows.next()? {
            let Some(method) = r.get::<_, Option<String>>(0)? else {
                continue;
            };
            let method = parse_method(&method)?;
            let slot = received
                .iter_mut()
                .find(|(m, _, _)| *m == method)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("credit payment by '{}'", method.as_str()))
                })?;
            slot.1 = count(r.get(1)?)?;
            slot.2 = r.get(2)?;
        }
        let credit_payments = received
            .into_iter()
            .map(|(method, count, amount)| {
                Ok(MethodTotal {
                    method,
                    count,
                    amount: Money::from_minor(amount, currency)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let cash_of = |totals: &[MethodTotal]| {
            totals
                .iter()
                .find(|t| t.method == PaymentMethod::Cash)
                .map_or(Money::zero(currency), |t| t.amount)
        };
        let cash_expenses = Money::from_minor(cash_expenses, currency)?;
        let expected_cash = cash_of(&payments)
            .checked_add(cash_of(&credit_payments))?
            .checked_sub(cash_expenses)?;
        Ok(DaySummary {
            day,
            sales,
            payments,
            expenses: Money::from_minor(expenses, currency)?,
            cash_expenses,
            credit_payments,
            expected_cash,
        })
    }

    /// The branches this till knows, its own first: the ones pulled from
    /// the Back Office and its own (deleted ones marked). Anyone signed in
    /// may read them; they are names, shared by every branch.
    pub fn branches(&self) -> Result<Vec<BranchInfo>> {
        let here = self.identity().branch_id;
        let mut stmt = self.conn().prepare_cached(BRANCHES_SQL)?;
        let mut rows = stmt.query([here.to_string()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id: BranchId = col_parse(r, 0)?;
            out.push(BranchInfo {
                id,
                code: r.get(1)?,
                name: r.get(2)?,
                this_branch: id == here,
                deleted: r.get(3)?,
            });
        }
        Ok(out)
    }

    /// This branch's stock on hand of every live stock-tracked product, at
    /// most `limit` (capped at [`MAX_PRODUCT_ROWS`]): below zero first, then
    /// out, then low, then the rest, each group by name, so a short list
    /// still holds what needs attention. Levels are now, whatever the
    /// report's day: stock is the sum of movements, with no history of
    /// levels kept. [`Store::stock_summary`] counts over all of them.
    pub fn stock_levels(&self, actor: &Actor, limit: u32) -> Result<Vec<StockLevel>> {
        actor.require(Permission::ViewReports, "view reports")?;
        let mut stmt = self.conn().prepare_cached(STOCK_LEVELS_SQL)?;
        let mut rows = stmt.query(params![
            self.identity().branch_id.to_string(),
            limit.min(MAX_PRODUCT_ROWS)
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(StockLevel {
                product_id: col_parse(r, 0)?,
                name: r.get(1)?,
                quantity: col_quantity(r, 2)?,
                low_stock: r.get::<_, Option<i64>>(3)?.map(Quantity::from_milli),
            });
        }
        Ok(out)
    }

    /// How many of this branch's live stock-tracked products there are, and
    /// how many are low, out or below zero: counted in SQL over all of them,
    /// however many [`Store::stock_levels`] lists.
    pub fn stock_summary(&self, actor: &Actor) -> Result<StockSummary> {
        actor.require(Permission::ViewReports, "view reports")?;
        let mut stmt = self.conn().prepare_cached(STOCK_SUMMARY_SQL)?;
        let (tracked, low, out, below_zero) =
            stmt.query_row(params![self.identity().branch_id.to_string()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
        Ok(StockSummary {
            tracked: count(tracked)?,
            low: count(low)?,
            out: count(out)?,
            below_zero: count(below_zero)?,
        })
    }

    /// This branch's live expenses on business days `from..=to`, by
    /// category, largest total first.
    pub fn expenses_by_category(
        &self,
        actor: &Actor,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<Vec<ExpenseCategoryTotal>> {
        let currency = self.open_report(actor, from, to)?;
        self.branch_days(EXPENSES_BY_CATEGORY_SQL, from, to, |r| {
            Ok(ExpenseCategoryTotal {
                category: r.get(0)?,
                count: count(r.get(1)?)?,
                amount: Money::from_minor(r.get(2)?, currency)?,
            })
        })
    }

    /// The checks every range report starts with: the role, the range, and
    /// the currency its figures are in.
    fn open_report(&self, actor: &Actor, from: BusinessDay, to: BusinessDay) -> Result<Currency> {
        actor.require(Permission::ViewReports, "view reports")?;
        check_range(from, to)?;
        self.report_currency()
    }

    fn report_currency(&self) -> Result<Currency> {
        Ok(crate::settings::load_settings(self.conn())?.currency)
    }

    fn day_sales(
        &self,
        from: BusinessDay,
        to: BusinessDay,
        currency: Currency,
    ) -> Result<Vec<DaySales>> {
        self.branch_days(SALES_BY_DAY_SQL, from, to, |r| {
            let day: String = r.get(0)?;
            let day = BusinessDay::parse(&day)
                .ok_or_else(|| StoreError::Corrupt(format!("business day '{day}'")))?;
            let sales_count = count(r.get(1)?)?;
            let gross: i64 = r.get(2)?;
            let reversals: i64 = r.get(3)?;
            let money = |minor: i64| Money::from_minor(minor, currency);
            let average = match i64::try_from(sales_count) {
                Ok(n) if n > 0 => gross / n,
                _ => 0,
            };
            Ok(DaySales {
                day,
                sales_count,
                gross_sales: money(gross)?,
                voids_and_refunds: money(reversals)?,
                net_sales: money(gross.saturating_add(reversals))?,
                tax: money(r.get(4)?)?,
                discounts: money(r.get(5)?)?,
                average_sale: money(average)?,
            })
        })
    }

    fn method_totals(
        &self,
        from: BusinessDay,
        to: BusinessDay,
        currency: Currency,
    ) -> Result<Vec<MethodTotal>> {
        let mut totals: Vec<MethodTotal> = PaymentMethod::ALL
            .into_iter()
            .map(|method| MethodTotal {
                method,
                count: 0,
                amount: Money::zero(currency),
            })
            .collect();
        let rows = self.branch_days(PAYMENTS_BY_METHOD_SQL, from, to, |r| {
            Ok((
                parse_method(&r.get::<_, String>(0)?)?,
                count(r.get(1)?)?,
                Money::from_minor(r.get(2)?, currency)?,
            ))
        })?;
        for (method, n, amount) in rows {
            if let Some(t) = totals.iter_mut().find(|t| t.method == method) {
                t.count = n;
                t.amount = amount;
            }
        }
        Ok(totals)
    }

    /// Runs report query `sql` over this branch's business days `from..=to`
    /// (its parameters: ?1 the first day, ?2 the last, ?3 this branch), one
    /// `T` per row.
    fn branch_days<T>(
        &self,
        sql: &str,
        from: BusinessDay,
        to: BusinessDay,
        mut row: impl FnMut(&rusqlite::Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.conn().prepare_cached(sql)?;
        let mut rows = stmt.query(params![
            from.to_string(),
            to.to_string(),
            self.identity().branch_id.to_string()
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(row(r)?);
        }
        Ok(out)
    }
}

/// Refuses an empty (backwards) range or one longer than [`MAX_RANGE_DAYS`].
fn check_range(from: BusinessDay, to: BusinessDay) -> Result<()> {
    if from > to {
        return Err(StoreError::Invalid(format!(
            "the report would start on {from}, after it ends on {to}; pick a start day on or before the end day"
        )));
    }
    let days = days_between(from.0, to.0) + 1;
    if days > MAX_RANGE_DAYS {
        return Err(StoreError::Invalid(format!(
            "{from} to {to} is {days} days; a report covers at most {MAX_RANGE_DAYS} days, so pick a shorter range"
        )));
    }
    Ok(())
}

fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    to.signed_duration_since(from).num_days()
}

fn count(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

fn parse_method(s: &str) -> Result<PaymentMethod> {
    PaymentMethod::parse(s).ok_or_else(|| StoreError::Corrupt(format!("payment method '{s}'")))
}

#[cfg(test)]
mod tests {
    use pos_domain::{CustomerId, Discount, MpesaCode, Role, SaleId, Tender, Timestamp};
    use rusqlite::Connection;

    use super::*;
    use crate::sales::{Checkout, CheckoutLine, Refund, RefundTo};
    use crate::testkit::{Kit, T0, actor, kes, kit, new_product};

    const HOUR: i64 = 3_600_000;

    fn day(s: &str) -> BusinessDay {
        BusinessDay::parse(s).unwrap()
    }

    /// `half_hours` after T0 (09:00 on 2 March in Nairobi, 06:00 UTC).
    fn at(half_hours: i64) -> Timestamp {
        Timestamp::from_millis(T0.as_millis() + half_hours * HOUR / 2)
    }

    fn line(p: ProductId, units: i64) -> CheckoutLine {
        CheckoutLine {
            product_id: p,
            quantity: Quantity::units(units),
            discount: Discount::None,
        }
    }

    fn checkout(lines: Vec<CheckoutLine>, tenders: Vec<Tender>) -> Checkout {
        Checkout {
            sale_id: SaleId::new(),
            lines,
            discount: Discount::None,
            tenders,
            customer_id: None,
        }
    }

    fn cash(tendered: i64) -> Tender {
        Tender::Cash {
            tendered: kes(tendered),
        }
    }

    fn total(method: PaymentMethod, count: u64, minor: i64) -> MethodTotal {
        MethodTotal {
            method,
            count,
            amount: kes(minor),
        }
    }

    /// A credit customer's payment on account, straight into the ledger.
    fn ledger_payment(
        kit: &Kit,
        customer: CustomerId,
        branch: &str,
        method: &str,
        minor: i64,
        t: Timestamp,
    ) {
        let device = kit.store.identity().device_id.to_string();
        kit.store
            .conn()
            .execute(
                "INSERT INTO customer_ledger (id, customer_id, branch_id, device_id, kind, amount_minor,
                                              currency, method, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'payment', ?5, 'KES', ?6, ?7)",
                params![
                    uuid::Uuid::now_v7().to_string(),
                    customer.to_string(),
                    branch,
                    device,
                    -minor,
                    method,
                    t.as_millis()
                ],
            )
            .unwrap();
    }

    /// An expense, straight into the table (the expenses service is built elsewhere).
    fn expense(kit: &Kit, user: UserId, day: &str, paid_with: &str, minor: i64, deleted: bool) {
        let id = kit.store.identity();
        kit.store
            .conn()
            .execute(
                "INSERT INTO expenses (id, branch_id, device_id, user_id, category, description, amount_minor,
                                       currency, paid_with, spent_at, business_day, created_at, hlc, deleted_at)
                 VALUES (?1, ?2, ?3, ?4, 'supplies', 'charcoal', ?5, 'KES', ?6, 0, ?7, 0,
                         '0000000000000-00000000-0000000000000000', ?8)",
                params![
                    uuid::Uuid::now_v7().to_string(),
                    id.branch_id.to_string(),
                    id.device_id.to_string(),
                    user.to_string(),
                    minor,
                    paid_with,
                    day,
                    deleted.then_some(1_i64),
                ],
            )
            .unwrap();
    }

    struct Scenario {
        kit: Kit,
        manager: Actor,
        cashier: Actor,
        coffee: ProductId,
        mandazi: ProductId,
    }

    /// Two Nairobi days of trading (all prices VAT 16% inclusive, chosen so the
    /// tax is exact: 116.00 carries 16.00).
    ///
    /// 2 March:
    /// - S1 09:00 Achieng: 2 coffee = 232.00 (tax 32.00), cash 300 → 232.00.
    /// - S2 12:00 Achieng: 1 coffee + 2 mandazi = 232.00 − 29.00 cart discount
    ///   = 203.00 (each line 101.50, tax 14.00); M-Pesa 100.00 + cash 103.00.
    /// - S3 18:00 owner: 1 mandazi 58.00 (tax 8.00); card 20.00 + credit 38.00.
    /// - expense 7.00 cash; credit customer pays 10.00 cash at 23:30.
    ///
    /// 3 March:
    /// - 01:00 (22:00 UTC on the 2nd) credit customer pays 20.00 cash.
    /// - S4 01:30 (22:30 UTC on the 2nd) Achieng: 3 coffee (renamed "Coffee
    ///   (large)") = 348.00 (tax 48.00), cash.
    /// - 10:00 Mwangi voids S1: −232.00 (tax −32.00), cash −232.00.
    /// - 11:00 Mwangi refunds 1 of S2's 2 mandazi: −50.75 (tax −7.00,
    ///   discount −7.25), cash −50.75.
    /// - 12:00 credit customer pays 8.00 by M-Pesa; another branch's ledger
    ///   payment of 99.00 cash.
    /// - S5 15:00 owner: 2 mandazi = 116.00 (tax 16.00), M-Pesa.
    /// - expenses: 15.00 cash, 40.00 M-Pesa, 5.00 cash deleted.
    fn scenario() -> Scenario {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let cashier = kit.user("Achieng", Role::Cashier);
        let manager = kit.user("Mwangi", Role::Manager);
        let coffee = kit.product("Coffee", 116_00).id;
        let mandazi = kit.product("Mandazi", 58_00).id;
        let kamau = kit.customer("Kamau", 5_000_00);
        let branch = kit.store.identity().branch_id.to_string();

        kit.clock.set(at(0));
        let s1 = kit
            .store
            .checkout(
                &cashier,
                &checkout(vec![line(coffee, 2)], vec![cash(300_00)]),
            )
            .unwrap();
        kit.clock.set(at(6));
        let mut co = checkout(
            vec![line(coffee, 1), line(mandazi, 2)],
            vec![
                Tender::Mpesa {
                    amount: kes(100_00),
                    code: MpesaCode::parse("QAB1234567").unwrap(),
                },
                cash(200_00),
            ],
        );
        co.discount = Discount::Amount(kes(29_00));
        let s2 = kit.store.checkout(&cashier, &co).unwrap();
        assert_eq!((s2.total, s2.tax), (kes(203_00), kes(28_00)));
        kit.clock.set(at(18));
        let mut co = checkout(
            vec![line(mandazi, 1)],
            vec![
                Tender::Card {
                    amount: kes(20_00),
                    reference: None,
                },
                Tender::Credit {
                    amount: kes(38_00),
                    customer: kamau,
                },
            ],
        );
        co.customer_id = Some(kamau);
        kit.store.checkout(&owner, &co).unwrap();
        expense(&kit, owner.user_id, "2026-03-02", "cash", 7_00, false);
        ledger_payment(&kit, kamau, &branch, "cash", 10_00, at(29)); // 23:30 on the 2nd

        ledger_payment(&kit, kamau, &branch, "cash", 20_00, at(32)); // 01:00 on the 3rd
        kit.store
            .conn()
            .execute(
                "UPDATE products SET name = 'Coffee (large)' WHERE id = ?1",
                [coffee.to_string()],
            )
            .unwrap();
        kit.clock.set(at(33)); // 01:30 on the 3rd, 22:30 UTC on the 2nd
        let s4 = kit
            .store
            .checkout(
                &cashier,
                &checkout(vec![line(coffee, 3)], vec![cash(400_00)]),
            )
            .unwrap();
        assert_eq!(s4.business_day, "2026-03-03");
        kit.clock.set(at(50));
        kit.store.void_sale(&manager, s1.id, "wrong order").unwrap();
        kit.clock.set(at(52));
        let refund = kit
            .store
            .refund(
                &manager,
                &Refund {
                    sale_id: s2.id,
                    lines: vec![(2, Quantity::units(1))],
                    reason: "stale".into(),
                    refund_to: RefundTo::Cash,
                },
            )
            .unwrap();
        assert_eq!(
            (refund.total, refund.tax, refund.discount),
            (kes(-50_75), kes(-7_00), kes(-7_25))
        );
        ledger_payment(&kit, kamau, &branch, "mpesa", 8_00, at(54));
        ledger_payment(&kit, kamau, "other-branch", "cash", 99_00, at(54));
        kit.clock.set(at(60));
        kit.store
            .checkout(
                &owner,
                &checkout(
                    vec![line(mandazi, 2)],
                    vec![Tender::Mpesa {
                        amount: kes(116_00),
                        code: MpesaCode::parse("QAB7654321").unwrap(),
                    }],
                ),
            )
            .unwrap();
        expense(&kit, manager.user_id, "2026-03-03", "cash", 15_00, false);
        expense(&kit, manager.user_id, "2026-03-03", "mpesa", 40_00, false);
        expense(&kit, manager.user_id, "2026-03-03", "cash", 5_00, true);

        Scenario {
            kit,
            manager,
            cashier,
            coffee,
            mandazi,
        }
    }

    fn day_a() -> DaySales {
        DaySales {
            day: day("2026-03-02"),
            sales_count: 3,
            gross_sales: kes(493_00),
            voids_and_refunds: kes(0),
            net_sales: kes(493_00),
            tax: kes(68_00),
            discounts: kes(29_00),
            average_sale: kes(164_33), // 493.00 / 3 = 164.333…, rounded down
        }
    }

    fn day_b() -> DaySales {
        DaySales {
            day: day("2026-03-03"),
            sales_count: 2,
            gross_sales: kes(464_00),
            voids_and_refunds: kes(-282_75),
            net_sales: kes(181_25),
            tax: kes(25_00),
            discounts: kes(-7_25),
            average_sale: kes(232_00),
        }
    }

    #[test]
    fn sales_by_day_groups_by_nairobi_day_and_counts_reversals_on_their_own_day() {
        let s = scenario();
        let store = &s.kit.store;
        let rows = store
            .sales_by_day(&s.manager, day("2026-03-01"), day("2026-03-04"))
            .unwrap();
        assert_eq!(rows, vec![day_a(), day_b()]);
        // The 01:30 sale is not on the 2nd, and the 2nd is not changed by the
        // void and refund recorded on the 3rd.
        assert_eq!(
            store
                .sales_by_day(&s.kit.owner, day("2026-03-02"), day("2026-03-02"))
                .unwrap(),
            vec![day_a()]
        );
        assert_eq!(
            store
                .sales_by_day(&s.manager, day("2026-03-04"), day("2026-03-10"))
                .unwrap(),
            vec![]
        );
    }

    #[test]
    fn sales_by_payment_method_nets_reversals_and_lists_every_method() {
        let s = scenario();
        let store = &s.kit.store;
        use PaymentMethod::*;
        assert_eq!(
            store
                .sales_by_payment_method(&s.manager, day("2026-03-02"), day("2026-03-03"))
                .unwrap(),
            vec![
                // 232.00 + 103.00 + 348.00 − 232.00 − 50.75
                total(Cash, 5, 400_25),
                total(Mpesa, 2, 216_00),
                total(Card, 1, 20_00),
                total(Credit, 1, 38_00),
            ]
        );
        assert_eq!(
            store
                .sales_by_payment_method(&s.manager, day("2026-03-03"), day("2026-03-03"))
                .unwrap(),
            vec![
                total(Cash, 3, 65_25),
                total(Mpesa, 1, 116_00),
                total(Card, 0, 0),
                total(Credit, 0, 0),
            ]
        );
        assert_eq!(
            store
                .sales_by_payment_method(&s.manager, day("2026-03-05"), day("2026-03-05"))
                .unwrap(),
            vec![
                total(Cash, 0, 0),
                total(Mpesa, 0, 0),
                total(Card, 0, 0),
                total(Credit, 0, 0),
            ]
        );
    }

    #[test]
    fn sales_by_cashier_ranks_by_net_and_keeps_deleted_users() {
        let s = scenario();
        let store = &s.kit.store;
        store
            .conn()
            .execute(
                "UPDATE users SET deleted_at = 1, active = 0 WHERE id = ?1",
                [s.cashier.user_id.to_string()],
            )
            .unwrap();
        let row = |a: &Actor, sales_count, net| CashierTotal {
            user_id: a.user_id,
            name: a.name.clone(),
            sales_count,
            net: kes(net),
        };
        assert_eq!(
            store
                .sales_by_cashier(&s.manager, day("2026-03-02"), day("2026-03-03"))
                .unwrap(),
            vec![
                row(&s.cashier, 3, 783_00), // 232.00 + 203.00 + 348.00
                row(&s.kit.owner, 2, 174_00),
                row(&s.manager, 0, -282_75), // the void and the refund
            ]
        );
        assert_eq!(
            store
                .sales_by_cashier(&s.manager, day("2026-03-02"), day("2026-03-02"))
                .unwrap(),
            vec![row(&s.cashier, 2, 435_00), row(&s.kit.owner, 1, 58_00)]
        );
    }

    #[test]
    fn sales_by_product_subtracts_reversals_and_uses_the_latest_sold_name() {
        let s = scenario();
        let store = &s.kit.store;
        let coffee = ProductTotal {
            product_id: s.coffee,
            // The void on the 3rd repeats the old name; the latest *sale* wins.
            name: "Coffee (large)".into(),
            quantity: Quantity::units(4), // 2 + 1 + 3 − 2
            net: kes(449_50),             // 232.00 + 101.50 + 348.00 − 232.00
        };
        let mandazi = ProductTotal {
            product_id: s.mandazi,
            name: "Mandazi".into(),
            quantity: Quantity::units(4), // 2 + 1 + 2 − 1
            net: kes(224_75),             // 101.50 + 58.00 + 116.00 − 50.75
        };
        let (from, to) = (day("2026-03-02"), day("2026-03-03"));
        assert_eq!(
            store.sales_by_product(&s.manager, from, to, 10).unwrap(),
            vec![coffee.clone(), mandazi.clone()]
        );
        assert_eq!(
            store.sales_by_product(&s.manager, from, to, 1).unwrap(),
            vec![coffee]
        );
        // The 2nd alone: before the rename, and before the void and refund.
        assert_eq!(
            store.sales_by_product(&s.manager, from, from, 10).unwrap(),
            vec![
                ProductTotal {
                    product_id: s.coffee,
                    name: "Coffee".into(),
                    quantity: Quantity::units(3),
                    net: kes(333_50),
                },
                ProductTotal {
                    product_id: s.mandazi,
                    name: "Mandazi".into(),
                    quantity: Quantity::units(3),
                    net: kes(159_50),
                },
            ]
        );
    }

    #[test]
    fn products_with_equal_net_are_ordered_by_name() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let b = kit.product("Bread", 50_00).id;
        let a = kit.product("Avocado", 50_00).id;
        kit.store
            .checkout(
                &owner,
                &checkout(vec![line(b, 1), line(a, 1)], vec![cash(100_00)]),
            )
            .unwrap();
        let d = day("2026-03-02");
        let names: Vec<String> = kit
            .store
            .sales_by_product(&owner, d, d, 10)
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["Avocado", "Bread"]);
        assert_eq!(kit.store.sales_by_product(&owner, d, d, 0).unwrap(), vec![]);
    }

    #[test]
    fn day_summary_closes_the_day_with_the_expected_cash() {
        let s = scenario();
        let store = &s.kit.store;
        use PaymentMethod::*;
        let b = store.day_summary(&s.manager, day("2026-03-03")).unwrap();
        assert_eq!(
            b,
            DaySummary {
                day: day("2026-03-03"),
                sales: day_b(),
                payments: vec![
                    total(Cash, 3, 65_25),
                    total(Mpesa, 1, 116_00),
                    total(Card, 0, 0),
                    total(Credit, 0, 0),
                ],
                expenses: kes(55_00),
                cash_expenses: kes(15_00),
                // 01:00 (22:00 UTC on the 2nd) and 12:00 on the 3rd; not the
                // 23:30 payment of the 2nd nor the other branch's.
                credit_payments: vec![
                    total(Cash, 1, 20_00),
                    total(Mpesa, 1, 8_00),
                    total(Card, 0, 0)
                ],
                // 65.25 + 20.00 − 15.00
                expected_cash: kes(70_25),
            }
        );
        let a = store.day_summary(&s.kit.owner, day("2026-03-02")).unwrap();
        assert_eq!(
            a,
            DaySummary {
                day: day("2026-03-02"),
                sales: day_a(),
                payments: vec![
                    total(Cash, 2, 335_00),
                    total(Mpesa, 1, 100_00),
                    total(Card, 1, 20_00),
                    total(Credit, 1, 38_00),
                ],
                expenses: kes(7_00),
                cash_expenses: kes(7_00),
                credit_payments: vec![total(Cash, 1, 10_00), total(Mpesa, 0, 0), total(Card, 0, 0)],
                // 335.00 + 10.00 − 7.00
                expected_cash: kes(338_00),
            }
        );
        // A day without trade is all zeros.
        let quiet = store.day_summary(&s.manager, day("2026-03-09")).unwrap();
        assert_eq!(
            quiet.sales,
            DaySales::empty(day("2026-03-09"), Currency::KES)
        );
        assert_eq!(quiet.expected_cash, kes(0));
        assert_eq!(quiet.credit_payments.len(), 3);
        assert!(
            quiet
                .payments
                .iter()
                .all(|p| p.count == 0 && p.amount.is_zero())
        );
    }

    #[test]
    fn bad_ranges_and_cashiers_are_refused() {
        let s = scenario();
        let store = &s.kit.store;
        let m = &s.manager;
        let (d1, d2) = (day("2026-03-01"), day("2026-03-02"));
        let backwards = store.sales_by_day(m, d2, d1).unwrap_err();
        assert!(
            matches!(&backwards, StoreError::Invalid(msg) if msg.contains("2026-03-02") && msg.contains("2026-03-01")),
            "{backwards}"
        );
        // 366 days is allowed, 367 is not.
        let year_end = day("2027-03-01");
        assert_eq!(days_between(d1.0, year_end.0) + 1, 366);
        assert!(store.sales_by_day(m, d1, year_end).is_ok());
        let too_long = store.sales_by_day(m, d1, day("2027-03-02")).unwrap_err();
        assert!(
            matches!(&too_long, StoreError::Invalid(msg) if msg.contains("367 days")),
            "{too_long}"
        );
        assert!(matches!(
            store.sales_by_payment_method(m, d2, d1),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.sales_by_cashier(m, d2, d1),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.sales_by_product(m, d2, d1, 10),
            Err(StoreError::Invalid(_))
        ));

        let c = &s.cashier;
        let forbidden = |r: Result<()>| {
            assert!(
                matches!(
                    r,
                    Err(StoreError::Forbidden {
                        needed: Role::Manager,
                        ..
                    })
                ),
                "{r:?}"
            )
        };
        forbidden(store.sales_by_day(c, d1, d2).map(drop));
        forbidden(store.sales_by_payment_method(c, d1, d2).map(drop));
        forbidden(store.sales_by_cashier(c, d1, d2).map(drop));
        forbidden(store.sales_by_product(c, d1, d2, 10).map(drop));
        forbidden(store.day_summary(c, d2).map(drop));
    }

    /// `EXPLAIN QUERY PLAN` details of `sql` (every parameter NULL: the plan
    /// is chosen when the statement is prepared, not from the values).
    fn query_plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Value::Null; stmt.parameter_count()];
        stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn sales_by_day_searches_the_day_index() {
        let s = scenario();
        let plan = query_plan(s.kit.store.conn(), SALES_BY_DAY_SQL);
        assert!(
            !plan.iter().any(|d| d.starts_with("SCAN sales")),
            "full scan of sales: {plan:?}"
        );
        assert!(
            plan.iter().any(|d| d.starts_with(
                "SEARCH sales USING INDEX sales_day (business_day>? AND business_day<?)"
            )),
            "{plan:?}"
        );
        // The check bites: without the index the same query scans the table.
        s.kit
            .store
            .conn()
            .execute_batch("DROP INDEX sales_day")
            .unwrap();
        let plan = query_plan(s.kit.store.conn(), SALES_BY_DAY_SQL);
        assert!(plan.iter().any(|d| d.starts_with("SCAN sales")), "{plan:?}");
    }

    #[test]
    fn no_report_query_scans_a_table() {
        let s = scenario();
        for (name, sql) in [
            ("payments by method", PAYMENTS_BY_METHOD_SQL),
            ("sales by cashier", SALES_BY_CASHIER_SQL),
            ("sales by product", SALES_BY_PRODUCT_SQL),
            ("expenses of day", EXPENSES_OF_DAY_SQL),
            ("credit payments", CREDIT_PAYMENTS_SQL),
            ("expenses by category", EXPENSES_BY_CATEGORY_SQL),
        ] {
            let plan = query_plan(s.kit.store.conn(), sql);
            assert!(
                !plan.iter().any(|d| d.starts_with("SCAN")),
                "{name} scans a table: {plan:?}"
            );
        }
    }

    #[test]
    fn the_branch_report_has_its_stock_and_its_expenses_by_category() {
        let s = scenario();
        let kit = &s.kit;
        // 3 March: 15.00 cash + 40.00 M-Pesa of 'supplies' (5.00 deleted).
        let cats = kit
            .store
            .expenses_by_category(&s.manager, day("2026-03-03"), day("2026-03-03"))
            .unwrap();
        assert_eq!(
            cats,
            vec![ExpenseCategoryTotal {
                category: "supplies".into(),
                count: 2,
                amount: kes(55_00),
            }]
        );
        assert!(matches!(
            kit.store
                .expenses_by_category(&s.cashier, day("2026-03-03"), day("2026-03-03")),
            Err(StoreError::Forbidden { .. })
        ));

        // Stock is this branch's movements: coffee 2 + 1 + 3 sold, S1's 2
        // back; mandazi 2 + 1 + 2 sold, 1 refunded.
        let levels = kit.store.stock_levels(&s.manager, 100).unwrap();
        let of = |id: ProductId| levels.iter().find(|l| l.product_id == id).unwrap();
        assert_eq!(of(s.coffee).quantity, Quantity::units(-4));
        assert_eq!(of(s.mandazi).quantity, Quantity::units(-4));
        assert!(of(s.coffee).is_low(), "negative stock is flagged");
        assert_eq!(kit.store.stock_levels(&s.manager, 1).unwrap().len(), 1);
        assert!(matches!(
            kit.store.stock_levels(&s.cashier, 10),
            Err(StoreError::Forbidden { .. })
        ));
        // Another branch's movement does not count here.
        let other = BranchId::new();
        kit.store
            .conn()
            .execute_batch(&format!(
                "INSERT INTO branches (id, code, name, hlc) VALUES ('{other}', 'CBD', 'CBD branch', '0');
                 INSERT INTO stock_movements (id, product_id, branch_id, device_id, kind, quantity_milli, created_at)
                 VALUES ('{}', '{}', '{other}', 'd', 'restock', 50000, 0);",
                uuid::Uuid::now_v7(),
                s.coffee
            ))
            .unwrap();
        let levels = kit.store.stock_levels(&s.manager, 100).unwrap();
        assert_eq!(
            levels
                .iter()
                .find(|l| l.product_id == s.coffee)
                .unwrap()
                .quantity,
            Quantity::units(-4)
        );

        // The branches it knows: its own first.
        let branches = kit.store.branches().unwrap();
        assert_eq!(branches.len(), 2);
        assert!(branches[0].this_branch && branches[0].id == kit.store.identity().branch_id);
        assert_eq!(
            (branches[1].code.as_str(), branches[1].name.as_str()),
            ("CBD", "CBD branch")
        );
        assert!(!branches[1].this_branch && !branches[1].deleted);
    }
    #[test]
    fn the_stock_summary_counts_every_tracked_product_and_the_list_puts_attention_first() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let units = Quantity::units;
        let with = |kit: &mut Kit, name: &str, low: Option<i64>, track: bool| {
            let mut new = new_product(name, 100);
            new.low_stock = low.map(units);
            new.track_stock = track;
            kit.store.create_product(&owner, new).unwrap().id
        };
        // Named so that, by name alone, the ones needing attention come last.
        let plenty_a = with(&mut kit, "A plenty", Some(5), true);
        let plenty_b = with(&mut kit, "B plenty no level", None, true);
        let low = with(&mut kit, "Y low", Some(5), true);
        with(&mut kit, "Z out no level", None, true);
        with(&mut kit, "Z out with level", Some(2), true);
        let negative = with(&mut kit, "Zz negative", Some(5), true);
        let untracked = with(&mut kit, "Untracked", Some(5), false);
        let deleted = with(&mut kit, "Deleted", Some(5), true);
        kit.store.restock(&owner, plenty_a, units(9), None).unwrap();
        kit.store.restock(&owner, plenty_b, units(1), None).unwrap();
        kit.store.restock(&owner, low, units(5), None).unwrap();
        for p in [negative, untracked, deleted] {
            kit.store.adjust_stock(&owner, p, units(-3), "x").unwrap();
        }
        kit.store.delete_product(&owner, deleted).unwrap();

        let summary = kit.store.stock_summary(&owner).unwrap();
        assert_eq!(
            summary,
            StockSummary {
                tracked: 6,
                low: 1,
                out: 2,
                below_zero: 1,
            }
        );
        assert_eq!(summary.attention(), 4);

        // Below zero, out, low, then the rest; by name within each.
        let names = |limit| -> Vec<String> {
            kit.store
                .stock_levels(&owner, limit)
                .unwrap()
                .into_iter()
                .map(|l| l.name)
                .collect()
        };
        assert_eq!(
            names(100),
            [
                "Zz negative",
                "Z out no level",
                "Z out with level",
                "Y low",
                "A plenty",
                "B plenty no level"
            ]
        );
        // A short list keeps what needs attention; the counts still cover all.
        assert_eq!(
            names(4),
            ["Zz negative", "Z out no level", "Z out with level", "Y low"]
        );

        // Another branch's stock is not counted here.
        let other = BranchId::new();
        kit.store
            .conn()
            .execute_batch(&format!(
                "INSERT INTO branches (id, code, name, hlc) VALUES ('{other}', 'CBD', 'CBD branch', '0');
                 INSERT INTO stock_movements (id, product_id, branch_id, device_id, kind, quantity_milli, created_at)
                 VALUES ('{}', '{plenty_a}', '{other}', 'd', 'adjustment', -50000, 0);",
                uuid::Uuid::now_v7(),
            ))
            .unwrap();
        assert_eq!(kit.store.stock_summary(&owner).unwrap(), summary);

        assert!(matches!(
            kit.store.stock_summary(&actor(Role::Cashier)),
            Err(StoreError::Forbidden { .. })
        ));
        // Every level is found by its primary key, not by scanning the levels.
        for sql in [STOCK_SUMMARY_SQL, STOCK_LEVELS_SQL] {
            let plan = query_plan(kit.store.conn(), sql);
            assert!(
                !plan.iter().any(|d| d.starts_with("SCAN l")),
                "scans stock_levels: {plan:?}"
            );
        }
    }
}
