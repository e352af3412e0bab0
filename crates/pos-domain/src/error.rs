use crate::{Money, Quantity};

/// Why a value or a request was refused by the rules of the domain.
///
/// Messages are written for the person at the till: they say what is wrong and
/// what to do about it. Nothing is ever changed when one of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("unknown currency code '{0}'; use a three-letter code such as KES")]
    UnknownCurrency(String),
    #[error("cannot combine {0} and {1} amounts; all amounts in a sale must share one currency")]
    CurrencyMismatch(String, String),
    #[error("'{0}' is not an amount of money; write it like 1250 or 1250.50")]
    BadAmount(String),
    #[error("amount {0} is out of range; the largest allowed is {1}")]
    AmountOutOfRange(String, String),
    #[error("a price cannot be negative")]
    NegativePrice,
    #[error("'{0}' is not a quantity; write it like 3 or 0.5")]
    BadQuantity(String),
    #[error("quantity must be more than zero")]
    NonPositiveQuantity,
    #[error("quantity {0} is too large; the most in one line is {1}")]
    QuantityTooLarge(Quantity, Quantity),
    #[error("{field} cannot be empty")]
    Empty { field: &'static str },
    #[error("{field} is too long ({len} characters; at most {max})")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} '{value}' has characters that are not allowed: {allowed}")]
    BadCharacters {
        field: &'static str,
        value: String,
        allowed: &'static str,
    },
    #[error("a PIN is 4 to 8 digits")]
    BadPin,
    #[error("'{0}' is not a role; use cashier, manager or owner")]
    UnknownRole(String),
    #[error("'{0}' is not a phone number; write it like 0712 345 678 or +254 712 345 678")]
    BadPhone(String),
    #[error(
        "'{0}' is not an M-Pesa confirmation code; it is 10 letters and digits, like QJK3H5TRD2"
    )]
    BadMpesaCode(String),
    #[error("tax rate must be between 0% and 100%, got {0} basis points")]
    BadTaxRate(i64),
    #[error("unknown tax code '{0}'; add it under Settings > Tax rates first")]
    UnknownTaxCode(String),
    #[error("a discount percentage must be between 0% and 100%")]
    BadDiscountPercent,
    #[error("discount of {discount} is more than the {what} of {amount}")]
    DiscountTooLarge {
        what: &'static str,
        discount: Money,
        amount: Money,
    },
    #[error("a discount cannot be negative")]
    NegativeDiscount,
    #[error("the {field} has {lines} lines; at most {max} fit, so shorten it")]
    TooManyTextLines {
        field: &'static str,
        lines: usize,
        max: usize,
    },
    #[error("the cart is empty; add at least one item")]
    EmptyCart,
    #[error("the cart has too many lines ({0}); at most {1}")]
    TooManyLines(usize, usize),
    #[error("payment of {paid} does not cover the total of {total}; {short} is still due")]
    Underpaid {
        paid: Money,
        total: Money,
        short: Money,
    },
    #[error(
        "{method} payments of {paid} exceed the total of {total}; only cash can be given change"
    )]
    NonCashOverpaid {
        method: &'static str,
        paid: Money,
        total: Money,
    },
    #[error("a payment amount must be more than zero")]
    NonPositivePayment,
    #[error("only one credit payment is allowed per sale")]
    MultipleCreditPayments,
    #[error("'{0}' is not a time zone; use a name such as Africa/Nairobi")]
    UnknownTimeZone(String),
    #[error("'{0}' is not a valid clock reading")]
    BadHlc(String),
}
