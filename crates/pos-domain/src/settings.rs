//! The business settings' text, as a till and the Back Office both check it:
//! the tax PIN, the address, and the receipt header and footer.

use crate::DomainError;

/// Longest address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 200;
/// Longest tax registration (KRA PIN), in characters.
pub const MAX_TAX_PIN_CHARS: usize = 20;
/// Longest receipt header or footer, in characters.
pub const MAX_RECEIPT_TEXT_CHARS: usize = 1000;
/// Most lines in a receipt header or footer.
pub const MAX_RECEIPT_TEXT_LINES: usize = 12;

/// Empty, or 1–20 letters and digits, upper-cased (a KRA PIN: `P051234567X`).
pub fn tax_pin(text: &str) -> Result<String, DomainError> {
    let t = text.trim().to_ascii_uppercase();
    let len = t.chars().count();
    if len > MAX_TAX_PIN_CHARS {
        return Err(DomainError::TooLong {
            field: "tax PIN",
            len,
            max: MAX_TAX_PIN_CHARS,
        });
    }
    if !t.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(DomainError::BadCharacters {
            field: "tax PIN",
            value: t.escape_debug().to_string(),
            allowed: "letters and digits",
        });
    }
    Ok(t)
}

/// A receipt header or footer: at most [`MAX_RECEIPT_TEXT_CHARS`]
/// characters on [`MAX_RECEIPT_TEXT_LINES`] lines (see [`free_text`]).
pub fn receipt_text(field: &'static str, text: &str) -> Result<String, DomainError> {
    free_text(
        field,
        text,
        MAX_RECEIPT_TEXT_CHARS,
        Some(MAX_RECEIPT_TEXT_LINES),
    )
}

/// Trimmed text of up to `max_chars` characters and `max_lines` lines, with
/// no control characters except line breaks (kept as `\n`).
pub fn free_text(
    field: &'static str,
    text: &str,
    max_chars: usize,
    max_lines: Option<usize>,
) -> Result<String, DomainError> {
    let t = text.replace("\r\n", "\n").replace('\r', "\n");
    let t = t.trim();
    let len = t.chars().count();
    if len > max_chars {
        return Err(DomainError::TooLong {
            field,
            len,
            max: max_chars,
        });
    }
    if t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::BadCharacters {
            field,
            value: t.escape_debug().to_string(),
            allowed: "letters, digits, spaces, punctuation and line breaks",
        });
    }
    if let Some(max) = max_lines {
        let lines = t.lines().count();
        if lines > max {
            return Err(DomainError::TooManyTextLines { field, lines, max });
        }
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_text_is_trimmed_with_plain_line_breaks() {
        assert_eq!(
            receipt_text("receipt header", "  Karibu\r\nAsante\r ").unwrap(),
            "Karibu\nAsante"
        );
        let many = vec!["x"; 13].join("\n");
        assert_eq!(
            receipt_text("receipt header", &many),
            Err(DomainError::TooManyTextLines {
                field: "receipt header",
                lines: 13,
                max: 12
            })
        );
        assert!(matches!(
            free_text("address", "a\tb", MAX_ADDRESS_CHARS, None),
            Err(DomainError::BadCharacters { .. })
        ));
        assert!(matches!(
            free_text("address", &"x".repeat(201), MAX_ADDRESS_CHARS, None),
            Err(DomainError::TooLong { len: 201, .. })
        ));
    }

    #[test]
    fn a_tax_pin_is_upper_cased_letters_and_digits() {
        assert_eq!(tax_pin(" p051234567x ").unwrap(), "P051234567X");
        assert_eq!(tax_pin("").unwrap(), "");
        assert!(tax_pin("P05-1234").is_err());
        assert!(tax_pin(&"P".repeat(21)).is_err());
    }
}
