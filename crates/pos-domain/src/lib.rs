//! The WHIZ POS domain: the rules of selling, with no IO.
//!
//! Everything a till decides — what a cart costs, how tax and discounts are
//! rounded, whether a tender covers the total, who may do what, how clocks are
//! ordered across devices — lives here as plain functions over types that
//! cannot hold bad values. The store (`pos-store`), the sync engine and the
//! Back Office all call into this crate; none of them re-implements a rule.
//!
//! Map:
//! - [`money`]: [`Currency`], [`Money`] (integer minor units, never floats) and the one
//!   rounding rule of the system.
//! - [`quantity`]: [`Quantity`] in thousandths, so 0.5 kg sells as exactly 500.
//! - [`ids`]: UUIDv7 identifiers made where a record is created.
//! - [`catalog`]: validated product fields: [`Sku`], [`Barcode`], names, prices.
//! - [`tax`] and [`cart`]: tax rates, discounts and the totals of a sale.
//! - [`tender`]: payments (cash, M-Pesa, card, credit) and settling a total.
//! - [`people`]: [`Pin`], [`Role`], [`Permission`], [`PhoneNumber`].
//! - [`hlc`]: the hybrid logical clock that orders edits across devices.
//! - [`stock`]: kinds of stock movement.
//! - [`settings`]: the business settings' text (tax PIN, address, receipt
//!   header and footer).
//! - [`clock`] and [`calendar`]: injected time, and business days in a branch's time zone.

/// Implements the conversions of a validated text newtype `T(String)` whose
/// `T::parse(&str)` validates: `TryFrom<String>` and `FromStr` (both validate,
/// so serde and `str::parse` can never build a bad value), `From<T> for String`,
/// `Display` and `as_str`.
macro_rules! validated_text {
    ($($t:ident),* $(,)?) => {$(
        impl TryFrom<String> for $t {
            type Error = $crate::DomainError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $t::parse(&s)
            }
        }

        impl std::str::FromStr for $t {
            type Err = $crate::DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::parse(s)
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    )*};
}

pub mod calendar;
pub mod cart;
pub mod catalog;
pub mod clock;
mod error;
pub mod hlc;
pub mod ids;
pub mod money;
pub mod people;
pub mod quantity;
pub mod settings;
pub mod stock;
pub mod tax;
pub mod tender;

pub use calendar::{BusinessDay, TimeZone};
pub use cart::{Cart, CartLine, Discount, LineTotals, SaleTotals};
pub use catalog::{Barcode, Name, Sku};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::DomainError;
pub use hlc::{Hlc, HlcClock};
pub use ids::*;
pub use money::{Currency, Money};
pub use people::{Permission, PhoneNumber, Pin, Role};
pub use quantity::Quantity;
pub use stock::MovementKind;
pub use tax::{TaxCode, TaxMode, TaxRate, TaxTable};
pub use tender::{MpesaCode, PaymentMethod, Settlement, Tender, settle};
