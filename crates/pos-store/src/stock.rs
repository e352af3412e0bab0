//! Stock as movements: restock, adjustments, stocktakes, and the levels and
//! low-stock list they add up to. Never an overwritten number (see
//! `pos_domain::stock`). Levels are per branch.
//!
//! Every movement written here is also queued as a `StockMoved` op, so the
//! Back Office adds the same delta; two tills counting or selling offline both
//! count. Restocking or adjusting a product that does not track stock is
//! allowed (the movement is a true fact and the level stays right if tracking
//! is switched on later); such products are never on the low-stock list.

use pos_domain::{
    DeviceId, MovementId, MovementKind, Name, Permission, ProductId, Quantity, SaleId, Timestamp,
    UserId,
};
use rusqlite::params;
use sync_protocol::{OpBody, StockMovementRecord};

use crate::catalog::{PRODUCT_SELECT, Product, product_row};
use crate::sql::{col_parse, col_parse_opt, col_quantity};
use crate::{Actor, Result, Store, StoreError, Tx};

/// The most one restock, adjustment or stocktake count may be: 1,000,000
/// units. Anything larger is almost surely a typo (a barcode scanned into the
/// quantity box).
pub const MAX_MOVEMENT: Quantity = Quantity::units(1_000_000);

/// The most rows one low-stock or history query returns.
pub const MAX_ROWS: u32 = 500;

/// One counted product of a stocktake and what the count changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StocktakeLine {
    pub product_id: ProductId,
    pub name: String,
    /// The level before the count (sum of movements).
    pub expected: Quantity,
    pub counted: Quantity,
    /// `counted − expected`: the stocktake movement (none when zero).
    pub difference: Quantity,
}

/// One movement in a product's stock history at this branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockMovement {
    pub id: MovementId,
    pub product_id: ProductId,
    pub kind: MovementKind,
    /// Signed: negative leaves stock.
    pub quantity: Quantity,
    pub sale_id: Option<SaleId>,
    pub user_id: Option<UserId>,
    /// The user's name, if they are known on this till.
    pub user_name: Option<String>,
    pub device_id: DeviceId,
    pub note: Option<String>,
    pub created_at: Timestamp,
}

impl Store {
    /// Records goods received: adds `quantity` (> 0) to this branch's stock
    /// of `product`. Returns the new level.
    pub fn restock(
        &mut self,
        actor: &Actor,
        product: ProductId,
        quantity: Quantity,
        note: Option<String>,
    ) -> Result<Quantity> {
        actor.require(Permission::ManageCatalog, "restock products")?;
        if quantity <= Quantity::ZERO {
            return Err(pos_domain::DomainError::NonPositiveQuantity.into());
        }
        check_bound(quantity, "restock")?;
        let note = optional_text("note", note.as_deref())?;
        self.write(|tx| {
            let p = live_product(tx, product)?;
            let level = new_level(&p, quantity)?;
            record(tx, actor, product, MovementKind::Restock, quantity, note)?;
            Ok(level)
        })
    }

    /// Corrects stock by `delta` (either sign, not zero) for `reason`
    /// (breakage, theft, spoilage…; required). Returns the new level.
    pub fn adjust_stock(
        &mut self,
        actor: &Actor,
        product: ProductId,
        delta: Quantity,
        reason: &str,
    ) -> Result<Quantity> {
        actor.require(Permission::ManageCatalog, "adjust stock")?;
        if delta == Quantity::ZERO {
            return Err(StoreError::Invalid(
                "an adjustment of zero changes nothing; enter the units added (+) or removed (−)"
                    .into(),
            ));
        }
        check_bound(delta, "adjustment")?;
        let reason = Name::parse("reason", reason)?;
        self.write(|tx| {
            let p = live_product(tx, product)?;
            let level = new_level(&p, delta)?;
            let note = Some(reason.as_str().to_string());
            record(tx, actor, product, MovementKind::Adjustment, delta, note)?;
            Ok(level)
        })
    }

    /// Records a stock count: for each `(product, counted)` the movement is
    /// `counted − level` (none when they agree). All lines in one
    /// transaction: one bad line (negative or huge count, the same product
    /// twice, an unknown or deleted product) refuses the whole stocktake.
    /// Returns one line per count, in the order given.
    pub fn stocktake(
        &mut self,
        actor: &Actor,
        counts: &[(ProductId, Quantity)],
    ) -> Result<Vec<StocktakeLine>> {
        actor.require(Permission::ManageCatalog, "record a stocktake")?;
        if counts.is_empty() {
            return Err(StoreError::Invalid(
                "the stocktake has no counts; count at least one product".into(),
            ));
        }
        for (i, (product, counted)) in counts.iter().enumerate() {
            let line = i + 1;
            if counted.is_negative() {
                return Err(StoreError::Invalid(format!(
                    "line {line}: a count cannot be negative (got {counted}); enter 0 or more"
                )));
            }
            if *counted > MAX_MOVEMENT {
                return Err(StoreError::Invalid(format!(
                    "line {line}: a count of {counted} is too large; the most is {MAX_MOVEMENT}"
                )));
            }
            if let Some(first) = counts[..i].iter().position(|(p, _)| p == product) {
                return Err(StoreError::Invalid(format!(
                    "line {line} counts the same product as line {}; count each product once",
                    first + 1
                )));
            }
        }
        self.write(|tx| {
            let mut lines = Vec::with_capacity(counts.len());
            for &(product, counted) in counts {
                let p = live_product(tx, product)?;
                let difference = counted
                    .checked_add(p.stock.negated())
                    .ok_or_else(|| too_far(&p.name))?;
                lines.push(StocktakeLine {
                    product_id: product,
                    name: p.name,
                    expected: p.stock,
                    counted,
                    difference,
                });
            }
            for l in lines.iter().filter(|l| l.difference != Quantity::ZERO) {
                let note = Some(format!("counted {}, expected {}", l.counted, l.expected));
                record(
                    tx,
                    actor,
                    l.product_id,
                    MovementKind::Stocktake,
                    l.difference,
                    note,
                )?;
            }
            Ok(lines)
        })
    }

    /// This branch's stock of `product` (the sum of its movements; may be
    /// negative).
    pub fn stock_level(&self, product: ProductId) -> Result<Quantity> {
        Ok(self.product(product)?.stock)
    }

    /// Live products that track stock and are at or below their low-stock
    /// level, or below zero (negative stock is always flagged): lowest
    /// first, at most `limit` (capped at [`MAX_ROWS`]).
    pub fn low_stock(&self, limit: u32) -> Result<Vec<Product>> {
        let sql = format!(
            "{PRODUCT_SELECT}
             WHERE p.deleted_at IS NULL AND p.track_stock = 1
               AND (COALESCE(l.quantity_milli, 0) < 0
                    OR COALESCE(l.quantity_milli, 0) <= p.low_stock_milli)
             ORDER BY COALESCE(l.quantity_milli, 0), p.name
             LIMIT ?2"
        );
        let branch = self.identity().branch_id.to_string();
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params![branch, limit.min(MAX_ROWS)], product_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The stock history of `product` at this branch, newest first, at most
    /// `limit` (capped at [`MAX_ROWS`]).
    pub fn stock_movements(&self, product: ProductId, limit: u32) -> Result<Vec<StockMovement>> {
        self.product(product)?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT m.id, m.product_id, m.kind, m.quantity_milli, m.sale_id, m.user_id, u.name,
                    m.device_id, m.note, m.created_at
             FROM stock_movements m LEFT JOIN users u ON u.id = m.user_id
             WHERE m.product_id = ?1 AND m.branch_id = ?2
             ORDER BY m.created_at DESC, m.id DESC
             LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![
                product.to_string(),
                self.identity().branch_id.to_string(),
                limit.min(MAX_ROWS)
            ],
            |r| {
                let kind: String = r.get(2)?;
                Ok(StockMovement {
                    id: col_parse(r, 0)?,
                    product_id: col_parse(r, 1)?,
                    kind: MovementKind::parse(&kind).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(
                            2,
                            rusqlite::types::Type::Text,
                            format!("unknown movement kind '{kind}'").into(),
                        )
                    })?,
                    quantity: col_quantity(r, 3)?,
                    sale_id: col_parse_opt(r, 4)?,
                    user_id: col_parse_opt(r, 5)?,
                    user_name: r.get(6)?,
                    device_id: col_parse(r, 7)?,
                    note: r.get(8)?,
                    created_at: Timestamp::from_millis(r.get(9)?),
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Writes one movement row (the `stock_levels` trigger adds it to the level).
/// Queues nothing: the caller queues the op that carries it — a
/// `StockMoved` op, or the `SaleRecorded` op for a sale's movements.
pub(crate) fn insert_movement(tx: &Tx<'_>, m: &StockMovementRecord) -> Result<()> {
    Ok(record_sql::insert_movement(tx, m)?)
}

/// Writes a movement made by `actor` at this till and queues its `StockMoved` op.
fn record(
    tx: &mut Tx<'_>,
    actor: &Actor,
    product: ProductId,
    kind: MovementKind,
    quantity: Quantity,
    note: Option<String>,
) -> Result<()> {
    let m = StockMovementRecord {
        id: MovementId::new(),
        product_id: product,
        branch_id: tx.identity().branch_id,
        device_id: tx.identity().device_id,
        kind,
        quantity,
        sale_id: None,
        user_id: Some(actor.user_id),
        note,
        created_at: tx.now(),
    };
    insert_movement(tx, &m)?;
    tx.enqueue(OpBody::StockMoved(m))?;
    Ok(())
}

/// The product with this branch's level, if it exists and is live.
pub(crate) fn live_product(tx: &Tx<'_>, id: ProductId) -> Result<Product> {
    let branch = tx.identity().branch_id.to_string();
    crate::catalog::live_product(tx, &branch, id)
}

/// The level of `p` after `delta`, refused if it leaves the countable range.
fn new_level(p: &Product, delta: Quantity) -> Result<Quantity> {
    p.stock.checked_add(delta).ok_or_else(|| too_far(&p.name))
}

fn too_far(name: &str) -> StoreError {
    StoreError::Invalid(format!(
        "the stock of '{name}' would go beyond what the till can count; check the quantity"
    ))
}

/// Refuses a movement of more than [`MAX_MOVEMENT`] either way.
pub(crate) fn check_bound(q: Quantity, what: &str) -> Result<()> {
    if q.milli().unsigned_abs() > MAX_MOVEMENT.milli().unsigned_abs() {
        return Err(StoreError::Invalid(format!(
            "a {what} of {q} is too large; the most in one movement is {MAX_MOVEMENT} units. \
             Check the quantity, or split it"
        )));
    }
    Ok(())
}

/// An optional short text (trimmed; empty means none; 1–120 characters).
pub(crate) fn optional_text(field: &'static str, text: Option<&str>) -> Result<Option<String>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Ok(Some(Name::parse(field, t)?.as_str().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use pos_domain::{BranchId, DomainError, Role};
    use proptest::prelude::*;
    use sync_protocol::OpEnvelope;

    use super::*;
    use crate::catalog::ProductUpdate;
    use crate::testkit::{Kit, T0, actor, kit, new_product};

    fn units(n: i64) -> Quantity {
        Quantity::units(n)
    }

    fn ops(kit: &Kit) -> Vec<OpEnvelope> {
        kit.store
            .outbox_pending(10_000)
            .unwrap()
            .into_iter()
            .map(|e| e.op)
            .collect()
    }

    fn moved(kit: &Kit) -> Vec<StockMovementRecord> {
        ops(kit)
            .into_iter()
            .filter_map(|op| match op.body {
                OpBody::StockMoved(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// Levels that differ from the sum of their movements (must be none), and
    /// movement sums that have no level row.
    fn level_mismatches(kit: &Kit) -> i64 {
        kit.store
            .conn()
            .query_row(
                "SELECT
                   (SELECT COUNT(*) FROM stock_levels l
                    WHERE l.quantity_milli <> (SELECT COALESCE(SUM(m.quantity_milli), 0)
                                               FROM stock_movements m
                                               WHERE m.product_id = l.product_id
                                                 AND m.branch_id = l.branch_id))
                 + (SELECT COUNT(*) FROM (SELECT product_id, branch_id FROM stock_movements
                                          GROUP BY product_id, branch_id) g
                    WHERE NOT EXISTS (SELECT 1 FROM stock_levels l
                                      WHERE l.product_id = g.product_id
                                        AND l.branch_id = g.branch_id))",
                [],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// A sale's movement, as checkout writes it (no op of its own).
    fn sold(kit: &mut Kit, product: ProductId, quantity: Quantity) {
        let user = kit.owner.user_id;
        kit.store
            .write(|tx| {
                let m = StockMovementRecord {
                    id: MovementId::new(),
                    product_id: product,
                    branch_id: tx.identity().branch_id,
                    device_id: tx.identity().device_id,
                    kind: MovementKind::Sale,
                    quantity: quantity.negated(),
                    sale_id: None,
                    user_id: Some(user),
                    note: None,
                    created_at: tx.now(),
                };
                insert_movement(tx, &m)
            })
            .unwrap();
    }

    #[test]
    fn a_restock_adds_a_movement_and_queues_it() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let p = kit.product("Soda", 5_000);
        let level = kit
            .store
            .restock(
                &owner,
                p.id,
                units(24),
                Some("  Delivery from Bidco ".into()),
            )
            .unwrap();
        assert_eq!(level, units(24));
        let level = kit
            .store
            .restock(&owner, p.id, Quantity::from_milli(500), Some("   ".into()))
            .unwrap();
        assert_eq!(level, Quantity::from_milli(24_500));
        assert_eq!(
            kit.store.stock_level(p.id).unwrap(),
            Quantity::from_milli(24_500)
        );
        assert_eq!(
            kit.store.product(p.id).unwrap().stock,
            Quantity::from_milli(24_500)
        );

        let moves = moved(&kit);
        assert_eq!(moves.len(), 2);
        let id = kit.store.identity().clone();
        let m = &moves[0];
        assert_eq!(
            (m.product_id, m.branch_id, m.device_id, m.kind, m.quantity),
            (
                p.id,
                id.branch_id,
                id.device_id,
                MovementKind::Restock,
                units(24)
            )
        );
        assert_eq!(
            (m.user_id, m.sale_id, m.created_at),
            (Some(owner.user_id), None, T0)
        );
        assert_eq!(m.note.as_deref(), Some("Delivery from Bidco"));
        assert_eq!(moves[1].note, None, "a blank note is no note");
        // The op carries exactly the row that was written.
        let history = kit.store.stock_movements(p.id, 10).unwrap();
        assert_eq!(history.len(), 2);
        assert!(
            history
                .iter()
                .any(|h| h.id == m.id && h.quantity == m.quantity)
        );
        assert_eq!(level_mismatches(&kit), 0);
    }

    #[test]
    fn bad_restocks_change_nothing() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let p = kit.product("Soda", 5_000);
        let gone = kit.product("Old", 5_000);
        kit.store.restock(&owner, p.id, units(5), None).unwrap();
        kit.store.delete_product(&owner, gone.id).unwrap();

        for q in [Quantity::ZERO, units(-3), Quantity::from_milli(-1)] {
            let err = kit.refused(|k| k.store.restock(&owner, p.id, q, None));
            assert!(
                matches!(err, StoreError::Rule(DomainError::NonPositiveQuantity)),
                "{q}: {err:?}"
            );
        }
        let err = kit.refused(|k| {
            k.store.restock(
                &owner,
                p.id,
                Quantity::from_milli(MAX_MOVEMENT.milli() + 1),
                None,
            )
        });
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("too large")),
            "{err:?}"
        );
        let err = kit.refused(|k| k.store.restock(&owner, ProductId::new(), units(1), None));
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
        let err = kit.refused(|k| k.store.restock(&owner, gone.id, units(1), None));
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
        let err = kit.refused(|k| {
            k.store
                .restock(&owner, p.id, units(1), Some("x".repeat(121)))
        });
        assert!(
            matches!(
                err,
                StoreError::Rule(DomainError::TooLong { field: "note", .. })
            ),
            "{err:?}"
        );
        let err = kit.refused(|k| k.store.restock(&actor(Role::Cashier), p.id, units(1), None));
        assert!(
            matches!(
                err,
                StoreError::Forbidden {
                    needed: Role::Manager,
                    ..
                }
            ),
            "{err:?}"
        );

        // The most allowed is fine.
        let level = kit.store.restock(&owner, p.id, MAX_MOVEMENT, None).unwrap();
        assert_eq!(level, units(1_000_005));
    }

    #[test]
    fn a_product_that_does_not_track_stock_can_still_be_restocked() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let mut new = new_product("Airtime", 100);
        new.track_stock = false;
        let p = kit.store.create_product(&owner, new).unwrap();
        assert_eq!(
            kit.store.restock(&owner, p.id, units(3), None).unwrap(),
            units(3)
        );
        assert_eq!(moved(&kit).len(), 1);
    }

    #[test]
    fn adjustments_go_either_way_and_may_make_stock_negative() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let manager = actor(Role::Manager);
        let p = kit.product("Eggs", 1_500);
        kit.store.restock(&owner, p.id, units(2), None).unwrap();
        let level = kit
            .store
            .adjust_stock(&manager, p.id, units(-5), " broken tray ")
            .unwrap();
        assert_eq!(level, units(-3));
        let level = kit
            .store
            .adjust_stock(
                &owner,
                p.id,
                Quantity::from_milli(1_500),
                "found in store room",
            )
            .unwrap();
        assert_eq!(level, Quantity::from_milli(-1_500));
        assert_eq!(
            kit.store.stock_level(p.id).unwrap(),
            Quantity::from_milli(-1_500)
        );

        let moves = moved(&kit);
        let m = &moves[1];
        assert_eq!((m.kind, m.quantity), (MovementKind::Adjustment, units(-5)));
        assert_eq!(
            (m.user_id, m.note.as_deref()),
            (Some(manager.user_id), Some("broken tray"))
        );
        assert_eq!(moves[2].quantity, Quantity::from_milli(1_500));
        assert_eq!(level_mismatches(&kit), 0);
    }

    #[test]
    fn bad_adjustments_change_nothing() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let p = kit.product("Eggs", 1_500);
        let gone = kit.product("Old", 1_500);
        kit.store.delete_product(&owner, gone.id).unwrap();

        let err = kit.refused(|k| {
            k.store
                .adjust_stock(&owner, p.id, Quantity::ZERO, "breakage")
        });
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("zero")),
            "{err:?}"
        );
        for reason in ["", "   "] {
            let err = kit.refused(|k| k.store.adjust_stock(&owner, p.id, units(-1), reason));
            assert!(
                matches!(
                    err,
                    StoreError::Rule(DomainError::Empty { field: "reason" })
                ),
                "{err:?}"
            );
        }
        let err = kit.refused(|k| k.store.adjust_stock(&owner, p.id, units(-1), "bad\u{7}"));
        assert!(
            matches!(err, StoreError::Rule(DomainError::BadCharacters { .. })),
            "{err:?}"
        );
        for q in [units(-1_000_001), units(1_000_001)] {
            let err = kit.refused(|k| k.store.adjust_stock(&owner, p.id, q, "typo"));
            assert!(
                matches!(err, StoreError::Invalid(ref m) if m.contains("too large")),
                "{err:?}"
            );
        }
        let err = kit.refused(|k| {
            k.store
                .adjust_stock(&owner, ProductId::new(), units(1), "x")
        });
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        let err = kit.refused(|k| k.store.adjust_stock(&owner, gone.id, units(1), "x"));
        assert!(matches!(err, StoreError::Deleted { .. }), "{err:?}");
        let err = kit.refused(|k| {
            k.store
                .adjust_stock(&actor(Role::Cashier), p.id, units(-1), "x")
        });
        assert!(matches!(err, StoreError::Forbidden { .. }), "{err:?}");
    }

    #[test]
    fn a_stocktake_moves_each_product_to_its_count() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let a = kit.product("Rice 1kg", 20_000);
        let b = kit.product("Salt", 5_000);
        let c = kit.product("Sugar", 15_000);
        kit.store.restock(&owner, a.id, units(10), None).unwrap();
        kit.store
            .adjust_stock(&owner, c.id, units(-2), "sold offline")
            .unwrap();
        let ops_before = ops(&kit).len();

        let lines = kit
            .store
            .stocktake(
                &owner,
                &[
                    (a.id, units(7)),
                    (b.id, Quantity::ZERO),
                    (c.id, Quantity::from_milli(5_250)),
                ],
            )
            .unwrap();
        assert_eq!(
            lines,
            vec![
                StocktakeLine {
                    product_id: a.id,
                    name: "Rice 1kg".into(),
                    expected: units(10),
                    counted: units(7),
                    difference: units(-3),
                },
                StocktakeLine {
                    product_id: b.id,
                    name: "Salt".into(),
                    expected: Quantity::ZERO,
                    counted: Quantity::ZERO,
                    difference: Quantity::ZERO,
                },
                StocktakeLine {
                    product_id: c.id,
                    name: "Sugar".into(),
                    expected: units(-2),
                    counted: Quantity::from_milli(5_250),
                    difference: Quantity::from_milli(7_250),
                },
            ]
        );
        assert_eq!(kit.store.stock_level(a.id).unwrap(), units(7));
        assert_eq!(kit.store.stock_level(b.id).unwrap(), Quantity::ZERO);
        assert_eq!(
            kit.store.stock_level(c.id).unwrap(),
            Quantity::from_milli(5_250)
        );

        // One op per movement; none for the product that was already right.
        let new_ops = &ops(&kit)[ops_before..];
        let moves: Vec<_> = new_ops
            .iter()
            .map(|op| match &op.body {
                OpBody::StockMoved(m) => (m.product_id, m.kind, m.quantity, m.user_id),
                other => panic!("unexpected op {other:?}"),
            })
            .collect();
        assert_eq!(
            moves,
            [
                (
                    a.id,
                    MovementKind::Stocktake,
                    units(-3),
                    Some(owner.user_id)
                ),
                (
                    c.id,
                    MovementKind::Stocktake,
                    Quantity::from_milli(7_250),
                    Some(owner.user_id)
                ),
            ]
        );
        assert_eq!(level_mismatches(&kit), 0);

        // Counting again the same finds nothing to move.
        let again = kit.store.stocktake(&owner, &[(a.id, units(7))]).unwrap();
        assert_eq!(again[0].difference, Quantity::ZERO);
        assert_eq!(ops(&kit).len(), ops_before + 2);
    }

    #[test]
    fn one_bad_line_refuses_the_whole_stocktake() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let a = kit.product("Rice", 20_000);
        let b = kit.product("Salt", 5_000);
        let gone = kit.product("Old", 5_000);
        kit.store.restock(&owner, a.id, units(10), None).unwrap();
        kit.store.delete_product(&owner, gone.id).unwrap();

        let cases: Vec<(Vec<(ProductId, Quantity)>, &str)> = vec![
            (vec![], "no counts"),
            (
                vec![(a.id, units(3)), (b.id, units(-1))],
                "line 2: a count cannot be negative",
            ),
            (
                vec![(a.id, units(3)), (b.id, units(1)), (a.id, units(4))],
                "line 3 counts the same product as line 1",
            ),
            (
                vec![(a.id, units(3)), (b.id, units(1_000_001))],
                "line 2: a count of 1000001 is too large",
            ),
        ];
        for (counts, msg) in cases {
            let err = kit.refused(|k| k.store.stocktake(&owner, &counts));
            assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
            assert!(err.to_string().contains(msg), "{err} does not say {msg}");
        }
        let err = kit.refused(|k| {
            k.store
                .stocktake(&owner, &[(a.id, units(3)), (ProductId::new(), units(1))])
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
        let err = kit.refused(|k| {
            k.store
                .stocktake(&owner, &[(a.id, units(3)), (gone.id, units(1))])
        });
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
        let err = kit.refused(|k| {
            k.store
                .stocktake(&actor(Role::Cashier), &[(a.id, units(3))])
        });
        assert!(matches!(err, StoreError::Forbidden { .. }), "{err:?}");
        assert_eq!(kit.store.stock_level(a.id).unwrap(), units(10));
    }

    #[test]
    fn low_stock_lists_tracked_products_at_or_below_their_level_and_all_negative_ones() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let with = |kit: &mut Kit, name: &str, low: Option<i64>, track: bool| {
            let mut new = new_product(name, 100);
            new.low_stock = low.map(units);
            new.track_stock = track;
            kit.store.create_product(&owner, new).unwrap()
        };
        let at = with(&mut kit, "At level", Some(5), true);
        let above = with(&mut kit, "Above level", Some(5), true);
        let negative = with(&mut kit, "Negative", None, true);
        let zero_no_level = with(&mut kit, "Zero no level", None, true);
        let zero_level_zero = with(&mut kit, "Empty shelf", Some(0), true);
        let untracked = with(&mut kit, "Untracked", Some(5), false);
        let deleted = with(&mut kit, "Deleted", Some(5), true);
        kit.store.restock(&owner, at.id, units(5), None).unwrap();
        kit.store.restock(&owner, above.id, units(6), None).unwrap();
        sold(&mut kit, negative.id, units(2));
        kit.store
            .adjust_stock(&owner, untracked.id, units(-4), "x")
            .unwrap();
        kit.store
            .adjust_stock(&owner, deleted.id, units(-4), "x")
            .unwrap();
        kit.store.delete_product(&owner, deleted.id).unwrap();

        let low = kit.store.low_stock(50).unwrap();
        let got: Vec<(&str, Quantity)> = low.iter().map(|p| (p.name.as_str(), p.stock)).collect();
        assert_eq!(
            got,
            [
                ("Negative", units(-2)),
                ("Empty shelf", Quantity::ZERO),
                ("At level", units(5))
            ]
        );
        assert!(!low.iter().any(|p| p.id == zero_no_level.id));
        assert!(low.iter().any(|p| p.id == zero_level_zero.id));
        assert_eq!(kit.store.low_stock(1).unwrap().len(), 1);

        // Raising the level above its stock takes it off the list.
        kit.store
            .update_product(
                &owner,
                at.id,
                ProductUpdate {
                    low_stock: Some(Some(units(4))),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(
            !kit.store
                .low_stock(50)
                .unwrap()
                .iter()
                .any(|p| p.id == at.id)
        );
    }

    #[test]
    fn history_is_newest_first_and_levels_are_per_branch() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let p = kit.product("Milk", 6_000);
        kit.store.restock(&owner, p.id, units(10), None).unwrap();
        kit.clock.advance_millis(60_000);
        sold(&mut kit, p.id, units(1));
        kit.clock.advance_millis(60_000);
        kit.store
            .adjust_stock(&owner, p.id, units(-2), "spoilt")
            .unwrap();

        // Another branch's movement (synced from the Back Office) is not ours.
        let other = BranchId::new();
        kit.store
            .conn()
            .execute(
                "INSERT INTO branches (id, code, name, hlc) VALUES (?1, 'B2', 'Branch 2', '0')",
                [other.to_string()],
            )
            .unwrap();
        kit.store
            .write(|tx| {
                let m = StockMovementRecord {
                    id: MovementId::new(),
                    product_id: p.id,
                    branch_id: other,
                    device_id: DeviceId::new(),
                    kind: MovementKind::Restock,
                    quantity: units(500),
                    sale_id: None,
                    user_id: None,
                    note: None,
                    created_at: tx.now(),
                };
                insert_movement(tx, &m)
            })
            .unwrap();

        assert_eq!(kit.store.stock_level(p.id).unwrap(), units(7));
        assert_eq!(
            kit.store.product_by_code("MILK").unwrap().unwrap().stock,
            units(7)
        );
        let history = kit.store.stock_movements(p.id, 10).unwrap();
        let got: Vec<_> = history
            .iter()
            .map(|m| (m.kind, m.quantity, m.created_at))
            .collect();
        assert_eq!(
            got,
            [
                (MovementKind::Adjustment, units(-2), T0.plus_millis(120_000)),
                (MovementKind::Sale, units(-1), T0.plus_millis(60_000)),
                (MovementKind::Restock, units(10), T0),
            ]
        );
        assert_eq!(history[0].user_name.as_deref(), Some("Wanjiru"));
        assert_eq!(history[0].note.as_deref(), Some("spoilt"));
        assert_eq!(history[0].device_id, kit.store.identity().device_id);
        assert_eq!(kit.store.stock_movements(p.id, 1).unwrap().len(), 1);
        assert_eq!(level_mismatches(&kit), 0);

        let err = kit.store.stock_level(ProductId::new()).unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        let err = kit.store.stock_movements(ProductId::new(), 5).unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }

    #[derive(Debug, Clone)]
    enum Step {
        Restock(usize, i64),
        Adjust(usize, i64),
        Sale(usize, i64),
        /// Product 3 is deleted, so a count of it refuses the stocktake.
        Stocktake(Vec<(usize, i64)>),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..3usize, -1_000i64..40_000).prop_map(|(p, q)| Step::Restock(p, q)),
            (0..3usize, -30_000i64..30_000).prop_map(|(p, q)| Step::Adjust(p, q)),
            (0..3usize, 1i64..20_000).prop_map(|(p, q)| Step::Sale(p, q)),
            prop::collection::vec((0..4usize, -500i64..60_000), 0..5).prop_map(Step::Stocktake),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn levels_always_equal_the_sum_of_movements(steps in prop::collection::vec(step(), 1..25)) {
            let mut kit = kit();
            let owner = kit.owner.clone();
            let products: Vec<ProductId> =
                ["A", "B", "C", "D"].iter().map(|n| kit.product(n, 100).id).collect();
            kit.store.delete_product(&owner, products[3]).unwrap();
            let mut model: HashMap<usize, i64> = HashMap::new();

            for s in &steps {
                let before = model.clone();
                let ok = match s {
                    Step::Restock(p, q) => {
                        let r = kit.store.restock(&owner, products[*p], Quantity::from_milli(*q), None);
                        prop_assert_eq!(r.is_ok(), *q > 0, "{:?}: {:?}", s, r);
                        if r.is_ok() { *model.entry(*p).or_default() += q; }
                        r.is_ok()
                    }
                    Step::Adjust(p, q) => {
                        let r = kit.store.adjust_stock(&owner, products[*p], Quantity::from_milli(*q), "count");
                        prop_assert_eq!(r.is_ok(), *q != 0, "{:?}: {:?}", s, r);
                        if r.is_ok() { *model.entry(*p).or_default() += q; }
                        r.is_ok()
                    }
                    Step::Sale(p, q) => {
                        sold(&mut kit, products[*p], Quantity::from_milli(*q));
                        *model.entry(*p).or_default() -= q;
                        true
                    }
                    Step::Stocktake(lines) => {
                        let counts: Vec<(ProductId, Quantity)> =
                            lines.iter().map(|(p, q)| (products[*p], Quantity::from_milli(*q))).collect();
                        let mut seen = std::collections::HashSet::new();
                        let valid = !lines.is_empty()
                            && lines.iter().all(|(p, q)| *q >= 0 && *p != 3 && seen.insert(*p));
                        let r = kit.store.stocktake(&owner, &counts);
                        prop_assert_eq!(r.is_ok(), valid, "{:?}: {:?}", s, r);
                        if let Ok(result) = &r {
                            for ((p, q), line) in lines.iter().zip(result) {
                                let expected = model.get(p).copied().unwrap_or(0);
                                prop_assert_eq!(line.expected.milli(), expected);
                                prop_assert_eq!(line.difference.milli(), q - expected);
                                model.insert(*p, *q);
                            }
                        }
                        r.is_ok()
                    }
                };
                if !ok {
                    prop_assert_eq!(&model, &before);
                }
                prop_assert_eq!(level_mismatches(&kit), 0);
                for (i, id) in products.iter().enumerate() {
                    let want = model.get(&i).copied().unwrap_or(0);
                    prop_assert_eq!(kit.store.stock_level(*id).unwrap().milli(), want, "product {}", i);
                }
            }
            // Every movement but the sales' went out as its own op.
            let movements: i64 = kit.store.conn()
                .query_row("SELECT COUNT(*) FROM stock_movements WHERE kind <> 'sale'", [], |r| r.get(0))
                .unwrap();
            prop_assert_eq!(moved(&kit).len() as i64, movements);
        }
    }
}
