//! Parsing what the UI sends into the core's validated types, in one place.
//! Every refusal is `invalid` with a sentence naming the field.

use std::str::FromStr;

use pos_domain::{
    BusinessDay, Currency, CustomerId, Discount, Money, MpesaCode, Name, PaymentMethod,
    PhoneNumber, Quantity, Role, SaleId, Tender,
};
use pos_store::sales::{Checkout, CheckoutLine, Refund, RefundTo};

use crate::api::{
    CartInput, CheckoutInput, CommandError, DiscountInput, RefundInput, RefundToInput, RoleView,
    TenderInput,
};

/// An id of kind `field` ("product id", "sale id", …).
pub(crate) fn id<T: FromStr>(field: &str, text: &str) -> Result<T, CommandError> {
    text.trim()
        .parse()
        .map_err(|_| CommandError::invalid(format!("'{text}' is not a valid {field}")))
}

/// An optional id: `None` or empty text is none.
pub(crate) fn opt_id<T: FromStr>(
    field: &str,
    text: Option<&str>,
) -> Result<Option<T>, CommandError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => id(field, t).map(Some),
        None => Ok(None),
    }
}

/// An amount of money in minor units of `currency`.
pub(crate) fn money(field: &str, minor: i64, currency: Currency) -> Result<Money, CommandError> {
    Money::from_minor(minor, currency)
        .map_err(|e| CommandError::invalid(format!("the {field} is not a usable amount: {e}")))
}

/// A price: money that is not negative.
pub(crate) fn price(minor: i64, currency: Currency) -> Result<Money, CommandError> {
    if minor < 0 {
        return Err(CommandError::invalid("the price cannot be negative"));
    }
    money("price", minor, currency)
}

/// A quantity in thousandths, for a field named `field`.
pub(crate) fn quantity(field: &str, milli: i64) -> Result<Quantity, CommandError> {
    if milli.unsigned_abs() > Quantity::MAX_ABS.unsigned_abs() {
        return Err(CommandError::invalid(format!("the {field} is too large")));
    }
    Ok(Quantity::from_milli(milli))
}

/// A business day, `YYYY-MM-DD`.
pub(crate) fn day(field: &str, text: &str) -> Result<BusinessDay, CommandError> {
    BusinessDay::parse(text.trim()).ok_or_else(|| {
        CommandError::invalid(format!(
            "the {field} '{text}' is not a date; write it as YYYY-MM-DD"
        ))
    })
}

/// Optional text: empty means none.
pub(crate) fn opt_text(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

pub(crate) fn name(field: &'static str, text: &str) -> Result<Name, CommandError> {
    Ok(Name::parse(field, text)?)
}

pub(crate) fn phone(text: Option<String>) -> Result<Option<PhoneNumber>, CommandError> {
    opt_text(text)
        .map(|t| PhoneNumber::parse(&t))
        .transpose()
        .map_err(CommandError::from)
}

pub(crate) fn role(role: RoleView) -> Role {
    match role {
        RoleView::Cashier => Role::Cashier,
        RoleView::Manager => Role::Manager,
        RoleView::Owner => Role::Owner,
    }
}

pub(crate) fn payment_method(text: &str) -> Result<PaymentMethod, CommandError> {
    PaymentMethod::parse(text.trim()).ok_or_else(|| {
        CommandError::invalid(format!(
            "'{text}' is not a payment method; use cash, mpesa, card or credit"
        ))
    })
}

pub(crate) fn discount(d: DiscountInput, currency: Currency) -> Result<Discount, CommandError> {
    Ok(match d {
        DiscountInput::None => Discount::None,
        DiscountInput::Percent { basis_points } => Discount::percent_bp(i64::from(basis_points))?,
        DiscountInput::Amount { amount } => {
            if amount < 0 {
                return Err(CommandError::invalid("a discount cannot be negative"));
            }
            Discount::Amount(money("discount", amount, currency)?)
        }
    })
}

/// The lines and discount of a cart, as the store's checkout takes them.
pub(crate) fn cart(
    cart: &CartInput,
    currency: Currency,
) -> Result<(Vec<CheckoutLine>, Discount), CommandError> {
    let mut lines = Vec::with_capacity(cart.lines.len());
    for (i, l) in cart.lines.iter().enumerate() {
        let field = format!("product id of line {}", i + 1);
        lines.push(CheckoutLine {
            product_id: id(&field, &l.product_id)?,
            quantity: Quantity::for_sale(l.quantity)
                .map_err(|e| CommandError::invalid(format!("line {}: {e}", i + 1)))?,
            discount: discount(l.discount, currency)?,
        });
    }
    Ok((lines, discount(cart.discount, currency)?))
}

fn tender(t: &TenderInput, currency: Currency) -> Result<Tender, CommandError> {
    Ok(match t {
        TenderInput::Cash { tendered } => Tender::Cash {
            tendered: money("cash tendered", *tendered, currency)?,
        },
        TenderInput::Mpesa { amount, code } => Tender::Mpesa {
            amount: money("M-Pesa amount", *amount, currency)?,
            code: MpesaCode::parse(code)?,
        },
        TenderInput::Card { amount, reference } => Tender::Card {
            amount: money("card amount", *amount, currency)?,
            reference: opt_text(reference.clone()),
        },
        TenderInput::Credit {
            amount,
            customer_id,
        } => Tender::Credit {
            amount: money("credit amount", *amount, currency)?,
            customer: id("customer id", customer_id)?,
        },
    })
}

pub(crate) fn checkout(
    input: &CheckoutInput,
    currency: Currency,
) -> Result<Checkout, CommandError> {
    let sale_id: SaleId = id("sale id", &input.sale_id)?;
    let (lines, discount) = cart(&input.cart, currency)?;
    let tenders = input
        .tenders
        .iter()
        .map(|t| tender(t, currency))
        .collect::<Result<Vec<_>, _>>()?;
    let customer_id: Option<CustomerId> = opt_id("customer id", input.customer_id.as_deref())?;
    Ok(Checkout {
        sale_id,
        lines,
        discount,
        tenders,
        customer_id,
    })
}

pub(crate) fn refund(input: &RefundInput) -> Result<Refund, CommandError> {
    let lines = input
        .lines
        .iter()
        .map(|l| {
            Quantity::for_sale(l.quantity)
                .map(|q| (l.line_no, q))
                .map_err(|e| CommandError::invalid(format!("receipt line {}: {e}", l.line_no)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let refund_to = match &input.refund_to {
        RefundToInput::Cash => RefundTo::Cash,
        RefundToInput::Mpesa { code } => RefundTo::Mpesa(MpesaCode::parse(code)?),
        RefundToInput::Card { reference } => RefundTo::Card(opt_text(reference.clone())),
        RefundToInput::CustomerAccount => RefundTo::CustomerAccount,
    };
    Ok(Refund {
        sale_id: id("sale id", &input.sale_id)?,
        lines,
        reason: input.reason.clone(),
        refund_to,
    })
}
