//! Branch reports over real HTTP: two branches' sales, voids, payments,
//! expenses and stock, seeded as their tills push them, and the exact
//! figures per branch and for all branches together, for the days chosen.

mod common;

use backoffice::web::session::Role;
use common::seed::{paid_by, restock, void_of};
use common::web::{Page, testid_text};
use common::*;
use pos_domain::{ExpenseId, PaymentMethod};
use reqwest::StatusCode;
use sync_protocol::{ExpensePaidWith, ExpensePatch, OpBody};

fn expense(till: &Till, category: &str, minor: i64, day: &str) -> OpBody {
    let id = ExpenseId::new();
    OpBody::ExpenseChanged(ExpensePatch {
        branch_id: Some(till.branch_id),
        device_id: Some(till.device_id),
        user_id: Some(till.cashier),
        category: Some(name(category)),
        description: Some(format!("{category} costs")),
        amount: Some(kes(minor)),
        paid_with: Some(ExpensePaidWith::Cash),
        reference: Some(None),
        spent_at: Some(till.now()),
        business_day: Some(day.into()),
        ..ExpensePatch::new(id)
    })
}

/// The cell of row `row` in column `col` (a branch id or `all`).
#[track_caller]
fn cell(page: &Page, row: &str, col: &str) -> String {
    testid_text(&page.body, &format!("{row}-{col}"))
        .unwrap_or_else(|| panic!("no cell {row}-{col}:\n{}", page.body))
}

#[tokio::test]
async fn two_branches_sales_expenses_and_stock_side_by_side() {
    let server = common::start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut town = server.till("Town", "Till 1");
    let op = town.cashier_op();
    server.push_applied(&town.key, &[op]).await;

    // 2 March: Main sells 2 (cash, then voided) and 1 (M-Pesa); Town sells 3.
    let ops = [main.op(restock(&main, soda, 20))];
    server.push_applied(&main.key, &ops).await;
    let cash = main.sale(&[(soda, "Soda 500ml", 80_00, 2)]);
    let mut mpesa = main.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    paid_by(&mut mpesa, PaymentMethod::Mpesa, Some("QJK3H5TRD2"));
    let void = void_of(&mut main, &cash, "wrong item");
    let ops = [
        main.op(OpBody::SaleRecorded(cash)),
        main.op(OpBody::SaleRecorded(mpesa)),
        main.op(OpBody::SaleRecorded(void)),
        main.op(expense(&main, "Transport", 500_00, "2026-03-02")),
        main.op(expense(&main, "Cleaning", 250_00, "2026-03-02")),
    ];
    server.push_applied(&main.key, &ops).await;
    let town_sale = town.sale(&[(soda, "Soda 500ml", 80_00, 3)]);
    let ops = [
        town.op(restock(&town, soda, 3)),
        town.op(OpBody::SaleRecorded(town_sale)),
        town.op(expense(&town, "Transport", 1_000_00, "2026-03-02")),
    ];
    server.push_applied(&town.key, &ops).await;
    // 5 March, outside the range: a sale and an expense at Main.
    server.at(T0 + 3 * DAY);
    let later = main.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let ops = [
        main.op(OpBody::SaleRecorded(later)),
        main.op(expense(&main, "Transport", 99_00, "2026-03-05")),
    ];
    server.push_applied(&main.key, &ops).await;

    let b = server.signed_in("mary", Role::Manager).await;
    let page = b.get("/reports?from=2026-03-02&to=2026-03-02").await;
    page.assert_ok(&["Branch reports", "Main", "Town", "All branches"]);
    let (m, t) = (main.branch_id.to_string(), town.branch_id.to_string());
    let expect = [
        ("sales", ["2", "1", "3"]),
        ("gross", ["KES 240.00", "KES 240.00", "KES 480.00"]),
        ("voids", ["1", "0", "1"]),
        ("voided", ["KES -160.00", "KES 0.00", "KES -160.00"]),
        ("refunds", ["0", "0", "0"]),
        ("refunded", ["KES 0.00", "KES 0.00", "KES 0.00"]),
        ("net", ["KES 80.00", "KES 240.00", "KES 320.00"]),
        ("method-cash", ["KES 0.00", "KES 240.00", "KES 240.00"]),
        ("method-mpesa", ["KES 80.00", "KES 0.00", "KES 80.00"]),
        ("method-card", ["KES 0.00", "KES 0.00", "KES 0.00"]),
        ("expenses", ["KES 750.00", "KES 1,000.00", "KES 1,750.00"]),
        (
            "category-Transport",
            ["KES 500.00", "KES 1,000.00", "KES 1,500.00"],
        ),
        (
            "category-Cleaning",
            ["KES 250.00", "KES 0.00", "KES 250.00"],
        ),
        (
            "after-expenses",
            ["KES -670.00", "KES -760.00", "KES -1,430.00"],
        ),
        // Stock now: Main 20 − 2 − 1 + 2 (the void) − 1 = 18; Town 3 − 3.
        ("stock-tracked", ["1", "1", "1"]),
        ("stock-in", ["1", "0", "1"]),
        ("stock-low", ["0", "0", "0"]),
        ("stock-out", ["0", "1", "1"]),
        ("stock-negative", ["0", "0", "0"]),
        ("stock-value", ["KES 1,440.00", "KES 0.00", "KES 1,440.00"]),
    ];
    for (row, [at_main, at_town, all]) in expect {
        assert_eq!(cell(&page, row, &m), at_main, "{row} at Main");
        assert_eq!(cell(&page, row, &t), at_town, "{row} at Town");
        assert_eq!(cell(&page, row, "all"), all, "{row} for all branches");
    }

    // The same table as CSV, amounts as plain decimals.
    let csv = b.get("/reports.csv?from=2026-03-02&to=2026-03-02").await;
    csv.assert_status(StatusCode::OK);
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "2026-03-02 to 2026-03-02 (KES),Main,Town,All branches"
    );
    for line in [
        "Sales,2,1,3",
        "Voided,-160.00,0.00,-160.00",
        "Net sales,80.00,240.00,320.00",
        "Paid by M-Pesa,80.00,0.00,80.00",
        "Expenses: Transport,500.00,1000.00,1500.00",
        "Net sales less expenses,-670.00,-760.00,-1430.00",
        "Value at selling price,1440.00,0.00,1440.00",
    ] {
        assert!(lines.contains(&line), "{line} in:\n{}", csv.body);
    }
    b.get("/reports.csv?to=soon")
        .await
        .assert_status(StatusCode::BAD_REQUEST);

    // Both days: the later sale and expense count; one branch alone has no
    // "All branches" column.
    let page = b.get("/reports?from=2026-03-02&to=2026-03-05").await;
    assert_eq!(cell(&page, "net", &m), "KES 160.00");
    assert_eq!(cell(&page, "expenses", "all"), "KES 1,849.00");
    let page = b
        .get(&format!(
            "/reports?branch={m}&from=2026-03-05&to=2026-03-05"
        ))
        .await;
    page.assert_ok(&["Main"]);
    assert_eq!(cell(&page, "sales", &m), "1");
    assert_eq!(cell(&page, "expenses", &m), "KES 99.00");
    assert!(testid_text(&page.body, &format!("net-{t}")).is_none());
    assert!(testid_text(&page.body, "net-all").is_none());

    // The month so far by default (the clock is on 5 March).
    let page = b.get("/reports").await;
    page.assert_ok(&[
        r#"name="from" value="2026-03-01""#,
        r#"name="to" value="2026-03-05""#,
    ]);
    assert_eq!(cell(&page, "sales", "all"), "4");

    // A filter that cannot be read is named, with a 400.
    b.get("/reports?from=2026-13-01")
        .await
        .assert_bad("from '2026-13-01' is not a date");
    b.get("/reports?from=2026-03-05&to=2026-03-01")
        .await
        .assert_bad("swap them");
    b.get("/reports?branch=nowhere")
        .await
        .assert_bad("the branch 'nowhere' is not one of this business's branches");
    let stranger = server.browser();
    assert_eq!(stranger.get("/reports").await.status, StatusCode::SEE_OTHER);
}
