//! Sales: checkout, void and refund, and reading receipts back.
//!
//! A checkout is **one** immediate transaction that writes the sale, its lines
//! and payments, the stock movements, the credit-ledger entry (if any), the
//! next receipt number and the outbox op that carries all of it — everything or
//! nothing. Sales are immutable: a void or a refund is a new sale record with
//! negative amounts that points at the original.
//!
//! Prices, names and tax rates are read from the catalog inside the
//! transaction, so a sale records what was charged at that moment. An offline
//! sale is never refused for lack of stock: the level may go negative (and is
//! flagged by the low-stock list).

use pos_domain::cart::refund_portion;
use pos_domain::{
    Cart, CartLine, Currency, CustomerId, Discount, DomainError, LedgerEntryId, Money, MovementId,
    MovementKind, MpesaCode, PaymentId, PaymentMethod, Permission, ProductId, Quantity, SaleId,
    SaleTotals, TaxMode, TaxTable, Tender, Timestamp, UserId, settle,
};
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::{
    LedgerEntryRecord, LedgerKind, OpBody, PaymentRecord, SaleKind, SaleLineRecord, SaleRecord,
    StockMovementRecord,
};

use crate::catalog::{Product, find_product};
use crate::customers::{check_credit, check_mpesa_code_unused, insert_ledger_entry, live_customer};
use crate::sql::{col_enum, col_money, col_money_opt, col_parse, col_parse_opt};
use crate::stock::insert_movement;
use crate::{Actor, Result, Store, StoreError, Tx};

/// One line the cashier rang up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
    pub discount: Discount,
}

/// A cart ready to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// Made by the UI when the cart opens, so pressing Pay twice (or retrying
    /// after a crash) records the sale once: a known id returns the sale
    /// already recorded.
    pub sale_id: SaleId,
    pub lines: Vec<CheckoutLine>,
    pub discount: Discount,
    pub tenders: Vec<Tender>,
    /// The customer the sale is for; required when paying on credit.
    pub customer_id: Option<CustomerId>,
}

/// How a refund's money goes back to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundTo {
    Cash,
    Mpesa(MpesaCode),
    Card(Option<String>),
    /// Off the balance of the sale's credit customer.
    CustomerAccount,
}

/// Items to take back from a sale: `(line number on the receipt, quantity)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub sale_id: SaleId,
    pub lines: Vec<(u32, Quantity)>,
    pub reason: String,
    pub refund_to: RefundTo,
}

/// A short row for the list of previous receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleSummary {
    pub id: SaleId,
    pub receipt_no: String,
    pub kind: SaleKind,
    pub total: Money,
    pub cashier_id: UserId,
    pub created_at: Timestamp,
    /// For sales: whether a void has been recorded against it.
    pub voided: bool,
}

impl Store {
    /// Records a paid sale, or refuses it and changes nothing.
    pub fn checkout(&mut self, actor: &Actor, checkout: &Checkout) -> Result<SaleRecord> {
        actor.require(Permission::Sell, "sell")?;
        let record = self.write(|tx| match load_sale(tx, checkout.sale_id)? {
            Some(existing) => Ok(existing),
            None => record_checkout(tx, actor, checkout),
        })?;
        tracing::info!(receipt = %record.receipt_no, total = %record.total, "sale recorded");
        Ok(record)
    }

    /// Voids a whole sale: a new record reversing every line, payment, stock
    /// movement and credit entry of the original. Managers and owners only.
    pub fn void_sale(
        &mut self,
        actor: &Actor,
        sale_id: SaleId,
        reason: &str,
    ) -> Result<SaleRecord> {
        actor.require(Permission::VoidOrRefund, "void a sale")?;
        let reason = check_reason(reason)?;
        self.write(|tx| record_void(tx, actor, sale_id, reason))
    }

    /// Takes back some items of a sale and returns their money. Managers and
    /// owners only.
    pub fn refund(&mut self, actor: &Actor, refund: &Refund) -> Result<SaleRecord> {
        actor.require(Permission::VoidOrRefund, "refund a sale")?;
        let reason = check_reason(&refund.reason)?;
        self.write(|tx| record_refund(tx, actor, refund, reason))
    }

    /// A sale, void or refund with everything it recorded.
    pub fn sale(&self, id: SaleId) -> Result<SaleRecord> {
        load_sale(self.conn(), id)?.ok_or_else(|| StoreError::NotFound {
            what: "sale",
            id: id.to_string(),
        })
    }

    /// A sale by its receipt number (`MAIN-T1-000123`). Receipt numbers are
    /// unique per device: tills that traded before they were connected all
    /// printed `MAIN-T1-…`, so when another till's sale has the same number,
    /// this till's own sale is the one found.
    pub fn sale_by_receipt(&self, receipt_no: &str) -> Result<SaleRecord> {
        let id: Option<SaleId> = self
            .conn()
            .prepare_cached(
                "SELECT id FROM sales WHERE receipt_no = ?1
                 ORDER BY device_id = ?2 DESC, created_at DESC LIMIT 1",
            )?
            .query_row(
                params![receipt_no.trim(), self.identity().device_id.to_string()],
                |r| col_parse(r, 0),
            )
            .optional()?;
        match id {
            Some(id) => self.sale(id),
            None => Err(StoreError::NotFound {
                what: "receipt",
                id: receipt_no.to_string(),
            }),
        }
    }

    /// The void recorded against sale `id`, if it has been voided.
    pub fn void_of(&self, id: SaleId) -> Result<Option<SaleId>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id FROM sales WHERE original_sale_id = ?1 AND kind = 'void' LIMIT 1",
            )?
            .query_row([id.to_string()], |r| col_parse(r, 0))
            .optional()?)
    }

    /// The latest receipts, newest first.
    pub fn recent_sales(&self, limit: u32) -> Result<Vec<SaleSummary>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT s.id, s.receipt_no, s.kind, s.total_minor, s.currency, s.cashier_id, s.created_at,
                    EXISTS (SELECT 1 FROM sales v WHERE v.original_sale_id = s.id AND v.kind = 'void')
             FROM sales s ORDER BY s.created_at DESC, s.receipt_no DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit.min(1000)], |r| {
            let currency: Currency = col_parse(r, 4)?;
            Ok(SaleSummary {
                id: col_parse(r, 0)?,
                receipt_no: r.get(1)?,
                kind: col_enum(r, 2, SaleKind::parse)?,
                total: col_money(r, 3, currency)?,
                cashier_id: col_parse(r, 5)?,
                created_at: Timestamp::from_millis(r.get(6)?),
                voided: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn check_reason(reason: &str) -> Result<String> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(DomainError::Empty { field: "reason" }.into());
    }
    if r.chars().count() > 200 {
        return Err(DomainError::TooLong {
            field: "reason",
            len: r.chars().count(),
            max: 200,
        }
        .into());
    }
    Ok(r.to_string())
}

/// A cart priced from the catalog as it is now: what a checkout of it
/// would record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedCart {
    pub cart: Cart,
    pub totals: SaleTotals,
    /// The product of each line, as read.
    pub products: Vec<Product>,
}

impl Store {
    /// Prices `lines` with `discount` exactly as [`Store::checkout`] would,
    /// recording nothing: for showing a cart's totals while it is rung up.
    pub fn price_cart(&self, lines: &[CheckoutLine], discount: Discount) -> Result<PricedCart> {
        let currency = self.settings()?.currency;
        let taxes = self.tax_table()?;
        let branch = self.identity().branch_id.to_string();
        price(self.conn(), &branch, currency, &taxes, lines, discount)
    }
}

/// The one pricing of a cart, for [`Store::price_cart`] and checkout.
fn price(
    conn: &Connection,
    branch: &str,
    currency: Currency,
    taxes: &TaxTable,
    lines: &[CheckoutLine],
    discount: Discount,
) -> Result<PricedCart> {
    let mut cart = Cart {
        currency,
        lines: Vec::with_capacity(lines.len()),
        discount,
    };
    let mut products = Vec::with_capacity(lines.len());
    for line in lines {
        let product =
            find_product(conn, branch, line.product_id)?.ok_or_else(|| StoreError::NotFound {
                what: "product",
                id: line.product_id.to_string(),
            })?;
        if product.deleted_at.is_some() {
            return Err(StoreError::Deleted {
                what: "product",
                name: product.name,
            });
        }
        cart.lines.push(CartLine {
            product_id: product.id,
            name: product.name.clone(),
            unit_price: product.price,
            quantity: line.quantity,
            tax_code: product.tax_code.clone(),
            discount: line.discount,
        });
        products.push(product);
    }
    let totals = cart.totals(taxes)?;
    Ok(PricedCart {
        cart,
        totals,
        products,
    })
}

fn record_checkout(tx: &mut Tx<'_>, actor: &Actor, co: &Checkout) -> Result<SaleRecord> {
    let settings = crate::settings::load_settings(tx)?;
    let taxes = crate::settings::load_tax_table(tx)?;
    let identity = tx.identity().clone();
    let branch = identity.branch_id.to_string();
    let currency = settings.currency;

    // Price the cart from the catalog as it is now.
    let PricedCart {
        cart,
        totals,
        products,
    } = price(tx, &branch, currency, &taxes, &co.lines, co.discount)?;
    let settlement = settle(totals.total, &co.tenders)?;

    // Credit needs a customer, the same one the sale is for, within limit.
    let mut customer_id = co.customer_id;
    if let Some((credit_customer, amount)) = settlement.credit() {
        match customer_id {
            Some(c) if c != credit_customer => {
                return Err(StoreError::Invalid(
                    "the credit payment is for a different customer than the sale".into(),
                ));
            }
            _ => customer_id = Some(credit_customer),
        }
        check_credit(tx, credit_customer, amount)?;
    } else if let Some(c) = customer_id {
        // A customer on a sale paid otherwise only has to exist: their limit
        // does not matter.
        live_customer(tx, c)?;
    }
    let mut codes: Vec<&str> = Vec::new();
    for p in &settlement.payments {
        if let (PaymentMethod::Mpesa, Some(code)) = (p.method, p.reference.as_deref()) {
            if codes.contains(&code) {
                return Err(StoreError::Invalid(format!(
                    "M-Pesa code {code} is entered twice; each M-Pesa payment has its own code"
                )));
            }
            codes.push(code);
            check_mpesa_code_unused(tx, code)?;
        }
    }

    let now = tx.now();
    let sale_id = co.sale_id;
    let receipt_no = tx.next_receipt_no()?;
    let lines: Vec<SaleLineRecord> = cart
        .lines
        .iter()
        .zip(&totals.lines)
        .zip(&products)
        .enumerate()
        .map(|(i, ((line, t), product))| SaleLineRecord {
            line_no: i as u32 + 1,
            original_line_no: None,
            product_id: line.product_id,
            name: line.name.clone(),
            sku: product.sku.clone(),
            unit_price: line.unit_price,
            quantity: line.quantity,
            gross: t.gross,
            discount: Money::from_minor(
                t.line_discount.minor() + t.cart_discount.minor(),
                currency,
            )
            .unwrap_or(t.line_discount),
            net: t.net,
            tax_code: line.tax_code.clone(),
            tax_basis_points: t.tax_basis_points,
            tax: t.tax,
            total: t.total,
        })
        .collect();
    let payments = settlement
        .payments
        .iter()
        .map(|p| PaymentRecord {
            id: PaymentId::new(),
            method: p.method,
            amount: p.amount,
            tendered: p.tendered,
            change: p.change,
            reference: p.reference.clone(),
            customer_id: p.customer,
        })
        .collect();
    let movements = lines
        .iter()
        .zip(&products)
        .filter(|(_, p)| p.track_stock)
        .map(|(l, _)| StockMovementRecord {
            id: MovementId::new(),
            product_id: l.product_id,
            branch_id: identity.branch_id,
            device_id: identity.device_id,
            kind: MovementKind::Sale,
            quantity: l.quantity.negated(),
            sale_id: Some(sale_id),
            user_id: Some(actor.user_id),
            note: None,
            created_at: now,
        })
        .collect();
    let ledger_entry = settlement
        .credit()
        .map(|(customer, amount)| LedgerEntryRecord {
            id: LedgerEntryId::new(),
            customer_id: customer,
            branch_id: identity.branch_id,
            device_id: identity.device_id,
            kind: LedgerKind::CreditSale,
            amount,
            sale_id: Some(sale_id),
            method: None,
            reference: Some(receipt_no.clone()),
            user_id: Some(actor.user_id),
            note: None,
            created_at: now,
        });
    let record = SaleRecord {
        id: sale_id,
        receipt_no,
        kind: SaleKind::Sale,
        original_sale_id: None,
        branch_id: identity.branch_id,
        device_id: identity.device_id,
        cashier_id: actor.user_id,
        customer_id,
        currency,
        tax_mode: taxes.mode,
        subtotal: totals.subtotal,
        discount: totals.discount,
        tax: totals.tax,
        total: totals.total,
        change: settlement.change,
        reason: None,
        created_at: now,
        business_day: identity.time_zone.business_day(now).to_string(),
        lines,
        payments,
        movements,
        ledger_entry,
    };
    insert_sale(tx, &record)?;
    tx.enqueue(OpBody::SaleRecorded(record.clone()))?;
    Ok(record)
}

/// The sale a void or refund is against, checked to be a sale.
fn original_sale(conn: &Connection, id: SaleId) -> Result<SaleRecord> {
    let sale = load_sale(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: "sale",
        id: id.to_string(),
    })?;
    if sale.kind != SaleKind::Sale {
        return Err(StoreError::NotASale(sale.receipt_no));
    }
    Ok(sale)
}

/// Reversals of `original` recorded so far.
fn reversals(conn: &Connection, original: SaleId) -> Result<Vec<SaleRecord>> {
    let ids: Vec<SaleId> = conn
        .prepare_cached("SELECT id FROM sales WHERE original_sale_id = ?1 ORDER BY created_at")?
        .query_map([original.to_string()], |r| col_parse(r, 0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.into_iter()
        .map(|id| {
            load_sale(conn, id)?.ok_or_else(|| StoreError::Corrupt(format!("sale {id} vanished")))
        })
        .collect()
}

/// A reversal record's frame: everything but lines, payments, movements, ledger.
fn reversal_frame(
    tx: &mut Tx<'_>,
    actor: &Actor,
    original: &SaleRecord,
    kind: SaleKind,
    reason: String,
) -> Result<SaleRecord> {
    let identity = tx.identity().clone();
    let now = tx.now();
    let zero = Money::zero(original.currency);
    Ok(SaleRecord {
        id: SaleId::new(),
        receipt_no: tx.next_receipt_no()?,
        kind,
        original_sale_id: Some(original.id),
        branch_id: identity.branch_id,
        device_id: identity.device_id,
        cashier_id: actor.user_id,
        customer_id: original.customer_id,
        currency: original.currency,
        tax_mode: original.tax_mode,
        subtotal: zero,
        discount: zero,
        tax: zero,
        total: zero,
        change: zero,
        reason: Some(reason),
        created_at: now,
        business_day: identity.time_zone.business_day(now).to_string(),
        lines: Vec::new(),
        payments: Vec::new(),
        movements: Vec::new(),
        ledger_entry: None,
    })
}

fn record_void(
    tx: &mut Tx<'_>,
    actor: &Actor,
    sale_id: SaleId,
    reason: String,
) -> Result<SaleRecord> {
    let original = original_sale(tx, sale_id)?;
    let earlier = reversals(tx, sale_id)?;
    if earlier.iter().any(|r| r.kind == SaleKind::Void) {
        return Err(StoreError::AlreadyVoided(original.receipt_no));
    }
    if !earlier.is_empty() {
        return Err(StoreError::VoidAfterRefund {
            receipt: original.receipt_no,
        });
    }
    let mut void = reversal_frame(tx, actor, &original, SaleKind::Void, reason)?;
    void.lines = original
        .lines
        .iter()
        .map(|l| SaleLineRecord {
            original_line_no: Some(l.line_no),
            quantity: l.quantity.negated(),
            gross: l.gross.negated(),
            discount: l.discount.negated(),
            net: l.net.negated(),
            tax: l.tax.negated(),
            total: l.total.negated(),
            ..l.clone()
        })
        .collect();
    void.payments = original
        .payments
        .iter()
        .map(|p| PaymentRecord {
            id: PaymentId::new(),
            amount: p.amount.negated(),
            tendered: None,
            change: None,
            ..p.clone()
        })
        .collect();
    void.movements = original
        .movements
        .iter()
        .map(|m| StockMovementRecord {
            id: MovementId::new(),
            branch_id: void.branch_id,
            device_id: void.device_id,
            kind: MovementKind::Return,
            quantity: m.quantity.negated(),
            sale_id: Some(void.id),
            user_id: Some(actor.user_id),
            note: Some(format!("void of {}", original.receipt_no)),
            created_at: void.created_at,
            ..m.clone()
        })
        .collect();
    void.ledger_entry = original.ledger_entry.as_ref().map(|e| LedgerEntryRecord {
        id: LedgerEntryId::new(),
        branch_id: void.branch_id,
        device_id: void.device_id,
        kind: LedgerKind::Refund,
        amount: e.amount.negated(),
        sale_id: Some(void.id),
        reference: Some(void.receipt_no.clone()),
        user_id: Some(actor.user_id),
        note: Some(format!("void of {}", original.receipt_no)),
        created_at: void.created_at,
        ..e.clone()
    });
    void.subtotal = original.subtotal.negated();
    void.discount = original.discount.negated();
    void.tax = original.tax.negated();
    void.total = original.total.negated();
    insert_sale(tx, &void)?;
    tx.enqueue(OpBody::SaleRecorded(void.clone()))?;
    Ok(void)
}

fn record_refund(
    tx: &mut Tx<'_>,
    actor: &Actor,
    req: &Refund,
    reason: String,
) -> Result<SaleRecord> {
    let original = original_sale(tx, req.sale_id)?;
    let earlier = reversals(tx, req.sale_id)?;
    if earlier.iter().any(|r| r.kind == SaleKind::Void) {
        return Err(StoreError::AlreadyVoided(original.receipt_no));
    }
    if req.lines.is_empty() {
        return Err(DomainError::EmptyCart.into());
    }
    let cur = original.currency;
    let branch = tx.identity().branch_id.to_string();
    let mut refund = reversal_frame(tx, actor, &original, SaleKind::Refund, reason)?;
    let mut seen = Vec::new();
    for (line_no, qty) in &req.lines {
        let quantity = Quantity::for_sale(qty.milli())?;
        let line = original
            .lines
            .iter()
            .find(|l| l.line_no == *line_no)
            .ok_or_else(|| StoreError::NotFound {
                what: "receipt line",
                id: format!("{} line {line_no}", original.receipt_no),
            })?;
        if seen.contains(line_no) {
            return Err(StoreError::Invalid(format!(
                "line {line_no} is listed twice; list each line once"
            )));
        }
        seen.push(*line_no);
        // What earlier refunds already returned of this line (their amounts are negative).
        let done = earlier
            .iter()
            .flat_map(|r| &r.lines)
            .filter(|l| l.original_line_no == Some(*line_no));
        let (mut done_q, mut done_gross, mut done_net, mut done_tax) = (0i64, 0i64, 0i64, 0i64);
        for l in done {
            done_q -= l.quantity.milli();
            done_gross -= l.gross.minor();
            done_net -= l.net.minor();
            done_tax -= l.tax.minor();
        }
        let left = line.quantity.milli() - done_q;
        if quantity.milli() > left {
            return Err(StoreError::RefundTooLarge {
                receipt: original.receipt_no.clone(),
                item: line.name.clone(),
                requested: quantity.to_string(),
                left: Quantity::from_milli(left).to_string(),
            });
        }
        let done_qty = Quantity::from_milli(done_q);
        let m = |v: i64| Money::from_minor(v, cur);
        let gross = refund_portion(
            line.gross,
            line.quantity,
            done_qty,
            m(done_gross)?,
            quantity,
        )?;
        let net = refund_portion(line.net, line.quantity, done_qty, m(done_net)?, quantity)?;
        let tax = refund_portion(line.tax, line.quantity, done_qty, m(done_tax)?, quantity)?;
        let total = match original.tax_mode {
            TaxMode::Inclusive => net,
            TaxMode::Exclusive => net.checked_add(tax)?,
        };
        refund.lines.push(SaleLineRecord {
            line_no: refund.lines.len() as u32 + 1,
            original_line_no: Some(line.line_no),
            quantity: quantity.negated(),
            gross: gross.negated(),
            discount: gross.checked_sub(net)?.negated(),
            net: net.negated(),
            tax: tax.negated(),
            total: total.negated(),
            ..line.clone()
        });
        // Stock goes back on the shelf if the product tracks it.
        let tracks = find_product(tx, &branch, line.product_id)?.is_some_and(|p| p.track_stock);
        if tracks {
            refund.movements.push(StockMovementRecord {
                id: MovementId::new(),
                product_id: line.product_id,
                branch_id: refund.branch_id,
                device_id: refund.device_id,
                kind: MovementKind::Return,
                quantity,
                sale_id: Some(refund.id),
                user_id: Some(actor.user_id),
                note: Some(format!("refund of {}", original.receipt_no)),
                created_at: refund.created_at,
            });
        }
    }
    let sum = |f: fn(&SaleLineRecord) -> &Money| Money::sum(cur, refund.lines.iter().map(f));
    refund.subtotal = sum(|l| &l.gross)?;
    refund.discount = sum(|l| &l.discount)?;
    refund.tax = sum(|l| &l.tax)?;
    refund.total = sum(|l| &l.total)?;
    let amount = refund.total; // negative
    let (method, reference) = match &req.refund_to {
        RefundTo::Cash => (PaymentMethod::Cash, None),
        RefundTo::Mpesa(code) => (PaymentMethod::Mpesa, Some(code.as_str().to_string())),
        RefundTo::Card(r) => (PaymentMethod::Card, r.clone()),
        RefundTo::CustomerAccount => (PaymentMethod::Credit, None),
    };
    if method == PaymentMethod::Credit {
        let customer = original.customer_id.ok_or_else(|| {
            StoreError::Invalid(format!(
                "receipt {} has no customer; refund in cash, M-Pesa or card",
                original.receipt_no
            ))
        })?;
        refund.ledger_entry = Some(LedgerEntryRecord {
            id: LedgerEntryId::new(),
            customer_id: customer,
            branch_id: refund.branch_id,
            device_id: refund.device_id,
            kind: LedgerKind::Refund,
            amount,
            sale_id: Some(refund.id),
            method: None,
            reference: Some(refund.receipt_no.clone()),
            user_id: Some(actor.user_id),
            note: Some(format!("refund of {}", original.receipt_no)),
            created_at: refund.created_at,
        });
    }
    if !amount.is_zero() {
        refund.payments.push(PaymentRecord {
            id: PaymentId::new(),
            method,
            amount,
            tendered: None,
            change: None,
            reference,
            customer_id: if method == PaymentMethod::Credit {
                original.customer_id
            } else {
                None
            },
        });
    }
    insert_sale(tx, &refund)?;
    tx.enqueue(OpBody::SaleRecorded(refund.clone()))?;
    Ok(refund)
}

/// Writes a sale record and everything in it (without queueing).
pub(crate) fn insert_sale(tx: &Tx<'_>, s: &SaleRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO sales (id, receipt_no, kind, original_sale_id, branch_id, device_id, cashier_id,
                            customer_id, currency, tax_mode, subtotal_minor, discount_minor, tax_minor,
                            total_minor, change_minor, reason, created_at, business_day)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        s.id.to_string(),
        s.receipt_no,
        s.kind.as_str(),
        s.original_sale_id.map(|i| i.to_string()),
        s.branch_id.to_string(),
        s.device_id.to_string(),
        s.cashier_id.to_string(),
        s.customer_id.map(|c| c.to_string()),
        s.currency.code(),
        s.tax_mode.as_str(),
        s.subtotal.minor(),
        s.discount.minor(),
        s.tax.minor(),
        s.total.minor(),
        s.change.minor(),
        s.reason,
        s.created_at.as_millis(),
        s.business_day,
    ])?;
    record_sql::insert_lines_and_payments(tx, s)?;
    for m in &s.movements {
        insert_movement(tx, m)?;
    }
    if let Some(e) = &s.ledger_entry {
        insert_ledger_entry(tx, e)?;
    }
    Ok(())
}

/// Reads a whole sale record back.
pub(crate) fn load_sale(conn: &Connection, id: SaleId) -> Result<Option<SaleRecord>> {
    let key = id.to_string();
    let head = conn
        .prepare_cached(
            "SELECT receipt_no, kind, original_sale_id, branch_id, device_id, cashier_id, customer_id, currency,
                    tax_mode, subtotal_minor, discount_minor, tax_minor, total_minor, change_minor, reason,
                    created_at, business_day
             FROM sales WHERE id = ?1",
        )?
        .query_row([&key], |r| {
            let cur: Currency = col_parse(r, 7)?;
            Ok(SaleRecord {
                id,
                receipt_no: r.get(0)?,
                kind: col_enum(r, 1, SaleKind::parse)?,
                original_sale_id: col_parse_opt(r, 2)?,
                branch_id: col_parse(r, 3)?,
                device_id: col_parse(r, 4)?,
                cashier_id: col_parse(r, 5)?,
                customer_id: col_parse_opt(r, 6)?,
                currency: cur,
                tax_mode: col_parse(r, 8)?,
                subtotal: col_money(r, 9, cur)?,
                discount: col_money(r, 10, cur)?,
                tax: col_money(r, 11, cur)?,
                total: col_money(r, 12, cur)?,
                change: col_money(r, 13, cur)?,
                reason: r.get(14)?,
                created_at: Timestamp::from_millis(r.get(15)?),
                business_day: r.get(16)?,
                lines: Vec::new(),
                payments: Vec::new(),
                movements: Vec::new(),
                ledger_entry: None,
            })
        })
        .optional()?;
    let Some(mut sale) = head else {
        return Ok(None);
    };
    let cur = sale.currency;
    sale.lines = conn
        .prepare_cached(
            "SELECT line_no, original_line_no, product_id, name, sku, unit_price_minor, quantity_milli, gross_minor,
                    discount_minor, net_minor, tax_code, tax_basis_points, tax_minor, total_minor
             FROM sale_lines WHERE sale_id = ?1 ORDER BY line_no",
        )?
        .query_map([&key], |r| {
            Ok(SaleLineRecord {
                line_no: r.get(0)?,
                original_line_no: r.get(1)?,
                product_id: col_parse(r, 2)?,
                name: r.get(3)?,
                sku: r.get(4)?,
                unit_price: col_money(r, 5, cur)?,
                quantity: Quantity::from_milli(r.get(6)?),
                gross: col_money(r, 7, cur)?,
                discount: col_money(r, 8, cur)?,
                net: col_money(r, 9, cur)?,
                tax_code: col_parse(r, 10)?,
                tax_basis_points: r.get(11)?,
                tax: col_money(r, 12, cur)?,
                total: col_money(r, 13, cur)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    sale.payments = conn
        .prepare_cached(
            "SELECT id, method, amount_minor, tendered_minor, change_minor, reference, customer_id
             FROM payments WHERE sale_id = ?1 ORDER BY rowid",
        )?
        .query_map([&key], |r| {
            Ok(PaymentRecord {
                id: col_parse(r, 0)?,
                method: col_enum(r, 1, PaymentMethod::parse)?,
                amount: col_money(r, 2, cur)?,
                tendered: col_money_opt(r, 3, cur)?,
                change: col_money_opt(r, 4, cur)?,
                reference: r.get(5)?,
                customer_id: col_parse_opt(r, 6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    sale.movements = conn
        .prepare_cached(
            "SELECT id, product_id, branch_id, device_id, kind, quantity_milli, user_id, note, created_at
             FROM stock_movements WHERE sale_id = ?1 ORDER BY rowid",
        )?
        .query_map([&key], |r| {
            Ok(StockMovementRecord {
                id: col_parse(r, 0)?,
                product_id: col_parse(r, 1)?,
                branch_id: col_parse(r, 2)?,
                device_id: col_parse(r, 3)?,
                kind: col_enum(r, 4, MovementKind::parse)?,
                quantity: Quantity::from_milli(r.get(5)?),
                sale_id: Some(id),
                user_id: col_parse_opt(r, 6)?,
                note: r.get(7)?,
                created_at: Timestamp::from_millis(r.get(8)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    sale.ledger_entry = conn
        .prepare_cached(
            "SELECT id, customer_id, branch_id, device_id, kind, amount_minor, method, reference, user_id, note, created_at
             FROM customer_ledger WHERE sale_id = ?1",
        )?
        .query_row([&key], |r| {
            let method: Option<String> = r.get(6)?;
            Ok(LedgerEntryRecord {
                id: col_parse(r, 0)?,
                customer_id: col_parse(r, 1)?,
                branch_id: col_parse(r, 2)?,
                device_id: col_parse(r, 3)?,
                kind: col_enum(r, 4, LedgerKind::parse)?,
                amount: col_money(r, 5, cur)?,
                sale_id: Some(id),
                method: method.as_deref().and_then(PaymentMethod::parse),
                reference: r.get(7)?,
                user_id: col_parse_opt(r, 8)?,
                note: r.get(9)?,
                created_at: Timestamp::from_millis(r.get(10)?),
            })
        })
        .optional()?;
    Ok(Some(sale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Kit, kes, kit};
    use pos_domain::{Role, TaxCode};

    fn line(p: ProductId, units: i64) -> CheckoutLine {
        CheckoutLine {
            product_id: p,
            quantity: Quantity::units(units),
            discount: Discount::None,
        }
    }

    fn cash(lines: Vec<CheckoutLine>, tendered: i64) -> Checkout {
        Checkout {
            sale_id: SaleId::new(),
            lines,
            discount: Discount::None,
            tenders: vec![Tender::Cash {
                tendered: kes(tendered),
            }],
            customer_id: None,
        }
    }

    fn level(kit: &Kit, p: ProductId) -> i64 {
        kit.store
            .conn()
            .query_row("SELECT COALESCE(SUM(quantity_milli), 0) FROM stock_movements WHERE product_id = ?1", [p.to_string()], |r| r.get(0))
            .unwrap()
    }

    fn ops(kit: &Kit) -> Vec<OpBody> {
        kit.store
            .outbox_pending(1000)
            .unwrap()
            .into_iter()
            .map(|e| e.op.body)
            .collect()
    }

    fn sale_ops(kit: &Kit) -> Vec<SaleRecord> {
        ops(kit)
            .into_iter()
            .filter_map(|b| match b {
                OpBody::SaleRecorded(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_cash_sale_records_everything_in_one_go() {
        let mut kit = kit();
        let soda = kit.product("Soda 500ml", 80_00);
        let bread = kit.product("Bread", 65_00);
        let cashier = kit.user("Otieno", Role::Cashier);
        let sale = kit
            .store
            .checkout(
                &cashier,
                &cash(vec![line(soda.id, 2), line(bread.id, 1)], 500_00),
            )
            .unwrap();

        assert_eq!(sale.receipt_no, "MAIN-T1-000001");
        assert_eq!(sale.total, kes(225_00));
        assert_eq!(sale.change, kes(275_00));
        assert_eq!(sale.business_day, "2026-03-02");
        assert_eq!(sale.cashier_id, cashier.user_id);
        // 16% VAT inside each line, rounded per line: 22.07 + 8.97 (not 31.03 on the total).
        assert_eq!(sale.tax, kes(31_04));
        assert_eq!(sale.payments.len(), 1);
        assert_eq!(sale.payments[0].amount, kes(225_00));
        assert_eq!(sale.payments[0].tendered, Some(kes(500_00)));
        assert_eq!(level(&kit, soda.id), -2000);
        assert_eq!(
            kit.store.product(soda.id).unwrap().stock,
            Quantity::units(-2)
        );

        // The op carries exactly what was written, and reads back identically.
        let queued = sale_ops(&kit);
        assert_eq!(queued, vec![sale.clone()]);
        assert_eq!(kit.store.sale(sale.id).unwrap(), sale);
        assert_eq!(
            kit.store.sale_by_receipt("MAIN-T1-000001").unwrap().id,
            sale.id
        );

        let second = kit
            .store
            .checkout(&cashier, &cash(vec![line(bread.id, 1)], 65_00))
            .unwrap();
        assert_eq!(second.receipt_no, "MAIN-T1-000002");
        assert!(second.change.is_zero());
    }

    #[test]
    fn stored_totals_are_the_sum_of_their_lines_and_payments() {
        let mut kit = kit();
        let a = kit.product("Sugar 1kg", 199_99);
        let b = kit.product("Rice 2kg", 333_33);
        let mut co = cash(vec![line(a.id, 3), line(b.id, 1)], 2000_00);
        co.lines[0].discount = Discount::Percent(1250);
        co.lines[1].quantity = Quantity::from_milli(1_500);
        co.discount = Discount::Amount(kes(17_77));
        kit.store.checkout(&kit.owner.clone(), &co).unwrap();
        let (lines_total, sale_total, paid): (i64, i64, i64) = kit
            .store
            .conn()
            .query_row(
                "SELECT (SELECT SUM(total_minor) FROM sale_lines), (SELECT total_minor FROM sales),
                        (SELECT SUM(amount_minor) FROM payments)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(lines_total, sale_total);
        assert_eq!(paid, sale_total);
    }

    #[test]
    fn split_payment_with_mpesa_and_a_reused_code_is_refused() {
        let mut kit = kit();
        let p = kit.product("Maize flour", 210_00);
        let owner = kit.owner.clone();
        let code = MpesaCode::parse("QJK3H5TRD2").unwrap();
        let mut co = cash(vec![line(p.id, 2)], 300_00);
        co.tenders.push(Tender::Mpesa {
            amount: kes(200_00),
            code: code.clone(),
        });
        let sale = kit.store.checkout(&owner, &co).unwrap();
        assert_eq!(sale.change, kes(80_00));
        let methods: Vec<_> = sale
            .payments
            .iter()
            .map(|p| (p.method, p.amount.minor()))
            .collect();
        assert_eq!(
            methods,
            vec![
                (PaymentMethod::Cash, 220_00),
                (PaymentMethod::Mpesa, 200_00)
            ]
        );

        let before = kit.snapshot();
        let mut again = cash(vec![line(p.id, 1)], 10_00);
        again.tenders = vec![Tender::Mpesa {
            amount: kes(210_00),
            code,
        }];
        let err = kit.store.checkout(&owner, &again).unwrap_err();
        assert!(
            matches!(err, StoreError::MpesaCodeUsed { ref used_for, .. } if used_for == "receipt MAIN-T1-000001"),
            "{err}"
        );
        assert_eq!(kit.snapshot(), before);
    }

    #[test]
    fn credit_within_the_limit_goes_on_the_ledger_and_over_it_is_refused() {
        let mut kit = kit();
        let p = kit.product("Cooking oil", 500_00);
        let owner = kit.owner.clone();
        let mama = kit.customer("Mama Mboga", 1000_00);
        let credit = |amount| Checkout {
            sale_id: SaleId::new(),
            lines: vec![line(p.id, 1)],
            discount: Discount::None,
            tenders: vec![Tender::Credit {
                amount: kes(amount),
                customer: mama,
            }],
            customer_id: None,
        };
        let sale = kit.store.checkout(&owner, &credit(500_00)).unwrap();
        assert_eq!(sale.customer_id, Some(mama));
        let entry = sale.ledger_entry.clone().unwrap();
        assert_eq!(
            (entry.kind, entry.amount),
            (LedgerKind::CreditSale, kes(500_00))
        );
        kit.store.checkout(&owner, &credit(500_00)).unwrap();

        let before = kit.snapshot();
        let err = kit.store.checkout(&owner, &credit(500_00)).unwrap_err();
        match err {
            StoreError::CreditLimitExceeded {
                owes,
                limit,
                would_owe,
                ..
            } => {
                assert_eq!(
                    (owes, limit, would_owe),
                    (kes(1000_00), kes(1000_00), kes(1500_00))
                );
            }
            other => panic!("{other}"),
        }
        assert_eq!(kit.snapshot(), before);

        // Credit for someone other than the sale's customer is refused too.
        let other = kit.customer("Baba Njeri", 10_000_00);
        let mut mixed = credit(500_00);
        mixed.customer_id = Some(other);
        let before = kit.snapshot();
        assert!(matches!(
            kit.store.checkout(&owner, &mixed),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(kit.snapshot(), before);
    }

    #[test]
    fn bad_checkouts_change_nothing() {
        let mut kit = kit();
        let p = kit.product("Milk 500ml", 60_00);
        let gone = kit.product("Old stock", 10_00);
        kit.store
            .conn()
            .execute(
                "UPDATE products SET deleted_at = 1 WHERE id = ?1",
                [gone.id.to_string()],
            )
            .unwrap();
        let owner = kit.owner.clone();
        let code = MpesaCode::parse("ABCDE12345").unwrap();
        type Case = (Checkout, fn(&StoreError) -> bool);
        let cases: Vec<Case> = vec![
            (cash(vec![], 100), |e| {
                matches!(e, StoreError::Rule(DomainError::EmptyCart))
            }),
            (cash(vec![line(p.id, 0)], 100_00), |e| {
                matches!(e, StoreError::Rule(DomainError::NonPositiveQuantity))
            }),
            (cash(vec![line(p.id, -2)], 100_00), |e| {
                matches!(e, StoreError::Rule(DomainError::NonPositiveQuantity))
            }),
            (cash(vec![line(p.id, 200_000)], 100_00), |e| {
                matches!(e, StoreError::Rule(DomainError::QuantityTooLarge(..)))
            }),
            (cash(vec![line(ProductId::new(), 1)], 100_00), |e| {
                matches!(
                    e,
                    StoreError::NotFound {
                        what: "product",
                        ..
                    }
                )
            }),
            (cash(vec![line(gone.id, 1)], 100_00), |e| {
                matches!(e, StoreError::Deleted { .. })
            }),
            (cash(vec![line(p.id, 2)], 119_99), |e| {
                matches!(e, StoreError::Rule(DomainError::Underpaid { .. }))
            }),
            (
                Checkout {
                    tenders: vec![Tender::Mpesa {
                        amount: kes(200_00),
                        code,
                    }],
                    ..cash(vec![line(p.id, 1)], 0)
                },
                |e| matches!(e, StoreError::Rule(DomainError::NonCashOverpaid { .. })),
            ),
            (
                Checkout {
                    discount: Discount::Amount(kes(61_00)),
                    ..cash(vec![line(p.id, 1)], 100_00)
                },
                |e| matches!(e, StoreError::Rule(DomainError::DiscountTooLarge { .. })),
            ),
            (
                Checkout {
                    tenders: vec![Tender::Credit {
                        amount: kes(60_00),
                        customer: pos_domain::CustomerId::new(),
                    }],
                    ..cash(vec![line(p.id, 1)], 0)
                },
                |e| {
                    matches!(
                        e,
                        StoreError::NotFound {
                            what: "customer",
                            ..
                        }
                    )
                },
            ),
        ];
        let before = kit.snapshot();
        for (i, (co, expected)) in cases.iter().enumerate() {
            let err = kit.store.checkout(&owner, co).unwrap_err();
            assert!(expected(&err), "case {i}: unexpected error {err:?}");
            assert_eq!(kit.snapshot(), before, "case {i} changed the database");
        }
        // The receipt counter did not move either.
        let sale = kit
            .store
            .checkout(&owner, &cash(vec![line(p.id, 1)], 60_00))
            .unwrap();
        assert_eq!(sale.receipt_no, "MAIN-T1-000001");
    }

    #[test]
    fn a_customer_over_their_limit_can_still_pay_cash() {
        let mut kit = kit();
        let p = kit.product("Sukuma", 30_00);
        let owner = kit.owner.clone();
        let cust = kit.customer("Wafula", 0);
        kit.store.conn().execute(
            "INSERT INTO customer_ledger (id, customer_id, branch_id, device_id, kind, amount_minor, currency, created_at)
             SELECT 'e1', ?1, branch_id, device_id, 'adjustment', 500, 'KES', 0 FROM device_identity",
            [cust.to_string()],
        ).unwrap();
        let mut co = cash(vec![line(p.id, 1)], 30_00);
        co.customer_id = Some(cust);
        let sale = kit.store.checkout(&owner, &co).unwrap();
        assert_eq!(sale.customer_id, Some(cust));
        assert!(sale.ledger_entry.is_none());
    }

    #[test]
    fn an_mpesa_code_pays_once_across_sales_and_accounts() {
        let mut kit = kit();
        let p = kit.product("Unga", 100_00);
        let owner = kit.owner.clone();
        let cust = kit.customer("Njoki", 1_000_00);
        kit.store.conn().execute(
            "INSERT INTO customer_ledger (id, customer_id, branch_id, device_id, kind, amount_minor, currency, method, reference, created_at)
             SELECT 'e1', ?1, branch_id, device_id, 'payment', -500, 'KES', 'mpesa', 'QAZ1234567', 0 FROM device_identity",
            [cust.to_string()],
        ).unwrap();
        let mpesa = |code: &str, amount| Tender::Mpesa {
            amount: kes(amount),
            code: MpesaCode::parse(code).unwrap(),
        };
        let before = kit.snapshot();
        let mut co = cash(vec![line(p.id, 1)], 0);
        co.tenders = vec![mpesa("QAZ1234567", 100_00)];
        let err = kit.store.checkout(&owner, &co).unwrap_err();
        assert!(
            matches!(err, StoreError::MpesaCodeUsed { ref used_for, .. } if used_for.contains("Njoki")),
            "{err}"
        );
        co.tenders = vec![mpesa("WSX1234567", 50_00), mpesa("wsx1234567", 50_00)];
        let err = kit.store.checkout(&owner, &co).unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("twice")),
            "{err}"
        );
        assert_eq!(kit.snapshot(), before);
    }

    #[test]
    fn a_product_with_an_unknown_tax_code_cannot_be_sold_until_fixed() {
        let mut kit = kit();
        let p = kit.product("Imported", 100_00);
        kit.store
            .conn()
            .execute(
                "UPDATE products SET tax_code = 'GONE' WHERE id = ?1",
                [p.id.to_string()],
            )
            .unwrap();
        let before = kit.snapshot();
        let err = kit
            .store
            .checkout(&kit.owner.clone(), &cash(vec![line(p.id, 1)], 100_00))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Rule(DomainError::UnknownTaxCode(ref c)) if c == "GONE"),
            "{err}"
        );
        assert_eq!(kit.snapshot(), before);
        let _ = TaxCode::parse("GONE").unwrap();
    }

    #[test]
    fn pressing_pay_twice_records_one_sale() {
        let mut kit = kit();
        let p = kit.product("Chapati", 20_00);
        let owner = kit.owner.clone();
        let co = cash(vec![line(p.id, 3)], 100_00);
        let first = kit.store.checkout(&owner, &co).unwrap();
        let second = kit.store.checkout(&owner, &co).unwrap();
        assert_eq!(first, second);
        assert_eq!(kit.count("sales"), 1);
        assert_eq!(sale_ops(&kit).len(), 1);
        assert_eq!(level(&kit, p.id), -3000);
    }

    #[test]
    fn a_failure_midway_leaves_nothing() {
        let mut kit = kit();
        let p = kit.product("Eggs tray", 450_00);
        let owner = kit.owner.clone();
        // Make the very last write of a checkout (its outbox op) fail.
        kit.store
            .conn()
            .execute_batch(
                "CREATE TEMP TRIGGER fail_outbox BEFORE INSERT ON outbox
                 BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
            )
            .unwrap();
        let before = kit.snapshot();
        let err = kit
            .store
            .checkout(&owner, &cash(vec![line(p.id, 1)], 500_00))
            .unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        assert_eq!(kit.snapshot(), before);
        kit.store
            .conn()
            .execute_batch("DROP TRIGGER fail_outbox")
            .unwrap();
        let sale = kit
            .store
            .checkout(&owner, &cash(vec![line(p.id, 1)], 500_00))
            .unwrap();
        assert_eq!(sale.receipt_no, "MAIN-T1-000001");
        // The failed attempt used no sequence number: owner, product, sale = 1, 2, 3.
        let seqs: Vec<u64> = kit
            .store
            .outbox_pending(10)
            .unwrap()
            .iter()
            .map(|e| e.op.device_seq)
            .collect();
        assert_eq!(seqs, vec![1, 2, 3]);
    }

    #[test]
    fn selling_more_than_in_stock_is_allowed_and_goes_negative() {
        let mut kit = kit();
        let p = kit.product("Last bottle", 300_00);
        let owner = kit.owner.clone();
        kit.store
            .checkout(&owner, &cash(vec![line(p.id, 1)], 300_00))
            .unwrap();
        kit.store
            .checkout(&owner, &cash(vec![line(p.id, 1)], 300_00))
            .unwrap();
        assert_eq!(kit.store.product(p.id).unwrap().stock, Quantity::units(-2));
    }

    #[test]
    fn a_void_reverses_everything_and_only_once() {
        let mut kit = kit();
        let p = kit.product("Tusker", 250_00);
        let cust = kit.customer("Kamau", 5_000_00);
        let cashier = kit.user("Achieng", Role::Cashier);
        let manager = kit.user("Mwangi", Role::Manager);
        let code = MpesaCode::parse("QWE1234567").unwrap();
        let co = Checkout {
            sale_id: SaleId::new(),
            lines: vec![line(p.id, 4)],
            discount: Discount::None,
            tenders: vec![
                Tender::Mpesa {
                    amount: kes(400_00),
                    code,
                },
                Tender::Credit {
                    amount: kes(500_00),
                    customer: cust,
                },
                Tender::Cash {
                    tendered: kes(200_00),
                },
            ],
            customer_id: Some(cust),
        };
        let sale = kit.store.checkout(&cashier, &co).unwrap();

        let before = kit.snapshot();
        assert!(matches!(
            kit.store.void_sale(&cashier, sale.id, "wrong items"),
            Err(StoreError::Forbidden { .. })
        ));
        assert!(matches!(
            kit.store.void_sale(&manager, sale.id, "  "),
            Err(StoreError::Rule(DomainError::Empty { .. }))
        ));
        assert!(matches!(
            kit.store.void_sale(&manager, SaleId::new(), "x"),
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(kit.snapshot(), before);

        let void = kit
            .store
            .void_sale(&manager, sale.id, "customer changed their mind")
            .unwrap();
        assert_eq!(void.kind, SaleKind::Void);
        assert_eq!(void.original_sale_id, Some(sale.id));
        assert_eq!(void.total, sale.total.negated());
        assert_eq!(kit.store.void_of(sale.id).unwrap(), Some(void.id));
        assert_eq!(kit.store.void_of(void.id).unwrap(), None);
        assert_eq!(level(&kit, p.id), 0);
        assert_eq!(
            crate::customers::balance_of(kit.store.conn(), cust).unwrap(),
            0
        );
        let paid: i64 = void.payments.iter().map(|p| p.amount.minor()).sum();
        assert_eq!(paid, -sale.total.minor());
        // The original is untouched and the void is on the wire.
        assert_eq!(kit.store.sale(sale.id).unwrap(), sale);
        assert_eq!(sale_ops(&kit).last(), Some(&void));
        assert!(
            kit.store
                .recent_sales(10)
                .unwrap()
                .iter()
                .any(|s| s.id == sale.id && s.voided)
        );

        let before = kit.snapshot();
        assert!(matches!(
            kit.store.void_sale(&manager, sale.id, "again"),
            Err(StoreError::AlreadyVoided(_))
        ));
        assert!(matches!(
            kit.store.void_sale(&manager, void.id, "void the void"),
            Err(StoreError::NotASale(_))
        ));
        let r = Refund {
            sale_id: sale.id,
            lines: vec![(1, Quantity::units(1))],
            reason: "x".into(),
            refund_to: RefundTo::Cash,
        };
        assert!(matches!(
            kit.store.refund(&manager, &r),
            Err(StoreError::AlreadyVoided(_))
        ));
        assert_eq!(kit.snapshot(), before);
    }

    #[test]
    fn refunds_in_steps_return_exactly_what_was_paid() {
        let mut kit = kit();
        let p = kit.product("Soap", 100_00);
        let q = kit.product("Candles", 33_33);
        let owner = kit.owner.clone();
        let mut co = cash(vec![line(p.id, 3), line(q.id, 3)], 1000_00);
        co.discount = Discount::Amount(kes(10_00));
        let sale = kit.store.checkout(&owner, &co).unwrap();
        let refund = |lines: Vec<(u32, i64)>, to: RefundTo| Refund {
            sale_id: sale.id,
            lines: lines
                .into_iter()
                .map(|(l, u)| (l, Quantity::units(u)))
                .collect(),
            reason: "damaged".into(),
            refund_to: to,
        };
        let a = kit
            .store
            .refund(&owner, &refund(vec![(1, 1), (2, 1)], RefundTo::Cash))
            .unwrap();
        let b = kit
            .store
            .refund(
                &owner,
                &refund(vec![(2, 2)], RefundTo::Card(Some("VISA-1".into()))),
            )
            .unwrap();
        assert_eq!(a.kind, SaleKind::Refund);
        assert_eq!(level(&kit, q.id), 0);
        assert_eq!(level(&kit, p.id), -2000);

        let before = kit.snapshot();
        let too_many = kit
            .store
            .refund(&owner, &refund(vec![(2, 1)], RefundTo::Cash))
            .unwrap_err();
        assert!(
            matches!(too_many, StoreError::RefundTooLarge { ref left, .. } if left == "0"),
            "{too_many}"
        );
        assert!(matches!(
            kit.store
                .refund(&owner, &refund(vec![(9, 1)], RefundTo::Cash)),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            kit.store
                .refund(&owner, &refund(vec![(1, 1), (1, 1)], RefundTo::Cash)),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            kit.store.refund(&owner, &refund(vec![], RefundTo::Cash)),
            Err(StoreError::Rule(DomainError::EmptyCart))
        ));
        assert!(matches!(
            kit.store
                .refund(&owner, &refund(vec![(1, 1)], RefundTo::CustomerAccount)),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            kit.store.void_sale(&owner, sale.id, "x"),
            Err(StoreError::VoidAfterRefund { .. })
        ));
        assert_eq!(kit.snapshot(), before);

        let c = kit
            .store
            .refund(&owner, &refund(vec![(1, 2)], RefundTo::Cash))
            .unwrap();
        let refunded = a.total.minor() + b.total.minor() + c.total.minor();
        assert_eq!(
            refunded,
            -sale.total.minor(),
            "a full refund in steps returns the whole sale"
        );
        let tax = a.tax.minor() + b.tax.minor() + c.tax.minor();
        assert_eq!(tax, -sale.tax.minor());
        assert_eq!(level(&kit, p.id), 0);
    }

    #[test]
    fn exclusive_tax_is_added_on_top() {
        let mut kit = kit();
        kit.store
            .conn()
            .execute(
                "UPDATE business_settings SET value = 'exclusive' WHERE key = 'tax_mode'",
                [],
            )
            .unwrap();
        let p = kit.product("Laptop bag", 1000_00);
        let sale = kit
            .store
            .checkout(&kit.owner.clone(), &cash(vec![line(p.id, 1)], 1160_00))
            .unwrap();
        assert_eq!(
            (sale.subtotal, sale.tax, sale.total),
            (kes(1000_00), kes(160_00), kes(1160_00))
        );
        assert_eq!(sale.tax_mode, TaxMode::Exclusive);
    }

    #[test]
    fn a_sale_after_midnight_in_nairobi_belongs_to_the_next_day() {
        let mut kit = kit();
        let p = kit.product("Late snack", 50_00);
        // 2026-03-02T22:30Z is 01:30 on 3 March in Nairobi.
        kit.clock.set(Timestamp::from_millis(1_772_490_600_000));
        let sale = kit
            .store
            .checkout(&kit.owner.clone(), &cash(vec![line(p.id, 1)], 50_00))
            .unwrap();
        assert_eq!(sale.business_day, "2026-03-03");
    }
}
