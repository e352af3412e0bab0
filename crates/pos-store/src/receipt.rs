//! Plain-text receipts, laid out for a fixed-width till printer (32, 42 or
//! 48 columns on 58/80 mm thermal paper) and for the terminal till.
//!
//! The layout: business header (name, address, phone, tax PIN, the owner's
//! receipt header), receipt number, local time and cashier, one block per
//! line, the totals and tax summary, the payments, and the receipt footer.
//! Voids and refunds say so at the top and name the original receipt.

use pos_domain::{Money, PaymentMethod, SaleId, TaxMode, Timestamp};
use sync_protocol::{SaleKind, SaleRecord};

use crate::settings::BusinessSettings;
use crate::{Result, Store};

/// The narrowest and widest receipts we lay out.
pub const MIN_WIDTH: usize = 24;
pub const MAX_WIDTH: usize = 80;

impl Store {
    /// A sale's receipt as text, `width` columns wide.
    pub fn receipt_text(&self, sale: SaleId, width: usize) -> Result<String> {
        let sale = self.sale(sale)?;
        let settings = self.settings()?;
        let cashier: String = self
            .conn()
            .query_row(
                "SELECT name FROM users WHERE id = ?1",
                [sale.cashier_id.to_string()],
                |r| r.get(0),
            )
            .unwrap_or_else(|_| "?".into());
        let original = match sale.original_sale_id {
            Some(id) => Some(self.sale(id)?.receipt_no),
            None => None,
        };
        Ok(render(
            &settings,
            &sale,
            &cashier,
            original.as_deref(),
            width,
        ))
    }
}

/// Lays a receipt out. `original` is the receipt number a void or refund
/// reverses.
pub fn render(
    settings: &BusinessSettings,
    sale: &SaleRecord,
    cashier: &str,
    original: Option<&str>,
    width: usize,
) -> String {
    let w = width.clamp(MIN_WIDTH, MAX_WIDTH);
    let mut out = Vec::new();
    let rule = "-".repeat(w);
    let center = |s: &str| -> Vec<String> {
        wrap(s, w)
            .into_iter()
            .map(|l| format!("{}{l}", " ".repeat((w - l.chars().count()) / 2)))
            .collect()
    };
    let pair = |left: &str, right: &str| {
        let used = left.chars().count() + right.chars().count();
        if used + 1 > w {
            format!("{left}\n{right:>w$}")
        } else {
            format!("{left}{}{right}", " ".repeat(w - used))
        }
    };

    out.extend(center(&settings.store_name));
    for line in [settings.address.as_str(), settings.phone.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
    {
        out.extend(center(line));
    }
    if !settings.tax_pin.is_empty() {
        out.extend(center(&format!("PIN {}", settings.tax_pin)));
    }
    out.extend(
        settings
            .receipt_header
            .lines()
            .filter(|l| !l.trim().is_empty())
            .flat_map(center),
    );
    out.push(rule.clone());
    match (sale.kind, original) {
        (SaleKind::Void, Some(o)) => out.extend(center(&format!("*** VOID of {o} ***"))),
        (SaleKind::Refund, Some(o)) => out.extend(center(&format!("*** REFUND of {o} ***"))),
        _ => {}
    }
    out.push(format!("Receipt {}", sale.receipt_no));
    out.push(pair(
        &local_time(settings, sale.created_at),
        &format!("Cashier: {cashier}"),
    ));
    if let Some(reason) = &sale.reason {
        out.extend(wrap(&format!("Reason: {reason}"), w));
    }
    out.push(rule.clone());

    for line in &sale.lines {
        out.extend(wrap(&line.name, w));
        let qty = line.quantity.to_string();
        out.push(pair(
            &format!("  {qty} x {}", line.unit_price.amount_text()),
            &line.gross.amount_text(),
        ));
        if !line.discount.is_zero() {
            out.push(pair("    discount", &line.discount.negated().amount_text()));
        }
    }
    out.push(rule.clone());
    out.push(pair("Subtotal", &sale.subtotal.amount_text()));
    if !sale.discount.is_zero() {
        out.push(pair("Discount", &sale.discount.negated().amount_text()));
    }
    if sale.tax_mode == TaxMode::Exclusive {
        out.push(pair("Tax", &sale.tax.amount_text()));
    }
    out.push(pair("TOTAL", &sale.total.to_string()));
    for (label, tax) in tax_summary(sale) {
        let incl = if sale.tax_mode == TaxMode::Inclusive {
            " incl."
        } else {
            ""
        };
        out.push(pair(&format!("  {label}{incl}"), &tax.amount_text()));
    }
    out.push(rule.clone());
    for p in &sale.payments {
        let label = match (p.method, &p.reference) {
            (PaymentMethod::Mpesa, Some(code)) => format!("M-Pesa {code}"),
            (PaymentMethod::Card, Some(r)) => format!("Card {r}"),
            (m, _) => m.to_string(),
        };
        match p.tendered {
            Some(t) if t != p.amount => {
                out.push(pair(&format!("{label} tendered"), &t.amount_text()));
            }
            _ => out.push(pair(&label, &p.amount.amount_text())),
        }
    }
    if sale.change.is_positive() {
        out.push(pair("Change", &sale.change.amount_text()));
    }
    if !settings.receipt_footer.trim().is_empty() {
        out.push(rule);
        out.extend(settings.receipt_footer.lines().flat_map(center));
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Breaks `text` into lines of at most `width` characters at spaces (a word
/// longer than a line is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        if word.is_empty() {
            continue;
        }
        if line.is_empty() {
            line = word;
        } else if line.chars().count() + 1 + word.chars().count() <= width {
            line.push(' ');
            line.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut line, word));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Tax collected per rate, in the order the rates first appear.
fn tax_summary(sale: &SaleRecord) -> Vec<(String, Money)> {
    let mut out: Vec<(String, u32, Money)> = Vec::new();
    for l in &sale.lines {
        if l.tax_basis_points == 0 {
            continue;
        }
        match out
            .iter_mut()
            .find(|(code, ..)| code == l.tax_code.as_str())
        {
            Some((_, _, sum)) => *sum = sum.checked_add(l.tax).unwrap_or(*sum),
            None => out.push((l.tax_code.to_string(), l.tax_basis_points, l.tax)),
        }
    }
    out.into_iter()
        .map(|(code, bp, tax)| {
            let pct = if bp % 100 == 0 {
                format!("{}%", bp / 100)
            } else {
                format!("{}.{:02}%", bp / 100, bp % 100)
            };
            (format!("{code} {pct}"), tax)
        })
        .collect()
}

fn local_time(settings: &BusinessSettings, at: Timestamp) -> String {
    let zone: chrono_tz::Tz = settings
        .time_zone
        .name()
        .parse()
        .unwrap_or(chrono_tz::Africa::Nairobi);
    at.to_datetime()
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sales::{Checkout, CheckoutLine, RefundTo};
    use crate::settings::SettingsUpdate;
    use crate::testkit::{kes, kit};
    use pos_domain::{Discount, MpesaCode, Quantity, Tender};

    #[test]
    fn a_receipt_reads_like_a_receipt() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        kit.store
            .update_settings(
                &owner,
                SettingsUpdate {
                    store_name: Some("Mama Mboga Café".into()),
                    address: Some("Moi Avenue, Nairobi".into()),
                    phone: Some("0712 345 678".into()),
                    tax_pin: Some("P051234567X".into()),
                    receipt_header: Some("Karibu!".into()),
                    receipt_footer: Some("Asante sana!\nGoods once sold are not returnable".into()),
                    ..SettingsUpdate::default()
                },
            )
            .unwrap();
        let soda = kit.product("Soda 500ml", 80_00);
        let bread = kit.product("Bread", 65_00);
        let co = Checkout {
            sale_id: pos_domain::SaleId::new(),
            lines: vec![
                CheckoutLine {
                    product_id: soda.id,
                    quantity: Quantity::units(2),
                    discount: Discount::None,
                },
                CheckoutLine {
                    product_id: bread.id,
                    quantity: Quantity::units(1),
                    discount: Discount::Amount(kes(5_00)),
                },
            ],
            discount: Discount::None,
            tenders: vec![
                Tender::Mpesa {
                    amount: kes(100_00),
                    code: MpesaCode::parse("QJK3H5TRD2").unwrap(),
                },
                Tender::Cash {
                    tendered: kes(200_00),
                },
            ],
            customer_id: None,
        };
        let sale = kit.store.checkout(&owner, &co).unwrap();
        let text = kit.store.receipt_text(sale.id, 40).unwrap();
        // The leading newline keeps the first line's centring visible here.
        let expected = "
            Mama Mboga Café
          Moi Avenue, Nairobi
             +254712345678
            PIN P051234567X
                Karibu!
----------------------------------------
Receipt MAIN-T1-000001
2026-03-02 09:00        Cashier: Wanjiru
----------------------------------------
Soda 500ml
  2 x 80.00                       160.00
Bread
  1 x 65.00                        65.00
    discount                       -5.00
----------------------------------------
Subtotal                          225.00
Discount                           -5.00
TOTAL                         KES 220.00
  VAT16 16% incl.                  30.35
----------------------------------------
Cash tendered                     200.00
M-Pesa QJK3H5TRD2                 100.00
Change                             80.00
----------------------------------------
              Asante sana!
   Goods once sold are not returnable
";
        assert_eq!(format!("\n{text}"), expected, "\n{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 40));

        let manager = kit.user("Mwangi", pos_domain::Role::Manager);
        let refund = kit
            .store
            .refund(
                &manager,
                &crate::sales::Refund {
                    sale_id: sale.id,
                    lines: vec![(1, Quantity::units(1))],
                    reason: "flat soda".into(),
                    refund_to: RefundTo::Cash,
                },
            )
            .unwrap();
        let text = kit.store.receipt_text(refund.id, 32).unwrap();
        assert!(text.contains("*** REFUND of MAIN-T1-000001 ***"), "{text}");
        assert!(text.contains("Reason: flat soda"), "{text}");
        assert!(text.contains("TOTAL"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 32), "{text}");
        assert!(
            text.contains("\n    Goods once sold are not\n           returnable\n"),
            "{text}"
        );
    }

    #[test]
    fn wrapping_keeps_every_word_and_every_line_fits() {
        assert_eq!(
            wrap("Goods once sold are not returnable", 12),
            vec!["Goods once", "sold are not", "returnable"]
        );
        assert_eq!(
            wrap("Supercalifragilistic", 8),
            vec!["Supercal", "ifragili", "stic"]
        );
        assert_eq!(wrap("", 8), vec![""]);
    }
}
