//! Tax rates and how tax is computed on an amount.
//!
//! A business configures its prices as tax-**inclusive** (the shelf price is
//! what the customer pays; the tax is the part of it that is tax — the usual
//! case for VAT in Kenyan retail) or tax-**exclusive** (tax is added on top).
//! Tax is computed per sale line on the line's amount after discounts and
//! rounded once with [`crate::money::div_round`].

use serde::{Deserialize, Serialize};

use crate::{DomainError, Money};

/// Whether shelf prices include tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    #[default]
    Inclusive,
    Exclusive,
}

impl TaxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxMode::Inclusive => "inclusive",
            TaxMode::Exclusive => "exclusive",
        }
    }

    pub fn parse(s: &str) -> Result<TaxMode, DomainError> {
        match s {
            "inclusive" => Ok(TaxMode::Inclusive),
            "exclusive" => Ok(TaxMode::Exclusive),
            other => Err(DomainError::BadCharacters {
                field: "tax mode",
                value: other.to_string(),
                allowed: "inclusive or exclusive",
            }),
        }
    }
}

/// A tax rate's short code, e.g. `VAT16`, `ZERO`, `EXEMPT`: 1–16 of `A–Z 0–9 _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxCode(String);

impl TaxCode {
    pub fn parse(text: &str) -> Result<TaxCode, DomainError> {
        let t = text.trim().to_ascii_uppercase();
        if t.is_empty() {
            return Err(DomainError::Empty { field: "tax code" });
        }
        if t.len() > 16 {
            return Err(DomainError::TooLong {
                field: "tax code",
                len: t.len(),
                max: 16,
            });
        }
        if !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(DomainError::BadCharacters {
                field: "tax code",
                value: t,
                allowed: "letters, digits and _",
            });
        }
        Ok(TaxCode(t))
    }
}

/// One configured rate, in basis points (1600 = 16%).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaxRate {
    pub code: TaxCode,
    pub name: String,
    basis_points: u32,
}

impl TaxRate {
    pub fn new(
        code: TaxCode,
        name: impl Into<String>,
        basis_points: i64,
    ) -> Result<TaxRate, DomainError> {
        if !(0..=10_000).contains(&basis_points) {
            return Err(DomainError::BadTaxRate(basis_points));
        }
        Ok(TaxRate {
            code,
            name: name.into(),
            basis_points: basis_points as u32,
        })
    }

    pub fn basis_points(&self) -> u32 {
        self.basis_points
    }

    /// The tax in `amount`, which is the taxable amount after discounts.
    pub fn tax_on(&self, amount: Money, mode: TaxMode) -> Result<Money, DomainError> {
        let bp = i64::from(self.basis_points);
        match mode {
            TaxMode::Inclusive => amount.mul_ratio(bp, 10_000 + bp),
            TaxMode::Exclusive => amount.mul_ratio(bp, 10_000),
        }
    }
}

/// The business's rates and its pricing mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxTable {
    pub mode: TaxMode,
    rates: Vec<TaxRate>,
}

impl TaxTable {
    pub fn new(mode: TaxMode, rates: Vec<TaxRate>) -> TaxTable {
        TaxTable { mode, rates }
    }

    /// Kenya's defaults: VAT 16% standard, zero-rated and exempt; prices inclusive.
    pub fn kenya_default() -> TaxTable {
        let rate = |c: &str, n: &str, bp| TaxRate {
            code: TaxCode(c.to_string()),
            name: n.to_string(),
            basis_points: bp,
        };
        TaxTable::new(
            TaxMode::Inclusive,
            vec![
                rate("VAT16", "VAT 16%", 1600),
                rate("ZERO", "Zero-rated", 0),
                rate("EXEMPT", "Exempt", 0),
            ],
        )
    }

    pub fn rate(&self, code: &TaxCode) -> Result<&TaxRate, DomainError> {
        self.rates
            .iter()
            .find(|r| &r.code == code)
            .ok_or_else(|| DomainError::UnknownTaxCode(code.to_string()))
    }

    pub fn rates(&self) -> &[TaxRate] {
        &self.rates
    }
}

impl std::str::FromStr for TaxMode {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaxMode::parse(s)
    }
}

validated_text!(TaxCode);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    #[test]
    fn vat_inclusive_and_exclusive() {
        let t = TaxTable::kenya_default();
        let vat = t.rate(&TaxCode::parse("vat16").unwrap()).unwrap();
        let price = Money::from_minor(11_600, Currency::KES).unwrap();
        assert_eq!(
            vat.tax_on(price, TaxMode::Inclusive).unwrap().minor(),
            1_600
        );
        assert_eq!(
            vat.tax_on(price, TaxMode::Exclusive).unwrap().minor(),
            1_856
        );
        assert!(TaxRate::new(TaxCode::parse("X").unwrap(), "x", 10_001).is_err());
        assert!(TaxRate::new(TaxCode::parse("X").unwrap(), "x", -1).is_err());
        assert!(t.rate(&TaxCode::parse("NOPE").unwrap()).is_err());
    }
}
