//! The mobile API and rate limiting against a real server: `GET /api/products`,
//! `POST /api/transaction`, and 429 with `Retry-After`.

mod common;

use backoffice::devices::DeviceKind;
use backoffice::rate_limit::RateLimit;
use common::seed::restock;
use common::*;
use pos_domain::{CategoryId, ProductId, Quantity, TaxMode};
use sync_protocol::{
    CategoryPatch, ChangeBody, ErrorCode, MobileCatalog, OpBody, ProductPatch, Tombstone,
    TransactionResponse, TransactionStatus,
};

/// A mobile device of `branch`, as a till that sells with `cashier`.
fn mobile(server: &TestServer, branch: &str, name: &str, cashier: &Till) -> Till {
    let mut till = server.add_till(branch, name, DeviceKind::Mobile);
    till.cashier = cashier.cashier;
    till
}

async fn catalog(server: &TestServer, key: &str) -> MobileCatalog {
    let res = server
        .client
        .get(server.url("/api/products"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status.as_u16(), 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn post_sale(
    server: &TestServer,
    key: &str,
    body: &impl serde::Serialize,
) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/transaction"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn sale_answer(res: reqwest::Response, status: u16) -> TransactionResponse {
    assert_eq!(res.status().as_u16(), status);
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn the_catalog_has_live_products_with_this_branchs_stock() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut town = server.till("Town", "Till 1");
    let drinks = CategoryId::new();
    let (bread, gone) = (ProductId::new(), ProductId::new());
    let ops = [
        main.op(OpBody::CategoryChanged(CategoryPatch {
            name: Some(name("Drinks")),
            sort_order: Some(1),
            ..CategoryPatch::new(drinks)
        })),
        main.op(OpBody::ProductChanged(ProductPatch {
            category_id: Some(Some(drinks)),
            ..ProductPatch::new(soda)
        })),
        main.op(new_product(bread, "Bread", 65_00)),
        main.op(new_product(gone, "Discontinued", 10_00)),
        main.op(restock(&main, soda, 24)),
        main.op(OpBody::ProductDeleted(Tombstone {
            id: gone,
            deleted_at: main.now(),
        })),
    ];
    server.push_applied(&main.key, &ops).await;
    // Another branch's stock is not mixed in.
    let op = town.op(restock(&town, soda, 100));
    server.push_ok(&town.key, &[op]).await;

    let waiter = mobile(&server, "Main", "Waiter 1", &main);
    let cat = catalog(&server, &waiter.key).await;
    assert_eq!(cat.currency, pos_domain::Currency::KES);
    assert_eq!(cat.tax_mode, TaxMode::default());
    let names: Vec<&str> = cat.products.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["Bread", "Soda 500ml"],
        "deleted products are absent"
    );
    let soda_row = &cat.products[1];
    assert_eq!(soda_row.id, soda);
    assert_eq!(soda_row.stock, Quantity::units(24));
    assert_eq!(soda_row.price, kes(80_00));
    assert_eq!(soda_row.tax_code.as_str(), "VAT16");
    assert!(soda_row.track_stock);
    let category = soda_row.category.as_ref().unwrap();
    assert_eq!((category.id, category.name.as_str()), (drinks, "Drinks"));
    assert_eq!(cat.products[0].stock, Quantity::ZERO, "no movements: 0");
    assert!(cat.products[0].category.is_none());

    // A desktop key reads it too, with its own branch's stock.
    let town_cat = catalog(&server, &town.key).await;
    let town_soda = town_cat.products.iter().find(|p| p.id == soda).unwrap();
    assert_eq!(town_soda.stock, Quantity::units(100));

    // Without a key: 401 JSON.
    let res = server
        .client
        .get(server.url("/api/products"))
        .send()
        .await
        .unwrap();
    expect_error(res, 401, ErrorCode::Unauthorized).await;
    server.stop().await;
}

#[tokio::test]
async fn a_mobile_sale_applies_once_and_reaches_the_branchs_tills() {
    let server = start().await;
    let (main, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut waiter = mobile(&server, "Main", "Waiter 1", &main);
    let sale = waiter.sale(&[(soda, "Soda 500ml", 80_00, 3)]);

    let first = sale_answer(post_sale(&server, &waiter.key, &sale).await, 201).await;
    assert_eq!(first.status, TransactionStatus::Applied);
    assert_eq!(first.sale_id, sale.id);
    assert_eq!(server.count("SELECT COUNT(*) FROM sales"), 1);
    assert_eq!(server.count("SELECT COUNT(*) FROM sale_lines"), 1);
    assert_eq!(server.count("SELECT COUNT(*) FROM payments"), 1);
    assert_eq!(server.count("SELECT COUNT(*) FROM stock_movements"), 1);
    assert_eq!(
        server.count("SELECT quantity_milli FROM stock_levels"),
        -3000
    );
    assert_eq!(
        server.count("SELECT total_minor FROM sales"),
        sale.total.minor()
    );

    // A lost response and a retry: duplicate, nothing twice.
    let before = server.snapshot();
    let again = sale_answer(post_sale(&server, &waiter.key, &sale).await, 200).await;
    assert_eq!(again.status, TransactionStatus::Duplicate);
    assert_eq!(server.snapshot(), before);
    assert_eq!(
        server.count(
            "SELECT COUNT(*) FROM sync_log WHERE direction = 'push' AND result = 'ok' AND items = 1"
        ),
        2
    );
    assert_eq!(
        server.count(
            "SELECT SUM(applied) * 10 + SUM(duplicates) FROM sync_log
             WHERE direction = 'push' AND device_id = (SELECT id FROM devices WHERE kind = 'mobile')"
        ),
        11
    );

    // The catalog shows the new level.
    let cat = catalog(&server, &waiter.key).await;
    assert_eq!(cat.products[0].stock, Quantity::units(-3));

    // A till of the branch pulls the sale, its movement inside it (once: not
    // again as a change of its own).
    let page = server.pull_ok(&main.key, "").await;
    assert!(
        page.changes.iter().any(
            |c| matches!(&c.body, ChangeBody::Sale(s) if *s == sale && s.movements.len() == 1)
        )
    );
    assert!(
        !page
            .changes
            .iter()
            .any(|c| matches!(&c.body, ChangeBody::StockMoved(m) if m.sale_id == Some(sale.id)))
    );
    // A till of another branch does not.
    let town = server.till("Town", "Till 1");
    let page = server.pull_ok(&town.key, "").await;
    assert!(
        !page
            .changes
            .iter()
            .any(|c| matches!(&c.body, ChangeBody::Sale(_)))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_sale_for_another_branch_is_forbidden_and_changes_nothing() {
    let server = start().await;
    let (main, soda) = ready_till(&server, "Main", "Till 1").await;
    let town = server.till("Town", "Till 1");
    let mut waiter = mobile(&server, "Main", "Waiter 1", &main);
    let mut sale = waiter.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    sale.branch_id = town.branch_id;
    for m in &mut sale.movements {
        m.branch_id = town.branch_id;
    }
    let before = server.snapshot();
    let body = expect_error(
        post_sale(&server, &waiter.key, &sale).await,
        403,
        ErrorCode::Forbidden,
    )
    .await;
    assert!(
        body.error.message.contains("branch"),
        "{}",
        body.error.message
    );
    assert_eq!(server.snapshot(), before);

    // A movement for another branch inside a sale of this one is an
    // inconsistent sale: 400 with the reason.
    let mut sale = waiter.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    sale.movements[0].branch_id = town.branch_id;
    let body = expect_error(
        post_sale(&server, &waiter.key, &sale).await,
        400,
        ErrorCode::BadRequest,
    )
    .await;
    assert!(
        body.error.message.contains("another branch"),
        "{}",
        body.error.message
    );
    assert_eq!(server.snapshot(), before);
    assert_eq!(
        server.count("SELECT COUNT(*) FROM sync_log WHERE result = 'error'"),
        2
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_sales_and_missing_keys_answer_json_and_change_nothing() {
    let server = start().await;
    let (main, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut waiter = mobile(&server, "Main", "Waiter 1", &main);
    let before = server.snapshot();

    // Not a sale at all.
    let res = post_sale(&server, &waiter.key, &serde_json::json!({"id": "nope"})).await;
    expect_error(res, 400, ErrorCode::BadRequest).await;
    let res = server
        .client
        .post(server.url("/api/transaction"))
        .bearer_auth(&waiter.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(res, 400, ErrorCode::BadRequest).await;

    // A sale whose parts do not add up: the rule's reason, nothing recorded.
    let mut sale = waiter.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    sale.total = kes(sale.total.minor() + 1);
    let body = expect_error(
        post_sale(&server, &waiter.key, &sale).await,
        400,
        ErrorCode::BadRequest,
    )
    .await;
    assert!(
        body.error.message.contains(&sale.receipt_no),
        "{}",
        body.error.message
    );

    // A sale of a product the server does not know.
    let sale = waiter.sale(&[(ProductId::new(), "Ghost", 10_00, 1)]);
    expect_error(
        post_sale(&server, &waiter.key, &sale).await,
        400,
        ErrorCode::BadRequest,
    )
    .await;

    // No key, and a wrong key.
    let good = waiter.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let res = server
        .client
        .post(server.url("/api/transaction"))
        .json(&good)
        .send()
        .await
        .unwrap();
    expect_error(res, 401, ErrorCode::Unauthorized).await;
    let res = post_sale(
        &server,
        "whiz_0000000000000000000000000000000000000000",
        &good,
    )
    .await;
    expect_error(res, 401, ErrorCode::Unauthorized).await;
    assert_eq!(server.snapshot(), before);

    // And the good sale still applies afterwards.
    let ok = sale_answer(post_sale(&server, &waiter.key, &good).await, 201).await;
    assert_eq!(ok.status, TransactionStatus::Applied);
    server.stop().await;
}

#[tokio::test]
async fn a_burst_over_the_limit_gets_429_until_the_bucket_refills() {
    let server = start_with(|c| {
        c.rate_limit = Some(RateLimit {
            per_second: 1,
            burst: 3,
        })
    })
    .await;
    let (main, _) = ready_till(&server, "Main", "Till 1").await; // 1 request
    let waiter = mobile(&server, "Main", "Waiter 1", &main);
    for _ in 0..3 {
        catalog(&server, &waiter.key).await;
    }
    let res = server
        .client
        .get(server.url("/api/products"))
        .bearer_auth(&waiter.key)
        .send()
        .await
        .unwrap();
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let body = expect_error(res, 429, ErrorCode::RateLimited).await;
    assert!(
        body.error.message.contains("Retry-After"),
        "{}",
        body.error.message
    );

    // Other keys have their own buckets, and status is exempt.
    let res = server.pull(&main.key, "").await;
    assert_eq!(res.status().as_u16(), 200);
    for _ in 0..10 {
        let res = server
            .client
            .get(server.url("/api/status"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
    }

    // After waiting Retry-After, requests pass again.
    server.clock.advance_millis(retry as i64 * 1_000);
    catalog(&server, &waiter.key).await;
    let res = server
        .client
        .get(server.url("/api/products"))
        .bearer_auth(&waiter.key)
        .send()
        .await
        .unwrap();
    expect_error(res, 429, ErrorCode::RateLimited).await;

    // The default limit lets a till's ordinary traffic through.
    assert_eq!(
        backoffice::Config::default().rate_limit,
        Some(RateLimit {
            per_second: 20,
            burst: 40
        })
    );
    server.stop().await;
}

#[tokio::test]
async fn a_mobile_credit_sale_adds_to_the_customers_ledger_once() {
    use common::seed::{credit_sale, new_customer};
    use pos_domain::CustomerId;

    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let customer = CustomerId::new();
    let create = main.op(new_customer(
        customer,
        "Otieno",
        Some("0712345678"),
        5_000_00,
    ));
    server.push_ok(&main.key, &[create]).await;

    let mut waiter = mobile(&server, "Main", "Waiter 1", &main);
    let sale = credit_sale(&mut waiter, soda, 2, customer);
    let first = sale_answer(post_sale(&server, &waiter.key, &sale).await, 201).await;
    assert_eq!(first.status, TransactionStatus::Applied);
    let again = sale_answer(post_sale(&server, &waiter.key, &sale).await, 200).await;
    assert_eq!(again.status, TransactionStatus::Duplicate);
    assert_eq!(
        server.count("SELECT SUM(amount_minor) FROM customer_ledger"),
        sale.total.minor()
    );
    assert_eq!(server.count("SELECT COUNT(*) FROM customer_ledger"), 1);
    // Customers are shared: a till of another branch pulls the entry too.
    let town = server.till("Town", "Till 1");
    let page = server.pull_ok(&town.key, "").await;
    assert!(
        page.changes
            .iter()
            .any(|c| matches!(&c.body, ChangeBody::LedgerEntry(e) if e.sale_id == Some(sale.id)))
    );
    server.stop().await;
}
