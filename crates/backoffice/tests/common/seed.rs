//! Seeding what tills record beyond a cash sale: customers, sales paid
//! otherwise or put on account, voids, restocks and ledger payments, as
//! the till's checkout and back room make them.

use pos_domain::{
    CustomerId, LedgerEntryId, MovementId, MovementKind, PaymentId, PaymentMethod, PhoneNumber,
    ProductId, Quantity, SaleId,
};
use sync_protocol::{
    CustomerPatch, LedgerEntryRecord, LedgerKind, OpBody, SaleKind, SaleRecord, StockMovementRecord,
};

use super::{Till, kes, name};

/// The patch a till queues when it adds a customer (no email, no notes).
pub fn customer_patch(id: CustomerId, who: &str, tel: Option<&str>, limit: i64) -> CustomerPatch {
    CustomerPatch {
        name: Some(name(who)),
        phone: Some(tel.map(|t| PhoneNumber::parse(t).unwrap())),
        email: Some(None),
        credit_limit: Some(kes(limit)),
        notes: Some(None),
        ..CustomerPatch::new(id)
    }
}

/// The op body of [`customer_patch`].
pub fn new_customer(id: CustomerId, who: &str, tel: Option<&str>, limit: i64) -> OpBody {
    OpBody::CustomerChanged(customer_patch(id, who, tel, limit))
}

/// Makes a cash sale (of [`Till::sale`]) paid exactly by `method` instead.
pub fn paid_by(sale: &mut SaleRecord, method: PaymentMethod, reference: Option<&str>) {
    sale.change = kes(0);
    let p = &mut sale.payments[0];
    p.method = method;
    p.tendered = None;
    p.change = None;
    p.reference = reference.map(str::to_string);
}

/// Puts a cash sale (of [`Till::sale`]) on `customer`'s account, with the
/// ledger entry the till records for it.
pub fn on_credit(till: &Till, sale: &mut SaleRecord, customer: CustomerId) {
    paid_by(sale, PaymentMethod::Credit, None);
    sale.customer_id = Some(customer);
    sale.payments[0].customer_id = Some(customer);
    sale.ledger_entry = Some(LedgerEntryRecord {
        id: LedgerEntryId::new(),
        customer_id: customer,
        branch_id: till.branch_id,
        device_id: till.device_id,
        kind: LedgerKind::CreditSale,
        amount: sale.total,
        sale_id: Some(sale.id),
        method: None,
        reference: Some(sale.receipt_no.clone()),
        user_id: Some(till.cashier),
        note: None,
        created_at: sale.created_at,
    });
}

/// `units` sodas (80.00 each) on `customer`'s account.
pub fn credit_sale(
    till: &mut Till,
    soda: ProductId,
    units: i64,
    customer: CustomerId,
) -> SaleRecord {
    let mut sale = till.sale(&[(soda, "Soda 500ml", 80_00, units)]);
    on_credit(till, &mut sale, customer);
    sale
}

/// The void of `sale`, recorded now by `till` with its next receipt number:
/// every line, payment and movement reversed, a credit sale's ledger entry
/// refunded.
pub fn void_of(till: &mut Till, sale: &SaleRecord, reason: &str) -> SaleRecord {
    let mut void = sale.clone();
    till.receipts += 1;
    void.id = SaleId::new();
    void.receipt_no = format!("{}-{}-{:06}", till.branch_code, till.code, till.receipts);
    void.kind = SaleKind::Void;
    void.original_sale_id = Some(sale.id);
    void.reason = Some(reason.into());
    void.created_at = till.now();
    void.change = kes(0);
    for l in &mut void.lines {
        l.original_line_no = Some(l.line_no);
        l.quantity = l.quantity.negated();
        l.gross = l.gross.negated();
        l.discount = l.discount.negated();
        l.net = l.net.negated();
        l.tax = l.tax.negated();
        l.total = l.total.negated();
    }
    for p in &mut void.payments {
        p.id = PaymentId::new();
        p.amount = p.amount.negated();
        p.tendered = None;
        p.change = None;
    }
    for m in &mut void.movements {
        m.id = MovementId::new();
        m.kind = MovementKind::Return;
        m.quantity = m.quantity.negated();
        m.sale_id = Some(void.id);
        m.created_at = till.now();
    }
    if let Some(e) = &mut void.ledger_entry {
        e.id = LedgerEntryId::new();
        e.kind = LedgerKind::Refund;
        e.amount = e.amount.negated();
        e.sale_id = Some(void.id);
        e.created_at = till.now();
    }
    void.subtotal = sale.subtotal.negated();
    void.discount = sale.discount.negated();
    void.tax = sale.tax.negated();
    void.total = sale.total.negated();
    void
}

/// `units` of `product` delivered to `till`'s branch now.
pub fn restock_record(till: &Till, product: ProductId, units: i64) -> StockMovementRecord {
    StockMovementRecord {
        id: MovementId::new(),
        product_id: product,
        branch_id: till.branch_id,
        device_id: till.device_id,
        kind: MovementKind::Restock,
        quantity: Quantity::units(units),
        sale_id: None,
        user_id: Some(till.cashier),
        note: None,
        created_at: till.now(),
    }
}

/// The op body of [`restock_record`].
pub fn restock(till: &Till, product: ProductId, units: i64) -> OpBody {
    OpBody::StockMoved(restock_record(till, product, units))
}

/// `customer` pays `minor` cents off their account at `till` now.
pub fn ledger_payment(
    till: &Till,
    customer: CustomerId,
    minor: i64,
    method: PaymentMethod,
    reference: Option<&str>,
) -> OpBody {
    OpBody::LedgerEntryAdded(LedgerEntryRecord {
        id: LedgerEntryId::new(),
        customer_id: customer,
        branch_id: till.branch_id,
        device_id: till.device_id,
        kind: LedgerKind::Payment,
        amount: kes(-minor),
        sale_id: None,
        method: Some(method),
        reference: reference.map(Into::into),
        user_id: Some(till.cashier),
        note: None,
        created_at: till.now(),
    })
}
