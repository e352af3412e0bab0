//! The sync API end to end: a real server on 127.0.0.1:0 over a temp
//! database file, driven with reqwest.

mod common;

use backoffice::devices;
use common::*;
use pos_domain::{Hlc, Money, ProductId, Timestamp};
use sync_protocol::{
    ChangeBody, Cursor, Epoch, ErrorCode, OpBody, OpOutcome, RejectCode, StatusResponse,
};

// Status and devices -----------------------------------------------------------

#[tokio::test]
async fn status_needs_no_key_and_tells_epoch_and_time() {
    let server = start().await;
    let res = server
        .client
        .get(server.url("/api/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let status: StatusResponse = res.json().await.unwrap();
    assert_eq!(status.service, "whiz-backoffice");
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.protocol, sync_protocol::PROTOCOL_VERSION);
    assert_eq!(status.server_time, Timestamp::from_millis(T0));
    assert_eq!(status.max_clock_ahead_ms, 300_000);
    let epoch = backoffice::db::epoch(&server.admin()).unwrap();
    assert_eq!(status.epoch, epoch);
    server.stop().await;
}

#[tokio::test]
async fn a_key_tells_its_device_and_branch() {
    let server = start().await;
    let first = server.till("Westlands", "Till 1");
    let second = server.till("Westlands", "Till 2");
    let res = server
        .client
        .get(server.url("/api/device"))
        .bearer_auth(&second.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let info: sync_protocol::DeviceInfo = res.json().await.unwrap();
    assert_eq!(info.device_id, second.device_id);
    assert_eq!(info.device_code, "T2");
    assert_eq!(info.device_name, "Till 2");
    assert_eq!(info.kind, sync_protocol::DeviceKind::Desktop);
    assert_eq!(info.branch.id, first.branch_id);
    assert_eq!(info.branch.code, second.branch_code);
    assert_eq!(info.branch.name, "Westlands");
    let res = server
        .client
        .get(server.url("/api/device"))
        .send()
        .await
        .unwrap();
    expect_error(res, 401, ErrorCode::Unauthorized).await;
    server.stop().await;
}

#[tokio::test]
async fn keys_authenticate_devices_until_revoked() {
    let server = start().await;
    let till = server.till("Main", "Till 1");

    // No key, a malformed header, an unknown key: 401.
    let res = server
        .client
        .get(server.url("/api/sync"))
        .send()
        .await
        .unwrap();
    expect_error(res, 401, ErrorCode::Unauthorized).await;
    let res = server
        .client
        .get(server.url("/api/sync"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    expect_error(res, 401, ErrorCode::Unauthorized).await;
    let unknown = devices::generate_key().unwrap();
    expect_error(
        server.pull(&unknown, "").await,
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        server.push(&unknown, &[]).await,
        401,
        ErrorCode::Unauthorized,
    )
    .await;

    // The real key works and marks the device seen.
    server.pull_ok(&till.key, "").await;
    let list = devices::list_devices(&server.admin()).unwrap();
    assert_eq!(list.len(), 1);
    let d = &list[0];
    assert_eq!(
        (d.name.as_str(), d.code.as_str(), d.branch_code.as_str()),
        ("Till 1", "T1", "MAIN")
    );
    assert_eq!(d.last_seen_at, Some(Timestamp::from_millis(T0)));
    assert_eq!(d.last_pull_at, Some(Timestamp::from_millis(T0)));
    assert_eq!(d.key_prefix, &till.key[..9]);

    // Revoked: 403, and nothing it sends is applied.
    devices::revoke_device(&mut server.admin(), server.clock.as_ref(), "Till 1").unwrap();
    let before = server.snapshot();
    let mut till = till;
    let op = till.cashier_op();
    let body = expect_error(
        server.push(&till.key, &[op]).await,
        403,
        ErrorCode::Forbidden,
    )
    .await;
    assert!(
        body.error.message.contains("revoked"),
        "{}",
        body.error.message
    );
    expect_error(server.pull(&till.key, "").await, 403, ErrorCode::Forbidden).await;
    assert_eq!(server.snapshot(), before);
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let server = start().await;
    let res = server
        .client
        .get(server.url("/api/nope"))
        .send()
        .await
        .unwrap();
    expect_error(res, 404, ErrorCode::NotFound).await;
    let res = server
        .client
        .delete(server.url("/api/sync"))
        .send()
        .await
        .unwrap();
    expect_error(res, 400, ErrorCode::BadRequest).await;
    server.stop().await;
}

// Push -------------------------------------------------------------------------

#[tokio::test]
async fn a_sale_applies_once_however_often_it_is_pushed() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let sale = till.sale(&[(soda, "Soda 500ml", 80_00, 2)]);
    let op = till.op(OpBody::SaleRecorded(sale.clone()));
    let res = server.push_ok(&till.key, std::slice::from_ref(&op)).await;
    assert_eq!(res.results.len(), 1);
    assert_eq!(res.results[0].op_id, op.op_id);
    assert_eq!(res.results[0].device_seq, 3);
    assert_eq!(res.results[0].outcome, OpOutcome::Applied);

    // A lost response: the same request again is a duplicate, nothing twice.
    let again = server.push_ok(&till.key, std::slice::from_ref(&op)).await;
    assert_eq!(again.results[0].outcome, OpOutcome::Duplicate);
    assert_eq!(server.count("SELECT COUNT(*) FROM sales"), 1);
    assert_eq!(server.count("SELECT COUNT(*) FROM sale_lines"), 1);
    assert_eq!(server.count("SELECT COUNT(*) FROM payments"), 1);
    assert_eq!(server.count("SELECT COUNT(*) FROM stock_movements"), 1);
    assert_eq!(
        server.count("SELECT quantity_milli FROM stock_levels"),
        -2000
    );
    let total: i64 = server.count("SELECT total_minor FROM sales");
    assert_eq!(total, sale.total.minor());
    assert_eq!(
        server.count("SELECT COUNT(*) FROM changes WHERE entity = 'sale'"),
        1
    );

    // A new op carrying a sale the server has is a no-op.
    let replayed = till.op(OpBody::SaleRecorded(sale.clone()));
    let res = server.push_ok(&till.key, &[replayed]).await;
    assert_eq!(res.results[0].outcome, OpOutcome::Applied);
    assert_eq!(server.count("SELECT COUNT(*) FROM sales"), 1);
    assert_eq!(server.count("SELECT COUNT(*) FROM stock_movements"), 1);

    // The device's bookkeeping.
    assert_eq!(server.count("SELECT last_seq FROM devices"), 4);
    assert_eq!(
        server.count("SELECT COUNT(*) FROM sync_log WHERE direction = 'push' AND result = 'ok'"),
        4
    );
    server.stop().await;
}

#[tokio::test]
async fn a_gap_is_refused_with_the_expected_seq_and_changes_nothing() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let sale = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let _lost = till.op(OpBody::SaleRecorded(sale)); // seq 3, never sent
    let sale = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let op4 = till.op(OpBody::SaleRecorded(sale));
    let before = server.snapshot();
    let body = expect_error(
        server.push(&till.key, &[op4]).await,
        409,
        ErrorCode::SequenceGap,
    )
    .await;
    assert_eq!(body.error.expected_seq, Some(3));
    assert_eq!(server.snapshot(), before);
    assert_eq!(
        server.count("SELECT COUNT(*) FROM sync_log WHERE result = 'error'"),
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn an_old_seq_with_an_unknown_op_id_is_a_conflict() {
    let server = start().await;
    let (mut till, _) = ready_till(&server, "Main", "Till 1").await;
    // The till lost its outbox and renumbered from 1 with new ops.
    till.seq = 1;
    let op = till.cashier_op();
    let before = server.snapshot();
    expect_error(
        server.push(&till.key, &[op]).await,
        409,
        ErrorCode::Conflict,
    )
    .await;
    assert_eq!(server.snapshot(), before);
    server.stop().await;
}

#[tokio::test]
async fn a_poison_op_is_rejected_and_does_not_block_the_ops_after_it() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let good1 = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let mut bad = till.sale(&[(soda, "Soda 500ml", 80_00, 3)]);
    bad.total = Money::from_minor(bad.total.minor() + 1, bad.total.currency()).unwrap();
    let good2 = till.sale(&[(soda, "Soda 500ml", 80_00, 2)]);
    let unknown = till.sale(&[(ProductId::new(), "Ghost", 10_00, 1)]);
    let ops = [
        till.op(OpBody::SaleRecorded(good1)),
        till.op(OpBody::SaleRecorded(bad.clone())),
        till.op(OpBody::SaleRecorded(good2)),
        till.op(OpBody::SaleRecorded(unknown)),
    ];
    let res = server.push_ok(&till.key, &ops).await;
    let outcomes: Vec<_> = res.results.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(outcomes[0], OpOutcome::Applied);
    match &outcomes[1] {
        OpOutcome::Rejected { code, reason } => {
            assert_eq!(*code, RejectCode::Invalid);
            assert!(reason.contains("total"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(outcomes[2], OpOutcome::Applied);
    assert!(matches!(
        outcomes[3],
        OpOutcome::Rejected {
            code: RejectCode::UnknownReference,
            ..
        }
    ));
    // Nothing of the rejected sales is kept; the others are whole.
    assert_eq!(server.count("SELECT COUNT(*) FROM sales"), 2);
    assert_eq!(
        server.count(&format!(
            "SELECT COUNT(*) FROM sales WHERE id = '{}'",
            bad.id
        )),
        0
    );
    assert_eq!(
        server.count("SELECT quantity_milli FROM stock_levels"),
        -3000
    );
    // The rejection used up its seq and is answered the same on a replay.
    assert_eq!(server.count("SELECT last_seq FROM devices"), 6);
    let again = server.push_ok(&till.key, &ops).await;
    assert_eq!(again.results[0].outcome, OpOutcome::Duplicate);
    assert_eq!(again.results[1].outcome, outcomes[1]);
    assert_eq!(again.results[3].outcome, outcomes[3]);
    server.stop().await;
}

#[tokio::test]
async fn a_sale_for_another_branch_is_rejected() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut town = server.till("Town", "Till 1");
    let cashier = town.cashier_op();
    server.push_ok(&town.key, &[cashier]).await;
    let mut sale = main.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    sale.cashier_id = town.cashier;
    let op = town.op(OpBody::SaleRecorded(sale));
    let res = server.push_ok(&town.key, &[op]).await;
    assert!(matches!(
        res.results[0].outcome,
        OpOutcome::Rejected {
            code: RejectCode::WrongBranch,
            ..
        }
    ));
    assert_eq!(server.count("SELECT COUNT(*) FROM sales"), 0);
    server.stop().await;
}

// Last writer wins ---------------------------------------------------------------

async fn price_after(first: (u64, i64), second: (u64, i64)) -> i64 {
    let server = start().await;
    let (mut a, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut b = server.till("Town", "Till 1");
    let wall = T0 as u64 + 1_000;
    for ((offset, price), till) in [(first, &mut a), (second, &mut b)] {
        let hlc = Hlc::new(wall + offset, 0, Hlc::node_of(till.device_id));
        let op = till.op_at(price_patch(soda, price), hlc);
        let res = server.push_ok(&till.key, &[op]).await;
        assert_eq!(res.results[0].outcome, OpOutcome::Applied);
    }
    let price = server.count(&format!(
        "SELECT price_minor FROM products WHERE id = '{soda}'"
    ));
    server.stop().await;
    price
}

#[tokio::test]
async fn the_higher_clock_wins_in_either_arrival_order() {
    // Device A's edit is newer (wall + 20) than B's (wall + 10).
    assert_eq!(price_after((20, 95_00), (10, 90_00)).await, 95_00);
    // The same edits arriving the other way round.
    assert_eq!(price_after((10, 90_00), (20, 95_00)).await, 95_00);
}

#[tokio::test]
async fn a_clock_from_2030_is_clamped_and_a_later_real_edit_still_wins() {
    let server = start().await;
    let (mut a, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut b = server.till("Town", "Till 1");
    let year_2030 = 1_893_456_000_000u64;
    let op = a.op_at(price_patch(soda, 1_00), Hlc::new(year_2030, 0, 7));
    server.push_ok(&a.key, &[op]).await;
    let (hlc, skew): (String, i64) = server
        .admin()
        .query_row(
            "SELECT hlc, clock_skew_ms FROM applied_ops ORDER BY applied_at DESC, device_seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let hlc: Hlc = hlc.parse().unwrap();
    assert_eq!(hlc.wall_ms(), T0 as u64 + 300_000);
    assert_eq!(skew, year_2030 as i64 - T0);
    assert_eq!(
        server.count(&format!(
            "SELECT price_minor FROM products WHERE id = '{soda}'"
        )),
        1_00
    );

    // Ten minutes later a real edit from another till wins.
    server.clock.advance_millis(600_000);
    let op = b.op(price_patch(soda, 85_00));
    server.push_ok(&b.key, &[op]).await;
    assert_eq!(
        server.count(&format!(
            "SELECT price_minor FROM products WHERE id = '{soda}'"
        )),
        85_00
    );
    server.stop().await;
}

// Pull -------------------------------------------------------------------------

#[tokio::test]
async fn pulls_page_through_the_feed_and_resume_exactly() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, _) = ready_till(&server, "Town", "Till 1").await;
    let main_sale = main.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let town_sale = town.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let op = main.op(OpBody::SaleRecorded(main_sale.clone()));
    server.push_ok(&main.key, &[op]).await;
    let op = town.op(OpBody::SaleRecorded(town_sale.clone()));
    server.push_ok(&town.key, &[op]).await;

    // Everything Main may see, in one go.
    let all = server.pull_ok(&main.key, "?limit=1000").await;
    assert!(!all.has_more);
    let seqs: Vec<u64> = all.changes.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(all.next_cursor.seq, *seqs.last().unwrap());
    let sales: Vec<_> = all
        .changes
        .iter()
        .filter_map(|c| match &c.body {
            ChangeBody::Sale(s) => Some(s.id),
            _ => None,
        })
        .collect();
    assert_eq!(sales, [main_sale.id], "another branch's sale is not pulled");
    assert!(
        all.changes
            .iter()
            .any(|c| matches!(&c.body, ChangeBody::Product(p) if p.id == soda)),
        "shared products are pulled"
    );
    assert!(
        all.changes
            .iter()
            .any(|c| matches!(&c.body, ChangeBody::Branch(b) if b.code == "TOWN")),
        "branches are shared"
    );
    assert!(
        !all.changes
            .iter()
            .any(|c| matches!(&c.body, ChangeBody::StockMoved(m) if m.branch_id == town.branch_id)),
        "another branch's stock is not pulled"
    );

    // Pages of 2 from the beginning give the same changes, resuming exactly.
    let mut paged = Vec::new();
    let mut query = "?limit=2".to_string();
    loop {
        let page = server.pull_ok(&main.key, &query).await;
        assert!(page.changes.len() <= 2);
        paged.extend(page.changes.iter().map(|c| c.seq));
        if !page.has_more {
            break;
        }
        query = format!("?limit=2&cursor={}", page.next_cursor);
    }
    assert_eq!(paged, seqs);

    // At the end: an empty page that keeps the cursor.
    let end = server
        .pull_ok(&main.key, &format!("?cursor={}", all.next_cursor))
        .await;
    assert!(end.changes.is_empty() && !end.has_more);
    assert_eq!(end.next_cursor, all.next_cursor);

    // New changes appear after the cursor.
    let op = main.op(price_patch(soda, 99_00));
    server.push_ok(&main.key, &[op]).await;
    let next = server
        .pull_ok(&main.key, &format!("?cursor={}", all.next_cursor))
        .await;
    assert_eq!(next.changes.len(), 1);
    match &next.changes[0].body {
        ChangeBody::Product(p) => assert_eq!(p.price, kes(99_00)),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn a_cursor_from_another_epoch_must_bootstrap_again() {
    let server = start().await;
    let (till, _) = ready_till(&server, "Main", "Till 1").await;
    let page = server.pull_ok(&till.key, "").await;
    backoffice::db::restore_epoch(&server.admin(), server.clock.as_ref()).unwrap();
    let before = server.snapshot();
    let res = server
        .pull(&till.key, &format!("?cursor={}", page.next_cursor))
        .await;
    expect_error(res, 409, ErrorCode::EpochChanged).await;
    assert_eq!(server.snapshot(), before);
    // A random epoch too.
    let stranger = Cursor {
        epoch: Epoch(uuid::Uuid::now_v7()),
        seq: 1,
    };
    let res = server.pull(&till.key, &format!("?cursor={stranger}")).await;
    expect_error(res, 409, ErrorCode::EpochChanged).await;
    // From the beginning works, in the new epoch.
    let fresh = server.pull_ok(&till.key, "").await;
    assert_ne!(fresh.epoch, page.epoch);
    assert_eq!(fresh.changes.len(), page.changes.len());
    server.stop().await;
}

// Bad input ----------------------------------------------------------------------

#[tokio::test]
async fn bad_input_is_refused_with_json_and_changes_nothing() {
    let server = start_with(|c| c.max_body_bytes = 64 * 1024).await;
    let (till, _) = ready_till(&server, "Main", "Till 1").await;
    let before = server.snapshot();
    let post = |body: String| {
        server
            .client
            .post(server.url("/api/sync"))
            .bearer_auth(&till.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    // Malformed JSON, wrong types, a missing field, a bad value, no content type.
    for body in [
        "{".to_string(),
        "[]".to_string(),
        r#"{"ops": 5}"#.to_string(),
        r#"{"ops": [{"op_id": "x"}]}"#.to_string(),
        r#"{}"#.to_string(),
    ] {
        let res = post(body.clone()).await.unwrap();
        expect_error(res, 400, ErrorCode::BadRequest).await;
    }
    // A value of the wrong type inside an op: 400.
    let mut t = server.till("Main", "Till 2");
    let good = serde_json::to_value(t.op(price_patch(ProductId::new(), 1_00))).unwrap();
    let mut op = good.clone();
    op["body"]["data"]["price"]["minor"] = serde_json::json!("abc");
    let res = server
        .client
        .post(server.url("/api/sync"))
        .bearer_auth(&t.key)
        .json(&serde_json::json!({ "ops": [op] }))
        .send()
        .await
        .unwrap();
    expect_error(res, 400, ErrorCode::BadRequest).await;
    // A value serde accepts but the rules refuse: that op is rejected for
    // good (200), so it does not block the outbox.
    let mut op = good;
    op["body"]["data"]["price"]["minor"] = serde_json::json!(-5);
    let res = server
        .client
        .post(server.url("/api/sync"))
        .bearer_auth(&t.key)
        .json(&serde_json::json!({ "ops": [op] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res: sync_protocol::PushResponse = res.json().await.unwrap();
    assert!(
        matches!(&res.results[0].outcome, OpOutcome::Rejected { code: RejectCode::Invalid, reason } if reason.contains("price")),
        "{res:?}"
    );
    let res = server
        .client
        .post(server.url("/api/sync"))
        .bearer_auth(&till.key)
        .body(r#"{"ops": []}"#)
        .send()
        .await
        .unwrap();
    expect_error(res, 400, ErrorCode::BadRequest).await;

    // Ops out of order.
    let mut t2 = server.till("Main", "Till 3");
    let a = t2.cashier_op();
    let _ = t2.cashier_op();
    let c = t2.cashier_op();
    expect_error(
        server.push(&t2.key, &[a, c]).await,
        400,
        ErrorCode::BadRequest,
    )
    .await;

    // A huge body: 413 in our JSON.
    let huge = format!(r#"{{"ops": [], "pad": "{}"}}"#, "x".repeat(200 * 1024));
    let res = post(huge).await.unwrap();
    expect_error(res, 413, ErrorCode::PayloadTooLarge).await;

    // Bad cursors and limits.
    for q in [
        "?cursor=nonsense",
        "?cursor=123",
        "?cursor=0193b1c2-0000-7000-8000-000000000000.x",
        "?limit=abc",
        "?limit=-1",
        "?limit=0",
    ] {
        expect_error(server.pull(&till.key, q).await, 400, ErrorCode::BadRequest).await;
    }

    // New devices aside (they were added on purpose), nothing changed.
    let after = server.snapshot();
    let strip = |s: &str| {
        s.lines()
            .filter(|l| {
                !l.contains(&t.device_id.to_string()) && !l.contains(&t2.device_id.to_string())
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&after), strip(&before));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_the_requests_in_flight_finish() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let sale = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let op = till.op(OpBody::SaleRecorded(sale));
    // Hold the database so the push is still running when shutdown starts.
    let state = server.state.clone();
    let busy = tokio::spawn(async move {
        state
            .db(|_, _| {
                std::thread::sleep(std::time::Duration::from_millis(300));
                Ok(())
            })
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (client, url, key) = (
        server.client.clone(),
        server.url("/api/sync"),
        till.key.clone(),
    );
    let push = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(key)
            .json(&sync_protocol::PushRequest { ops: vec![op] })
            .send()
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let path = server.path.clone();
    let clock = server.clock.clone();
    let _dir = server.stop().await;
    let res = push.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
    let res: sync_protocol::PushResponse = res.json().await.unwrap();
    assert_eq!(res.results[0].outcome, OpOutcome::Applied);
    busy.await.unwrap().unwrap();
    let conn = backoffice::db::open(&path, clock.as_ref()).unwrap();
    let sales: i64 = conn
        .query_row("SELECT COUNT(*) FROM sales", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sales, 1);
}

// Credit, voids, expenses, users ---------------------------------------------------

#[tokio::test]
async fn a_credit_sale_and_its_void_keep_the_ledger_and_stock_as_sums() {
    use common::seed::{credit_sale, new_customer, void_of};
    use pos_domain::CustomerId;

    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (town, _) = ready_till(&server, "Town", "Till 1").await;
    let customer = CustomerId::new();
    let create = main.op(new_customer(
        customer,
        "Otieno",
        Some("0712345678"),
        5_000_00,
    ));
    let sale = credit_sale(&mut main, soda, 2, customer);
    let void = void_of(&mut main, &sale, "wrong customer");

    let ops = [
        create,
        main.op(OpBody::SaleRecorded(sale.clone())),
        main.op(OpBody::SaleRecorded(void)),
    ];
    server.push_applied(&main.key, &ops).await;
    assert_eq!(
        server.count(&format!(
            "SELECT SUM(amount_minor) FROM customer_ledger WHERE customer_id = '{customer}'"
        )),
        0
    );
    assert_eq!(server.count("SELECT COUNT(*) FROM customer_ledger"), 2);
    assert_eq!(server.count("SELECT quantity_milli FROM stock_levels"), 0);
    assert_eq!(
        server.count("SELECT SUM(quantity_milli) FROM stock_movements"),
        0
    );

    // The other branch sees the customer and their ledger, not the sales.
    let page = server.pull_ok(&town.key, "").await;
    let ledger = page
        .changes
        .iter()
        .filter(|c| matches!(c.body, ChangeBody::LedgerEntry(_)))
        .count();
    assert_eq!(ledger, 2);
    assert!(
        page.changes
            .iter()
            .any(|c| matches!(&c.body, ChangeBody::Customer(k) if k.id == customer))
    );
    assert!(
        !page
            .changes
            .iter()
            .any(|c| matches!(c.body, ChangeBody::Sale(_)))
    );
    server.stop().await;
}

#[tokio::test]
async fn expenses_belong_to_their_branch_and_pins_travel_only_as_hashes() {
    use pos_domain::ExpenseId;
    use sync_protocol::{ExpensePaidWith, ExpensePatch, UserPatch};

    let server = start().await;
    let (mut main, _) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, _) = ready_till(&server, "Town", "Till 1").await;
    let id = ExpenseId::new();
    let create = main.op(OpBody::ExpenseChanged(ExpensePatch {
        branch_id: Some(main.branch_id),
        device_id: Some(main.device_id),
        user_id: Some(main.cashier),
        category: Some(name("Transport")),
        description: Some("Boda boda to the wholesaler".into()),
        amount: Some(kes(300_00)),
        paid_with: Some(ExpensePaidWith::Cash),
        reference: Some(None),
        spent_at: Some(main.now()),
        business_day: Some("2026-03-02".into()),
        ..ExpensePatch::new(id)
    }));
    let res = server.push_ok(&main.key, &[create]).await;
    assert_eq!(res.results[0].outcome, OpOutcome::Applied);

    // Town may neither edit nor delete Main's expense.
    let edit = town.op(OpBody::ExpenseChanged(ExpensePatch {
        amount: Some(kes(1_00)),
        ..ExpensePatch::new(id)
    }));
    let delete = town.op(OpBody::ExpenseDeleted(sync_protocol::Tombstone {
        id,
        deleted_at: town.now(),
    }));
    let res = server.push_ok(&town.key, &[edit, delete]).await;
    for r in &res.results {
        assert!(
            matches!(
                r.outcome,
                OpOutcome::Rejected {
                    code: RejectCode::WrongBranch,
                    ..
                }
            ),
            "{r:?}"
        );
    }
    assert_eq!(
        server.count("SELECT amount_minor FROM expenses WHERE deleted_at IS NULL"),
        300_00
    );
    // Town does not pull Main's expense; Main does.
    let town_page = server.pull_ok(&town.key, "").await;
    assert!(
        !town_page
            .changes
            .iter()
            .any(|c| matches!(c.body, ChangeBody::Expense(_)))
    );
    let main_page = server.pull_ok(&main.key, "").await;
    assert!(
        main_page
            .changes
            .iter()
            .any(|c| matches!(&c.body, ChangeBody::Expense(e) if e.id == id))
    );

    // A PIN in clear is refused.
    let plain = main.op(OpBody::UserChanged(UserPatch {
        pin_hash: Some("1234".into()),
        ..UserPatch::new(main.cashier)
    }));
    let res = server.push_ok(&main.key, &[plain]).await;
    assert!(matches!(
        res.results[0].outcome,
        OpOutcome::Rejected {
            code: RejectCode::Invalid,
            ..
        }
    ));
    server.stop().await;
}

#[tokio::test]
async fn the_same_push_from_two_loops_at_once_applies_once() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let ops: Vec<_> = (0..5)
        .map(|_| {
            let sale = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
            till.op(OpBody::SaleRecorded(sale))
        })
        .collect();
    let pushes = (0..6).map(|_| server.push_ok(&till.key, &ops));
    let answers = futures_join_all(pushes).await;
    let mut applied = 0;
    for a in &answers {
        for r in &a.results {
            assert!(r.outcome.acknowledged(), "{r:?}");
            if r.outcome == OpOutcome::Applied {
                applied += 1;
            }
        }
    }
    assert_eq!(applied, 5);
    assert_eq!(server.count("SELECT COUNT(*) FROM sales"), 5);
    assert_eq!(
        server.count("SELECT quantity_milli FROM stock_levels"),
        -5000
    );
    server.stop().await;
}

/// Runs futures concurrently on this task and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|v| v.unwrap()).collect()
}

#[tokio::test]
async fn a_request_over_the_time_limit_answers_503_json() {
    let server = start_with(|c| c.request_timeout = std::time::Duration::from_millis(100)).await;
    // Something else holds the database for a while.
    let state = server.state.clone();
    let busy = tokio::spawn(async move {
        state
            .db(|_, _| {
                std::thread::sleep(std::time::Duration::from_millis(600));
                Ok(())
            })
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let res = server
        .client
        .get(server.url("/api/status"))
        .send()
        .await
        .unwrap();
    expect_error(res, 503, ErrorCode::Unavailable).await;
    busy.await.unwrap().unwrap();
    server.stop().await;
}
