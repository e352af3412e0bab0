//! How the dashboard shows and reads values: money, quantities, times in a
//! branch's zone, and form fields parsed with messages that name the field.

use chrono::NaiveDate;
use pos_domain::{Currency, Money, Quantity, TimeZone, Timestamp};

use super::page::WebError;

/// `KES 1,250.00` from minor units.
pub fn money(minor: i64, currency: &str) -> String {
    match Currency::from_code(currency).and_then(|c| Money::from_minor(minor, c)) {
        Ok(m) => m.to_string(),
        Err(_) => format!("{currency} {minor} (minor units)"),
    }
}

/// `1,250.00` from minor units (for form fields and columns).
pub fn amount(minor: i64, currency: &str) -> String {
    match Currency::from_code(currency).and_then(|c| Money::from_minor(minor, c)) {
        Ok(m) => m.amount_text(),
        Err(_) => minor.to_string(),
    }
}

/// `12`, `0.5`, `-2.25` from thousandths.
pub fn qty(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let abs = milli.unsigned_abs();
    let (whole, frac) = (abs / 1000, abs % 1000);
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        let f = format!("{frac:03}");
        format!("{sign}{whole}.{}", f.trim_end_matches('0'))
    }
}

/// `1 sale`, `3 sales`: `n` with the word for one or for many.
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `2026-03-02 09:15` in `tz`.
pub fn time(t: Timestamp, tz: TimeZone) -> String {
    tz.local_time(t)
}

/// `time` for an optional instant: "never" when there is none.
pub fn time_or_never(t: Option<Timestamp>, tz: TimeZone) -> String {
    t.map_or_else(|| "never".to_string(), |t| time(t, tz))
}

/// An amount typed into `field` (e.g. "the price"), in `currency`.
pub fn parse_money(field: &str, text: &str, currency: Currency) -> Result<Money, WebError> {
    Money::parse(text, currency).map_err(|_| {
        WebError::bad(format!(
            "{field} '{}' is not an amount; type it like 1250 or 1,250.50 ({} has {} decimals)",
            text.trim(),
            currency.code(),
            currency.exponent()
        ))
    })
}

/// A quantity typed into `field`, such as `12` or `0.5`.
pub fn parse_qty(field: &str, text: &str) -> Result<Quantity, WebError> {
    Quantity::parse(text).map_err(|_| {
        WebError::bad(format!(
            "{field} '{}' is not a quantity; type it like 12 or 0.5 (at most 3 decimals)",
            text.trim()
        ))
    })
}

/// A date typed as `YYYY-MM-DD` (an HTML date input sends that).
pub fn parse_date(field: &str, text: &str) -> Result<NaiveDate, WebError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        WebError::bad(format!(
            "{field} '{}' is not a date (YYYY-MM-DD)",
            text.trim()
        ))
    })
}

/// Text that must not be empty, trimmed, at most `max` characters.
pub fn required_text(field: &str, text: &str, max: usize) -> Result<String, WebError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(WebError::bad(format!("{field} cannot be empty")));
    }
    optional_text(field, t, max).map(|o| o.unwrap_or_default())
}

/// Text that may be empty (`None`), trimmed, at most `max` characters.
pub fn optional_text(field: &str, text: &str, max: usize) -> Result<Option<String>, WebError> {
    let t = text.trim();
    let n = t.chars().count();
    if n > max {
        return Err(WebError::bad(format!(
            "{field} is too long ({n} characters; at most {max})"
        )));
    }
    Ok((!t.is_empty()).then(|| t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_money_read_like_a_till() {
        assert_eq!(qty(12_000), "12");
        assert_eq!(qty(500), "0.5");
        assert_eq!(qty(-2_250), "-2.25");
        assert_eq!(money(125_050, "KES"), "KES 1,250.50");
        assert_eq!(amount(-300, "KES"), "-3.00");
    }

    #[test]
    fn bad_fields_are_refused_by_name() {
        let kes = Currency::from_code("KES").unwrap();
        let e = parse_money("the price", "12.345", kes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the price '12.345'"), "{e}");
        assert!(parse_qty("the quantity", "1.2345").is_err());
        assert!(
            required_text("the name", "   ", 10)
                .unwrap_err()
                .to_string()
                .contains("the name cannot be empty")
        );
        assert!(optional_text("the note", "abcdef", 3).is_err());
        assert_eq!(optional_text("the note", "  ", 3).unwrap(), None);
        assert!(parse_date("from", "2026-02-30").is_err());
    }
}
