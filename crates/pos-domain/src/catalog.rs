//! Validated catalog fields: names, SKUs and barcodes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A display name (product, category, customer, user): trimmed, 1–120
/// characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    pub const MAX: usize = 120;

    pub fn parse(field: &'static str, text: &str) -> Result<Name, DomainError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(DomainError::Empty { field });
        }
        let len = t.chars().count();
        if len > Self::MAX {
            return Err(DomainError::TooLong {
                field,
                len,
                max: Self::MAX,
            });
        }
        if t.chars().any(char::is_control) {
            return Err(DomainError::BadCharacters {
                field,
                value: t.escape_debug().to_string(),
                allowed: "letters, digits, spaces and punctuation",
            });
        }
        Ok(Name(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Name::parse("name", &s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn code(
    field: &'static str,
    text: &str,
    max: usize,
    allowed: &'static str,
    ok: fn(char) -> bool,
) -> Result<String, DomainError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(DomainError::Empty { field });
    }
    if t.len() > max {
        return Err(DomainError::TooLong {
            field,
            len: t.chars().count(),
            max,
        });
    }
    if !t.chars().all(ok) {
        return Err(DomainError::BadCharacters {
            field,
            value: t.escape_debug().to_string(),
            allowed,
        });
    }
    Ok(t.to_string())
}

/// A stock-keeping unit: 1–64 of `A–Z 0–9 - _ . /`, stored upper-case so
/// `soda-500` and `SODA-500` are the same SKU.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    pub fn parse(text: &str) -> Result<Sku, DomainError> {
        code("SKU", text, 64, "letters, digits and - _ . /", |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
        })
        .map(|s| Sku(s.to_ascii_uppercase()))
    }
}

/// A barcode as a scanner types it: 1–48 letters, digits or `-`.
/// EAN/UPC codes are digits; shop-printed Code 128 labels may have letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Barcode(String);

impl Barcode {
    pub fn parse(text: &str) -> Result<Barcode, DomainError> {
        code("barcode", text, 48, "letters, digits and -", |c| {
            c.is_ascii_alphanumeric() || c == '-'
        })
        .map(Barcode)
    }
}

validated_text!(Sku, Barcode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("name", "  Tusker 500ml ").unwrap().as_str(),
            "Tusker 500ml"
        );
        assert!(Name::parse("name", "   ").is_err());
        assert!(Name::parse("name", &"x".repeat(121)).is_err());
        assert!(Name::parse("name", "a\u{0007}b").is_err());
        assert!(Name::parse("name", "Chai ya Tangawizi — ☕").is_ok());
    }

    #[test]
    fn skus_and_barcodes() {
        assert_eq!(Sku::parse(" soda-500 ").unwrap().as_str(), "SODA-500");
        assert!(Sku::parse("has space").is_err());
        assert!(Sku::parse("").is_err());
        assert_eq!(
            Barcode::parse("5000112637922").unwrap().as_str(),
            "5000112637922"
        );
        assert!(Barcode::parse("12 34").is_err());
        assert!(Barcode::parse(&"1".repeat(49)).is_err());
    }
}
