//! The dashboard's Sales pages over real HTTP: the filtered list, one
//! receipt, the CSV export, and bad filters.

mod common;

use backoffice::web::session::Role;
use common::seed::{new_customer, on_credit, paid_by, restock, void_of};
use common::web::Page;
use common::*;
use pos_domain::{CustomerId, Money, PaymentMethod, ProductId, SaleId};
use reqwest::StatusCode;
use sync_protocol::{OpBody, OpEnvelope, SaleRecord, UserPatch};

/// `1250.50`: how the CSV writes an amount.
fn dec(m: Money) -> String {
    let minor = m.minor();
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

// Seeding ----------------------------------------------------------------------

/// Two branches and their sales:
///
/// | receipt        | day        | branch | cashier | paid by | total   |
/// |----------------|------------|--------|---------|---------|---------|
/// | MAIN-T1-000001 | 2026-02-27 | Main   | Wanjiku | cash    | 80.00   |
/// | MAIN-T1-000002 | 2026-03-01 | Main   | Wanjiku | mpesa   | 100.00  |
/// | MAIN-T1-000003 | 2026-03-02 | Main   | Wanjiku | cash    | 60.00   |
/// | MAIN-T1-000004 | 2026-03-02 | Main   | Wanjiku | credit  | 240.00  |
/// | MAIN-T1-000005 | 2026-03-02 | Main   | Wanjiku | credit  | -240.00 | (void of 4)
/// | TOWN-T1-000001 | 2026-03-02 | Town   | Otieno  | card    | 160.00  |
struct Shop {
    main: Till,
    town: Till,
    sales: Vec<SaleRecord>,
}

impl Shop {
    fn sale(&self, receipt: &str) -> &SaleRecord {
        self.sales
            .iter()
            .find(|s| s.receipt_no == receipt)
            .unwrap_or_else(|| panic!("no sale {receipt}"))
    }
}

async fn shop(server: &TestServer) -> Shop {
    let (mut main, soda) = ready_till(server, "Main", "Till 1").await;
    let (mut town, _) = ready_till(server, "Town", "Till 1").await;
    let mango = ProductId::new();
    let formula = ProductId::new();
    let customer = CustomerId::new();
    let rename = OpBody::UserChanged(UserPatch {
        name: Some(name("Otieno")),
        ..UserPatch::new(town.cashier)
    });
    let setup = [
        main.op(new_product(mango, "Mango, ripe", 50_00)),
        main.op(new_product(formula, "=SUM(A1)", 10_00)),
        main.op(new_customer(customer, "Mama \"Njeri\"", None, 5_000_00)),
        main.op(restock(&main, soda, 100)),
        main.op(restock(&main, mango, 100)),
    ];
    server.push_applied(&main.key, &setup).await;
    let op = town.op(rename);
    server.push_applied(&town.key, &[op]).await;

    let mut sales = Vec::new();
    server.at(T0 - 3 * DAY);
    sales.push(main.sale(&[(soda, "Soda 500ml", 80_00, 1)]));
    server.at(T0 - DAY);
    let mut s = main.sale(&[(mango, "Mango, ripe", 50_00, 2)]);
    paid_by(&mut s, PaymentMethod::Mpesa, Some("QJK3ABC123"));
    sales.push(s);
    server.at(T0);
    sales.push(main.sale(&[
        (formula, "=SUM(A1)", 10_00, 1),
        (mango, "Mango, ripe", 50_00, 1),
    ]));
    server.at(T0 + 5 * MINUTE);
    let mut s = main.sale(&[(soda, "Soda 500ml", 80_00, 3)]);
    on_credit(&main, &mut s, customer);
    sales.push(s.clone());
    server.at(T0 + 10 * MINUTE);
    sales.push(void_of(&mut main, &s, "wrong customer"));
    let ops: Vec<OpEnvelope> = sales
        .iter()
        .map(|s| main.op(OpBody::SaleRecorded(s.clone())))
        .collect();
    server.push_applied(&main.key, &ops).await;

    server.at(T0 + 15 * MINUTE);
    let mut s = town.sale(&[(soda, "Soda 500ml", 80_00, 2)]);
    paid_by(&mut s, PaymentMethod::Card, None);
    let op = town.op(OpBody::SaleRecorded(s.clone()));
    server.push_applied(&town.key, &[op]).await;
    sales.push(s);
    server.at(T0 + 30 * MINUTE);
    Shop { main, town, sales }
}

/// The receipts of the list's rows, in order.
fn receipts(page: &Page) -> Vec<String> {
    page.body
        .split("data-receipt=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect()
}

fn totals(page: &Page) -> (String, String, String) {
    let value = |id: &str| {
        let t = page.part(id, "</div>");
        t[t.find('>').unwrap() + 1..t.len() - "</div>".len()].to_string()
    };
    (
        value("total-sales"),
        value("total-returns"),
        value("total-net"),
    )
}

// The list -----------------------------------------------------------------------

#[tokio::test]
async fn the_list_shows_every_branch_newest_first_with_totals() {
    let server = start().await;
    let shop = shop(&server).await;
    let b = server.signed_in("wanjiku", Role::Manager).await;

    let page = b.get("/sales").await;
    page.assert_ok(&["Export CSV", "href=\"/sales.csv\""]);
    assert_eq!(
        receipts(&page),
        [
            "TOWN-T1-000001",
            "MAIN-T1-000005",
            "MAIN-T1-000004",
            "MAIN-T1-000003",
            "MAIN-T1-000002",
            "MAIN-T1-000001"
        ]
    );
    assert_eq!(totals(&page), ("5".into(), "1".into(), "KES 400.00".into()));

    // A row: time in the branch's zone, branch, till, cashier, customer,
    // methods, total, and a link to the receipt.
    let credit = shop.sale("MAIN-T1-000004");
    let row = page.part("sale-row\" data-receipt=\"MAIN-T1-000004", "</tr>");
    for text in [
        format!("href=\"/sales/{}\"", credit.id).as_str(),
        "2026-03-02 09:05",
        "<td>Main</td>",
        "<td>T1</td>",
        "<td>Wanjiku</td>",
        "Mama &quot;Njeri&quot;",
        "<td>Credit</td>",
        "KES 240.00",
    ] {
        assert!(row.contains(text), "{text} not in {row}");
    }
    let void = page.part("sale-row\" data-receipt=\"MAIN-T1-000005", "</tr>");
    assert!(
        void.contains("Void") && void.contains("KES -240.00"),
        "{void}"
    );
    let town = page.part("sale-row\" data-receipt=\"TOWN-T1-000001", "</tr>");
    assert!(
        town.contains("<td>Town</td>")
            && town.contains("<td>Otieno</td>")
            && town.contains("<td>Card</td>"),
        "{town}"
    );
    server.stop().await;
}

#[tokio::test]
async fn filters_narrow_the_rows_and_the_totals() {
    let server = start().await;
    let shop = shop(&server).await;
    let b = server.signed_in("wanjiku", Role::Owner).await;

    let check = |path: String,
                 rows: &'static [&'static str],
                 t: (&'static str, &'static str, &'static str)| {
        let b = &b;
        async move {
            let page = b.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
            assert_eq!(receipts(&page), rows, "{path}");
            assert_eq!(
                totals(&page),
                (t.0.into(), t.1.into(), t.2.into()),
                "{path}"
            );
            page
        }
    };

    check(
        format!("/sales?branch={}", shop.town.branch_id),
        &["TOWN-T1-000001"],
        ("1", "0", "KES 160.00"),
    )
    .await;
    check(
        "/sales?from=2026-03-01&to=2026-03-01".into(),
        &["MAIN-T1-000002"],
        ("1", "0", "KES 100.00"),
    )
    .await;
    check(
        "/sales?from=2026-03-02".into(),
        &[
            "TOWN-T1-000001",
            "MAIN-T1-000005",
            "MAIN-T1-000004",
            "MAIN-T1-000003",
        ],
        ("3", "1", "KES 220.00"),
    )
    .await;
    check(
        "/sales?to=2026-02-28".into(),
        &["MAIN-T1-000001"],
        ("1", "0", "KES 80.00"),
    )
    .await;
    check(
        "/sales?method=mpesa".into(),
        &["MAIN-T1-000002"],
        ("1", "0", "KES 100.00"),
    )
    .await;
    // The void was refunded to the same account: it is a credit row too.
    check(
        "/sales?method=credit".into(),
        &["MAIN-T1-000005", "MAIN-T1-000004"],
        ("1", "1", "KES 0.00"),
    )
    .await;
    check(
        format!("/sales?cashier={}", shop.town.cashier),
        &["TOWN-T1-000001"],
        ("1", "0", "KES 160.00"),
    )
    .await;
    check(
        "/sales?kind=void".into(),
        &["MAIN-T1-000005"],
        ("0", "1", "KES -240.00"),
    )
    .await;
    // Filters combine, and an empty filter (a select left at "All") is none.
    let page = check(
        format!(
            "/sales?branch={}&from=2026-03-02&to=2026-03-02&method=cash&cashier=&kind=",
            shop.main.branch_id
        ),
        &["MAIN-T1-000003"],
        ("1", "0", "KES 60.00"),
    )
    .await;
    // The form shows the filters chosen, and the CSV link carries them.
    assert!(
        page.body.contains(&format!(
            "<option value=\"{}\" selected>Main</option>",
            shop.main.branch_id
        )),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"2026-03-02\""));
    assert!(
        page.body
            .contains("<option value=\"cash\" selected>Cash</option>")
    );
    assert!(page.body.contains(&format!(
        "href=\"/sales.csv?branch={}&amp;from=2026-03-02&amp;to=2026-03-02&amp;method=cash\"",
        shop.main.branch_id
    )));
    // Nothing matches: an empty state, zero totals.
    let page = b.get("/sales?from=2026-01-01&to=2026-01-31").await;
    page.assert_ok(&["No sales match these filters."]);
    assert_eq!(totals(&page), ("0".into(), "0".into(), "KES 0.00".into()));
    server.stop().await;
}

#[tokio::test]
async fn the_list_pages_by_a_hundred() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut ops = Vec::new();
    for i in 0..101 {
        server.at(T0 + i * MINUTE);
        let s = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
        ops.push(till.op(OpBody::SaleRecorded(s)));
    }
    server.push_applied(&till.key, &ops).await;
    let b = server.signed_in("owner", Role::Owner).await;

    let first = b.get("/sales?method=cash").await;
    first.assert_ok(&[
        "Page 1 of 2",
        "Rows 1–100 of 101",
        "href=\"/sales?method=cash&amp;page=2\"",
    ]);
    let rows = receipts(&first);
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[0], "MAIN-T1-000101");
    assert_eq!(rows[99], "MAIN-T1-000002");
    assert_eq!(
        totals(&first),
        ("101".into(), "0".into(), "KES 8,080.00".into())
    );

    let second = b.get("/sales?method=cash&page=2").await;
    second.assert_ok(&[
        "Page 2 of 2",
        "Rows 101–101 of 101",
        "href=\"/sales?method=cash\"",
    ]);
    assert_eq!(receipts(&second), ["MAIN-T1-000001"]);
    // The totals are the whole filtered set's, on every page.
    assert_eq!(
        totals(&second),
        ("101".into(), "0".into(), "KES 8,080.00".into())
    );

    let past = b.get("/sales?page=9").await;
    past.assert_ok(&["Back to the first page"]);
    assert!(receipts(&past).is_empty());
    b.get("/sales?page=0")
        .await
        .assert_bad("the page '0' is not a page number");
    b.get("/sales?page=two").await.assert_bad("the page 'two'");
    server.stop().await;
}

#[tokio::test]
async fn bad_filters_answer_400_naming_the_field_and_change_nothing() {
    let server = start().await;
    let _shop = shop(&server).await;
    let b = server.signed_in("owner", Role::Owner).await;
    let before = server.snapshot();
    for (path, message) in [
        (
            "/sales?from=2026-13-01",
            "the From date '2026-13-01' is not a date (YYYY-MM-DD)",
        ),
        (
            "/sales?to=yesterday",
            "the To date 'yesterday' is not a date (YYYY-MM-DD)",
        ),
        (
            "/sales?from=2026-03-02&to=2026-03-01",
            "the From date (2026-03-02) is after the To date (2026-03-01)",
        ),
        (
            "/sales?method=bitcoin",
            "the payment method 'bitcoin' is not one of cash, mpesa, card or credit",
        ),
        (
            "/sales?kind=gift",
            "the kind 'gift' is not one of sale, void or refund",
        ),
        (
            "/sales?branch=nowhere",
            "the branch 'nowhere' is not one of this business's branches",
        ),
        (
            "/sales?cashier=nobody",
            "the cashier 'nobody' is not one of this business's till users",
        ),
        ("/sales.csv?method=cheque", "the payment method 'cheque'"),
        (
            "/sales.csv?from=02/03/2026",
            "the From date '02/03/2026' is not a date",
        ),
    ] {
        let page = b.get(path).await;
        page.assert_bad(message);
    }
    assert_eq!(server.snapshot(), before);
    server.stop().await;
}

// One sale -------------------------------------------------------------------------

#[tokio::test]
async fn a_receipt_shows_its_lines_payments_and_voids() {
    let server = start().await;
    let shop = shop(&server).await;
    let b = server.signed_in("owner", Role::Owner).await;

    let credit = shop.sale("MAIN-T1-000004");
    let void = shop.sale("MAIN-T1-000005");
    let page = b.get(&format!("/sales/{}", credit.id)).await;
    page.assert_ok(&["Sale MAIN-T1-000004", "2026-03-02 09:05", "Main", "Wanjiku"]);
    let lines = page.part("sale-lines", "</table>");
    for text in [
        "Soda 500ml",
        ">3<",
        "KES 80.00",
        "KES 240.00",
        format!("KES {}", dec(credit.tax)).as_str(),
        "VAT16",
    ] {
        assert!(lines.contains(text), "{text} not in {lines}");
    }
    let payments = page.part("sale-payments", "</table>");
    assert!(
        payments.contains("<td>Credit</td>")
            && payments.contains("KES 240.00")
            && payments.contains("Mama &quot;Njeri&quot;"),
        "{payments}"
    );
    let returns = page.part("sale-returns", "</table>");
    assert!(
        returns.contains(&format!("href=\"/sales/{}\"", void.id))
            && returns.contains("MAIN-T1-000005")
            && returns.contains("wrong customer")
            && returns.contains("KES -240.00"),
        "{returns}"
    );

    // The void links back to what it voids.
    let page = b.get(&format!("/sales/{}", void.id)).await;
    page.assert_ok(&["Void MAIN-T1-000005", "wrong customer", "KES -240.00"]);
    let original = page.part("original-sale", "</p>");
    assert!(
        original.contains(&format!("href=\"/sales/{}\"", credit.id))
            && original.contains("MAIN-T1-000004"),
        "{original}"
    );

    // M-Pesa shows its reference; cash its tendered amount and change.
    let mpesa = shop.sale("MAIN-T1-000002");
    let page = b.get(&format!("/sales/{}", mpesa.id)).await;
    page.assert_ok(&[
        "M-Pesa",
        "QJK3ABC123",
        "Mango, ripe",
        "None: this sale stands as recorded.",
    ]);
    let cash = shop.sale("MAIN-T1-000001");
    let page = b.get(&format!("/sales/{}", cash.id)).await;
    let payments = page.part("sale-payments", "</table>");
    assert!(
        payments.contains("<td>Cash</td>")
            && payments.contains("KES 80.00")
            && payments.contains("KES 180.00")
            && payments.contains("KES 100.00"),
        "{payments}"
    );
    assert!(page.body.contains("2026-02-27 09:00"));

    // Unknown and malformed ids are 404 pages.
    for path in [
        format!("/sales/{}", SaleId::new()),
        "/sales/not-a-sale".into(),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains("there is no sale"), "{}", page.body);
    }

    // Signed out: to the sign-in page.
    server
        .browser()
        .get(&format!("/sales/{}", credit.id))
        .await
        .assert_redirect("/login?next=*");
    server.stop().await;
}

// CSV ------------------------------------------------------------------------------

const HEADER: &str = "Receipt,Kind,Time,Business day,Branch,Till,Cashier,Customer,Payment methods,Items,Subtotal,Discount,Tax,Total,Currency,Original receipt,Reason,Sale ID";

async fn csv(b: &common::web::Browser, path: &str) -> (String, String, String) {
    let res = b.client.get(b.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (ct, cd) = (header("content-type"), header("content-disposition"));
    (ct, cd, res.text().await.unwrap())
}

#[tokio::test]
async fn the_csv_has_every_filtered_row_quoted_and_guarded() {
    let server = start().await;
    let shop = shop(&server).await;
    let b = server.signed_in("owner", Role::Owner).await;

    let (ct, cd, text) = csv(&b, "/sales.csv").await;
    assert_eq!(ct, "text/csv; charset=utf-8");
    assert_eq!(cd, "attachment; filename=\"sales-all-all.csv\"");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 8, "{text}");
    assert_eq!(lines[0], HEADER);
    assert_eq!(lines[7], "");

    let s3 = shop.sale("MAIN-T1-000003");
    assert_eq!(
        lines[4],
        format!(
            "MAIN-T1-000003,sale,2026-03-02 09:00,2026-03-02,Main,T1,Wanjiku,,Cash,\"'=SUM(A1) x 1; Mango, ripe x 1\",60.00,0.00,{},60.00,KES,,,{}",
            dec(s3.tax),
            s3.id
        )
    );
    let s4 = shop.sale("MAIN-T1-000004");
    let s5 = shop.sale("MAIN-T1-000005");
    assert_eq!(
        lines[2],
        format!(
            "MAIN-T1-000005,void,2026-03-02 09:10,2026-03-02,Main,T1,Wanjiku,\"Mama \"\"Njeri\"\"\",Credit,Soda 500ml x -3,-240.00,0.00,-{},-240.00,KES,MAIN-T1-000004,wrong customer,{}",
            dec(s4.tax),
            s5.id
        )
    );
    assert!(lines[1].starts_with("TOWN-T1-000001,sale,2026-03-02 09:15,2026-03-02,Town,T1,Otieno,,Card,Soda 500ml x 2,160.00,"), "{}", lines[1]);
    assert!(
        lines[6].starts_with("MAIN-T1-000001,sale,2026-02-27 09:00,"),
        "{}",
        lines[6]
    );

    // The same filters as the list, no paging, and a file name with the dates.
    let (_, cd, text) = csv(
        &b,
        &format!(
            "/sales.csv?branch={}&from=2026-03-01&to=2026-03-02&method=mpesa",
            shop.main.branch_id
        ),
    )
    .await;
    assert_eq!(
        cd,
        "attachment; filename=\"sales-2026-03-01-2026-03-02.csv\""
    );
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].starts_with("MAIN-T1-000002,sale,2026-03-01 09:00,2026-03-01,Main,T1,Wanjiku,,M-Pesa,\"Mango, ripe x 2\",100.00,"),
        "{}",
        lines[1]
    );

    // Signed out: no data.
    server
        .browser()
        .get("/sales.csv")
        .await
        .assert_redirect("/login?next=*");
    server.stop().await;
}

#[tokio::test]
async fn a_big_export_has_no_paging() {
    let server = start().await;
    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await;
    let mut ops = Vec::new();
    for i in 0..150 {
        server.at(T0 + i * MINUTE);
        let s = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
        ops.push(till.op(OpBody::SaleRecorded(s)));
    }
    server.push_applied(&till.key, &ops).await;
    let b = server.signed_in("owner", Role::Owner).await;
    let (_, _, text) = csv(&b, "/sales.csv?from=2026-03-02&to=2026-03-02").await;
    assert_eq!(text.matches("\r\n").count(), 151);
    assert!(text.contains("MAIN-T1-000001,") && text.contains("MAIN-T1-000150,"));
    server.stop().await;
}
