//! A till that rings up 3-line cash sales as fast as it can, printing each
//! receipt number once its transaction has committed. The crash test kills it
//! with SIGKILL at random moments.
//!
//! Usage: `till_crash_child DB_PATH OWNER_ID`

use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use pos_domain::{
    Currency, Discount, Money, ProductId, Quantity, Role, SaleId, SystemClock, Tender, UserId,
};
use pos_store::sales::{Checkout, CheckoutLine};
use pos_store::{Actor, Durability, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(owner)) = (args.next(), args.next()) else {
        return Err("usage: till_crash_child DB_PATH OWNER_ID".into());
    };
    let actor = Actor {
        user_id: UserId::from_str(&owner)?,
        name: "Owner".into(),
        role: Role::Owner,
    };
    let mut store = Store::open_with(path.as_ref(), Arc::new(SystemClock), Durability::PowerSafe)?;
    let products: Vec<ProductId> = store
        .conn()
        .prepare("SELECT id FROM products ORDER BY pk LIMIT 3")?
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|id| Ok(ProductId::from_str(&id?)?))
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let stdout = std::io::stdout();
    println!("ready");
    stdout.lock().flush()?;
    loop {
        let lines = products
            .iter()
            .take(3)
            .map(|p| CheckoutLine {
                product_id: *p,
                quantity: Quantity::units(1),
                discount: Discount::None,
            })
            .collect();
        let checkout = Checkout {
            sale_id: SaleId::new(),
            lines,
            discount: Discount::None,
            tenders: vec![Tender::Cash {
                tendered: Money::from_minor(1_000_000, Currency::KES)?,
            }],
            customer_id: None,
        };
        println!("begin {}", checkout.sale_id);
        stdout.lock().flush()?;
        let sale = store.checkout(&actor, &checkout)?;
        println!("committed {} {}", sale.id, sale.receipt_no);
        stdout.lock().flush()?;
    }
}
