//! Payments and settling a sale's total.
//!
//! A sale may be paid by several tenders (split payment). Only cash can be
//! over-tendered: the change comes out of the cash. M-Pesa, card and credit
//! are taken for their exact amounts, and together may not exceed the total.
//! At most one credit tender per sale; whether the customer's limit allows it
//! is the store's check (it needs the ledger).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{CustomerId, DomainError, Money};

/// How a payment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Mpesa,
    Card,
    Credit,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 4] = [
        PaymentMethod::Cash,
        PaymentMethod::Mpesa,
        PaymentMethod::Card,
        PaymentMethod::Credit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Mpesa => "mpesa",
            PaymentMethod::Card => "card",
            PaymentMethod::Credit => "credit",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    fn label(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "Cash",
            PaymentMethod::Mpesa => "M-Pesa",
            PaymentMethod::Card => "Card",
            PaymentMethod::Credit => "Credit",
        }
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An M-Pesa confirmation code: 10 letters and digits, stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MpesaCode(String);

impl MpesaCode {
    pub fn parse(text: &str) -> Result<MpesaCode, DomainError> {
        let t = text.trim().to_ascii_uppercase();
        if t.len() == 10 && t.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(MpesaCode(t))
        } else {
            Err(DomainError::BadMpesaCode(text.to_string()))
        }
    }
}

/// What the customer hands over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Tender {
    /// Cash handed over; may exceed what is due (change is given).
    Cash {
        tendered: Money,
    },
    Mpesa {
        amount: Money,
        code: MpesaCode,
    },
    Card {
        amount: Money,
        reference: Option<String>,
    },
    /// Put on the customer's account.
    Credit {
        amount: Money,
        customer: CustomerId,
    },
}

impl Tender {
    pub fn method(&self) -> PaymentMethod {
        match self {
            Tender::Cash { .. } => PaymentMethod::Cash,
            Tender::Mpesa { .. } => PaymentMethod::Mpesa,
            Tender::Card { .. } => PaymentMethod::Card,
            Tender::Credit { .. } => PaymentMethod::Credit,
        }
    }

    fn offered(&self) -> Money {
        match self {
            Tender::Cash { tendered } => *tendered,
            Tender::Mpesa { amount, .. }
            | Tender::Card { amount, .. }
            | Tender::Credit { amount, .. } => *amount,
        }
    }
}

/// One payment as recorded on the sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledPayment {
    pub method: PaymentMethod,
    /// The part of the total this payment covers.
    pub amount: Money,
    /// Cash handed over (cash only).
    pub tendered: Option<Money>,
    /// Change given back (cash only).
    pub change: Option<Money>,
    /// M-Pesa confirmation code or card reference.
    pub reference: Option<String>,
    pub customer: Option<CustomerId>,
}

/// The payments of a sale, whose amounts sum to its total exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub payments: Vec<SettledPayment>,
    pub change: Money,
}

impl Settlement {
    /// The amount put on a customer's account, if any.
    pub fn credit(&self) -> Option<(CustomerId, Money)> {
        self.payments
            .iter()
            .find(|p| p.method == PaymentMethod::Credit)
            .and_then(|p| p.customer.map(|c| (c, p.amount)))
    }
}

/// Settles `total` with `tenders`, or says why they do not settle it.
pub fn settle(total: Money, tenders: &[Tender]) -> Result<Settlement, DomainError> {
    let cur = total.currency();
    let zero = Money::zero(cur);
    let mut cash = zero;
    let mut non_cash = zero;
    let mut credits = 0;
    for t in tenders {
        let amount = t.offered();
        if amount.currency() != cur {
            return Err(DomainError::CurrencyMismatch(
                amount.currency().to_string(),
                cur.to_string(),
            ));
        }
        if !amount.is_positive() {
            return Err(DomainError::NonPositivePayment);
        }
        match t {
            Tender::Cash { .. } => cash = cash.checked_add(amount)?,
            Tender::Credit { .. } => {
                credits += 1;
                non_cash = non_cash.checked_add(amount)?;
            }
            _ => non_cash = non_cash.checked_add(amount)?,
        }
    }
    if credits > 1 {
        return Err(DomainError::MultipleCreditPayments);
    }
    if non_cash.minor() > total.minor() {
        let method = tenders
            .iter()
            .find(|t| t.method() != PaymentMethod::Cash)
            .map_or("Non-cash", |t| t.method().label());
        return Err(DomainError::NonCashOverpaid {
            method,
            paid: non_cash,
            total,
        });
    }
    let paid = cash.checked_add(non_cash)?;
    if paid.minor() < total.minor() {
        return Err(DomainError::Underpaid {
            paid,
            total,
            short: total.checked_sub(paid)?,
        });
    }
    let change = paid.checked_sub(total)?;

    let mut payments = Vec::with_capacity(tenders.len());
    if cash.is_positive() {
        payments.push(SettledPayment {
            method: PaymentMethod::Cash,
            amount: cash.checked_sub(change)?,
            tendered: Some(cash),
            change: Some(change),
            reference: None,
            customer: None,
        });
    }
    for t in tenders {
        let (reference, customer) = match t {
            Tender::Cash { .. } => continue,
            Tender::Mpesa { code, .. } => (Some(code.as_str().to_string()), None),
            Tender::Card { reference, .. } => (reference.clone(), None),
            Tender::Credit { customer, .. } => (None, Some(*customer)),
        };
        payments.push(SettledPayment {
            method: t.method(),
            amount: t.offered(),
            tendered: None,
            change: None,
            reference,
            customer,
        });
    }
    // Cash handed over on top of exact non-cash payments is all change: it
    // leaves a zero cash payment, which is dropped so every payment is positive.
    payments.retain(|p| p.amount.is_positive());
    Ok(Settlement { payments, change })
}

validated_text!(MpesaCode);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;
    use proptest::prelude::*;

    fn kes(minor: i64) -> Money {
        Money::from_minor(minor, Currency::KES).unwrap()
    }

    #[test]
    fn cash_with_change() {
        let s = settle(
            kes(850_00),
            &[Tender::Cash {
                tendered: kes(1000_00),
            }],
        )
        .unwrap();
        assert_eq!(s.change, kes(150_00));
        assert_eq!(s.payments[0].amount, kes(850_00));
        assert_eq!(s.payments[0].tendered, Some(kes(1000_00)));
    }

    #[test]
    fn split_mpesa_and_cash() {
        let code = MpesaCode::parse("qjk3h5trd2").unwrap();
        let s = settle(
            kes(1000_00),
            &[
                Tender::Mpesa {
                    amount: kes(600_00),
                    code,
                },
                Tender::Cash {
                    tendered: kes(500_00),
                },
            ],
        )
        .unwrap();
        assert_eq!(s.change, kes(100_00));
        let amounts: i64 = s.payments.iter().map(|p| p.amount.minor()).sum();
        assert_eq!(amounts, 1000_00);
    }

    #[test]
    fn refuses_bad_tenders() {
        assert!(matches!(
            settle(kes(100), &[Tender::Cash { tendered: kes(99) }]),
            Err(DomainError::Underpaid { .. })
        ));
        assert!(matches!(
            settle(kes(100), &[]),
            Err(DomainError::Underpaid { .. })
        ));
        let code = MpesaCode::parse("QJK3H5TRD2").unwrap();
        assert!(matches!(
            settle(
                kes(100),
                &[Tender::Mpesa {
                    amount: kes(101),
                    code
                }]
            ),
            Err(DomainError::NonCashOverpaid { .. })
        ));
        assert_eq!(
            settle(kes(100), &[Tender::Cash { tendered: kes(0) }]),
            Err(DomainError::NonPositivePayment)
        );
        let c = CustomerId::new();
        assert_eq!(
            settle(
                kes(100),
                &[
                    Tender::Credit {
                        amount: kes(50),
                        customer: c
                    },
                    Tender::Credit {
                        amount: kes(50),
                        customer: c
                    }
                ]
            ),
            Err(DomainError::MultipleCreditPayments)
        );
        assert!(MpesaCode::parse("SHORT").is_err());
        assert!(MpesaCode::parse("QJK3H5TRD!").is_err());
    }

    #[test]
    fn a_free_sale_needs_no_payment() {
        let s = settle(kes(0), &[]).unwrap();
        assert!(s.payments.is_empty());
        assert!(s.change.is_zero());
    }

    proptest! {
        #[test]
        fn settled_payments_sum_to_the_total(
            total in 0i64..10_000_000,
            cash in prop::collection::vec(1i64..5_000_000, 0..3),
            card in prop::collection::vec(1i64..5_000_000, 0..3),
        ) {
            let mut tenders: Vec<Tender> = cash.iter().map(|c| Tender::Cash { tendered: kes(*c) }).collect();
            tenders.extend(card.iter().map(|c| Tender::Card { amount: kes(*c), reference: None }));
            match settle(kes(total), &tenders) {
                Ok(s) => {
                    prop_assert_eq!(s.payments.iter().map(|p| p.amount.minor()).sum::<i64>(), total);
                    prop_assert!(s.payments.iter().all(|p| p.amount.minor() >= 0));
                    prop_assert!(s.change.minor() >= 0);
                    prop_assert!(s.change.minor() <= cash.iter().sum::<i64>());
                }
                Err(e) => {
                    let paid: i64 = cash.iter().sum::<i64>() + card.iter().sum::<i64>();
                    let non_cash: i64 = card.iter().sum();
                    prop_assert!(paid < total || non_cash > total, "{e}");
                }
            }
        }
    }
}
