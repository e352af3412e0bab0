//! The dashboard's home page over real HTTP: per-branch figures, takings by
//! method, best sellers, the 30-day chart, low stock and the empty state.

mod common;

use backoffice::web::session::Role;
use common::seed::{new_customer, on_credit, paid_by, restock, void_of};
use common::*;
use pos_domain::{CustomerId, PaymentMethod, ProductId, Quantity, TimeZone};
use reqwest::StatusCode;
use sync_protocol::{OpBody, OpEnvelope, ProductPatch};

#[track_caller]
fn has_all(text: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "{w:?} not in:\n{text}");
    }
}

// Seeding ----------------------------------------------------------------------

/// Two branches (T0 is Monday 2026-03-02, 09:00 in Nairobi):
///
/// - Main: Fri 02-27 soda 80.00 cash; Sun 03-01 mango 50.00 cash; today
///   2 soda 160.00 cash (voided), mango 50.00 M-Pesa, 3 soda 240.00 on credit.
/// - Town: today soda 80.00 cash, 2 mango 100.00 card.
///
/// Mango alerts at 5: Main holds 6 − 1 − 1 = 4, Town 0 − 2 = −2.
struct Shop {
    main: Till,
    town: Till,
    soda: ProductId,
    mango: ProductId,
}

async fn shop(server: &TestServer) -> Shop {
    let (mut main, soda) = ready_till(server, "Main", "Till 1").await;
    let (mut town, _) = ready_till(server, "Town", "Till 1").await;
    let mango = ProductId::new();
    let customer = CustomerId::new();
    server.at(T0 - 4 * DAY);
    let setup = [
        main.op(new_product(mango, "Mango, ripe", 50_00)),
        main.op(OpBody::ProductChanged(ProductPatch {
            low_stock: Some(Some(Quantity::units(5))),
            ..ProductPatch::new(mango)
        })),
        main.op(new_customer(customer, "Otieno", None, 5_000_00)),
        main.op(restock(&main, soda, 100)),
        main.op(restock(&main, mango, 6)),
    ];
    server.push_applied(&main.key, &setup).await;
    let op = town.op(restock(&town, soda, 100));
    server.push_applied(&town.key, &[op]).await;

    let mut sales = Vec::new();
    server.at(T0 - 3 * DAY);
    sales.push(main.sale(&[(soda, "Soda 500ml", 80_00, 1)]));
    server.at(T0 - DAY);
    sales.push(main.sale(&[(mango, "Mango, ripe", 50_00, 1)]));
    server.at(T0);
    let voided = main.sale(&[(soda, "Soda 500ml", 80_00, 2)]);
    sales.push(voided.clone());
    let mut s = main.sale(&[(mango, "Mango, ripe", 50_00, 1)]);
    paid_by(&mut s, PaymentMethod::Mpesa, Some("QJK3ABC123"));
    sales.push(s);
    let mut s = main.sale(&[(soda, "Soda 500ml", 80_00, 3)]);
    on_credit(&main, &mut s, customer);
    sales.push(s);
    server.at(T0 + 5 * MINUTE);
    sales.push(void_of(&mut main, &voided, "rang twice"));
    let ops: Vec<OpEnvelope> = sales
        .iter()
        .map(|s| main.op(OpBody::SaleRecorded(s.clone())))
        .collect();
    server.push_applied(&main.key, &ops).await;

    let d = town.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let mut e = town.sale(&[(mango, "Mango, ripe", 50_00, 2)]);
    paid_by(&mut e, PaymentMethod::Card, None);
    let ops = [
        town.op(OpBody::SaleRecorded(d)),
        town.op(OpBody::SaleRecorded(e)),
    ];
    server.push_applied(&town.key, &ops).await;
    server.at(T0 + 30 * MINUTE);
    Shop {
        main,
        town,
        soda,
        mango,
    }
}

// Tests ------------------------------------------------------------------------------

#[tokio::test]
async fn the_dashboard_adds_up_each_branch_and_all_of_them() {
    let server = start().await;
    let shop = shop(&server).await;
    let b = server.signed_in("manager", Role::Manager).await;
    let page = b.get("/").await;
    page.assert_ok(&[
        "Dashboard",
        "class=\"active\" data-testid=\"nav-dashboard\"",
    ]);
    assert!(!page.body.contains("data-testid=\"no-sales\""));

    // Net of the void; sales counted without it; each period its own.
    let main = page.part(&format!("figures-{}", shop.main.branch_id), "</tr>");
    has_all(
        main,
        &[
            "2026-03-02 · Africa/Nairobi",
            "<strong>KES 290.00</strong></div><div class=\"muted\">3 sales, 1 void/refund</div>",
            "<strong>KES 340.00</strong></div><div class=\"muted\">4 sales, 1 void/refund</div>",
            &format!(
                "href=\"/sales?branch={}&amp;from=2026-03-02&amp;to=2026-03-08\"",
                shop.main.branch_id
            ),
        ],
    );
    assert_eq!(
        main.matches("KES 290.00").count(),
        2,
        "today and this week: {main}"
    );
    let town = page.part(&format!("figures-{}", shop.town.branch_id), "</tr>");
    assert_eq!(
        town.matches("<strong>KES 180.00</strong></div><div class=\"muted\">2 sales</div>")
            .count(),
        3,
        "{town}"
    );
    let all = page.part("figures-all", "</tr>");
    has_all(
        all,
        &[
            "<strong>KES 470.00</strong></div><div class=\"muted\">5 sales, 1 void/refund</div>",
            "<strong>KES 520.00</strong></div><div class=\"muted\">6 sales, 1 void/refund</div>",
        ],
    );
    has_all(page.part("today-net", "</div>"), &["KES 470.00"]);
    has_all(page.part("week-net", "</div>"), &["KES 470.00"]);
    has_all(page.part("month-net", "</div>"), &["KES 520.00"]);

    // Takings by method: today, then this month.
    for (method, today, month) in [
        ("cash", "KES 80.00", "KES 130.00"),
        ("mpesa", "KES 50.00", "KES 50.00"),
        ("card", "KES 100.00", "KES 100.00"),
        ("credit", "KES 240.00", "KES 240.00"),
    ] {
        let row = page.part(&format!("method-{method}"), "</tr>");
        assert!(
            row.contains(&format!(
                "<td class=\"num\">{today}</td><td class=\"num\">{month}</td>"
            )),
            "{method}: {row}"
        );
    }

    // Best sellers this month, by revenue, net of the void; February's
    // soda is not this month's.
    let best = page.part("best-sellers", "</table>");
    let rows: Vec<&str> = best.split("data-testid=\"best-seller\"").skip(1).collect();
    assert_eq!(rows.len(), 2, "{best}");
    has_all(
        rows[0],
        &[
            &format!("href=\"/products/{}\">Soda 500ml</a>", shop.soda),
            ">4</td>",
            "KES 320.00",
        ],
    );
    has_all(
        rows[1],
        &[
            &format!("href=\"/products/{}\">Mango, ripe</a>", shop.mango),
            ">4</td>",
            "KES 200.00",
        ],
    );

    // Low stock: Main's mango at 4 (alert at 5), Town's below zero.
    let low = page.part("low-stock", "</table>");
    let rows: Vec<&str> = low.split("data-testid=\"low-stock-row\"").skip(1).collect();
    assert_eq!(rows.len(), 2, "{low}");
    has_all(
        rows[0],
        &[
            "<td>Main</td>",
            &format!("href=\"/products/{}\">Mango, ripe</a>", shop.mango),
            "<td class=\"num\">4</td><td class=\"num\">5</td>",
            "low",
        ],
    );
    has_all(
        rows[1],
        &["<td>Town</td>", "<td class=\"num\">-2</td>", "negative"],
    );
    server.stop().await;
}

#[tokio::test]
async fn the_chart_has_a_bar_for_each_of_the_last_30_days() {
    let server = start().await;
    let _shop = shop(&server).await;
    let b = server.signed_in("owner", Role::Owner).await;
    let page = b.get("/").await;
    let chart = page.part("sales-chart", "</svg>");
    assert!(
        chart.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{chart}"
    );
    assert_eq!(chart.matches("<rect class=\"bar\"").count(), 30, "{chart}");
    let days: Vec<&str> = chart
        .split("data-day=\"")
        .skip(1)
        .map(|r| &r[..10])
        .collect();
    assert_eq!(days.first(), Some(&"2026-02-01"));
    assert_eq!(days.last(), Some(&"2026-03-02"));
    has_all(
        chart,
        &[
            "data-day=\"2026-03-02\" data-value=\"47000\"><title>2026-03-02: KES 470.00 (5 sales)</title>",
            "data-day=\"2026-03-01\" data-value=\"5000\"><title>2026-03-01: KES 50.00 (1 sale)</title>",
            "data-day=\"2026-02-27\" data-value=\"8000\"><title>2026-02-27: KES 80.00 (1 sale)</title>",
            "data-day=\"2026-02-28\" data-value=\"0\"><title>2026-02-28: KES 0.00 (0 sales)</title>",
            // The scale: 470.00 rounds up to a top line of 4 × 200.00.
            ">800.00</text>",
            ">0.00</text>",
        ],
    );
    assert_eq!(chart.matches("data-value=\"0\"").count(), 27);
    // The tallest bar is 470/800 of the plot's 204 pixels.
    assert!(
        chart.contains("height=\"119\" fill=\"#0b6e4f\" data-day=\"2026-03-02\""),
        "{chart}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_branch_filter_narrows_everything() {
    let server = start().await;
    let shop = shop(&server).await;
    let b = server.signed_in("owner", Role::Owner).await;
    let page = b.get(&format!("/?branch={}", shop.town.branch_id)).await;
    page.assert_ok(&[&format!(
        "<option value=\"{}\" selected>Town</option>",
        shop.town.branch_id
    )]);
    assert!(
        !page
            .body
            .contains(&format!("figures-{}", shop.main.branch_id))
    );
    assert!(!page.body.contains("figures-all"));
    has_all(page.part("today-net", "</div>"), &["KES 180.00"]);
    let cash = page.part("method-cash", "</tr>");
    assert!(
        cash.contains("<td class=\"num\">KES 80.00</td><td class=\"num\">KES 80.00</td>"),
        "{cash}"
    );
    let chart = page.part("sales-chart", "</svg>");
    assert!(
        chart.contains("<title>2026-03-02: KES 180.00 (2 sales)</title>"),
        "{chart}"
    );
    assert!(
        chart.contains("<title>2026-02-27: KES 0.00 (0 sales)</title>"),
        "{chart}"
    );
    let low = page.part("low-stock", "</table>");
    assert_eq!(
        low.matches("data-testid=\"low-stock-row\"").count(),
        1,
        "{low}"
    );

    let before = server.snapshot();
    b.get("/?branch=elsewhere")
        .await
        .assert_bad("the branch 'elsewhere' is not one of this business's branches");
    assert_eq!(server.snapshot(), before);
    server.stop().await;
}

#[tokio::test]
async fn today_is_each_branchs_own_business_day() {
    let server = start().await;
    let (mut far, soda) = ready_till(&server, "Pago Pago", "Till 1").await;
    // T0 (06:00 UTC on Monday) is still Sunday evening in American Samoa.
    let zone = TimeZone::parse("Pacific/Pago_Pago").unwrap();
    server
        .admin()
        .execute(
            "UPDATE branches SET time_zone = ?1 WHERE id = ?2",
            [zone.name().to_string(), far.branch_id.to_string()],
        )
        .unwrap();
    let mut s = far.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    s.business_day = zone.business_day(far.now()).to_string();
    assert_eq!(s.business_day, "2026-03-01");
    let op = far.op(OpBody::SaleRecorded(s));
    server.push_applied(&far.key, &[op]).await;

    let b = server.signed_in("owner", Role::Owner).await;
    let page = b.get("/").await;
    let row = page.part(&format!("figures-{}", far.branch_id), "</tr>");
    has_all(row, &["2026-03-01 · Pacific/Pago_Pago"]);
    // Today, this week (Mon 23 Feb – Sun 1 Mar) and this month all hold it.
    assert_eq!(
        row.matches("<strong>KES 80.00</strong>").count(),
        3,
        "{row}"
    );
    let chart = page.part("sales-chart", "</svg>");
    assert!(
        chart.contains("<title>2026-03-01: KES 80.00 (1 sale)</title>"),
        "{chart}"
    );
    let days: Vec<&str> = chart
        .split("data-day=\"")
        .skip(1)
        .map(|r| &r[..10])
        .collect();
    assert_eq!((days[0], days[29]), ("2026-01-31", "2026-03-01"));
    server.stop().await;
}

#[tokio::test]
async fn a_new_business_is_told_how_to_connect_a_till() {
    let server = start().await;
    let b = server.signed_in("owner", Role::Owner).await;
    let page = b.get("/").await;
    page.assert_ok(&["No sales yet", "Connected devices", "href=\"/devices\""]);
    has_all(page.part("no-sales", "</section>"), &["Add a device"]);
    assert!(!page.body.contains("data-testid=\"sales-chart\""));
    has_all(
        page.part("low-stock", "</div>"),
        &["No product is at or below its low-stock level."],
    );

    // A till connected but quiet: the advice changes.
    let _ = ready_till(&server, "Main", "Till 1").await;
    let page = b.get("/").await;
    has_all(
        page.part("no-sales", "</section>"),
        &["Your tills are connected but have not sent a sale yet"],
    );

    // Signed out: to the sign-in page.
    let page = server.browser().get("/").await;
    page.assert_redirect("/login");
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    server.stop().await;
}

#[tokio::test]
async fn transfers_in_transit_are_pointed_out_until_received() {
    let server = start().await;
    let shop = shop(&server).await;
    let karen = server.till("Karen", "Till 1");
    let b = server.signed_in("owner", Role::Owner).await;
    assert!(!b.get("/").await.body.contains("data-testid=\"in-transit\""));
    let (main, town) = (
        shop.main.branch_id.to_string(),
        shop.town.branch_id.to_string(),
    );
    let sent = b
        .post(
            "/transfers",
            &[
                ("from_branch_id", &main),
                ("to_branch_id", &town),
                ("product_1", &shop.mango.to_string()),
                ("quantity_1", "2"),
            ],
        )
        .await;
    sent.assert_redirect("/transfers/*");
    let transfer = sent.location.clone().unwrap();

    for (branch, shown) in [
        ("", true),
        (town.as_str(), true),
        (&karen.branch_id.to_string(), false),
    ] {
        let page = b.get(&format!("/?branch={branch}")).await;
        assert_eq!(
            page.body.contains("data-testid=\"in-transit\""),
            shown,
            "branch {branch:?}"
        );
        if shown {
            has_all(
                page.part("in-transit", "</p>"),
                &["1 stock transfer is in transit", "/transfers?state=sent"],
            );
        }
    }
    // Mango at Main: 4 − 2 sent = 2, the goods left at once.
    let low = b.get(&format!("/?branch={main}")).await;
    has_all(
        low.part("low-stock", "</table>"),
        &["Mango, ripe", "<td class=\"num\">2</td>"],
    );

    b.post(&format!("{transfer}/receive"), &[("received_1", "2")])
        .await
        .assert_redirect(&transfer);
    assert!(!b.get("/").await.body.contains("data-testid=\"in-transit\""));
    server.stop().await;
}
