//! The mobile API's messages: the catalog a satellite till (a waiter's phone)
//! sells from, and the answer to the one sale it posts.
//!
//! | method and path | request | response |
//! |---|---|---|
//! | `GET /api/products` | — | [`MobileCatalog`] |
//! | `POST /api/transaction` | [`crate::SaleRecord`] | [`TransactionResponse`] |
//!
//! See `docs/sync-protocol.md` (Mobile API).

use pos_domain::{
    Barcode, CategoryId, Currency, Money, Name, ProductId, Quantity, SaleId, Sku, TaxCode, TaxMode,
    Timestamp,
};
use serde::{Deserialize, Serialize};

/// `GET /api/products`: the live (not deleted) catalog with the stock of the
/// key's branch, and how to price it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileCatalog {
    /// The business's currency: every price is in it.
    pub currency: Currency,
    /// Whether prices include tax.
    pub tax_mode: TaxMode,
    pub products: Vec<MobileProduct>,
    pub server_time: Timestamp,
}

/// One product as a mobile till shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileProduct {
    pub id: ProductId,
    pub name: Name,
    pub sku: Option<Sku>,
    pub barcode: Option<Barcode>,
    /// `null` when the product has no category (or its category was deleted).
    pub category: Option<MobileCategory>,
    pub price: Money,
    pub tax_code: TaxCode,
    pub image: Option<String>,
    pub track_stock: bool,
    /// The stock level at the key's branch (the sum of its movements; may be
    /// negative); 0 when the branch never moved this product.
    pub stock: Quantity,
}

/// A product's category, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileCategory {
    pub id: CategoryId,
    pub name: Name,
}

/// `POST /api/transaction`: what became of the posted sale. 201 with
/// `applied` the first time, 200 with `duplicate` for a sale id the server
/// already has (nothing is applied twice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionResponse {
    pub status: TransactionStatus,
    pub sale_id: SaleId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    Applied,
    Duplicate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_answers_have_the_documented_shape() {
        let r = TransactionResponse {
            status: TransactionStatus::Duplicate,
            sale_id: SaleId::new(),
        };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["status"], "duplicate");
        assert_eq!(json["sale_id"], r.sale_id.to_string());
        assert_eq!(
            serde_json::from_value::<TransactionResponse>(json).unwrap(),
            r
        );
    }

    #[test]
    fn catalogs_round_trip() {
        let c = MobileCatalog {
            currency: Currency::KES,
            tax_mode: TaxMode::Inclusive,
            products: vec![MobileProduct {
                id: ProductId::new(),
                name: Name::parse("name", "Soda 500ml").unwrap(),
                sku: None,
                barcode: None,
                category: Some(MobileCategory {
                    id: CategoryId::new(),
                    name: Name::parse("name", "Drinks").unwrap(),
                }),
                price: Money::from_minor(80_00, Currency::KES).unwrap(),
                tax_code: TaxCode::parse("VAT16").unwrap(),
                image: None,
                track_stock: true,
                stock: Quantity::units(21),
            }],
            server_time: Timestamp::from_millis(1_772_431_200_000),
        };
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["products"][0]["stock"], 21_000);
        assert_eq!(json["products"][0]["category"]["name"], "Drinks");
        assert_eq!(serde_json::from_value::<MobileCatalog>(json).unwrap(), c);
    }
}
