//! Cross-branch customer history, read-only (DESIGN.md invariant 7):
//! `GET /api/customers/{id}/history` answers any branch's device with the
//! customer's sales and account at every branch, each row marked with
//! whether it is from the asking device's branch. A real server on
//! 127.0.0.1:0, driven with reqwest.

mod common;

use common::seed::{credit_sale, ledger_payment, new_customer};
use common::*;
use pos_domain::{CustomerId, PaymentMethod};
use sync_protocol::history::CustomerHistory;
use sync_protocol::{ErrorCode, LedgerKind, OpBody, SaleKind};

async fn history(server: &TestServer, key: Option<&str>, id: &str) -> reqwest::Response {
    let mut req = server
        .client
        .get(server.url(&format!("/api/customers/{id}/history")));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req.send().await.unwrap()
}

async fn history_ok(server: &TestServer, key: &str, id: CustomerId) -> CustomerHistory {
    let res = history(server, Some(key), &id.to_string()).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn cross_branch_history_shows_a_sales_read_only_at_b() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (town, _) = ready_till(&server, "Town", "Till 1").await;

    // Branch A (Main) adds Njeri and sells her 2 sodas on credit; she pays
    // 50.00 of it by M-Pesa there.
    let njeri = CustomerId::new();
    let sale = credit_sale(&mut main, soda, 2, njeri);
    server.clock.advance_millis(60_000);
    let ops = [
        main.op(new_customer(njeri, "Njeri", Some("0712 345 678"), 5_000_00)),
        main.op(OpBody::SaleRecorded(sale.clone())),
    ];
    server.push_applied(&main.key, &ops).await;
    server.clock.advance_millis(60_000);
    let pay = main.op(ledger_payment(
        &main,
        njeri,
        50_00,
        PaymentMethod::Mpesa,
        Some("QK12345678"),
    ));
    server.push_applied(&main.key, &[pay]).await;
    let before = server.snapshot();

    // Branch B (Town) looks her up.
    let h = history_ok(&server, &town.key, njeri).await;
    assert_eq!(h.customer.id, njeri);
    assert_eq!(h.customer.requested_id, njeri);
    assert_eq!(h.customer.name, "Njeri");
    assert_eq!(h.balance, kes(160_00 - 50_00));
    assert_eq!(h.sales.len(), 1);
    let s = &h.sales[0];
    assert_eq!(s.id, sale.id);
    assert_eq!(s.receipt_no, sale.receipt_no);
    assert_eq!(s.kind, SaleKind::Sale);
    assert_eq!(s.branch.id, main.branch_id);
    assert_eq!(s.branch.code, main.branch_code);
    assert_eq!(s.branch.name, "Main");
    assert_eq!(s.device_code.as_deref(), Some(main.code.as_str()));
    assert_eq!(s.total, kes(160_00));
    assert_eq!(s.on_credit, kes(160_00));
    assert!(!s.this_branch, "Main's sale is another branch's at Town");
    // The ledger: newest first, both Main's.
    let kinds: Vec<_> = h.ledger.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [LedgerKind::Payment, LedgerKind::CreditSale]);
    assert_eq!(h.ledger[0].amount, kes(-50_00));
    assert_eq!(h.ledger[0].method, Some(PaymentMethod::Mpesa));
    assert_eq!(h.ledger[0].reference.as_deref(), Some("QK12345678"));
    assert_eq!(h.ledger[1].sale_id, Some(sale.id));
    assert!(
        h.ledger
            .iter()
            .all(|e| !e.this_branch && e.branch.name == "Main")
    );
    assert!(!h.sales_truncated && !h.ledger_truncated);

    // Main's own device sees the same rows as its branch's.
    let h = history_ok(&server, &main.key, njeri).await;
    assert!(h.sales[0].this_branch);
    assert!(h.ledger.iter().all(|e| e.this_branch));

    // Reading changed nothing.
    server.assert_unchanged(&before);
    server.stop().await;
}

#[tokio::test]
async fn an_alias_id_answers_the_customer_it_was_merged_into() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, town_soda) = ready_till(&server, "Town", "Till 1").await;

    let first = CustomerId::new();
    let main_sale = credit_sale(&mut main, soda, 2, first);
    let ops = [
        main.op(new_customer(first, "Njeri", Some("0712 345 678"), 5_000_00)),
        main.op(OpBody::SaleRecorded(main_sale.clone())),
    ];
    server.push_applied(&main.key, &ops).await;
    server.clock.advance_millis(60_000);
    // Town adds her again (same phone, typed differently): merged.
    let second = CustomerId::new();
    let town_sale = credit_sale(&mut town, town_soda, 3, second);
    let ops = [
        town.op(new_customer(second, "Mama Njeri", Some("+254712345678"), 0)),
        town.op(OpBody::SaleRecorded(town_sale.clone())),
    ];
    server.push_applied(&town.key, &ops).await;

    let h = history_ok(&server, &town.key, second).await;
    assert_eq!(h.customer.id, first, "the alias answers the kept customer");
    assert_eq!(h.customer.requested_id, second);
    assert_eq!(h.balance, kes(160_00 + 240_00));
    let ids: Vec<_> = h.sales.iter().map(|s| (s.id, s.this_branch)).collect();
    assert_eq!(
        ids,
        [(town_sale.id, true), (main_sale.id, false)],
        "both branches' sales, newest first, Town's marked as its own"
    );
    assert_eq!(h.ledger.len(), 2);
    // Asking by the kept id gives the same rows.
    let by_kept = history_ok(&server, &town.key, first).await;
    assert_eq!(by_kept.sales, h.sales);
    assert_eq!(by_kept.ledger, h.ledger);
    server.stop().await;
}

#[tokio::test]
async fn unknown_customers_are_404_bad_ids_400_and_a_key_is_needed() {
    let server = start().await;
    let (town, _) = ready_till(&server, "Town", "Till 1").await;
    let unknown = CustomerId::new().to_string();

    let res = history(&server, Some(&town.key), &unknown).await;
    expect_error(res, 404, ErrorCode::NotFound).await;
    let res = history(&server, Some(&town.key), "not-a-uuid").await;
    expect_error(res, 400, ErrorCode::BadRequest).await;
    let res = history(&server, None, &unknown).await;
    expect_error(res, 401, ErrorCode::Unauthorized).await;
    let res = history(
        &server,
        Some("whiz_0000000000000000000000000000000000000000"),
        &unknown,
    )
    .await;
    expect_error(res, 401, ErrorCode::Unauthorized).await;
    server.stop().await;
}
