//! Quantities in thousandths of a unit, so weighed goods (0.5 kg, 1.25 l) are
//! exact integers just like money.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A signed quantity in thousandths (`Quantity::from_milli(1500)` is 1.5 units).
///
/// Sale lines need a positive quantity ([`Quantity::for_sale`]); stock
/// movements are signed deltas.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Quantity(i64);

impl Quantity {
    pub const SCALE: i64 = 1000;
    pub const ZERO: Quantity = Quantity(0);
    /// The most of one product on one sale line: 100,000 units.
    pub const MAX_LINE: Quantity = Quantity(100_000 * Self::SCALE);
    /// The magnitude limit of any stock delta or level: 10^12 units.
    pub const MAX_ABS: i64 = 1_000_000_000_000 * Self::SCALE;

    pub const fn from_milli(milli: i64) -> Quantity {
        Quantity(milli)
    }

    /// Whole units.
    pub const fn units(units: i64) -> Quantity {
        Quantity(units * Self::SCALE)
    }

    pub fn milli(self) -> i64 {
        self.0
    }

    /// A quantity that may be sold or returned on one line: > 0 and ≤ [`Quantity::MAX_LINE`].
    pub fn for_sale(milli: i64) -> Result<Quantity, DomainError> {
        let q = Quantity(milli);
        if milli <= 0 {
            Err(DomainError::NonPositiveQuantity)
        } else if q > Self::MAX_LINE {
            Err(DomainError::QuantityTooLarge(q, Self::MAX_LINE))
        } else {
            Ok(q)
        }
    }

    /// Parses `3`, `0.5` or `-2.25` (at most three decimals).
    pub fn parse(text: &str) -> Result<Quantity, DomainError> {
        let bad = || DomainError::BadQuantity(text.to_string());
        let t = text.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        };
        let (w, f) = digits.split_once('.').unwrap_or((digits, ""));
        if (w.is_empty() && f.is_empty())
            || f.len() > 3
            || w.len() > 12
            || !w.chars().all(|c| c.is_ascii_digit())
            || !f.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = if w.is_empty() {
            0
        } else {
            w.parse().map_err(|_| bad())?
        };
        let mut frac: i64 = if f.is_empty() {
            0
        } else {
            f.parse().map_err(|_| bad())?
        };
        for _ in f.len()..3 {
            frac *= 10;
        }
        let milli = whole * Self::SCALE + frac;
        Ok(Quantity(if neg { -milli } else { milli }))
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        let v = self.0.checked_add(other.0)?;
        (v.abs() <= Self::MAX_ABS).then_some(Quantity(v))
    }

    pub fn negated(self) -> Quantity {
        Quantity(-self.0)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / 1000;
        let frac = abs % 1000;
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let s = format!("{frac:03}");
            write!(f, "{sign}{whole}.{}", s.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        assert_eq!(Quantity::parse("3").unwrap(), Quantity::units(3));
        assert_eq!(Quantity::parse("0.5").unwrap(), Quantity::from_milli(500));
        assert_eq!(
            Quantity::parse("-2.25").unwrap(),
            Quantity::from_milli(-2250)
        );
        assert_eq!(Quantity::from_milli(1250).to_string(), "1.25");
        assert_eq!(Quantity::units(-4).to_string(), "-4");
        for bad in ["", ".", "1.2345", "x", "1,5", "1e3"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sale_quantities_are_positive_and_bounded() {
        assert_eq!(Quantity::for_sale(0), Err(DomainError::NonPositiveQuantity));
        assert_eq!(
            Quantity::for_sale(-1000),
            Err(DomainError::NonPositiveQuantity)
        );
        assert!(Quantity::for_sale(Quantity::MAX_LINE.milli() + 1).is_err());
        assert!(Quantity::for_sale(1).is_ok());
    }
}
