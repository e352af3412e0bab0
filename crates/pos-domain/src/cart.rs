//! A cart and the totals of a sale.
//!
//! # How a total is made (the documented rounding rules)
//!
//! For each line, in order:
//! 1. **gross** = unit price × quantity, rounded once (quantities are in
//!    thousandths, so `1.5 × 99.99` rounds 149.985 to 149.99).
//! 2. **line discount**: a percentage of gross, rounded once; or a fixed amount,
//!    which may not exceed gross.
//! 3. The **cart discount** (a percentage of the sum of discounted lines, rounded
//!    once, or a fixed amount no larger than that sum) is **allocated** to lines
//!    in proportion to their discounted amounts by the largest-remainder method,
//!    so the shares add up to the cart discount exactly (ties go to the earlier
//!    line).
//! 4. **net** = gross − line discount − cart share (never negative).
//! 5. **tax** on net at the line's rate, rounded once: inclusive mode takes the
//!    tax out of net, exclusive mode adds it on top.
//! 6. **line total** = net (inclusive) or net + tax (exclusive).
//!
//! The sale's figures are sums of the line figures, so:
//! `total = Σ line totals = subtotal − discounts (+ tax when exclusive)`,
//! and the tax summary by rate sums to the tax total. The property tests at the
//! bottom of this file check these for random carts.

use serde::{Deserialize, Serialize};

use crate::{Currency, DomainError, Money, ProductId, Quantity, TaxCode, TaxMode, TaxTable};

/// A discount on a line or on the whole cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Discount {
    #[default]
    None,
    /// Basis points of the amount: 1000 = 10%.
    Percent(u32),
    /// A fixed amount off.
    Amount(Money),
}

impl Discount {
    pub fn percent_bp(bp: i64) -> Result<Discount, DomainError> {
        if !(0..=10_000).contains(&bp) {
            return Err(DomainError::BadDiscountPercent);
        }
        Ok(Discount::Percent(bp as u32))
    }

    /// The discount taken off `base`, checked against it.
    fn on(&self, base: Money, what: &'static str) -> Result<Money, DomainError> {
        match *self {
            Discount::None => Ok(Money::zero(base.currency())),
            Discount::Percent(bp) if bp > 10_000 => Err(DomainError::BadDiscountPercent),
            Discount::Percent(bp) => base.mul_ratio(i64::from(bp), 10_000),
            Discount::Amount(a) => {
                if a.currency() != base.currency() {
                    return Err(DomainError::CurrencyMismatch(
                        a.currency().to_string(),
                        base.currency().to_string(),
                    ));
                }
                if a.is_negative() {
                    return Err(DomainError::NegativeDiscount);
                }
                if a.minor() > base.minor() {
                    return Err(DomainError::DiscountTooLarge {
                        what,
                        discount: a,
                        amount: base,
                    });
                }
                Ok(a)
            }
        }
    }
}

/// One line of a cart: a product at a price, a quantity and a discount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub product_id: ProductId,
    pub name: String,
    pub unit_price: Money,
    pub quantity: Quantity,
    pub tax_code: TaxCode,
    #[serde(default)]
    pub discount: Discount,
}

/// Lines to be sold plus an optional discount on the whole cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub currency: Currency,
    pub lines: Vec<CartLine>,
    #[serde(default)]
    pub discount: Discount,
}

/// The computed figures of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTotals {
    /// Unit price × quantity.
    pub gross: Money,
    /// The line's own discount.
    pub line_discount: Money,
    /// This line's share of the cart discount.
    pub cart_discount: Money,
    /// gross − both discounts: the taxable amount.
    pub net: Money,
    pub tax_basis_points: u32,
    pub tax: Money,
    /// What the customer pays for this line.
    pub total: Money,
}

/// Tax collected at one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxSummary {
    pub code: TaxCode,
    pub basis_points: u32,
    pub net: Money,
    pub tax: Money,
}

/// The figures of a whole sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleTotals {
    pub mode: TaxMode,
    pub lines: Vec<LineTotals>,
    /// Σ gross.
    pub subtotal: Money,
    /// Σ line discounts + the cart discount.
    pub discount: Money,
    pub tax: Money,
    pub total: Money,
    pub taxes: Vec<TaxSummary>,
}

impl Cart {
    /// The most lines one sale may have.
    pub const MAX_LINES: usize = 500;

    pub fn new(currency: Currency) -> Cart {
        Cart {
            currency,
            lines: Vec::new(),
            discount: Discount::None,
        }
    }

    /// Computes every figure of the sale, or says which rule the cart breaks.
    pub fn totals(&self, taxes: &TaxTable) -> Result<SaleTotals, DomainError> {
        let cur = self.currency;
        if self.lines.is_empty() {
            return Err(DomainError::EmptyCart);
        }
        if self.lines.len() > Self::MAX_LINES {
            return Err(DomainError::TooManyLines(self.lines.len(), Self::MAX_LINES));
        }

        // Steps 1–2: gross and line discounts.
        let mut gross = Vec::with_capacity(self.lines.len());
        let mut line_disc = Vec::with_capacity(self.lines.len());
        for line in &self.lines {
            if line.unit_price.currency() != cur {
                return Err(DomainError::CurrencyMismatch(
                    line.unit_price.currency().to_string(),
                    cur.to_string(),
                ));
            }
            if line.unit_price.is_negative() {
                return Err(DomainError::NegativePrice);
            }
            Quantity::for_sale(line.quantity.milli())?;
            let g = line
                .unit_price
                .mul_ratio(line.quantity.milli(), Quantity::SCALE)?;
            let d = line.discount.on(g, "line amount")?;
            gross.push(g);
            line_disc.push(d);
        }
        let after_line: Vec<i64> = gross
            .iter()
            .zip(&line_disc)
            .map(|(g, d)| g.minor() - d.minor())
            .collect();
        let base = Money::from_minor(after_line.iter().sum(), cur)?;

        // Step 3: the cart discount and its allocation.
        let cart_disc = self.discount.on(base, "cart total")?;
        let shares = allocate(cart_disc.minor(), &after_line);

        // Steps 4–6.
        let mut lines = Vec::with_capacity(self.lines.len());
        for (i, line) in self.lines.iter().enumerate() {
            let rate = taxes.rate(&line.tax_code)?;
            let net = Money::from_minor(after_line[i] - shares[i], cur)?;
            let tax = rate.tax_on(net, taxes.mode)?;
            let total = match taxes.mode {
                TaxMode::Inclusive => net,
                TaxMode::Exclusive => net.checked_add(tax)?,
            };
            lines.push(LineTotals {
                gross: gross[i],
                line_discount: line_disc[i],
                cart_discount: Money::from_minor(shares[i], cur)?,
                net,
                tax_basis_points: rate.basis_points(),
                tax,
                total,
            });
        }
        SaleTotals::from_lines(
            cur,
            taxes.mode,
            lines,
            self.lines.iter().map(|l| &l.tax_code),
        )
    }
}

impl SaleTotals {
    fn from_lines<'a>(
        cur: Currency,
        mode: TaxMode,
        lines: Vec<LineTotals>,
        codes: impl Iterator<Item = &'a TaxCode>,
    ) -> Result<SaleTotals, DomainError> {
        let subtotal = Money::sum(cur, lines.iter().map(|l| &l.gross))?;
        let line_d = Money::sum(cur, lines.iter().map(|l| &l.line_discount))?;
        let cart_d = Money::sum(cur, lines.iter().map(|l| &l.cart_discount))?;
        let tax = Money::sum(cur, lines.iter().map(|l| &l.tax))?;
        let total = Money::sum(cur, lines.iter().map(|l| &l.total))?;
        let mut taxes: Vec<TaxSummary> = Vec::new();
        for (l, code) in lines.iter().zip(codes) {
            match taxes.iter_mut().find(|s| &s.code == code) {
                Some(s) => {
                    s.net = s.net.checked_add(l.net)?;
                    s.tax = s.tax.checked_add(l.tax)?;
                }
                None => taxes.push(TaxSummary {
                    code: code.clone(),
                    basis_points: l.tax_basis_points,
                    net: l.net,
                    tax: l.tax,
                }),
            }
        }
        Ok(SaleTotals {
            mode,
            lines,
            subtotal,
            discount: line_d.checked_add(cart_d)?,
            tax,
            total,
            taxes,
        })
    }
}

/// Splits `amount` over `weights` in proportion, by largest remainder: the
/// parts are non-negative, never exceed their weight, and sum to `amount`
/// exactly. Requires `0 <= amount <= Σ weights` and non-negative weights.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if amount == 0 || total == 0 {
        return vec![0; weights.len()];
    }
    let amount = i128::from(amount);
    let mut parts: Vec<i64> = Vec::with_capacity(weights.len());
    let mut rems: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = amount * i128::from(*w);
        parts.push((exact / total) as i64);
        rems.push((exact % total, i));
    }
    let mut left = amount - parts.iter().map(|p| i128::from(*p)).sum::<i128>();
    // Largest remainder first; ties to the earlier line.
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

/// The part of an original line's amount that a partial refund of `quantity`
/// returns, given what earlier refunds of the line already returned.
///
/// Refunding the last of a line returns exactly what is left, so refunding a
/// line in several steps returns exactly what it cost, never a cent more.
pub fn refund_portion(
    original: Money,
    original_qty: Quantity,
    already_qty: Quantity,
    already: Money,
    quantity: Quantity,
) -> Result<Money, DomainError> {
    let left = original.checked_sub(already)?;
    if already_qty.milli() + quantity.milli() >= original_qty.milli() {
        Ok(left)
    } else {
        // Rounding each step up could otherwise overshoot what is left.
        Ok(original
            .mul_ratio(quantity.milli(), original_qty.milli())?
            .min(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kes(minor: i64) -> Money {
        Money::from_minor(minor, Currency::KES).unwrap()
    }

    fn line(price: i64, qty_milli: i64, tax: &str, discount: Discount) -> CartLine {
        CartLine {
            product_id: ProductId::new(),
            name: "item".into(),
            unit_price: kes(price),
            quantity: Quantity::from_milli(qty_milli),
            tax_code: TaxCode::parse(tax).unwrap(),
            discount,
        }
    }

    #[test]
    fn a_simple_inclusive_sale() {
        let cart = Cart {
            currency: Currency::KES,
            lines: vec![
                line(11_600, 2000, "VAT16", Discount::None),
                line(5_000, 1000, "EXEMPT", Discount::None),
            ],
            discount: Discount::None,
        };
        let t = cart.totals(&TaxTable::kenya_default()).unwrap();
        assert_eq!(t.subtotal, kes(28_200));
        assert_eq!(t.total, kes(28_200));
        assert_eq!(t.tax, kes(3_200));
        assert_eq!(t.taxes.len(), 2);
    }

    #[test]
    fn exclusive_adds_tax_on_top() {
        let mut table = TaxTable::kenya_default();
        table.mode = TaxMode::Exclusive;
        let cart = Cart {
            currency: Currency::KES,
            lines: vec![line(10_000, 1000, "VAT16", Discount::None)],
            discount: Discount::None,
        };
        let t = cart.totals(&table).unwrap();
        assert_eq!(t.tax, kes(1_600));
        assert_eq!(t.total, kes(11_600));
    }

    #[test]
    fn cart_discount_is_allocated_exactly() {
        let cart = Cart {
            currency: Currency::KES,
            lines: vec![
                line(100, 1000, "VAT16", Discount::None),
                line(100, 1000, "VAT16", Discount::None),
                line(100, 1000, "VAT16", Discount::None),
            ],
            discount: Discount::Amount(kes(100)),
        };
        let t = cart.totals(&TaxTable::kenya_default()).unwrap();
        let shares: Vec<i64> = t.lines.iter().map(|l| l.cart_discount.minor()).collect();
        assert_eq!(shares, vec![34, 33, 33]);
        assert_eq!(t.total, kes(200));
    }

    #[test]
    fn bad_carts_are_refused() {
        let table = TaxTable::kenya_default();
        let empty = Cart::new(Currency::KES);
        assert_eq!(empty.totals(&table), Err(DomainError::EmptyCart));
        let mut c = Cart::new(Currency::KES);
        c.lines.push(line(100, 0, "VAT16", Discount::None));
        assert_eq!(c.totals(&table), Err(DomainError::NonPositiveQuantity));
        c.lines[0].quantity = Quantity::from_milli(-1000);
        assert_eq!(c.totals(&table), Err(DomainError::NonPositiveQuantity));
        c.lines[0].quantity = Quantity::units(1);
        c.lines[0].discount = Discount::Amount(kes(101));
        assert!(matches!(
            c.totals(&table),
            Err(DomainError::DiscountTooLarge { .. })
        ));
        c.lines[0].discount = Discount::Percent(10_001);
        assert_eq!(c.totals(&table), Err(DomainError::BadDiscountPercent));
        c.lines[0].discount = Discount::None;
        c.discount = Discount::Amount(kes(101));
        assert!(matches!(
            c.totals(&table),
            Err(DomainError::DiscountTooLarge { .. })
        ));
        c.discount = Discount::None;
        c.lines[0].tax_code = TaxCode::parse("NOPE").unwrap();
        assert!(matches!(
            c.totals(&table),
            Err(DomainError::UnknownTaxCode(_))
        ));
    }

    #[test]
    fn refunds_in_steps_return_exactly_the_line() {
        let total = kes(1000);
        let q = Quantity::units(3);
        let a = refund_portion(total, q, Quantity::ZERO, kes(0), Quantity::units(1)).unwrap();
        let b = refund_portion(total, q, Quantity::units(1), a, Quantity::units(1)).unwrap();
        let c = refund_portion(
            total,
            q,
            Quantity::units(2),
            a.checked_add(b).unwrap(),
            Quantity::units(1),
        )
        .unwrap();
        assert_eq!((a.minor(), b.minor(), c.minor()), (333, 333, 334));
    }

    fn discount_strategy() -> impl Strategy<Value = Discount> {
        prop_oneof![
            Just(Discount::None),
            (0u32..=10_000).prop_map(Discount::Percent),
            (0i64..5_000)
                .prop_map(|m| Discount::Amount(Money::from_minor(m, Currency::KES).unwrap())),
        ]
    }

    fn line_strategy() -> impl Strategy<Value = CartLine> {
        (
            0i64..10_000_000,
            1i64..50_000,
            prop_oneof![Just("VAT16"), Just("ZERO"), Just("EXEMPT"), Just("LOW8")],
            discount_strategy(),
        )
            .prop_map(|(p, q, t, d)| line(p, q, t, d))
    }

    fn table(mode: TaxMode) -> TaxTable {
        let mut rates = TaxTable::kenya_default().rates().to_vec();
        rates.push(crate::TaxRate::new(TaxCode::parse("LOW8").unwrap(), "8%", 800).unwrap());
        TaxTable::new(mode, rates)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn totals_equal_the_sum_of_their_parts(
            lines in prop::collection::vec(line_strategy(), 1..12),
            cart_discount in discount_strategy(),
            exclusive in any::<bool>(),
        ) {
            let mode = if exclusive { TaxMode::Exclusive } else { TaxMode::Inclusive };
            let cart = Cart { currency: Currency::KES, lines, discount: cart_discount };
            let t = match cart.totals(&table(mode)) {
                Ok(t) => t,
                // Only a fixed discount larger than its base may be refused here.
                Err(e) => {
                    prop_assert!(matches!(e, DomainError::DiscountTooLarge { .. }), "{e}");
                    return Ok(());
                }
            };
            let sum = |f: fn(&LineTotals) -> i64| t.lines.iter().map(f).sum::<i64>();
            prop_assert_eq!(t.total.minor(), sum(|l| l.total.minor()));
            prop_assert_eq!(t.subtotal.minor(), sum(|l| l.gross.minor()));
            prop_assert_eq!(t.tax.minor(), sum(|l| l.tax.minor()));
            prop_assert_eq!(t.discount.minor(), sum(|l| l.line_discount.minor() + l.cart_discount.minor()));
            let extra = if exclusive { t.tax.minor() } else { 0 };
            prop_assert_eq!(t.total.minor(), t.subtotal.minor() - t.discount.minor() + extra);
            prop_assert_eq!(t.tax.minor(), t.taxes.iter().map(|s| s.tax.minor()).sum::<i64>());
            for (l, src) in t.lines.iter().zip(&cart.lines) {
                prop_assert!(l.net.minor() >= 0);
                prop_assert!(l.tax.minor() >= 0);
                prop_assert_eq!(l.net.minor(), l.gross.minor() - l.line_discount.minor() - l.cart_discount.minor());
                // Gross is the exact product rounded once: within half a cent.
                let exact = i128::from(src.unit_price.minor()) * i128::from(src.quantity.milli());
                prop_assert!((i128::from(l.gross.minor()) * 1000 - exact).abs() <= 500);
                // Tax is within half a cent of the exact rate.
                let bp = i128::from(l.tax_basis_points);
                let net = i128::from(l.net.minor());
                let (num, den) = if exclusive { (net * bp, 10_000) } else { (net * bp, 10_000 + bp) };
                prop_assert!((i128::from(l.tax.minor()) * den - num).abs() * 2 <= den);
            }
        }

        #[test]
        fn allocation_is_exact_and_bounded(
            weights in prop::collection::vec(0i64..1_000_000, 1..20),
            frac in 0u32..=1000,
        ) {
            let total: i64 = weights.iter().sum();
            let amount = total * i64::from(frac) / 1000;
            let parts = allocate(amount, &weights);
            prop_assert_eq!(parts.iter().sum::<i64>(), amount);
            for (p, w) in parts.iter().zip(&weights) {
                prop_assert!(*p >= 0 && p <= w);
            }
        }

        #[test]
        fn stepwise_refunds_never_exceed_the_line(
            total in 0i64..1_000_000,
            steps in prop::collection::vec(1i64..5_000, 1..6),
        ) {
            let qty: i64 = steps.iter().sum();
            let mut done_q = 0;
            let mut done = Money::zero(Currency::KES);
            for s in &steps {
                let part = refund_portion(
                    Money::from_minor(total, Currency::KES).unwrap(),
                    Quantity::from_milli(qty),
                    Quantity::from_milli(done_q),
                    done,
                    Quantity::from_milli(*s),
                ).unwrap();
                prop_assert!(part.minor() >= 0);
                done = done.checked_add(part).unwrap();
                done_q += s;
                prop_assert!(done.minor() <= total);
            }
            prop_assert_eq!(done.minor(), total);
        }
    }
}
