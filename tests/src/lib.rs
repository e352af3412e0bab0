//! End-to-end tests of WHIZ POS across crates and processes.
//!
//! The tests live in `tests/tests/`; the binaries they drive (for example the
//! till that is killed mid-commit) live in `src/bin/`. This library holds what
//! they share: setting up a till database in a known state.

use std::path::Path;
use std::sync::Arc;

use pos_domain::{Currency, Money, Name, Pin, Sku, SystemClock, TaxCode};
use pos_store::catalog::NewProduct;
use pos_store::{Actor, Durability, Store};

/// Creates a till database at `path` with an owner and `products` products
/// (prices 10.00, 20.00, …), and returns the owner.
pub fn seed_till(path: &Path, products: usize) -> pos_store::Result<Actor> {
    let mut store = Store::open_with(path, Arc::new(SystemClock), Durability::PowerSafe)?;
    let owner = store.create_first_owner(Name::parse("name", "Owner")?, &Pin::parse("1234")?)?;
    for i in 0..products {
        store.create_product(
            &owner,
            NewProduct {
                name: Name::parse("name", &format!("Product {i}"))?,
                sku: Some(Sku::parse(&format!("P{i}"))?),
                barcode: None,
                category_id: None,
                price: Money::from_minor(1000 * (i as i64 + 1), Currency::KES)?,
                tax_code: TaxCode::parse("VAT16")?,
                image: None,
                track_stock: true,
                low_stock: None,
            },
        )?;
    }
    Ok(owner)
}
