//! Full Cloud Synchronization (`POST /api/sync/full`) end to end: a real
//! server on 127.0.0.1:0 over a temp database file, driven with reqwest.

mod common;

use std::process::Command;

use backoffice::apply::{expense_state, product_state, settings_state};
use backoffice::devices;
use common::seed::restock_record;
use common::*;
use pos_domain::{ExpenseId, Hlc, ProductId, TimeZone, Timestamp};
use serde_json::{Value, json};
use sync_protocol::{
    ApplyAnswer, ApplyChunk, ChangeBody, EntityKind, ErrorCode, ExpensePaidWith, ExpensePatch,
    FinishAnswer, FinishRequest, FullRecord, FullSyncMode, FullSyncRequest, FullSyncResponse,
    ManifestEntry, OpBody, OpOutcome, PreviewAnswer, PreviewPart, ProductState, RecordRef,
    RejectCode, Tombstone, digest,
};
use uuid::Uuid;

// Helpers -----------------------------------------------------------------------

async fn post(server: &TestServer, key: &str, body: &Value) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/sync/full"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn full_ok(server: &TestServer, key: &str, req: &FullSyncRequest) -> FullSyncResponse {
    let res = post(server, key, &serde_json::to_value(req).unwrap()).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn preview(
    server: &TestServer,
    key: &str,
    entity: EntityKind,
    records: &[FullRecord],
) -> PreviewAnswer {
    preview_range(server, key, entity, None, None, records).await
}

async fn preview_range(
    server: &TestServer,
    key: &str,
    entity: EntityKind,
    after: Option<String>,
    through: Option<String>,
    records: &[FullRecord],
) -> PreviewAnswer {
    let mut entries: Vec<ManifestEntry> = records.iter().map(FullRecord::manifest_entry).collect();
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    let req = FullSyncRequest::Preview(PreviewPart {
        entity,
        after,
        through,
        records: entries,
    });
    match full_ok(server, key, &req).await {
        FullSyncResponse::Preview(p) => {
            assert_eq!(p.entity, Some(entity));
            p
        }
        other => panic!("{other:?}"),
    }
}

fn chunk(
    session: Uuid,
    n: u32,
    mode: FullSyncMode,
    records: Vec<FullRecord>,
    remove: Vec<RecordRef>,
) -> FullSyncRequest {
    FullSyncRequest::Apply(ApplyChunk {
        session,
        chunk: n,
        mode,
        records,
        remove,
    })
}

async fn apply(server: &TestServer, key: &str, req: &FullSyncRequest) -> ApplyAnswer {
    match full_ok(server, key, req).await {
        FullSyncResponse::Apply(a) => a,
        other => panic!("{other:?}"),
    }
}

async fn finish(server: &TestServer, key: &str, session: Uuid, seq: u64) -> FinishAnswer {
    let req = FullSyncRequest::Finish(FinishRequest {
        session,
        acknowledged_seq: seq,
    });
    match full_ok(server, key, &req).await {
        FullSyncResponse::Finish(f) => f,
        other => panic!("{other:?}"),
    }
}

async fn add_product(server: &TestServer, till: &mut Till, n: &str, price: i64) -> ProductId {
    let id = ProductId::new();
    let op = till.op(new_product(id, n, price));
    let res = server.push_ok(&till.key, &[op]).await;
    assert_eq!(res.results[0].outcome, OpOutcome::Applied);
    id
}

fn product(server: &TestServer, id: ProductId) -> ProductState {
    product_state(&server.admin(), id).unwrap()
}

/// A product only the till has.
fn till_product(n: &str, price: i64) -> ProductState {
    ProductState {
        id: ProductId::new(),
        name: name(n),
        sku: None,
        barcode: None,
        category_id: None,
        price: kes(price),
        tax_code: pos_domain::TaxCode::parse("VAT16").unwrap(),
        image: None,
        track_stock: true,
        low_stock: None,
        created_at: Timestamp::from_millis(T0),
        hlc: Hlc::new(T0 as u64, 0, 7),
        deleted_at: None,
    }
}

fn expense_op(till: &Till, amount: i64) -> (ExpenseId, OpBody) {
    let id = ExpenseId::new();
    let at = till.now();
    (
        id,
        OpBody::ExpenseChanged(ExpensePatch {
            branch_id: Some(till.branch_id),
            device_id: Some(till.device_id),
            user_id: Some(till.cashier),
            category: Some(name("Transport")),
            description: Some("Boda to the wholesaler".into()),
            amount: Some(kes(amount)),
            paid_with: Some(ExpensePaidWith::Cash),
            reference: Some(None),
            spent_at: Some(at),
            business_day: Some(TimeZone::NAIROBI.business_day(at).to_string()),
            ..ExpensePatch::new(id)
        }),
    )
}

/// Rows of the tables Full Cloud Synchronization keeps for itself.
fn bookkeeping(server: &TestServer) -> (i64, i64, i64) {
    (
        server.count("SELECT COUNT(*) FROM record_versions"),
        server.count("SELECT COUNT(*) FROM full_sync_chunks"),
        server.count("SELECT COUNT(*) FROM full_sync_sessions"),
    )
}

/// The states the change feed holds for a product, oldest first.
fn product_changes(server: &TestServer, id: ProductId) -> Vec<ProductState> {
    let conn = server.admin();
    let mut stmt = conn
        .prepare(
            "SELECT body FROM changes WHERE entity = 'product' AND entity_id = ?1 ORDER BY seq",
        )
        .unwrap();
    stmt.query_map([id.to_string()], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|b| match serde_json::from_str(&b.unwrap()).unwrap() {
            ChangeBody::Product(p) => p,
            other => panic!("{other:?}"),
        })
        .collect()
}

fn cli(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_whiz-backoffice"))
        .arg("--database")
        .arg(&server.path)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Preview -------------------------------------------------------------------------

#[tokio::test]
async fn a_preview_counts_what_would_be_added_overwritten_and_kept() {
    let server = start().await;
    let (mut till, same) = ready_till(&server, "Main", "Till 1").await;
    let changed = add_product(&server, &mut till, "Bread", 60_00).await;
    let only_server = add_product(&server, &mut till, "Milk", 65_00).await;
    let gone = add_product(&server, &mut till, "Old stock", 10_00).await;
    let del = till.op(OpBody::ProductDeleted(Tombstone {
        id: gone,
        deleted_at: till.now(),
    }));
    server.push_ok(&till.key, &[del]).await;

    // The till: `same` as the server has it, `changed` with another price,
    // a product the server lacks, and neither `only_server` nor `gone`.
    let mut stale = product(&server, changed);
    stale.price = kes(55_00);
    stale.hlc = Hlc::new(T0 as u64 - 1_000, 0, 7); // clocks do not count
    let new = till_product("Sugar 1kg", 180_00);
    let records = vec![
        FullRecord::Product(product(&server, same)),
        FullRecord::Product(stale),
        FullRecord::Product(new.clone()),
    ];
    let before = server.snapshot();
    let p = preview(&server, &till.key, EntityKind::Product, &records).await;
    assert_eq!(p.to_add, vec![new.id.to_string()]);
    assert_eq!(p.to_overwrite, vec![changed.to_string()]);
    assert_eq!(p.only_on_server, vec![only_server.to_string()]);
    assert_eq!(p.unchanged, 1);
    // A preview changes nothing but the sync log.
    assert_eq!(server.snapshot(), before);
    assert_eq!(
        server.count(
            "SELECT COUNT(*) FROM sync_log WHERE direction = 'full_preview' AND result = 'ok'
             AND detail LIKE 'product: 1 to add, 1 to overwrite, 1 only on the server, 1 unchanged'"
        ),
        1
    );

    // A part covers its range only: ids up to the second-smallest server id.
    let mut server_ids = [same, changed, only_server, gone].map(|id| id.to_string());
    server_ids.sort();
    let through = server_ids[1].clone();
    let in_range: Vec<FullRecord> = records
        .iter()
        .filter(|r| r.id() <= through)
        .cloned()
        .collect();
    let p = preview_range(
        &server,
        &till.key,
        EntityKind::Product,
        None,
        Some(through.clone()),
        &in_range,
    )
    .await;
    let all: Vec<String> = p
        .to_add
        .iter()
        .chain(&p.to_overwrite)
        .chain(&p.only_on_server)
        .cloned()
        .collect();
    assert!(all.iter().all(|id| *id <= through), "{p:?}");
    assert_eq!(
        all.len() as u64 + p.unchanged,
        server_ids[..2]
            .iter()
            .filter(|id| **id != gone.to_string())
            .count() as u64
            + in_range
                .iter()
                .filter(|r| r.id() == new.id.to_string())
                .count() as u64
    );

    // Settings: the same values are unchanged whatever their clock.
    let settings = settings_state(&server.admin()).unwrap();
    let p = preview(
        &server,
        &till.key,
        EntityKind::Settings,
        &[FullRecord::Settings(settings.clone())],
    )
    .await;
    assert_eq!((p.unchanged, p.to_overwrite.len()), (1, 0));
    let mut renamed = settings;
    renamed.store_name = "Duka Bora".into();
    let p = preview(
        &server,
        &till.key,
        EntityKind::Settings,
        &[FullRecord::Settings(renamed)],
    )
    .await;
    assert_eq!(p.to_overwrite, vec!["settings".to_string()]);
    server.stop().await;
}

#[tokio::test]
async fn a_preview_sees_only_this_branchs_sales_expenses_and_movements() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut town = server.till("Town", "Till 1");
    let cashier = town.cashier_op();
    server.push_ok(&town.key, &[cashier]).await;

    let main_sale = main.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let town_sale = town.sale(&[(soda, "Soda 500ml", 80_00, 2)]);
    let (main_exp, e1) = expense_op(&main, 200_00);
    let (town_exp, e2) = expense_op(&town, 300_00);
    let main_restock = restock_record(&main, soda, 10);
    let ops = [
        main.op(OpBody::SaleRecorded(main_sale.clone())),
        main.op(e1),
        main.op(OpBody::StockMoved(main_restock.clone())),
    ];
    server.push_ok(&main.key, &ops).await;
    let ops = [
        town.op(OpBody::SaleRecorded(town_sale.clone())),
        town.op(e2),
    ];
    server.push_ok(&town.key, &ops).await;

    let p = preview(&server, &main.key, EntityKind::Sale, &[]).await;
    assert_eq!(p.only_on_server, vec![main_sale.id.to_string()]);
    let p = preview(&server, &town.key, EntityKind::Sale, &[]).await;
    assert_eq!(p.only_on_server, vec![town_sale.id.to_string()]);
    // A listed sale is unchanged (presence only); the other branch's is not
    // seen at all, so it would be "added" (and then refused on upload).
    let p = preview(
        &server,
        &main.key,
        EntityKind::Sale,
        &[
            FullRecord::Sale(main_sale.clone()),
            FullRecord::Sale(town_sale.clone()),
        ],
    )
    .await;
    assert_eq!(p.unchanged, 1);
    assert_eq!(p.to_add, vec![town_sale.id.to_string()]);
    assert!(p.only_on_server.is_empty());

    let p = preview(&server, &main.key, EntityKind::Expense, &[]).await;
    assert_eq!(p.only_on_server, vec![main_exp.to_string()]);
    let p = preview(&server, &town.key, EntityKind::Expense, &[]).await;
    assert_eq!(p.only_on_server, vec![town_exp.to_string()]);
    let state = expense_state(&server.admin(), main_exp).unwrap();
    let p = preview(
        &server,
        &main.key,
        EntityKind::Expense,
        &[FullRecord::Expense(state)],
    )
    .await;
    assert_eq!((p.unchanged, p.only_on_server.len()), (1, 0));

    // Stand-alone movements only (a sale's travel inside the sale), this branch's.
    let p = preview(&server, &main.key, EntityKind::StockMovement, &[]).await;
    assert_eq!(p.only_on_server, vec![main_restock.id.to_string()]);
    let p = preview(&server, &town.key, EntityKind::StockMovement, &[]).await;
    assert!(p.only_on_server.is_empty(), "{p:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_bad_preview_part_is_refused_and_changes_nothing() {
    let server = start().await;
    let (till, soda) = ready_till(&server, "Main", "Till 1").await;
    let entry = |id: &str| json!({"id": id, "digest": "00"});
    let before = server.snapshot();
    for (body, what) in [
        (
            json!({"step": "preview", "entity": "product", "records": [entry("b"), entry("a")]}),
            "sorted",
        ),
        (
            json!({"step": "preview", "entity": "product", "records": [entry("a"), entry("a")]}),
            "sorted",
        ),
        (
            json!({"step": "preview", "entity": "product", "after": "m", "records": [entry("c")]}),
            "after",
        ),
        (
            json!({"step": "preview", "entity": "product", "through": "m", "records": [entry("z")]}),
            "after",
        ),
        (
            json!({"step": "preview", "entity": "product", "after": "m", "through": "c", "records": []}),
            "empty",
        ),
        (
            json!({"step": "preview", "entity": "widget", "records": []}),
            "valid request",
        ),
    ] {
        let res = post(&server, &till.key, &body).await;
        let err = expect_error(res, 400, ErrorCode::BadRequest).await;
        assert!(err.error.message.contains(what), "{}", err.error.message);
    }
    let too_many: Vec<Value> = (0..=sync_protocol::MAX_MANIFEST_ENTRIES)
        .map(|i| entry(&format!("{i:08}")))
        .collect();
    let res = post(
        &server,
        &till.key,
        &json!({"step": "preview", "entity": "product", "records": too_many}),
    )
    .await;
    expect_error(res, 400, ErrorCode::BadRequest).await;
    assert_eq!(server.snapshot(), before);
    assert_eq!(product(&server, soda).price, kes(80_00));
    assert_eq!(
        server.count(
            "SELECT COUNT(*) FROM sync_log WHERE direction = 'full_preview' AND result = 'error'"
        ),
        6
    );
    server.stop().await;
}

// Apply: overwrite -------------------------------------------------------------------

#[tokio::test]
async fn overwrite_keeps_the_replaced_state_and_every_till_pulls_the_new_one() {
    let server = start().await;
    let (till, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut other = server.till("Town", "Till 1");
    // The till's copy is stale: another till raised the price since.
    let stale = product(&server, soda);
    server.clock.advance_millis(60000);
    let op = other.op(price_patch(soda, 95_00));
    server.push_ok(&other.key, &[op]).await;
    let replaced = product(&server, soda);
    assert_eq!(replaced.price, kes(95_00));
    let changes_before = server.count("SELECT COUNT(*) FROM changes");

    let session = Uuid::now_v7();
    let answer = apply(
        &server,
        &till.key,
        &chunk(
            session,
            1,
            FullSyncMode::Overwrite,
            vec![FullRecord::Product(stale.clone())],
            vec![],
        ),
    )
    .await;
    assert_eq!(
        (
            answer.overwritten,
            answer.added,
            answer.unchanged,
            answer.removed
        ),
        (1, 0, 0, 0),
        "{answer:?}"
    );
    assert!(!answer.duplicate && answer.rejected.is_empty());
    // The till's values, under a clock newer than any the record had.
    let now = product(&server, soda);
    assert_eq!(now.price, kes(80_00));
    assert!(now.hlc > replaced.hlc, "{} vs {}", now.hlc, replaced.hlc);
    assert_eq!(
        digest(&FullRecord::Product(now.clone())),
        digest(&FullRecord::Product(stale))
    );
    // The replaced state is a version.
    let versions = backoffice::full_sync::list_versions(
        &server.admin(),
        EntityKind::Product,
        &soda.to_string(),
    )
    .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].state, ChangeBody::Product(replaced));
    assert_eq!(versions[0].reason, "full_sync_overwrite");
    assert_eq!(versions[0].replaced_by, Some(till.device_id));
    assert_eq!(versions[0].session, Some(session.to_string()));
    // One change, with the new state; the other till pulls it.
    assert_eq!(
        server.count("SELECT COUNT(*) FROM changes"),
        changes_before + 1
    );
    assert_eq!(product_changes(&server, soda).last(), Some(&now));
    let page = server.pull_ok(&other.key, "").await;
    let pulled = page
        .changes
        .iter()
        .rev()
        .find_map(|c| match &c.body {
            ChangeBody::Product(p) if p.id == soda => Some(p.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(pulled, now);
    // A later edit by the other till still wins by its clock.
    server.clock.advance_millis(60000);
    let op = other.op(price_patch(soda, 99_00));
    server.push_ok(&other.key, &[op]).await;
    assert_eq!(product(&server, soda).price, kes(99_00));
    // And the preview now shows the till's copy as stale again, not as new.
    let p = preview(
        &server,
        &till.key,
        EntityKind::Product,
        &[FullRecord::Product(now)],
    )
    .await;
    assert_eq!(p.to_overwrite, vec![soda.to_string()]);
    server.stop().await;
}

#[tokio::test]
async fn unchanged_records_write_nothing_and_a_deleted_product_comes_back() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let same = product(&server, soda);
    let changes = server.count("SELECT COUNT(*) FROM changes");
    let settings = settings_state(&server.admin()).unwrap();
    let answer = apply(
        &server,
        &till.key,
        &chunk(
            Uuid::now_v7(),
            1,
            FullSyncMode::Overwrite,
            vec![
                FullRecord::Settings(settings),
                FullRecord::Product(same.clone()),
            ],
            vec![],
        ),
    )
    .await;
    assert_eq!(
        (answer.unchanged, answer.overwritten, answer.added),
        (2, 0, 0)
    );
    assert_eq!(server.count("SELECT COUNT(*) FROM changes"), changes);
    assert_eq!(server.count("SELECT COUNT(*) FROM record_versions"), 0);

    // Deleted on the server, alive on this till: the till's copy wins.
    let del = till.op(OpBody::ProductDeleted(Tombstone {
        id: soda,
        deleted_at: till.now(),
    }));
    server.push_ok(&till.key, &[del]).await;
    assert!(product(&server, soda).deleted_at.is_some());
    let answer = apply(
        &server,
        &till.key,
        &chunk(
            Uuid::now_v7(),
            1,
            FullSyncMode::Overwrite,
            vec![FullRecord::Product(same)],
            vec![],
        ),
    )
    .await;
    assert_eq!(answer.overwritten, 1, "{answer:?}");
    let back = product(&server, soda);
    assert_eq!(back.deleted_at, None);
    assert_eq!(product_changes(&server, soda).last(), Some(&back));
    // An older delete pushed late does not bury it again.
    let late = till.op_at(
        OpBody::ProductDeleted(Tombstone {
            id: soda,
            deleted_at: till.now(),
        }),
        Hlc::new(T0 as u64 - 5, 0, 3),
    );
    server.push_ok(&till.key, &[late]).await;
    assert_eq!(product(&server, soda).deleted_at, None);
    server.stop().await;
}

#[tokio::test]
async fn sales_are_unioned_and_bad_records_are_rejected_while_the_rest_apply() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut town = server.till("Town", "Till 1");
    let pushed = main.sale(&[(soda, "Soda 500ml", 80_00, 2)]);
    let op = main.op(OpBody::SaleRecorded(pushed.clone()));
    server.push_ok(&main.key, &[op]).await;

    let offline = main.sale(&[(soda, "Soda 500ml", 80_00, 3)]);
    let refill = restock_record(&main, soda, 24);
    let ghost = main.sale(&[(ProductId::new(), "Ghost", 10_00, 1)]);
    let foreign = town.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let sugar = till_product("Sugar 1kg", 180_00);
    let records = vec![
        FullRecord::Product(sugar.clone()),
        FullRecord::Sale(pushed.clone()),
        FullRecord::Sale(offline.clone()),
        FullRecord::Sale(ghost.clone()),
        FullRecord::Sale(foreign.clone()),
        FullRecord::StockMovement(refill.clone()),
    ];
    let answer = apply(
        &server,
        &main.key,
        &chunk(Uuid::now_v7(), 1, FullSyncMode::Overwrite, records, vec![]),
    )
    .await;
    assert_eq!(
        (answer.added, answer.unchanged, answer.overwritten),
        (3, 1, 0),
        "{answer:?}"
    );
    assert_eq!(answer.rejected.len(), 2, "{answer:?}");
    let ghost_rej = answer
        .rejected
        .iter()
        .find(|r| r.id == ghost.id.to_string())
        .unwrap();
    assert_eq!(
        (ghost_rej.entity, ghost_rej.code),
        (EntityKind::Sale, RejectCode::UnknownReference)
    );
    let foreign_rej = answer
        .rejected
        .iter()
        .find(|r| r.id == foreign.id.to_string())
        .unwrap();
    assert_eq!(foreign_rej.code, RejectCode::WrongBranch);
    assert!(
        foreign_rej.reason.contains("branch"),
        "{}",
        foreign_rej.reason
    );

    // Sales: the pushed one once, the offline one added whole; neither of
    // the rejected ones.
    assert_eq!(server.count("SELECT COUNT(*) FROM sales"), 2);
    for (sale, n) in [(&pushed, 1), (&offline, 1), (&ghost, 0), (&foreign, 0)] {
        assert_eq!(
            server.count(&format!(
                "SELECT COUNT(*) FROM sales WHERE id = '{}'",
                sale.id
            )),
            n
        );
    }
    // Stock is the sum of movements: -2 -3 +24.
    let level = server.count(&format!(
        "SELECT quantity_milli FROM stock_levels WHERE product_id = '{soda}' AND branch_id = '{}'",
        main.branch_id
    ));
    let sum = server.count(&format!(
        "SELECT SUM(quantity_milli) FROM stock_movements WHERE product_id = '{soda}' AND branch_id = '{}'",
        main.branch_id
    ));
    assert_eq!((level, sum), (19_000, 19_000));
    assert_eq!(
        server.count(&format!(
            "SELECT COUNT(*) FROM stock_levels WHERE branch_id = '{}'",
            town.branch_id
        )),
        0
    );
    assert_eq!(product(&server, sugar.id).price, kes(180_00));
    // The new sale reached the feed for the branch.
    assert_eq!(
        server.count(&format!(
            "SELECT COUNT(*) FROM changes WHERE entity = 'sale' AND entity_id = '{}' AND branch_id = '{}'",
            offline.id, main.branch_id
        )),
        1
    );
    server.stop().await;
}

// Idempotency -------------------------------------------------------------------------

#[tokio::test]
async fn a_retried_chunk_is_a_duplicate_and_a_session_belongs_to_one_device() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let second = server.till("Main", "Till 2");
    let mut stale = product(&server, soda);
    stale.price = kes(70_00);
    let sale = main.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let session = Uuid::now_v7();
    let req = chunk(
        session,
        1,
        FullSyncMode::Overwrite,
        vec![
            FullRecord::Product(stale.clone()),
            FullRecord::Product(till_product("Sugar", 180_00)),
            FullRecord::Sale(sale),
        ],
        vec![],
    );
    let first = apply(&server, &main.key, &req).await;
    assert_eq!((first.added, first.overwritten), (2, 1), "{first:?}");
    let before = (server.snapshot(), bookkeeping(&server));

    let again = apply(&server, &main.key, &req).await;
    assert!(again.duplicate);
    assert_eq!(
        ApplyAnswer {
            duplicate: false,
            ..again.clone()
        },
        first
    );
    assert_eq!((server.snapshot(), bookkeeping(&server)), before);
    assert_eq!(server.count("SELECT COUNT(*) FROM sales"), 1);

    // The same key with other content is refused.
    let mut cheaper = stale;
    cheaper.price = kes(60_00);
    let other = chunk(
        session,
        1,
        FullSyncMode::Overwrite,
        vec![FullRecord::Product(cheaper.clone())],
        vec![],
    );
    let res = post(&server, &main.key, &serde_json::to_value(&other).unwrap()).await;
    expect_error(res, 409, ErrorCode::Conflict).await;
    // Another device cannot join (or replay) this session.
    let res = post(&server, &second.key, &serde_json::to_value(&req).unwrap()).await;
    let err = expect_error(res, 409, ErrorCode::Conflict).await;
    assert!(
        err.error.message.contains("another device"),
        "{}",
        err.error.message
    );
    let res = post(
        &server,
        &second.key,
        &serde_json::to_value(chunk(
            session,
            2,
            FullSyncMode::Overwrite,
            vec![FullRecord::Product(cheaper)],
            vec![],
        ))
        .unwrap(),
    )
    .await;
    expect_error(res, 409, ErrorCode::Conflict).await;
    let res = post(
        &server,
        &second.key,
        &json!({"step": "finish", "session": session, "acknowledged_seq": 5}),
    )
    .await;
    expect_error(res, 409, ErrorCode::Conflict).await;
    assert_eq!((server.snapshot(), bookkeeping(&server)), before);
    assert_eq!(
        server.count(
            "SELECT COUNT(*) FROM sync_log WHERE direction = 'full_apply' AND duplicates = 3"
        ),
        1
    );
    server.stop().await;
}

// Removal and versions ------------------------------------------------------------------

#[tokio::test]
async fn removal_is_soft_only_when_listed_and_the_cli_restores_the_old_state() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let milk = add_product(&server, &mut till, "Milk", 65_00).await;
    let sale = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let op = till.op(OpBody::SaleRecorded(sale.clone()));
    server.push_ok(&till.key, &[op]).await;
    let live_milk = product(&server, milk);

    // A chunk that does not list milk leaves it alone.
    let answer = apply(
        &server,
        &till.key,
        &chunk(
            Uuid::now_v7(),
            1,
            FullSyncMode::Overwrite,
            vec![FullRecord::Product(product(&server, soda))],
            vec![],
        ),
    )
    .await;
    assert_eq!((answer.unchanged, answer.removed), (1, 0));
    assert_eq!(product(&server, milk).deleted_at, None);

    // Sales are never removable: the whole chunk is refused.
    let before = (server.snapshot(), bookkeeping(&server));
    let bad = chunk(
        Uuid::now_v7(),
        1,
        FullSyncMode::Overwrite,
        vec![],
        vec![
            RecordRef {
                entity: EntityKind::Product,
                id: milk.to_string(),
            },
            RecordRef {
                entity: EntityKind::Sale,
                id: sale.id.to_string(),
            },
        ],
    );
    let res = post(&server, &till.key, &serde_json::to_value(&bad).unwrap()).await;
    let err = expect_error(res, 400, ErrorCode::BadRequest).await;
    assert!(
        err.error.message.contains("append-only"),
        "{}",
        err.error.message
    );
    assert_eq!((server.snapshot(), bookkeeping(&server)), before);

    // Listed: milk is tombstoned (the row stays), a ghost is rejected.
    server.clock.advance_millis(30000);
    let ghost = ProductId::new();
    let session = Uuid::now_v7();
    let answer = apply(
        &server,
        &till.key,
        &chunk(
            session,
            1,
            FullSyncMode::Overwrite,
            vec![],
            vec![
                RecordRef {
                    entity: EntityKind::Product,
                    id: milk.to_string(),
                },
                RecordRef {
                    entity: EntityKind::Product,
                    id: ghost.to_string(),
                },
            ],
        ),
    )
    .await;
    assert_eq!(answer.removed, 1, "{answer:?}");
    assert_eq!(answer.rejected.len(), 1);
    assert_eq!(answer.rejected[0].id, ghost.to_string());
    assert_eq!(answer.rejected[0].code, RejectCode::UnknownReference);
    let removed = product(&server, milk);
    assert_eq!(removed.deleted_at, Some(server.state.now()));
    assert!(removed.hlc > live_milk.hlc);
    assert_eq!(product_changes(&server, milk).last(), Some(&removed));
    // Removing it again is rejected: it is already removed.
    let answer = apply(
        &server,
        &till.key,
        &chunk(
            session,
            2,
            FullSyncMode::Overwrite,
            vec![],
            vec![RecordRef {
                entity: EntityKind::Product,
                id: milk.to_string(),
            }],
        ),
    )
    .await;
    assert_eq!(
        (answer.removed, answer.rejected[0].code),
        (0, RejectCode::Invalid)
    );

    // The CLI lists the saved state and restores it.
    let (ok, out, err) = cli(
        &server,
        &[
            "versions",
            "list",
            "--entity",
            "product",
            "--id",
            &milk.to_string(),
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("full_sync_remove"), "{out}");
    assert!(out.contains("Till 1 (T1)"), "{out}");
    let versions = backoffice::full_sync::list_versions(
        &server.admin(),
        EntityKind::Product,
        &milk.to_string(),
    )
    .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].state, ChangeBody::Product(live_milk.clone()));
    let id = versions[0].id.to_string();
    assert!(out.lines().nth(1).unwrap().starts_with(&id), "{out}");
    let changes = server.count("SELECT COUNT(*) FROM changes");
    let (ok, out, err) = cli(&server, &["versions", "restore", &id]);
    assert!(ok, "{err}");
    assert!(out.contains("Restored version"), "{out}");
    let restored = product(&server, milk);
    assert_eq!(restored.deleted_at, None);
    assert_eq!(
        digest(&FullRecord::Product(restored.clone())),
        digest(&FullRecord::Product(live_milk))
    );
    assert!(restored.hlc > removed.hlc);
    assert_eq!(server.count("SELECT COUNT(*) FROM changes"), changes + 1);
    assert_eq!(product_changes(&server, milk).last(), Some(&restored));
    assert_eq!(
        server.count("SELECT COUNT(*) FROM changes WHERE origin IS NULL AND entity = 'product'"),
        1
    );
    // The tombstoned state it replaced is a version in turn.
    let versions = backoffice::full_sync::list_versions(
        &server.admin(),
        EntityKind::Product,
        &milk.to_string(),
    )
    .unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].reason, "version_restore");
    assert_eq!(versions[1].replaced_by, None);
    assert_eq!(versions[1].state, ChangeBody::Product(removed));
    // Restoring what is already there changes nothing; junk is refused.
    let (ok, out, _) = cli(&server, &["versions", "restore", &id]);
    assert!(ok && out.contains("nothing changed"), "{out}");
    let (ok, _, err) = cli(&server, &["versions", "restore", "999"]);
    assert!(!ok && err.contains("no saved version 999"), "{err}");
    let (ok, _, err) = cli(
        &server,
        &["versions", "list", "--entity", "sale", "--id", "x"],
    );
    assert!(!ok && err.contains("not a kind of record"), "{err}");
    assert_eq!(server.count("SELECT COUNT(*) FROM changes"), changes + 1);
    server.stop().await;
}

// Restore mode -----------------------------------------------------------------------------

#[tokio::test]
async fn restore_mode_merges_by_the_records_own_clocks() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    server.clock.advance_millis(60000);
    let op = till.op(price_patch(soda, 90_00));
    server.push_ok(&till.key, &[op]).await;
    let current = product(&server, soda);
    let changes = server.count("SELECT COUNT(*) FROM changes");

    // Older than the server's: the server's values stand, nothing written.
    let mut older = current.clone();
    older.price = kes(70_00);
    older.hlc = Hlc::new(current.hlc.wall_ms() - 30_000, 0, 9);
    let session = Uuid::now_v7();
    let answer = apply(
        &server,
        &till.key,
        &chunk(
            session,
            1,
            FullSyncMode::Restore,
            vec![FullRecord::Product(older)],
            vec![],
        ),
    )
    .await;
    assert_eq!((answer.unchanged, answer.overwritten), (1, 0), "{answer:?}");
    assert_eq!(product(&server, soda), current);
    assert_eq!(server.count("SELECT COUNT(*) FROM changes"), changes);

    // Newer: its values win, under its own clock, and no version is kept.
    let mut newer = current.clone();
    newer.price = kes(75_00);
    newer.hlc = Hlc::new(current.hlc.wall_ms() + 1_000, 0, 9);
    // And a product the server lost comes back with its own clock.
    let lost = till_product("Sugar", 180_00);
    let answer = apply(
        &server,
        &till.key,
        &chunk(
            session,
            2,
            FullSyncMode::Restore,
            vec![
                FullRecord::Product(newer.clone()),
                FullRecord::Product(lost.clone()),
            ],
            vec![],
        ),
    )
    .await;
    assert_eq!((answer.overwritten, answer.added), (1, 1), "{answer:?}");
    let now = product(&server, soda);
    assert_eq!(now.price, kes(75_00));
    assert_eq!(now.hlc, newer.hlc);
    assert_eq!(product(&server, lost.id), lost);
    assert_eq!(server.count("SELECT COUNT(*) FROM record_versions"), 0);
    assert_eq!(server.count("SELECT COUNT(*) FROM changes"), changes + 2);

    // A clock far ahead is clamped like a push's.
    let mut ahead = now.clone();
    ahead.name = name("Soda 1L");
    ahead.hlc = Hlc::new(T0 as u64 + 86_400_000 * 365, 0, 9);
    apply(
        &server,
        &till.key,
        &chunk(
            session,
            3,
            FullSyncMode::Restore,
            vec![FullRecord::Product(ahead)],
            vec![],
        ),
    )
    .await;
    let clamped = product(&server, soda);
    assert_eq!(clamped.name.as_str(), "Soda 1L");
    assert_eq!(
        clamped.hlc.wall_ms(),
        server.state.now().as_millis() as u64 + 300_000
    );

    // A restore never removes.
    let before = (server.snapshot(), bookkeeping(&server));
    let bad = chunk(
        Uuid::now_v7(),
        1,
        FullSyncMode::Restore,
        vec![],
        vec![RecordRef {
            entity: EntityKind::Product,
            id: soda.to_string(),
        }],
    );
    let res = post(&server, &till.key, &serde_json::to_value(&bad).unwrap()).await;
    let err = expect_error(res, 400, ErrorCode::BadRequest).await;
    assert!(
        err.error.message.contains("never removes"),
        "{}",
        err.error.message
    );
    assert_eq!((server.snapshot(), bookkeeping(&server)), before);
    server.stop().await;
}

// Finish ------------------------------------------------------------------------------------

#[tokio::test]
async fn finish_moves_the_expected_sequence_only_forward() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let session = Uuid::now_v7();
    assert_eq!(server.count("SELECT last_seq FROM devices"), 2);
    // Behind what the server has: nothing moves.
    let f = finish(&server, &till.key, session, 1).await;
    assert_eq!((f.session, f.next_device_seq), (session, 3));
    assert_eq!(f.server_time, server.state.now());
    assert_eq!(server.count("SELECT last_seq FROM devices"), 2);
    // The server lost ops 3..=10 (restored from a backup) but the upload
    // carried their effects: it expects 11 next.
    let f = finish(&server, &till.key, session, 10).await;
    assert_eq!(f.next_device_seq, 11);
    assert_eq!(server.count("SELECT last_seq FROM devices"), 10);
    let f = finish(&server, &till.key, session, 4).await;
    assert_eq!(f.next_device_seq, 11);
    assert_eq!(
        server.count(&format!(
            "SELECT acknowledged_seq FROM full_sync_sessions WHERE session = '{session}'"
        )),
        4
    );
    // The till's next push continues from there.
    till.seq = 10;
    let sale = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let op = till.op(OpBody::SaleRecorded(sale));
    assert_eq!(op.device_seq, 11);
    let res = server.push_ok(&till.key, &[op]).await;
    assert_eq!(res.results[0].outcome, OpOutcome::Applied);
    assert_eq!(server.count("SELECT last_seq FROM devices"), 11);
    assert_eq!(
        server.count(
            "SELECT COUNT(*) FROM sync_log WHERE direction = 'full_finish' AND result = 'ok'"
        ),
        3
    );
    // A sequence no device can reach is refused.
    let res = post(
        &server,
        &till.key,
        &json!({"step": "finish", "session": session, "acknowledged_seq": u64::MAX}),
    )
    .await;
    expect_error(res, 400, ErrorCode::BadRequest).await;
    assert_eq!(server.count("SELECT last_seq FROM devices"), 11);
    server.stop().await;
}

// Bad input -----------------------------------------------------------------------------------

#[tokio::test]
async fn bad_requests_get_json_errors_and_change_nothing() {
    let server = start().await;
    let (till, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut stale = product(&server, soda);
    stale.price = kes(1_00);
    let good = serde_json::to_value(chunk(
        Uuid::now_v7(),
        1,
        FullSyncMode::Overwrite,
        vec![FullRecord::Product(stale.clone())],
        vec![],
    ))
    .unwrap();
    let revoked = server.till("Main", "Till 2");
    devices::revoke_device(&mut server.admin(), server.clock.as_ref(), "Till 2").unwrap();
    let before = (server.snapshot(), bookkeeping(&server));

    // Malformed JSON.
    let res = server
        .client
        .post(server.url("/api/sync/full"))
        .bearer_auth(&till.key)
        .header("content-type", "application/json")
        .body("{\"step\": \"apply\", ")
        .send()
        .await
        .unwrap();
    expect_error(res, 400, ErrorCode::BadRequest).await;
    // An unknown step, wrong types, an unknown mode, a record of an unknown type.
    let mut bad_bodies = vec![json!({"step": "nuke"}), json!({"records": []})];
    let mut wrong_type = good.clone();
    wrong_type["chunk"] = json!("one");
    bad_bodies.push(wrong_type);
    let mut bad_mode = good.clone();
    bad_mode["mode"] = json!("merge");
    bad_bodies.push(bad_mode);
    let mut bad_record = good.clone();
    bad_record["records"][0]["type"] = json!("widget");
    bad_bodies.push(bad_record);
    let mut bad_price = good.clone();
    bad_price["records"][0]["data"]["price"] = json!(80);
    bad_bodies.push(bad_price);
    let mut chunk_zero = good.clone();
    chunk_zero["chunk"] = json!(0);
    bad_bodies.push(chunk_zero);
    let mut twice = good.clone();
    twice["records"]
        .as_array_mut()
        .unwrap()
        .push(good["records"][0].clone());
    bad_bodies.push(twice);
    let mut too_many = good.clone();
    too_many["records"] = Value::Array(
        (0..=sync_protocol::MAX_FULL_SYNC_RECORDS)
            .map(|_| serde_json::to_value(FullRecord::Product(till_product("Bulk", 1_00))).unwrap())
            .collect(),
    );
    bad_bodies.push(too_many);
    for body in &bad_bodies {
        let res = post(&server, &till.key, body).await;
        expect_error(res, 400, ErrorCode::BadRequest).await;
    }
    // Not JSON at all.
    let res = server
        .client
        .post(server.url("/api/sync/full"))
        .bearer_auth(&till.key)
        .body("step=apply")
        .send()
        .await
        .unwrap();
    expect_error(res, 400, ErrorCode::BadRequest).await;
    // No key, an unknown key, a revoked key.
    let res = server
        .client
        .post(server.url("/api/sync/full"))
        .json(&good)
        .send()
        .await
        .unwrap();
    expect_error(res, 401, ErrorCode::Unauthorized).await;
    let unknown = devices::generate_key().unwrap();
    expect_error(
        post(&server, &unknown, &good).await,
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        post(&server, &revoked.key, &good).await,
        403,
        ErrorCode::Forbidden,
    )
    .await;
    // Wrong method.
    let res = server
        .client
        .get(server.url("/api/sync/full"))
        .bearer_auth(&till.key)
        .send()
        .await
        .unwrap();
    expect_error(res, 400, ErrorCode::BadRequest).await;

    assert_eq!((server.snapshot(), bookkeeping(&server)), before);
    assert_eq!(product(&server, soda).price, kes(80_00));
    // And the good chunk still applies.
    let res = post(&server, &till.key, &good).await;
    assert_eq!(res.status(), 200);
    assert_eq!(product(&server, soda).price, kes(1_00));
    server.stop().await;
}
