//! The product catalog: categories and products, with lookups by barcode and
//! SKU, full-text name search and the category grid.
//!
//! Products and categories are shared by every branch. Edits are queued as
//! patches (only changed fields, stamped with one HLC); deletes are soft.

use pos_domain::{
    Barcode, CategoryId, Currency, Money, Name, Permission, ProductId, Quantity, Sku, TaxCode,
    Timestamp,
};
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::{OpBody, ProductPatch};

use crate::sql::{col_money, col_parse, col_parse_opt, is_unique_violation};
use crate::{Actor, Result, Store, StoreError, Tx};

/// A product as the till sees it, with this branch's stock level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub category_id: Option<CategoryId>,
    pub price: Money,
    pub tax_code: TaxCode,
    pub image: Option<String>,
    pub track_stock: bool,
    pub low_stock: Option<Quantity>,
    /// This branch's level (sum of movements); may be negative.
    pub stock: Quantity,
    pub deleted_at: Option<Timestamp>,
}

/// What a new product needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub name: Name,
    pub sku: Option<Sku>,
    pub barcode: Option<Barcode>,
    pub category_id: Option<CategoryId>,
    pub price: Money,
    pub tax_code: TaxCode,
    pub image: Option<String>,
    pub track_stock: bool,
    pub low_stock: Option<Quantity>,
}

/// Columns read by [`product_row`]; `?1` is the branch.
pub(crate) const PRODUCT_SELECT: &str =
    "SELECT p.id, p.name, p.sku, p.barcode, p.category_id, p.price_minor,
        p.currency, p.tax_code, p.image, p.track_stock, p.low_stock_milli,
        COALESCE(l.quantity_milli, 0), p.deleted_at
    FROM products p LEFT JOIN stock_levels l ON l.product_id = p.id AND l.branch_id = ?1";

pub(crate) fn product_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    let currency: Currency = col_parse(r, 6)?;
    Ok(Product {
        id: col_parse(r, 0)?,
        name: r.get(1)?,
        sku: r.get(2)?,
        barcode: r.get(3)?,
        category_id: col_parse_opt(r, 4)?,
        price: col_money(r, 5, currency)?,
        tax_code: col_parse(r, 7)?,
        image: r.get(8)?,
        track_stock: r.get(9)?,
        low_stock: r.get::<_, Option<i64>>(10)?.map(Quantity::from_milli),
        stock: Quantity::from_milli(r.get(11)?),
        deleted_at: r.get::<_, Option<i64>>(12)?.map(Timestamp::from_millis),
    })
}

impl Store {
    /// A product by id, deleted or not (old receipts still show deleted products).
    pub fn product(&self, id: ProductId) -> Result<Product> {
        find_product(self.conn(), &self.identity().branch_id.to_string(), id)?.ok_or_else(|| {
            StoreError::NotFound {
                what: "product",
                id: id.to_string(),
            }
        })
    }

    /// Adds a product to the catalog.
    pub fn create_product(&mut self, actor: &Actor, new: NewProduct) -> Result<Product> {
        actor.require(Permission::ManageCatalog, "add products")?;
        let id = ProductId::new();
        self.write(|tx| insert_product(tx, id, &new))?;
        self.product(id)
    }
}

pub(crate) fn find_product(
    conn: &Connection,
    branch: &str,
    id: ProductId,
) -> Result<Option<Product>> {
    Ok(conn
        .prepare_cached(&format!("{PRODUCT_SELECT} WHERE p.id = ?2"))?
        .query_row(params![branch, id.to_string()], product_row)
        .optional()?)
}

pub(crate) fn insert_product(tx: &mut Tx<'_>, id: ProductId, new: &NewProduct) -> Result<()> {
    check_product_fields(
        tx,
        None,
        new.sku.as_ref(),
        new.barcode.as_ref(),
        new.category_id,
        &new.price,
        &new.tax_code,
    )?;
    let hlc = tx.tick();
    let res = tx.execute(
        "INSERT INTO products (id, name, sku, barcode, category_id, price_minor, currency, tax_code,
                               image, track_stock, low_stock_milli, created_at, hlc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            id.to_string(),
            new.name.as_str(),
            new.sku.as_ref().map(Sku::as_str),
            new.barcode.as_ref().map(Barcode::as_str),
            new.category_id.map(|c| c.to_string()),
            new.price.minor(),
            new.price.currency().code(),
            new.tax_code.as_str(),
            new.image,
            new.track_stock,
            new.low_stock.map(Quantity::milli),
            tx.now().as_millis(),
            hlc.to_string(),
        ],
    );
    if let Err(e) = res {
        // The checks above make these unreachable for one writer; the
        // constraints are the backstop.
        if is_unique_violation(&e, "products.barcode") || is_unique_violation(&e, "products.sku") {
            return Err(StoreError::Invalid(
                "that SKU or barcode is already used".into(),
            ));
        }
        return Err(e.into());
    }
    let patch = ProductPatch {
        name: Some(new.name.clone()),
        sku: Some(new.sku.clone()),
        barcode: Some(new.barcode.clone()),
        category_id: Some(new.category_id),
        price: Some(new.price),
        tax_code: Some(new.tax_code.clone()),
        image: Some(new.image.clone()),
        track_stock: Some(new.track_stock),
        low_stock: Some(new.low_stock),
        ..ProductPatch::new(id)
    };
    tx.enqueue_at(OpBody::ProductChanged(patch), hlc)?;
    Ok(())
}

/// Checks the fields of a new or edited product against the rest of the
/// catalog and the settings: unique SKU and barcode, a live category, the
/// business's currency, a known tax code. `except` is the product being edited.
pub(crate) fn check_product_fields(
    conn: &Connection,
    except: Option<ProductId>,
    sku: Option<&Sku>,
    barcode: Option<&Barcode>,
    category: Option<CategoryId>,
    price: &Money,
    tax_code: &TaxCode,
) -> Result<()> {
    let except = except.map(|id| id.to_string()).unwrap_or_default();
    if let Some(b) = barcode {
        let other: Option<String> = conn
            .prepare_cached(
                "SELECT name FROM products WHERE barcode = ?1 AND deleted_at IS NULL AND id <> ?2",
            )?
            .query_row(params![b.as_str(), except], |r| r.get(0))
            .optional()?;
        if let Some(product) = other {
            return Err(StoreError::DuplicateBarcode {
                barcode: b.as_str().into(),
                product,
            });
        }
    }
    if let Some(s) = sku {
        let other: Option<String> = conn
            .prepare_cached(
                "SELECT name FROM products WHERE sku = ?1 AND deleted_at IS NULL AND id <> ?2",
            )?
            .query_row(params![s.as_str(), except], |r| r.get(0))
            .optional()?;
        if let Some(product) = other {
            return Err(StoreError::DuplicateSku {
                sku: s.as_str().into(),
                product,
            });
        }
    }
    if let Some(c) = category {
        let deleted: Option<Option<i64>> = conn
            .prepare_cached("SELECT deleted_at FROM categories WHERE id = ?1")?
            .query_row([c.to_string()], |r| r.get(0))
            .optional()?;
        match deleted {
            None => {
                return Err(StoreError::NotFound {
                    what: "category",
                    id: c.to_string(),
                });
            }
            Some(Some(_)) => {
                return Err(StoreError::Deleted {
                    what: "category",
                    name: c.to_string(),
                });
            }
            Some(None) => {}
        }
    }
    let settings = crate::settings::load_settings(conn)?;
    if price.currency() != settings.currency {
        return Err(pos_domain::DomainError::CurrencyMismatch(
            price.currency().to_string(),
            settings.currency.to_string(),
        )
        .into());
    }
    Money::price(price.minor(), price.currency())?;
    crate::settings::load_tax_table(conn)?.rate(tax_code)?;
    Ok(())
}
