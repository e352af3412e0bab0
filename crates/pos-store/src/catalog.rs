//! The product catalog: categories and products, with lookups by barcode and
//! SKU, full-text name search and the category grid.
//!
//! Products and categories are shared by every branch. Edits are queued as
//! patches (only changed fields, stamped with one HLC); deletes are soft: a
//! deleted product keeps its row (old receipts still show it) but frees its
//! barcode and SKU and leaves lookups, search and the grid.
//!
//! Every read of a product carries this branch's stock level.

use pos_domain::{
    Barcode, CategoryId, Currency, Money, Name, Permission, ProductId, Quantity, Sku, TaxCode,
    Timestamp,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use sync_protocol::{CategoryPatch, OpBody, ProductPatch, Tombstone};

use crate::sql::{col_money, col_parse, col_parse_opt, is_unique_violation};
use crate::{Actor, Result, Store, StoreError, Tx};

/// The most results one search or one grid page returns.
pub const MAX_PAGE: u32 = 200;

/// The most words of a search query that are used; the rest are ignored.
const MAX_SEARCH_TERMS: usize = 16;

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

/// Changes to a product. `None` leaves a field as it is; for the fields that
/// may be empty, `Some(None)` clears them. Mirrors [`ProductPatch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductUpdate {
    pub name: Option<Name>,
    pub sku: Option<Option<Sku>>,
    pub barcode: Option<Option<Barcode>>,
    pub category_id: Option<Option<CategoryId>>,
    pub price: Option<Money>,
    pub tax_code: Option<TaxCode>,
    pub image: Option<Option<String>>,
    pub track_stock: Option<bool>,
    pub low_stock: Option<Option<Quantity>>,
}

/// A product category (a tab of the till's grid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
    pub sort_order: i64,
    pub deleted_at: Option<Timestamp>,
}

/// Changes to a category; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryUpdate {
    pub name: Option<Name>,
    pub sort_order: Option<i64>,
}

/// The text of [`PRODUCT_SELECT`], as a macro so the hot-path queries below
/// are built at compile time.
macro_rules! product_select {
    () => {
        "SELECT p.id, p.name, p.sku, p.barcode, p.category_id, p.price_minor,
        p.currency, p.tax_code, p.image, p.track_stock, p.low_stock_milli,
        COALESCE(l.quantity_milli, 0), p.deleted_at
    FROM products p LEFT JOIN stock_levels l ON l.product_id = p.id AND l.branch_id = ?1"
    };
}

/// Columns read by [`product_row`]; `?1` is the branch.
pub(crate) const PRODUCT_SELECT: &str = product_select!();

/// A live product by barcode (`?2`); uses the `products_barcode` index.
const BY_BARCODE: &str = concat!(
    product_select!(),
    " WHERE p.barcode = ?2 AND p.barcode IS NOT NULL AND p.deleted_at IS NULL"
);

/// A live product by SKU (`?2`); uses the `products_sku` index.
const BY_SKU: &str = concat!(
    product_select!(),
    " WHERE p.sku = ?2 AND p.sku IS NOT NULL AND p.deleted_at IS NULL"
);

/// Live products matching an FTS5 expression (`?2`), best first, at most `?3`.
const SEARCH: &str = "
    WITH hits AS (
        SELECT rowid AS pk, bm25(products_fts) AS score FROM products_fts
        WHERE products_fts MATCH ?2 ORDER BY score LIMIT ?3
    )
    SELECT p.id, p.name, p.sku, p.barcode, p.category_id, p.price_minor,
        p.currency, p.tax_code, p.image, p.track_stock, p.low_stock_milli,
        COALESCE(l.quantity_milli, 0), p.deleted_at
    FROM hits JOIN products p ON p.pk = hits.pk
    LEFT JOIN stock_levels l ON l.product_id = p.id AND l.branch_id = ?1
    ORDER BY hits.score, p.name";

/// A page of the grid for category `?2`; uses the `products_grid` index.
const GRID: &str = concat!(
    product_select!(),
    " WHERE p.category_id = ?2 AND p.deleted_at IS NULL ORDER BY p.name LIMIT ?3 OFFSET ?4"
);

/// A page of every live product by name; walks the `products_live_name` index
/// in order and stops after the page (no sort of the whole catalog).
const ALL_PRODUCTS: &str = concat!(
    product_select!(),
    " WHERE p.deleted_at IS NULL ORDER BY p.name, p.id LIMIT ?2 OFFSET ?3"
);

/// A page of the grid for products with no category; uses `products_grid`.
const GRID_UNCATEGORIZED: &str = concat!(
    product_select!(),
    " WHERE p.category_id IS NULL AND p.deleted_at IS NULL ORDER BY p.name LIMIT ?2 OFFSET ?3"
);

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
        check_low_stock(new.low_stock)?;
        let id = ProductId::new();
        self.write(|tx| insert_product(tx, id, &new))?;
        self.product(id)
    }

    /// Edits a live product. Only the fields that actually change are written
    /// and queued (one `ProductChanged` patch); an edit that changes nothing
    /// writes nothing and queues nothing.
    pub fn update_product(
        &mut self,
        actor: &Actor,
        id: ProductId,
        update: ProductUpdate,
    ) -> Result<Product> {
        actor.require(Permission::ManageCatalog, "edit products")?;
        if let Some(low) = update.low_stock {
            check_low_stock(low)?;
        }
        let branch = self.identity().branch_id.to_string();
        // Look first so an edit that changes nothing does not even open a write.
        let current = live_product(self.conn(), &branch, id)?;
        if product_changes(&current, &update).is_empty() {
            return Ok(current);
        }
        self.write(|tx| {
            let current = live_product(tx, &branch, id)?;
            let patch = product_changes(&current, &update);
            if patch.is_empty() {
                return Ok(());
            }
            check_product_fields(
                tx,
                Some(id),
                patch.sku.as_ref().and_then(Option::as_ref),
                patch.barcode.as_ref().and_then(Option::as_ref),
                patch.category_id.flatten(),
                patch.price.as_ref().unwrap_or(&current.price),
                patch.tax_code.as_ref().unwrap_or(&current.tax_code),
            )?;
            let hlc = tx.tick();
            let mut columns = patch.columns();
            columns.push(("hlc", Value::from(hlc.to_string())));
            let sets: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, (col, _))| format!("{col} = ?{}", i + 1))
                .collect();
            let sql = format!(
                "UPDATE products SET {} WHERE id = ?{}",
                sets.join(", "),
                columns.len() + 1
            );
            let values = columns
                .into_iter()
                .map(|(_, v)| v)
                .chain([Value::from(id.to_string())]);
            if let Err(e) = tx.execute(&sql, params_from_iter(values)) {
                if is_unique_violation(&e, "products.barcode")
                    || is_unique_violation(&e, "products.sku")
                {
                    return Err(StoreError::Invalid(
                        "that SKU or barcode is already used".into(),
                    ));
                }
                return Err(e.into());
            }
            tx.enqueue_at(OpBody::ProductChanged(patch.into_patch(id)), hlc)?;
            Ok(())
        })?;
        self.product(id)
    }

    /// Deletes a product (soft): it leaves lookups, search and the grid and
    /// frees its barcode and SKU, but old receipts still show it.
    pub fn delete_product(&mut self, actor: &Actor, id: ProductId) -> Result<()> {
        actor.require(Permission::ManageCatalog, "delete products")?;
        let branch = self.identity().branch_id.to_string();
        self.write(|tx| {
            live_product(tx, &branch, id)?;
            let hlc = tx.tick();
            let deleted_at = tx.now();
            tx.execute(
                "UPDATE products SET deleted_at = ?1, hlc = ?2 WHERE id = ?3",
                params![deleted_at.as_millis(), hlc.to_string(), id.to_string()],
            )?;
            tx.enqueue_at(OpBody::ProductDeleted(Tombstone { id, deleted_at }), hlc)?;
            Ok(())
        })
    }

    /// The live product a scanned or typed code names: an exact barcode
    /// first, then a SKU (case-insensitive). Text that cannot be either finds
    /// nothing.
    pub fn product_by_code(&self, code: &str) -> Result<Option<Product>> {
        let branch = self.identity().branch_id.to_string();
        if let Ok(barcode) = Barcode::parse(code) {
            let found = self
                .conn()
                .prepare_cached(BY_BARCODE)?
                .query_row(params![branch, barcode.as_str()], product_row)
                .optional()?;
            if found.is_some() {
                return Ok(found);
            }
        }
        if let Ok(sku) = Sku::parse(code) {
            return Ok(self
                .conn()
                .prepare_cached(BY_SKU)?
                .query_row(params![branch, sku.as_str()], product_row)
                .optional()?);
        }
        Ok(None)
    }

    /// Live products whose name, SKU or barcode has words starting with every
    /// word of `query` (accents and case ignored), best match first, at most
    /// `limit` (capped at [`MAX_PAGE`]). Punctuation in `query` only separates
    /// words; a query with no words finds nothing.
    pub fn search_products(&self, query: &str, limit: u32) -> Result<Vec<Product>> {
        let limit = limit.min(MAX_PAGE);
        let Some(expr) = fts_query(query) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let branch = self.identity().branch_id.to_string();
        let mut stmt = self.conn().prepare_cached(SEARCH)?;
        let rows = stmt.query_map(params![branch, expr, limit], product_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A page of the till's grid: live products of `category` (`None`: those
    /// with no category) by name. An unknown category has no products.
    /// `limit` is capped at [`MAX_PAGE`].
    pub fn products_in_category(
        &self,
        category: Option<CategoryId>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Product>> {
        let limit = limit.min(MAX_PAGE);
        let branch = self.identity().branch_id.to_string();
        let rows = match category {
            Some(c) => self
                .conn()
                .prepare_cached(GRID)?
                .query_map(params![branch, c.to_string(), limit, offset], product_row)?
                .collect::<rusqlite::Result<_>>()?,
            None => self
                .conn()
                .prepare_cached(GRID_UNCATEGORIZED)?
                .query_map(params![branch, limit, offset], product_row)?
                .collect::<rusqlite::Result<_>>()?,
        };
        Ok(rows)
    }

    /// Adds a category. Names are unique among live categories, ignoring case.
    /// A page of every live product, whatever its category, by name (the
    /// catalog list before any filter). At most [`MAX_PAGE`].
    pub fn all_products(&self, limit: u32, offset: u32) -> Result<Vec<Product>> {
        let limit = limit.min(MAX_PAGE);
        let branch = self.identity().branch_id.to_string();
        let rows = self
            .conn()
            .prepare_cached(ALL_PRODUCTS)?
            .query_map(params![branch, limit, offset], product_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn create_category(
        &mut self,
        actor: &Actor,
        name: Name,
        sort_order: i64,
    ) -> Result<Category> {
        actor.require(Permission::ManageCatalog, "add categories")?;
        let id = CategoryId::new();
        self.write(|tx| {
            check_category_name(tx, &name, None)?;
            let hlc = tx.tick();
            tx.execute(
                "INSERT INTO categories (id, name, sort_order, hlc) VALUES (?1, ?2, ?3, ?4)",
                params![id.to_string(), name.as_str(), sort_order, hlc.to_string()],
            )?;
            let patch = CategoryPatch {
                name: Some(name.clone()),
                sort_order: Some(sort_order),
                ..CategoryPatch::new(id)
            };
            tx.enqueue_at(OpBody::CategoryChanged(patch), hlc)?;
            Ok(())
        })?;
        self.category(id)
    }

    /// Renames or reorders a live category. Only changed fields are written
    /// and queued; an edit that changes nothing writes nothing.
    pub fn update_category(
        &mut self,
        actor: &Actor,
        id: CategoryId,
        update: CategoryUpdate,
    ) -> Result<Category> {
        actor.require(Permission::ManageCatalog, "edit categories")?;
        let current = live_category(self.conn(), id)?;
        if category_changes(&current, &update) == CategoryPatch::new(id) {
            return Ok(current);
        }
        self.write(|tx| {
            let current = live_category(tx, id)?;
            let patch = category_changes(&current, &update);
            if patch == CategoryPatch::new(id) {
                return Ok(());
            }
            if let Some(name) = &patch.name {
                check_category_name(tx, name, Some(id))?;
            }
            let hlc = tx.tick();
            tx.execute(
                "UPDATE categories SET name = ?1, sort_order = ?2, hlc = ?3 WHERE id = ?4",
                params![
                    patch
                        .name
                        .as_ref()
                        .map_or(current.name.as_str(), Name::as_str),
                    patch.sort_order.unwrap_or(current.sort_order),
                    hlc.to_string(),
                    id.to_string()
                ],
            )?;
            tx.enqueue_at(OpBody::CategoryChanged(patch), hlc)?;
            Ok(())
        })?;
        self.category(id)
    }

    /// Deletes a category (soft). Refused while live products are in it.
    pub fn delete_category(&mut self, actor: &Actor, id: CategoryId) -> Result<()> {
        actor.require(Permission::ManageCatalog, "delete categories")?;
        self.write(|tx| {
            let current = live_category(tx, id)?;
            let products: i64 = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM products WHERE category_id = ?1 AND deleted_at IS NULL",
                )?
                .query_row([id.to_string()], |r| r.get(0))?;
            if products > 0 {
                let what = if products == 1 { "product" } else { "products" };
                return Err(StoreError::Invalid(format!(
                    "category '{}' still has {products} {what}; move them to another category (or delete them) first",
                    current.name
                )));
            }
            let hlc = tx.tick();
            let deleted_at = tx.now();
            tx.execute(
                "UPDATE categories SET deleted_at = ?1, hlc = ?2 WHERE id = ?3",
                params![deleted_at.as_millis(), hlc.to_string(), id.to_string()],
            )?;
            tx.enqueue_at(OpBody::CategoryDeleted(Tombstone { id, deleted_at }), hlc)?;
            Ok(())
        })
    }

    /// A category by id, deleted or not.
    pub fn category(&self, id: CategoryId) -> Result<Category> {
        find_category(self.conn(), id)?.ok_or_else(|| StoreError::NotFound {
            what: "category",
            id: id.to_string(),
        })
    }

    /// The live categories, by sort order then name.
    pub fn categories(&self) -> Result<Vec<Category>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, name, sort_order, deleted_at FROM categories
             WHERE deleted_at IS NULL ORDER BY sort_order, name, id",
        )?;
        let rows = stmt.query_map([], category_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The product `id` if it exists and is live: `NotFound` or `Deleted` otherwise.
pub(crate) fn live_product(conn: &Connection, branch: &str, id: ProductId) -> Result<Product> {
    let product = find_product(conn, branch, id)?.ok_or_else(|| StoreError::NotFound {
        what: "product",
        id: id.to_string(),
    })?;
    if product.deleted_at.is_some() {
        return Err(StoreError::Deleted {
            what: "product",
            name: product.name,
        });
    }
    Ok(product)
}

/// A low-stock threshold is a level, so it cannot be negative.
fn check_low_stock(low: Option<Quantity>) -> Result<()> {
    match low {
        Some(q) if q.is_negative() => Err(StoreError::Invalid(format!(
            "the low-stock level cannot be negative (got {q}); enter 0 or more, or leave it empty"
        ))),
        Some(q) if q.milli() > Quantity::MAX_ABS => Err(StoreError::Invalid(format!(
            "the low-stock level {q} is too large"
        ))),
        _ => Ok(()),
    }
}

/// The fields of `update` that differ from `current`.
struct ProductChanges {
    name: Option<Name>,
    sku: Option<Option<Sku>>,
    barcode: Option<Option<Barcode>>,
    category_id: Option<Option<CategoryId>>,
    price: Option<Money>,
    tax_code: Option<TaxCode>,
    image: Option<Option<String>>,
    track_stock: Option<bool>,
    low_stock: Option<Option<Quantity>>,
}

/// `Some(new)` if `new` is set and differs from `current`.
fn changed<T: Clone>(new: &Option<T>, same: impl FnOnce(&T) -> bool) -> Option<T> {
    new.as_ref().filter(|n| !same(n)).cloned()
}

fn product_changes(current: &Product, u: &ProductUpdate) -> ProductChanges {
    ProductChanges {
        name: changed(&u.name, |n| n.as_str() == current.name),
        sku: changed(&u.sku, |s| {
            s.as_ref().map(Sku::as_str) == current.sku.as_deref()
        }),
        barcode: changed(&u.barcode, |b| {
            b.as_ref().map(Barcode::as_str) == current.barcode.as_deref()
        }),
        category_id: changed(&u.category_id, |c| *c == current.category_id),
        price: changed(&u.price, |p| *p == current.price),
        tax_code: changed(&u.tax_code, |t| *t == current.tax_code),
        image: changed(&u.image, |i| *i == current.image),
        track_stock: changed(&u.track_stock, |t| *t == current.track_stock),
        low_stock: changed(&u.low_stock, |l| *l == current.low_stock),
    }
}

impl ProductChanges {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.sku.is_none()
            && self.barcode.is_none()
            && self.category_id.is_none()
            && self.price.is_none()
            && self.tax_code.is_none()
            && self.image.is_none()
            && self.track_stock.is_none()
            && self.low_stock.is_none()
    }

    /// The `products` columns to set, with their new values.
    fn columns(&self) -> Vec<(&'static str, Value)> {
        let mut c = Vec::new();
        if let Some(n) = &self.name {
            c.push(("name", Value::from(n.as_str().to_string())));
        }
        if let Some(s) = &self.sku {
            c.push((
                "sku",
                Value::from(s.as_ref().map(|s| s.as_str().to_string())),
            ));
        }
        if let Some(b) = &self.barcode {
            c.push((
                "barcode",
                Value::from(b.as_ref().map(|b| b.as_str().to_string())),
            ));
        }
        if let Some(cat) = &self.category_id {
            c.push(("category_id", Value::from(cat.map(|id| id.to_string()))));
        }
        if let Some(p) = &self.price {
            c.push(("price_minor", Value::from(p.minor())));
            c.push(("currency", Value::from(p.currency().code().to_string())));
        }
        if let Some(t) = &self.tax_code {
            c.push(("tax_code", Value::from(t.as_str().to_string())));
        }
        if let Some(i) = &self.image {
            c.push(("image", Value::from(i.clone())));
        }
        if let Some(t) = self.track_stock {
            c.push(("track_stock", Value::from(t)));
        }
        if let Some(l) = self.low_stock {
            c.push(("low_stock_milli", Value::from(l.map(Quantity::milli))));
        }
        c
    }

    fn into_patch(self, id: ProductId) -> ProductPatch {
        ProductPatch {
            name: self.name,
            sku: self.sku,
            barcode: self.barcode,
            category_id: self.category_id,
            price: self.price,
            tax_code: self.tax_code,
            image: self.image,
            track_stock: self.track_stock,
            low_stock: self.low_stock,
            ..ProductPatch::new(id)
        }
    }
}

/// Turns what someone typed into the search box into a safe FTS5 query:
/// every run of letters and digits becomes a quoted prefix term, and all
/// terms must match. `None` when there is no word to look for.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(MAX_SEARCH_TERMS)
        .map(|t| format!("\"{}\"*", t.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

fn category_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Category> {
    Ok(Category {
        id: col_parse(r, 0)?,
        name: r.get(1)?,
        sort_order: r.get(2)?,
        deleted_at: r.get::<_, Option<i64>>(3)?.map(Timestamp::from_millis),
    })
}

fn find_category(conn: &Connection, id: CategoryId) -> Result<Option<Category>> {
    Ok(conn
        .prepare_cached("SELECT id, name, sort_order, deleted_at FROM categories WHERE id = ?1")?
        .query_row([id.to_string()], category_row)
        .optional()?)
}

/// The category `id` if it exists and is live: `NotFound` or `Deleted` otherwise.
fn live_category(conn: &Connection, id: CategoryId) -> Result<Category> {
    let category = find_category(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: "category",
        id: id.to_string(),
    })?;
    if category.deleted_at.is_some() {
        return Err(StoreError::Deleted {
            what: "category",
            name: category.name,
        });
    }
    Ok(category)
}

/// Refuses `name` if another live category has it, ignoring case (any
/// script, so `ÉPICERIE` and `épicerie` are the same). A shop has tens of
/// categories, so they are compared here rather than by an index.
fn check_category_name(conn: &Connection, name: &Name, except: Option<CategoryId>) -> Result<()> {
    let wanted = name.as_str().to_lowercase();
    let except = except.map(|id| id.to_string()).unwrap_or_default();
    let mut stmt =
        conn.prepare_cached("SELECT id, name FROM categories WHERE deleted_at IS NULL")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let existing: String = r.get(1)?;
        if id != except && existing.to_lowercase() == wanted {
            return Err(StoreError::DuplicateCategory(existing));
        }
    }
    Ok(())
}

fn category_changes(current: &Category, u: &CategoryUpdate) -> CategoryPatch {
    CategoryPatch {
        name: u.name.clone().filter(|n| n.as_str() != current.name),
        sort_order: u.sort_order.filter(|s| *s != current.sort_order),
        ..CategoryPatch::new(current.id)
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
        let found: Option<(String, Option<i64>)> = conn
            .prepare_cached("SELECT name, deleted_at FROM categories WHERE id = ?1")?
            .query_row([c.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match found {
            None => {
                return Err(StoreError::NotFound {
                    what: "category",
                    id: c.to_string(),
                });
            }
            Some((name, Some(_))) => {
                return Err(StoreError::Deleted {
                    what: "category",
                    name,
                });
            }
            Some((_, None)) => {}
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

#[cfg(test)]
mod tests {
    use pos_domain::{Currency, DomainError, Role};
    use sync_protocol::OpEnvelope;

    use super::*;
    use crate::testkit::{Kit, T0, actor, kes, kit, new_product};

    fn name(s: &str) -> Name {
        Name::parse("name", s).unwrap()
    }

    fn barcode(s: &str) -> Barcode {
        Barcode::parse(s).unwrap()
    }

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    /// The ops queued so far, oldest first.
    fn ops(kit: &Kit) -> Vec<OpEnvelope> {
        kit.store
            .outbox_pending(1000)
            .unwrap()
            .into_iter()
            .map(|e| e.op)
            .collect()
    }

    fn last_op(kit: &Kit) -> OpEnvelope {
        ops(kit).pop().expect("an op")
    }

    fn hlc_of(kit: &Kit, table: &str, id: &str) -> String {
        kit.store
            .conn()
            .query_row(
                &format!("SELECT hlc FROM {table} WHERE id = ?1"),
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }

    fn product_with(kit: &mut Kit, n: &str, f: impl FnOnce(&mut NewProduct)) -> Product {
        let mut new = new_product(n, 10_000);
        f(&mut new);
        let owner = kit.owner.clone();
        kit.store.create_product(&owner, new).unwrap()
    }

    fn category(kit: &mut Kit, n: &str, sort: i64) -> Category {
        let owner = kit.owner.clone();
        kit.store.create_category(&owner, name(n), sort).unwrap()
    }

    fn names(products: &[Product]) -> Vec<&str> {
        products.iter().map(|p| p.name.as_str()).collect()
    }

    fn search(kit: &Kit, q: &str) -> Vec<String> {
        kit.store
            .search_products(q, 50)
            .unwrap_or_else(|e| panic!("search {q:?} failed: {e}"))
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    // Categories ----------------------------------------------------------

    #[test]
    fn categories_are_listed_by_sort_order_then_name_and_queued() {
        let mut kit = kit();
        let drinks = category(&mut kit, "Drinks", 2);
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::CategoryChanged(CategoryPatch {
                name: Some(name("Drinks")),
                sort_order: Some(2),
                ..CategoryPatch::new(drinks.id)
            })
        );
        assert_eq!(
            hlc_of(&kit, "categories", &drinks.id.to_string()),
            op.hlc.to_string()
        );
        category(&mut kit, "Bakery", 1);
        category(&mut kit, "Alcohol", 2);
        let listed: Vec<String> = kit
            .store
            .categories()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(listed, ["Bakery", "Alcohol", "Drinks"]);
        assert_eq!(kit.store.category(drinks.id).unwrap(), drinks);
        assert_eq!(drinks.deleted_at, None);
    }

    #[test]
    fn a_live_category_name_is_unique_ignoring_case() {
        let mut kit = kit();
        category(&mut kit, "Drinks", 0);
        category(&mut kit, "Épicerie", 0);
        let owner = kit.owner.clone();
        for dup in ["drinks", "DRINKS", "  Drinks ", "ÉPICERIE", "épicerie"] {
            let err = kit.refused(|k| k.store.create_category(&owner, name(dup), 5));
            assert!(
                matches!(err, StoreError::DuplicateCategory(_)),
                "{dup}: {err:?}"
            );
        }
        let err = kit.refused(|k| k.store.create_category(&owner, name("drinks"), 0));
        assert_eq!(err.to_string(), "category 'Drinks' already exists");
    }

    #[test]
    fn a_deleted_categorys_name_can_be_reused() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let old = category(&mut kit, "Snacks", 0);
        kit.store.delete_category(&owner, old.id).unwrap();
        let new = category(&mut kit, "snacks", 0);
        assert_ne!(new.id, old.id);
        assert_eq!(kit.store.categories().unwrap(), vec![new]);
    }

    #[test]
    fn updating_a_category_queues_only_what_changed() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let c = category(&mut kit, "Drinks", 1);
        category(&mut kit, "Bakery", 2);

        let renamed = kit
            .store
            .update_category(
                &owner,
                c.id,
                CategoryUpdate {
                    name: Some(name("Cold drinks")),
                    sort_order: Some(1),
                },
            )
            .unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.sort_order),
            ("Cold drinks", 1)
        );
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::CategoryChanged(CategoryPatch {
                name: Some(name("Cold drinks")),
                ..CategoryPatch::new(c.id)
            })
        );
        assert_eq!(
            hlc_of(&kit, "categories", &c.id.to_string()),
            op.hlc.to_string()
        );

        kit.store
            .update_category(
                &owner,
                c.id,
                CategoryUpdate {
                    sort_order: Some(9),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            last_op(&kit).body,
            OpBody::CategoryChanged(CategoryPatch {
                sort_order: Some(9),
                ..CategoryPatch::new(c.id)
            })
        );
        assert_eq!(
            kit.store
                .categories()
                .unwrap()
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["Bakery", "Cold drinks"]
        );

        // Changing its own name's case is not a duplicate of itself.
        kit.store
            .update_category(
                &owner,
                c.id,
                CategoryUpdate {
                    name: Some(name("COLD DRINKS")),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(kit.store.category(c.id).unwrap().name, "COLD DRINKS");

        // Nothing changes: nothing written, nothing queued.
        let before = kit.contents(&["categories", "outbox", "device_identity"]);
        let same = kit
            .store
            .update_category(
                &owner,
                c.id,
                CategoryUpdate {
                    name: Some(name("COLD DRINKS")),
                    sort_order: Some(9),
                },
            )
            .unwrap();
        assert_eq!(same.name, "COLD DRINKS");
        assert_eq!(
            kit.contents(&["categories", "outbox", "device_identity"]),
            before
        );
    }

    #[test]
    fn bad_category_updates_change_nothing() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let c = category(&mut kit, "Drinks", 1);
        category(&mut kit, "Bakery", 2);
        let gone = category(&mut kit, "Old", 3);
        kit.store.delete_category(&owner, gone.id).unwrap();

        let err = kit.refused(|k| {
            k.store.update_category(
                &owner,
                c.id,
                CategoryUpdate {
                    name: Some(name("bakery")),
                    sort_order: Some(7),
                },
            )
        });
        assert!(
            matches!(err, StoreError::DuplicateCategory(ref n) if n == "Bakery"),
            "{err:?}"
        );

        let err = kit.refused(|k| {
            k.store
                .update_category(&owner, CategoryId::new(), CategoryUpdate::default())
        });
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "category",
                    ..
                }
            ),
            "{err:?}"
        );

        let err = kit.refused(|k| {
            k.store.update_category(
                &owner,
                gone.id,
                CategoryUpdate {
                    sort_order: Some(1),
                    ..Default::default()
                },
            )
        });
        assert!(
            matches!(err, StoreError::Deleted { what: "category", ref name } if name == "Old"),
            "{err:?}"
        );
    }

    #[test]
    fn a_category_with_live_products_cannot_be_deleted() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let c = category(&mut kit, "Drinks", 0);
        let soda = product_with(&mut kit, "Soda", |p| p.category_id = Some(c.id));
        let juice = product_with(&mut kit, "Juice", |p| p.category_id = Some(c.id));

        let err = kit.refused(|k| k.store.delete_category(&owner, c.id));
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("'Drinks' still has 2 products") && msg.contains("move them"),
            "{msg}"
        );

        kit.store.delete_product(&owner, soda.id).unwrap();
        let err = kit.refused(|k| k.store.delete_category(&owner, c.id));
        assert!(err.to_string().contains("still has 1 product;"), "{err}");

        kit.store.delete_product(&owner, juice.id).unwrap();
        kit.clock.advance_millis(5_000);
        kit.store.delete_category(&owner, c.id).unwrap();
        let op = last_op(&kit);
        let when = T0.plus_millis(5_000);
        assert_eq!(
            op.body,
            OpBody::CategoryDeleted(Tombstone {
                id: c.id,
                deleted_at: when
            })
        );
        assert_eq!(
            hlc_of(&kit, "categories", &c.id.to_string()),
            op.hlc.to_string()
        );
        assert!(kit.store.categories().unwrap().is_empty());
        assert_eq!(kit.store.category(c.id).unwrap().deleted_at, Some(when));

        let err = kit.refused(|k| k.store.delete_category(&owner, c.id));
        assert!(
            matches!(
                err,
                StoreError::Deleted {
                    what: "category",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = kit.refused(|k| k.store.delete_category(&owner, CategoryId::new()));
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "category",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_cashier_cannot_edit_the_catalog() {
        let mut kit = kit();
        let c = category(&mut kit, "Drinks", 0);
        let p = kit.product("Soda", 5_000);
        let cashier = actor(Role::Cashier);
        let forbidden = |e: StoreError| {
            matches!(
                e,
                StoreError::Forbidden {
                    needed: Role::Manager,
                    ..
                }
            )
        };

        let e = kit.refused(|k| k.store.create_category(&cashier, name("Food"), 0));
        assert!(forbidden(e));
        let e = kit.refused(|k| {
            k.store.update_category(
                &cashier,
                c.id,
                CategoryUpdate {
                    sort_order: Some(3),
                    ..Default::default()
                },
            )
        });
        assert!(forbidden(e));
        let e = kit.refused(|k| k.store.delete_category(&cashier, c.id));
        assert!(forbidden(e));
        let e = kit.refused(|k| k.store.create_product(&cashier, new_product("Tea", 100)));
        assert!(forbidden(e));
        let e = kit.refused(|k| {
            k.store.update_product(
                &cashier,
                p.id,
                ProductUpdate {
                    price: Some(kes(1)),
                    ..Default::default()
                },
            )
        });
        assert!(forbidden(e));
        let e = kit.refused(|k| k.store.delete_product(&cashier, p.id));
        assert!(forbidden(e));

        // A manager can.
        let manager = actor(Role::Manager);
        kit.store
            .update_product(
                &manager,
                p.id,
                ProductUpdate {
                    price: Some(kes(6_000)),
                    ..Default::default()
                },
            )
            .unwrap();
        kit.store.delete_category(&manager, c.id).unwrap();
    }

    // Products ------------------------------------------------------------

    #[test]
    fn creating_a_product_queues_a_full_patch() {
        let mut kit = kit();
        let c = category(&mut kit, "Drinks", 0);
        let p = product_with(&mut kit, "Soda 500ml", |p| {
            p.barcode = Some(barcode("5000112637922"));
            p.category_id = Some(c.id);
            p.low_stock = Some(Quantity::units(6));
        });
        assert_eq!(p.sku.as_deref(), Some("SODA-500ML"));
        assert_eq!(p.stock, Quantity::ZERO);
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::ProductChanged(ProductPatch {
                name: Some(name("Soda 500ml")),
                sku: Some(Some(sku("SODA-500ML"))),
                barcode: Some(Some(barcode("5000112637922"))),
                category_id: Some(Some(c.id)),
                price: Some(kes(10_000)),
                tax_code: Some(TaxCode::parse("VAT16").unwrap()),
                image: Some(None),
                track_stock: Some(true),
                low_stock: Some(Some(Quantity::units(6))),
                ..ProductPatch::new(p.id)
            })
        );
        assert_eq!(
            hlc_of(&kit, "products", &p.id.to_string()),
            op.hlc.to_string()
        );
    }

    #[test]
    fn bad_new_products_change_nothing() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        product_with(&mut kit, "Soda", |p| p.barcode = Some(barcode("111")));
        let gone = category(&mut kit, "Old", 0);
        kit.store.delete_category(&owner, gone.id).unwrap();

        let mut dup_barcode = new_product("Juice", 100);
        dup_barcode.barcode = Some(barcode("111"));
        let err = kit.refused(|k| k.store.create_product(&owner, dup_barcode));
        assert!(
            matches!(err, StoreError::DuplicateBarcode { ref product, .. } if product == "Soda"),
            "{err:?}"
        );

        let mut dup_sku = new_product("Juice", 100);
        dup_sku.sku = Some(sku("soda"));
        let err = kit.refused(|k| k.store.create_product(&owner, dup_sku));
        assert!(
            matches!(err, StoreError::DuplicateSku { ref sku, .. } if sku == "SODA"),
            "{err:?}"
        );

        let mut unknown_cat = new_product("Juice", 100);
        unknown_cat.category_id = Some(CategoryId::new());
        let err = kit.refused(|k| k.store.create_product(&owner, unknown_cat));
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "category",
                    ..
                }
            ),
            "{err:?}"
        );

        let mut deleted_cat = new_product("Juice", 100);
        deleted_cat.category_id = Some(gone.id);
        let err = kit.refused(|k| k.store.create_product(&owner, deleted_cat));
        assert!(
            matches!(
                err,
                StoreError::Deleted {
                    what: "category",
                    ..
                }
            ),
            "{err:?}"
        );

        let mut negative_low = new_product("Juice", 100);
        negative_low.low_stock = Some(Quantity::units(-1));
        let err = kit.refused(|k| k.store.create_product(&owner, negative_low));
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

        let mut dollars = new_product("Juice", 100);
        dollars.price = Money::from_minor(100, Currency::from_code("USD").unwrap()).unwrap();
        let err = kit.refused(|k| k.store.create_product(&owner, dollars));
        assert!(
            matches!(err, StoreError::Rule(DomainError::CurrencyMismatch(..))),
            "{err:?}"
        );

        let mut bad_tax = new_product("Juice", 100);
        bad_tax.tax_code = TaxCode::parse("LUXURY").unwrap();
        let err = kit.refused(|k| k.store.create_product(&owner, bad_tax));
        assert!(
            matches!(err, StoreError::Rule(DomainError::UnknownTaxCode(_))),
            "{err:?}"
        );
    }

    #[test]
    fn an_update_writes_and_queues_only_the_fields_that_change() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let c = category(&mut kit, "Drinks", 0);
        let p = product_with(&mut kit, "Soda", |p| p.barcode = Some(barcode("111")));
        kit.clock.advance_millis(1_000);

        let updated = kit
            .store
            .update_product(
                &owner,
                p.id,
                ProductUpdate {
                    name: Some(name("Soda")),            // unchanged
                    sku: Some(Some(sku("soda"))),        // unchanged after normalizing
                    barcode: Some(Some(barcode("111"))), // unchanged
                    price: Some(kes(12_000)),            // changed
                    category_id: Some(Some(c.id)),       // changed
                    track_stock: Some(true),             // unchanged
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(updated.price, kes(12_000));
        assert_eq!(updated.category_id, Some(c.id));
        assert_eq!(updated.barcode.as_deref(), Some("111"));
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::ProductChanged(ProductPatch {
                price: Some(kes(12_000)),
                category_id: Some(Some(c.id)),
                ..ProductPatch::new(p.id)
            })
        );
        assert_eq!(
            hlc_of(&kit, "products", &p.id.to_string()),
            op.hlc.to_string()
        );
        assert_eq!(op.hlc.wall_ms(), T0.plus_millis(1_000).as_millis() as u64);

        // Clearing a field queues it as null.
        let ops_before = ops(&kit).len();
        let cleared = kit
            .store
            .update_product(
                &owner,
                p.id,
                ProductUpdate {
                    barcode: Some(None),
                    low_stock: Some(Some(Quantity::units(3))),
                    image: Some(Some("soda.png".into())),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(ops(&kit).len(), ops_before + 1, "one op per edit");
        assert_eq!(cleared.barcode, None);
        assert_eq!(cleared.low_stock, Some(Quantity::units(3)));
        assert_eq!(cleared.image.as_deref(), Some("soda.png"));
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::ProductChanged(ProductPatch {
                barcode: Some(None),
                low_stock: Some(Some(Quantity::units(3))),
                image: Some(Some("soda.png".into())),
                ..ProductPatch::new(p.id)
            })
        );
        let json = serde_json::to_string(&op.body).unwrap();
        assert!(
            json.contains(r#""barcode":null"#) && !json.contains("price"),
            "{json}"
        );

        // Every field at once.
        let all = ProductUpdate {
            name: Some(name("Soda Baridi")),
            sku: Some(None),
            barcode: Some(Some(barcode("222"))),
            category_id: Some(None),
            price: Some(kes(13_000)),
            tax_code: Some(TaxCode::parse("ZERO").unwrap()),
            image: Some(None),
            track_stock: Some(false),
            low_stock: Some(None),
        };
        let p2 = kit.store.update_product(&owner, p.id, all.clone()).unwrap();
        assert_eq!(
            (p2.name.as_str(), p2.sku.as_deref(), p2.barcode.as_deref()),
            ("Soda Baridi", None, Some("222"))
        );
        assert_eq!(
            (p2.category_id, p2.price, p2.tax_code.as_str()),
            (None, kes(13_000), "ZERO")
        );
        assert_eq!(
            (p2.image, p2.track_stock, p2.low_stock),
            (None, false, None)
        );
        assert_eq!(
            last_op(&kit).body,
            OpBody::ProductChanged(ProductPatch {
                name: all.name,
                sku: all.sku,
                barcode: all.barcode,
                category_id: all.category_id,
                price: all.price,
                tax_code: all.tax_code,
                image: all.image,
                track_stock: all.track_stock,
                low_stock: all.low_stock,
                ..ProductPatch::new(p.id)
            })
        );
    }

    #[test]
    fn an_update_that_changes_nothing_writes_nothing() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let p = product_with(&mut kit, "Soda", |p| p.barcode = Some(barcode("111")));
        let before = kit.contents(&["products", "outbox", "device_identity"]);
        let snapshot = kit.snapshot();
        for update in [
            ProductUpdate::default(),
            ProductUpdate {
                name: Some(name(" Soda ")),
                sku: Some(Some(sku("SODA"))),
                barcode: Some(Some(barcode("111"))),
                category_id: Some(None),
                price: Some(kes(10_000)),
                tax_code: Some(TaxCode::parse("vat16").unwrap()),
                image: Some(None),
                track_stock: Some(true),
                low_stock: Some(None),
            },
        ] {
            let same = kit.store.update_product(&owner, p.id, update).unwrap();
            assert_eq!(same, p);
        }
        assert_eq!(kit.snapshot(), snapshot);
        assert_eq!(
            kit.contents(&["products", "outbox", "device_identity"]),
            before
        );
    }

    #[test]
    fn bad_updates_change_nothing() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        product_with(&mut kit, "Soda", |p| p.barcode = Some(barcode("111")));
        let p = product_with(&mut kit, "Juice", |p| p.barcode = Some(barcode("222")));
        let gone = category(&mut kit, "Old", 0);
        kit.store.delete_category(&owner, gone.id).unwrap();

        let err = kit.refused(|k| {
            k.store.update_product(
                &owner,
                p.id,
                ProductUpdate {
                    price: Some(kes(1)),
                    barcode: Some(Some(barcode("111"))),
                    ..Default::default()
                },
            )
        });
        assert!(
            matches!(err, StoreError::DuplicateBarcode { ref product, .. } if product == "Soda"),
            "{err:?}"
        );

        let err = kit.refused(|k| {
            k.store.update_product(
                &owner,
                p.id,
                ProductUpdate {
                    name: Some(name("Juice 2")),
                    sku: Some(Some(sku("soda"))),
                    ..Default::default()
                },
            )
        });
        assert!(matches!(err, StoreError::DuplicateSku { .. }), "{err:?}");

        let err = kit.refused(|k| {
            k.store.update_product(
                &owner,
                p.id,
                ProductUpdate {
                    category_id: Some(Some(CategoryId::new())),
                    ..Default::default()
                },
            )
        });
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "category",
                    ..
                }
            ),
            "{err:?}"
        );

        let err = kit.refused(|k| {
            k.store.update_product(
                &owner,
                p.id,
                ProductUpdate {
                    category_id: Some(Some(gone.id)),
                    ..Default::default()
                },
            )
        });
        assert!(
            matches!(
                err,
                StoreError::Deleted {
                    what: "category",
                    ..
                }
            ),
            "{err:?}"
        );

        let err = kit.refused(|k| {
            k.store.update_product(
                &owner,
                p.id,
                ProductUpdate {
                    low_stock: Some(Some(Quantity::from_milli(-1))),
                    ..Default::default()
                },
            )
        });
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

        let err = kit.refused(|k| {
            k.store.update_product(
                &owner,
                p.id,
                ProductUpdate {
                    price: Some(kes(-5)),
                    ..Default::default()
                },
            )
        });
        assert!(
            matches!(err, StoreError::Rule(DomainError::NegativePrice)),
            "{err:?}"
        );

        let err = kit.refused(|k| {
            k.store.update_product(
                &owner,
                ProductId::new(),
                ProductUpdate {
                    price: Some(kes(1)),
                    ..Default::default()
                },
            )
        });
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "product",
                    ..
                }
            ),
            "{err:?}"
        );

        kit.store.delete_product(&owner, p.id).unwrap();
        let err = kit.refused(|k| {
            k.store.update_product(
                &owner,
                p.id,
                ProductUpdate {
                    price: Some(kes(1)),
                    ..Default::default()
                },
            )
        });
        assert!(
            matches!(err, StoreError::Deleted { what: "product", ref name } if name == "Juice"),
            "{err:?}"
        );
    }

    #[test]
    fn an_edit_is_not_refused_for_a_field_it_does_not_touch() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let c = category(&mut kit, "Drinks", 0);
        let p = product_with(&mut kit, "Soda", |p| p.category_id = Some(c.id));
        // The category is deleted elsewhere and synced here.
        kit.store
            .conn()
            .execute(
                "UPDATE categories SET deleted_at = 1 WHERE id = ?1",
                [c.id.to_string()],
            )
            .unwrap();
        let p = kit
            .store
            .update_product(
                &owner,
                p.id,
                ProductUpdate {
                    price: Some(kes(11_000)),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!((p.price, p.category_id), (kes(11_000), Some(c.id)));
    }

    #[test]
    fn deleting_a_product_is_a_tombstone_that_frees_its_codes() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let c = category(&mut kit, "Drinks", 0);
        let old = product_with(&mut kit, "Soda", |p| {
            p.barcode = Some(barcode("111"));
            p.category_id = Some(c.id);
        });
        kit.clock.advance_millis(2_000);
        kit.store.delete_product(&owner, old.id).unwrap();
        let when = T0.plus_millis(2_000);
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::ProductDeleted(Tombstone {
                id: old.id,
                deleted_at: when
            })
        );
        assert_eq!(
            hlc_of(&kit, "products", &old.id.to_string()),
            op.hlc.to_string()
        );

        // Old receipts still find it.
        let seen = kit.store.product(old.id).unwrap();
        assert_eq!((seen.name.as_str(), seen.deleted_at), ("Soda", Some(when)));
        // Lookups, search and the grid do not.
        assert_eq!(kit.store.product_by_code("111").unwrap(), None);
        assert_eq!(kit.store.product_by_code("soda").unwrap(), None);
        assert!(search(&kit, "soda").is_empty());
        assert!(
            kit.store
                .products_in_category(Some(c.id), 50, 0)
                .unwrap()
                .is_empty()
        );

        // Its barcode and SKU are free again.
        let new = product_with(&mut kit, "Soda", |p| p.barcode = Some(barcode("111")));
        assert_eq!(
            kit.store.product_by_code("111").unwrap().map(|p| p.id),
            Some(new.id)
        );
        assert_eq!(
            kit.store.product_by_code("SODA").unwrap().map(|p| p.id),
            Some(new.id)
        );
        assert_eq!(search(&kit, "soda"), ["Soda"]);

        let err = kit.refused(|k| k.store.delete_product(&owner, old.id));
        assert!(
            matches!(
                err,
                StoreError::Deleted {
                    what: "product",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "product 'Soda' has been deleted");
        let err = kit.refused(|k| k.store.delete_product(&owner, ProductId::new()));
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    what: "product",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    // Lookups -------------------------------------------------------------

    #[test]
    fn codes_find_barcode_first_then_sku() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let by_barcode = product_with(&mut kit, "Scanned", |p| {
            p.barcode = Some(barcode("AB-12"));
            p.sku = None;
        });
        let by_sku = product_with(&mut kit, "Typed", |p| p.sku = Some(sku("ab-12")));
        let ean = product_with(&mut kit, "Milk", |p| {
            p.barcode = Some(barcode("5000112637922"))
        });
        kit.store
            .restock(&owner, ean.id, Quantity::units(4), None)
            .unwrap();

        let found = |code: &str| kit.store.product_by_code(code).unwrap().map(|p| p.id);
        assert_eq!(found("AB-12"), Some(by_barcode.id));
        // Barcodes are exact; SKUs ignore case.
        assert_eq!(found("ab-12"), Some(by_sku.id));
        assert_eq!(found("  5000112637922\n"), Some(ean.id));
        assert_eq!(found("typed"), None);
        assert_eq!(found("milk"), Some(ean.id), "its SKU is MILK");
        for nothing in [
            "",
            "   ",
            "hello world",
            "50001126379",
            "ab 12",
            "é",
            "'; DROP TABLE products; --",
        ] {
            assert_eq!(found(nothing), None, "{nothing:?}");
        }
        // The branch's stock comes with it.
        let milk = kit.store.product_by_code("5000112637922").unwrap().unwrap();
        assert_eq!(milk.stock, Quantity::units(4));
    }

    /// The plan of `sql` (with `?1`… bound to text) as its detail lines.
    fn plan(kit: &Kit, sql: &str, params: usize) -> Vec<String> {
        let mut stmt = kit
            .store
            .conn()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let args: Vec<String> = (0..params).map(|i| format!("x{i}")).collect();
        stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn code_lookups_and_the_grid_use_their_indexes() {
        let mut kit = kit();
        for i in 0..20 {
            kit.product(&format!("Item {i}"), 100);
        }
        kit.store.conn().execute_batch("ANALYZE").unwrap();

        let p = plan(&kit, BY_BARCODE, 2);
        assert!(
            p.iter()
                .any(|d| d.contains("USING INDEX products_barcode (barcode=?)")),
            "{p:?}"
        );
        assert!(!p.iter().any(|d| d.starts_with("SCAN")), "{p:?}");

        let p = plan(&kit, BY_SKU, 2);
        assert!(
            p.iter()
                .any(|d| d.contains("USING INDEX products_sku (sku=?)")),
            "{p:?}"
        );
        assert!(!p.iter().any(|d| d.starts_with("SCAN")), "{p:?}");

        // Search is driven by the full-text index, then rows by their key.
        let p = plan(&kit, SEARCH, 3);
        assert!(
            p.iter()
                .any(|d| d.contains("products_fts VIRTUAL TABLE INDEX") && d.contains(":M")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|d| d == "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)"),
            "{p:?}"
        );

        // The unfiltered list walks the name index in order: no sort of
        // every product, so it can stop after the page.
        let p = plan(&kit, ALL_PRODUCTS, 3);
        assert!(
            p.iter()
                .any(|d| d.contains("USING INDEX products_live_name")),
            "{p:?}"
        );
        assert!(!p.iter().any(|d| d.contains("TEMP B-TREE")), "{p:?}");

        for (sql, n) in [(GRID, 4), (GRID_UNCATEGORIZED, 3)] {
            let p = plan(&kit, sql, n);
            assert!(
                p.iter()
                    .any(|d| d.contains("USING INDEX products_grid (category_id=?)")),
                "{p:?}"
            );
            assert!(
                !p.iter()
                    .any(|d| d.starts_with("SCAN") || d.contains("TEMP B-TREE")),
                "{p:?}"
            );
        }
    }

    // Search --------------------------------------------------------------

    #[test]
    fn search_text_becomes_quoted_prefix_terms() {
        assert_eq!(fts_query("cafe"), Some(r#""cafe"*"#.to_string()));
        assert_eq!(
            fts_query(r#"  coca-cola "zero" AND near(x) col:5*  "#),
            Some(r#""coca"* AND "cola"* AND "zero"* AND "AND"* AND "near"* AND "x"* AND "col"* AND "5"*"#.to_string())
        );
        assert_eq!(
            fts_query("Café Latté"),
            Some(r#""Café"* AND "Latté"*"#.to_string())
        );
        for empty in [
            "",
            "   ",
            "\"",
            "*",
            "-",
            ":",
            "()",
            "\"*\" - : ( ) ^ +",
            "☕",
        ] {
            assert_eq!(fts_query(empty), None, "{empty:?}");
        }
        let many = "a ".repeat(100);
        assert_eq!(
            fts_query(&many).unwrap().matches("AND").count(),
            MAX_SEARCH_TERMS - 1
        );
    }

    #[test]
    fn search_finds_prefixes_of_every_word_and_survives_any_text() {
        let mut kit = kit();
        product_with(&mut kit, "Cafe", |p| {
            p.name = name("Café Latte");
            p.sku = None;
        });
        for n in [
            "Coca-Cola 500ml",
            "Cola",
            "Chai ya Tangawizi",
            "Near East Biscuits",
            "Bread and Butter",
            "Mandazi",
        ] {
            kit.product(n, 100);
        }
        product_with(&mut kit, "Sugar 1kg", |p| {
            p.barcode = Some(barcode("6161100000017"))
        });

        // Accents and case do not matter, either way round.
        assert_eq!(search(&kit, "cafe"), ["Café Latte"]);
        assert_eq!(search(&kit, "CAFÉ"), ["Café Latte"]);
        assert_eq!(search(&kit, "latté"), ["Café Latte"]);
        // Prefixes of 1 to 3 letters.
        assert_eq!(search(&kit, "m"), ["Mandazi"]);
        assert_eq!(search(&kit, "ma"), ["Mandazi"]);
        assert_eq!(search(&kit, "man"), ["Mandazi"]);
        assert_eq!(search(&kit, "tan"), ["Chai ya Tangawizi"]);
        // Several words must all match, in any order.
        assert_eq!(search(&kit, "ya chai"), ["Chai ya Tangawizi"]);
        assert!(search(&kit, "chai latte").is_empty());
        // The shortest document wins, then names sort.
        assert_eq!(search(&kit, "cola"), ["Cola", "Coca-Cola 500ml"]);
        // SKU and barcode are searched too.
        assert_eq!(search(&kit, "500ml"), ["Coca-Cola 500ml"]);
        assert_eq!(search(&kit, "616110"), ["Sugar 1kg"]);

        // Punctuation and FTS5 syntax are just separators or words.
        assert_eq!(search(&kit, "coca-cola"), ["Coca-Cola 500ml"]);
        assert_eq!(search(&kit, "\"cola"), ["Cola", "Coca-Cola 500ml"]);
        assert_eq!(search(&kit, "cola\""), ["Cola", "Coca-Cola 500ml"]);
        assert_eq!(search(&kit, "mand*"), ["Mandazi"]);
        assert_eq!(search(&kit, "-mandazi"), ["Mandazi"]);
        assert_eq!(search(&kit, "name:chai"), Vec::<String>::new());
        assert_eq!(search(&kit, "chai:"), ["Chai ya Tangawizi"]);
        assert_eq!(search(&kit, "(chai"), ["Chai ya Tangawizi"]);
        assert_eq!(search(&kit, "NEAR"), ["Near East Biscuits"]);
        assert_eq!(search(&kit, "NEAR(chai ya)"), Vec::<String>::new());
        assert_eq!(search(&kit, "NEAR("), ["Near East Biscuits"]);
        assert_eq!(search(&kit, "bread AND butter"), ["Bread and Butter"]);
        assert_eq!(search(&kit, "chai OR mandazi"), Vec::<String>::new());
        assert_eq!(search(&kit, "chai NOT ya"), Vec::<String>::new());
        assert_eq!(search(&kit, "^chai"), ["Chai ya Tangawizi"]);
        for nothing in [
            "", "   ", "\"", "\"\"", "*", "-", ":", "(", ")", "\"*", "☕", "'", "\\",
        ] {
            assert!(search(&kit, nothing).is_empty(), "{nothing:?}");
        }
    }

    #[test]
    fn a_renamed_product_is_found_by_its_new_name_only() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let p = kit.product("Chai", 100);
        kit.store
            .update_product(
                &owner,
                p.id,
                ProductUpdate {
                    name: Some(name("Masala Tea")),
                    sku: Some(Some(sku("MT-1"))),
                    barcode: Some(Some(barcode("999"))),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(search(&kit, "masala"), ["Masala Tea"]);
        assert_eq!(search(&kit, "999"), ["Masala Tea"]);
        assert_eq!(search(&kit, "mt"), ["Masala Tea"]);
        assert!(search(&kit, "chai").is_empty());
        // Old SKU gone from lookups too.
        assert_eq!(kit.store.product_by_code("CHAI").unwrap(), None);
        assert_eq!(
            kit.store.product_by_code("MT-1").unwrap().map(|p| p.id),
            Some(p.id)
        );

        // Deleting takes it out of the index; the index stays consistent
        // through create, rename and delete.
        let other = kit.product("Masala Chips", 150);
        kit.store.delete_product(&owner, p.id).unwrap();
        assert_eq!(search(&kit, "masala"), ["Masala Chips"]);
        let indexed: i64 = kit
            .store
            .conn()
            .query_row("SELECT COUNT(*) FROM products_fts_docsize", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(indexed, 1);
        kit.store
            .conn()
            .execute(
                "INSERT INTO products_fts (products_fts, rank) VALUES ('integrity-check', 0)",
                [],
            )
            .unwrap();
        assert_eq!(search(&kit, "chips")[0], "Masala Chips");
        let _ = other;
    }

    #[test]
    fn search_results_are_capped_and_carry_stock() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        for i in 0..205 {
            kit.product(&format!("Pen {i:03}"), 100);
        }
        assert_eq!(kit.store.search_products("pen", 5).unwrap().len(), 5);
        assert_eq!(
            kit.store.search_products("pen", 10_000).unwrap().len(),
            MAX_PAGE as usize
        );
        assert!(kit.store.search_products("pen", 0).unwrap().is_empty());
        let first = kit.store.search_products("pen 000", 1).unwrap().remove(0);
        kit.store
            .restock(&owner, first.id, Quantity::units(7), None)
            .unwrap();
        let again = kit.store.search_products("pen 000", 1).unwrap().remove(0);
        assert_eq!((again.id, again.stock), (first.id, Quantity::units(7)));
    }

    // Grid ----------------------------------------------------------------

    #[test]
    fn the_grid_pages_live_products_of_a_category_by_name() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let drinks = category(&mut kit, "Drinks", 0);
        let food = category(&mut kit, "Food", 1);
        for n in ["Water", "Juice", "Soda", "Beer"] {
            product_with(&mut kit, n, |p| p.category_id = Some(drinks.id));
        }
        product_with(&mut kit, "Chapati", |p| p.category_id = Some(food.id));
        let loose = kit.product("Carrier bag", 1_000);
        kit.product("Airtime", 1_000);
        let juice = kit.store.product_by_code("JUICE").unwrap().unwrap();
        kit.store.delete_product(&owner, juice.id).unwrap();
        kit.store
            .restock(&owner, loose.id, Quantity::units(50), None)
            .unwrap();

        let page = |c, limit, offset| kit.store.products_in_category(c, limit, offset).unwrap();
        assert_eq!(
            names(&page(Some(drinks.id), 50, 0)),
            ["Beer", "Soda", "Water"]
        );
        assert_eq!(names(&page(Some(drinks.id), 2, 0)), ["Beer", "Soda"]);
        assert_eq!(names(&page(Some(drinks.id), 2, 2)), ["Water"]);
        assert_eq!(names(&page(Some(food.id), 50, 0)), ["Chapati"]);
        let none = page(None, 50, 0);
        assert_eq!(names(&none), ["Airtime", "Carrier bag"]);
        assert_eq!(none[1].stock, Quantity::units(50));
        assert!(page(Some(CategoryId::new()), 50, 0).is_empty());

        let all = |limit, offset| -> Vec<String> {
            kit.store
                .all_products(limit, offset)
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect()
        };
        assert_eq!(
            all(50, 0),
            ["Airtime", "Beer", "Carrier bag", "Chapati", "Soda", "Water"]
        );
        assert_eq!(all(2, 1), ["Beer", "Carrier bag"]);
    }
}
