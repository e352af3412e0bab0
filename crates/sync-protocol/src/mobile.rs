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
