//! The mobile API: `GET /api/products` (the catalog with the key's branch
//! stock) and `POST /api/transaction` (one sale, idempotent by its id).
//!
//! A mobile sale is a [`SaleRecord`], the same shape a till pushes inside
//! `sale_recorded`, and it is applied by the same code
//! ([`crate::apply::apply_sale`]): its stock movements, its credit ledger
//! entry, its rules and its changes in the feed, so the tills of the branch
//! pull it like any other sale. Mobile devices keep no outbox sequence, so
//! the sale id itself is the idempotency key: a sale id the server has is
//! answered `duplicate` and applied no second time.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pos_domain::{Hlc, Quantity, Timestamp};
use rusqlite::{Connection, TransactionBehavior, params};
use sync_protocol::{
    MobileCatalog, MobileCategory, MobileProduct, RejectCode, SaleRecord, TransactionResponse,
    TransactionStatus,
};

use crate::apply::{
    ApplyError, OpContext, apply_sale, col, col_money, col_name, col_opt, has_sale, settings_state,
};
use crate::auth::AuthDevice;
use crate::error::ApiError;
use crate::state::AppState;
use crate::sync::{ApiJson, log_error};

/// `GET /api/products`: every product not deleted, by name, with the stock
/// of the key's branch.
pub async fn products(
    State(state): State<AppState>,
    device: AuthDevice,
) -> Result<Json<MobileCatalog>, ApiError> {
    let catalog = state
        .db(move |conn, clock| catalog(conn, &device, clock.now()))
        .await?;
    Ok(Json(catalog))
}

fn catalog(
    conn: &Connection,
    device: &AuthDevice,
    now: Timestamp,
) -> Result<MobileCatalog, ApiError> {
    let settings = settings_state(conn)?;
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, p.name, p.sku, p.barcode, c.id, c.name, p.price_minor, p.currency, p.tax_code,
                p.image, p.track_stock, COALESCE(s.quantity_milli, 0)
         FROM products p
         LEFT JOIN categories c ON c.id = p.category_id AND c.deleted_at IS NULL
         LEFT JOIN stock_levels s ON s.product_id = p.id AND s.branch_id = ?1
         WHERE p.deleted_at IS NULL
         ORDER BY p.name COLLATE NOCASE, p.id",
    )?;
    let products = stmt
        .query_map([device.branch_id.to_string()], |r| {
            let category = match r.get::<_, Option<String>>(4)? {
                Some(_) => Some(MobileCategory {
                    id: col(r, 4)?,
                    name: col_name(r, 5)?,
                }),
                None => None,
            };
            Ok(MobileProduct {
                id: col(r, 0)?,
                name: col_name(r, 1)?,
                sku: col_opt(r, 2)?,
                barcode: col_opt(r, 3)?,
                category,
                price: col_money(r, 6, col(r, 7)?)?,
                tax_code: col(r, 8)?,
                image: r.get(9)?,
                track_stock: r.get(10)?,
                stock: Quantity::from_milli(r.get(11)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(MobileCatalog {
        currency: settings.currency,
        tax_mode: settings.tax_mode,
        products,
        server_time: now,
    })
}

/// `POST /api/transaction`: records one sale from a mobile device. 201
/// `applied` the first time; 200 `duplicate` for a sale id the server has.
pub async fn transaction(
    State(state): State<AppState>,
    device: AuthDevice,
    ApiJson(sale): ApiJson<SaleRecord>,
) -> Result<(StatusCode, Json<TransactionResponse>), ApiError> {
    let started = Instant::now();
    let sale_id = sale.id;
    let status = state
        .db(move |conn, clock| {
            let outcome = record_sale(conn, clock.now(), &device, &sale, started);
            if let Err(e) = &outcome {
                log_error(conn, &device, "push", 1, started, clock.now(), e);
            }
            outcome
        })
        .await?;
    let code = match status {
        TransactionStatus::Applied => StatusCode::CREATED,
        TransactionStatus::Duplicate => StatusCode::OK,
    };
    Ok((code, Json(TransactionResponse { status, sale_id })))
}

/// One immediate transaction: the sale's effects, its changes and its sync
/// log row commit together, or nothing does.
fn record_sale(
    conn: &mut Connection,
    now: Timestamp,
    device: &AuthDevice,
    sale: &SaleRecord,
    started: Instant,
) -> Result<TransactionStatus, ApiError> {
    if sale.branch_id != device.branch_id {
        return Err(ApiError::forbidden(format!(
            "sale {} belongs to branch {} but this device's key is for branch {}; a device records its own branch's sales only (GET /api/device tells the key's branch)",
            sale.receipt_no, sale.branch_id, device.branch_id
        )));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let status = if has_sale(&tx, sale.id)? {
        TransactionStatus::Duplicate
    } else {
        let ctx = OpContext {
            device: device.id,
            branch: device.branch_id,
            // Sales are append-only: no field clock to order.
            hlc: Hlc::new(
                u64::try_from(now.as_millis()).unwrap_or(0),
                0,
                Hlc::node_of(device.id),
            ),
            created_at: sale.created_at,
            now,
        };
        match apply_sale(&tx, &ctx, sale) {
            Ok(()) => TransactionStatus::Applied,
            Err(ApplyError::Reject {
                code: RejectCode::WrongBranch,
                reason,
            }) => return Err(ApiError::forbidden(reason)),
            Err(ApplyError::Reject { reason, .. }) => {
                return Err(ApiError::bad_request(format!(
                    "the sale was not recorded: {reason}"
                )));
            }
            Err(ApplyError::Db(e)) => return Err(ApiError::internal(&e)),
        }
    };
    let applied = i64::from(status == TransactionStatus::Applied);
    tx.prepare_cached("UPDATE devices SET last_push_at = ?2 WHERE id = ?1")?
        .execute(params![device.id.to_string(), now.as_millis()])?;
    tx.prepare_cached(
        "INSERT INTO sync_log (device_id, direction, items, applied, duplicates, rejected, duration_ms, result, at)
         VALUES (?1, 'push', 1, ?2, ?3, 0, ?4, 'ok', ?5)",
    )?
    .execute(params![
        device.id.to_string(),
        applied,
        1 - applied,
        started.elapsed().as_millis().min(i64::MAX as u128) as i64,
        now.as_millis()
    ])?;
    tx.commit()?;
    if applied == 1 {
        tracing::info!(device = %device.name, sale = %sale.receipt_no, "mobile sale");
    }
    Ok(status)
}
