//! Money as integer minor units plus a currency. No floats, ever.
//!
//! # The rounding rule
//!
//! Wherever an amount has to be divided (a percentage discount, tax, a
//! fractional quantity), the exact rational result is rounded **once**, to the
//! nearest minor unit, **halves away from zero** ([`div_round`]). Totals are
//! never re-derived from rounded rates: a sale's total is the sum of its rounded
//! line totals, so the parts always add up to the whole (see `cart` and its
//! property tests).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// An ISO 4217 currency the system knows, with its number of minor digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Currencies a business may configure: East African first.
const KNOWN: &[(&str, u8)] = &[
    ("KES", 2),
    ("UGX", 0),
    ("TZS", 2),
    ("RWF", 0),
    ("BIF", 0),
    ("ETB", 2),
    ("SSP", 2),
    ("SOS", 2),
    ("CDF", 2),
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("ZAR", 2),
    ("NGN", 2),
    ("GHS", 2),
];

impl Currency {
    /// Kenyan shilling, the default.
    pub const KES: Currency = Currency {
        code: *b"KES",
        exponent: 2,
    };

    /// Looks a currency up by its ISO code (case-insensitive).
    pub fn from_code(code: &str) -> Result<Self, DomainError> {
        let upper = code.trim().to_ascii_uppercase();
        KNOWN
            .iter()
            .find(|(c, _)| *c == upper)
            .map(|(c, e)| {
                let b = c.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    exponent: *e,
                }
            })
            .ok_or_else(|| DomainError::UnknownCurrency(code.to_string()))
    }

    pub fn code(&self) -> &str {
        // The bytes come from the KNOWN table, which is ASCII.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Number of digits after the decimal point (2 for KES, 0 for UGX).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// Minor units in one major unit (100 for KES).
    pub fn minor_per_major(&self) -> i64 {
        10_i64.pow(u32::from(self.exponent))
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::KES
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::from_code(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_string()
    }
}

/// An amount of money: integer minor units of one currency.
///
/// Every constructor and every arithmetic operation keeps the amount within
/// ±[`Money::MAX_MINOR`], so sums of many amounts can never overflow `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyRepr", into = "MoneyRepr")]
pub struct Money {
    minor: i64,
    currency: Currency,
}

#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    minor: i64,
    currency: Currency,
}

impl TryFrom<MoneyRepr> for Money {
    type Error = DomainError;
    fn try_from(r: MoneyRepr) -> Result<Self, Self::Error> {
        Money::from_minor(r.minor, r.currency)
    }
}

impl From<Money> for MoneyRepr {
    fn from(m: Money) -> Self {
        MoneyRepr {
            minor: m.minor,
            currency: m.currency,
        }
    }
}

impl Money {
    /// The largest magnitude of any amount: 10^15 minor units (ten trillion
    /// shillings) — far beyond any shop, far below `i64::MAX`.
    pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

    /// The largest unit price a product may have: 100 million major units.
    pub const MAX_PRICE_MAJOR: i64 = 100_000_000;

    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, DomainError> {
        if minor.unsigned_abs() > Self::MAX_MINOR.unsigned_abs() {
            return Err(DomainError::AmountOutOfRange(
                format_minor(minor, currency),
                format_minor(Self::MAX_MINOR, currency),
            ));
        }
        Ok(Money { minor, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }

    /// Whole major units, e.g. `Money::major(250, KES)` is KES 250.00.
    pub fn major(major: i64, currency: Currency) -> Result<Self, DomainError> {
        let minor = major
            .checked_mul(currency.minor_per_major())
            .ok_or_else(|| DomainError::AmountOutOfRange(major.to_string(), "".into()))?;
        Self::from_minor(minor, currency)
    }

    /// A unit price: not negative and at most [`Money::MAX_PRICE_MAJOR`].
    pub fn price(minor: i64, currency: Currency) -> Result<Self, DomainError> {
        if minor < 0 {
            return Err(DomainError::NegativePrice);
        }
        let max = Self::MAX_PRICE_MAJOR * currency.minor_per_major();
        if minor > max {
            return Err(DomainError::AmountOutOfRange(
                format_minor(minor, currency),
                format_minor(max, currency),
            ));
        }
        Ok(Money { minor, currency })
    }

    /// Parses a decimal amount such as `1250`, `1,250.50` or `-3.5` in `currency`.
    /// More decimals than the currency has is an error, never a silent rounding.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, DomainError> {
        let bad = || DomainError::BadAmount(text.to_string());
        let cleaned: String = text
            .trim()
            .chars()
            .filter(|c| *c != ',' && *c != '_')
            .collect();
        let (negative, digits) = match cleaned.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cleaned.as_str()),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let exp = usize::from(currency.exponent());
        if frac.len() > exp {
            return Err(bad());
        }
        if whole.len() > 16 {
            return Err(DomainError::AmountOutOfRange(
                text.to_string(),
                format_minor(Self::MAX_MINOR, currency),
            ));
        }
        let whole_v: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut frac_v: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        for _ in frac.len()..exp {
            frac_v *= 10;
        }
        let minor = whole_v
            .checked_mul(currency.minor_per_major())
            .and_then(|v| v.checked_add(frac_v))
            .ok_or_else(bad)?;
        Self::from_minor(if negative { -minor } else { minor }, currency)
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn is_negative(&self) -> bool {
        self.minor < 0
    }

    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }

    fn same_currency(&self, other: &Money) -> Result<(), DomainError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(DomainError::CurrencyMismatch(
                self.currency.code().into(),
                other.currency.code().into(),
            ))
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, DomainError> {
        self.same_currency(&other)?;
        Money::from_minor(self.minor.saturating_add(other.minor), self.currency)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, DomainError> {
        self.same_currency(&other)?;
        Money::from_minor(self.minor.saturating_sub(other.minor), self.currency)
    }

    pub fn negated(self) -> Money {
        Money {
            minor: -self.minor,
            currency: self.currency,
        }
    }

    pub fn min(self, other: Money) -> Money {
        if other.minor < self.minor {
            other
        } else {
            self
        }
    }

    /// Sums amounts of one currency; an empty list sums to zero in `currency`.
    pub fn sum<'a>(
        currency: Currency,
        items: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, DomainError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(*m))
    }

    /// `self × numerator / denominator`, rounded by the system's one rule.
    pub fn mul_ratio(self, numerator: i64, denominator: i64) -> Result<Money, DomainError> {
        let exact = i128::from(self.minor) * i128::from(numerator);
        let rounded = div_round(exact, i128::from(denominator));
        let minor = i64::try_from(rounded).map_err(|_| {
            DomainError::AmountOutOfRange(
                rounded.to_string(),
                format_minor(Self::MAX_MINOR, self.currency),
            )
        })?;
        Money::from_minor(minor, self.currency)
    }
}

impl Money {
    /// The amount without its currency: `1,234.50` (for receipts and columns).
    pub fn amount_text(&self) -> String {
        let per = self.currency.minor_per_major().unsigned_abs();
        let abs = self.minor.unsigned_abs();
        let whole = group_thousands(abs / per);
        let sign = if self.minor < 0 { "-" } else { "" };
        if self.currency.exponent() == 0 {
            format!("{sign}{whole}")
        } else {
            let width = usize::from(self.currency.exponent());
            format!("{sign}{whole}.{:0width$}", abs % per)
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency.code(), self.amount_text())
    }
}

/// Formats minor units as `KES 1,234.50` (or `UGX 1,500`).
fn format_minor(minor: i64, currency: Currency) -> String {
    Money { minor, currency }.to_string()
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Divides and rounds to the nearest integer, halves away from zero.
///
/// This is the only rounding function in the system. `denominator` must not be
/// zero (callers pass constants or validated rates).
pub fn div_round(numerator: i128, denominator: i128) -> i128 {
    assert!(denominator != 0, "div_round by zero");
    let (n, d) = if denominator < 0 {
        (-numerator, -denominator)
    } else {
        (numerator, denominator)
    };
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

impl FromStr for Currency {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kes(minor: i64) -> Money {
        Money::from_minor(minor, Currency::KES).unwrap()
    }

    #[test]
    fn parses_and_formats_shillings() {
        assert_eq!(Money::parse("1250", Currency::KES).unwrap(), kes(125_000));
        assert_eq!(
            Money::parse("1,250.5", Currency::KES).unwrap(),
            kes(125_050)
        );
        assert_eq!(Money::parse("-0.05", Currency::KES).unwrap(), kes(-5));
        assert_eq!(Money::parse(".5", Currency::KES).unwrap(), kes(50));
        assert_eq!(kes(123_456_789).to_string(), "KES 1,234,567.89");
        assert_eq!(kes(-5).to_string(), "KES -0.05");
        let ugx = Currency::from_code("ugx").unwrap();
        assert_eq!(Money::parse("1500", ugx).unwrap().to_string(), "UGX 1,500");
    }

    #[test]
    fn refuses_what_is_not_money() {
        for bad in [
            "", "-", ".", "12.345", "1e5", "abc", "12.3.4", "1 000", "--1", "NaN",
        ] {
            assert!(Money::parse(bad, Currency::KES).is_err(), "{bad:?} parsed");
        }
        assert!(Money::parse("1.5", Currency::from_code("UGX").unwrap()).is_err());
        assert!(Money::parse("99999999999999999999", Currency::KES).is_err());
        assert!(Currency::from_code("XYZ").is_err());
    }

    #[test]
    fn price_range_is_enforced() {
        assert_eq!(
            Money::price(-1, Currency::KES),
            Err(DomainError::NegativePrice)
        );
        assert!(Money::price(100_000_000 * 100, Currency::KES).is_ok());
        assert!(Money::price(100_000_000 * 100 + 1, Currency::KES).is_err());
    }

    #[test]
    fn currencies_do_not_mix() {
        let usd = Money::from_minor(1, Currency::from_code("USD").unwrap()).unwrap();
        assert!(matches!(
            kes(1).checked_add(usd),
            Err(DomainError::CurrencyMismatch(..))
        ));
    }

    #[test]
    fn rounds_halves_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-4, 3), -1);
        assert_eq!(div_round(5, -2), -3);
        assert_eq!(kes(1000).mul_ratio(1600, 11_600).unwrap(), kes(138)); // 137.93…
    }

    #[test]
    fn serde_validates() {
        let m: Result<Money, _> = serde_json::from_str(r#"{"minor":1,"currency":"XXX"}"#);
        assert!(m.is_err());
        let m: Money = serde_json::from_str(r#"{"minor":150,"currency":"KES"}"#).unwrap();
        assert_eq!(m, kes(150));
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(minor in -Money::MAX_MINOR..=Money::MAX_MINOR) {
            let m = kes(minor);
            let text = m.to_string();
            let number = text.trim_start_matches("KES ");
            prop_assert_eq!(Money::parse(number, Currency::KES).unwrap(), m);
        }

        #[test]
        fn div_round_is_nearest(n in -1_000_000_000_000i128..1_000_000_000_000, d in 1i128..1_000_000) {
            let q = div_round(n, d);
            // |n - q*d| <= d/2, and exact halves go away from zero.
            let err = n - q * d;
            prop_assert!(2 * err.abs() <= d);
            if 2 * err.abs() == d {
                prop_assert!(q.abs() * d >= n.abs());
            }
            prop_assert_eq!(div_round(-n, d), -q);
        }
    }
}
