//! Stock transfers in the dashboard over real HTTP: a transfer sent from
//! the browser is the sending branch's `transfer_sent` (its stock leaves at
//! once, and only its till pulls the movement), received here as the
//! receiving branch (the counted quantity arrives, a short count is
//! flagged); a transfer a till sent is listed like any other; bad forms and
//! forged posts change nothing.

mod common;

use backoffice::web::session::Role;
use common::web::{Browser, Page, testid_row};
use common::*;
use pos_domain::{MovementId, MovementKind, ProductId, Quantity, TransferId};
use record_sql::transfers::{self, TransferState};
use reqwest::StatusCode;
use sync_protocol::{ChangeBody, OpBody, StockMovementRecord, TransferLine, TransferSentRecord};
use uuid::Uuid;

/// Two branches with a till each (Westlands has Soda 500ml) and a manager.
async fn two_branches() -> (TestServer, Till, Till, ProductId, Browser) {
    let server = common::start().await;
    let (west, soda) = ready_till(&server, "Westlands", "T1").await;
    let mut kili = server.till("Kilimani", "T1");
    let op = kili.cashier_op();
    server.push_applied(&kili.key, &[op]).await;
    let b = server.signed_in("wanjiku", Role::Manager).await;
    (server, west, kili, soda, b)
}

/// The id in a `/transfers/{id}` redirect.
fn id_in(page: &Page) -> TransferId {
    page.assert_redirect("/transfers/*");
    let loc = page.location.as_deref().unwrap();
    loc.trim_start_matches("/transfers/").parse().unwrap()
}

/// Sends `quantity` of `product` from `from` to `to` with the send form.
async fn send(b: &Browser, from: &Till, to: &Till, product: ProductId, quantity: &str) -> Page {
    let (f, t, p) = (
        from.branch_id.to_string(),
        to.branch_id.to_string(),
        product.to_string(),
    );
    b.post(
        "/transfers",
        &[
            ("from_branch_id", &f),
            ("to_branch_id", &t),
            ("rows", "5"),
            ("product_1", &p),
            ("quantity_1", quantity),
            ("note", "van 2"),
        ],
    )
    .await
}

fn level(server: &TestServer, product: ProductId, till: &Till) -> i64 {
    server.admin()
        .query_row(
            "SELECT COALESCE((SELECT quantity_milli FROM stock_levels WHERE product_id = ?1 AND branch_id = ?2), 0)",
            [product.to_string(), till.branch_id.to_string()],
            |r| r.get(0),
        )
        .unwrap()
}

fn state(server: &TestServer, id: TransferId) -> TransferState {
    transfers::transfer(&server.admin(), id)
        .unwrap()
        .unwrap()
        .state()
}

/// What `till` pulls about transfers: (sent or received, its movements as
/// kind and quantity).
async fn pulled(server: &TestServer, till: &Till) -> Vec<(&'static str, Vec<(MovementKind, i64)>)> {
    let moves = |m: &[StockMovementRecord]| {
        m.iter()
            .map(|m| {
                assert_eq!(m.device_id.as_uuid(), Uuid::nil(), "the Back Office's");
                (m.kind, m.quantity.milli())
            })
            .collect()
    };
    server
        .feed(&till.key)
        .await
        .into_iter()
        .filter_map(|c| match c {
            ChangeBody::TransferSent(t) => Some(("sent", moves(&t.movements))),
            ChangeBody::TransferReceived(r) => Some(("received", moves(&r.movements))),
            ChangeBody::StockMoved(m) => panic!("a stock movement outside a transfer: {m:?}"),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn sent_here_reaches_both_branches_and_nine_of_ten_received_is_a_discrepancy() {
    let (server, west, kili, soda, b) = two_branches().await;

    b.get("/transfers/new").await.assert_ok(&[
        "Send a transfer",
        "Soda 500ml",
        "Westlands",
        "Kilimani",
    ]);
    let res = send(&b, &west, &kili, soda, "10").await;
    let id = id_in(&res);
    let page = b.get(&format!("/transfers/{id}")).await;
    page.assert_ok(&[
        "Sent 10 × Soda 500ml from Westlands to Kilimani.",
        "Westlands → Kilimani",
        r#"data-state="sent""#,
        "wanjiku (Back Office)",
        "van 2",
        "If a quantity differs from what was sent",
        r#"name="received_1" value="10""#,
    ]);

    // The stock left Westlands at once; only Westlands pulls the movement.
    assert_eq!(level(&server, soda, &west), -10_000);
    assert_eq!(level(&server, soda, &kili), 0);
    assert_eq!(state(&server, id), TransferState::Sent);
    assert_eq!(
        pulled(&server, &west).await,
        vec![("sent", vec![(MovementKind::TransferOut, -10_000)])]
    );
    assert_eq!(pulled(&server, &kili).await, vec![("sent", vec![])]);
    let op_branch: String = server
        .admin()
        .query_row(
            "SELECT detail FROM web_audit WHERE action = 'transfer.send'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(op_branch, "1 line from Westlands to Kilimani");

    // In the list, in transit; the state filter finds it or not.
    let row = format!("transfer-{id}");
    let list = b.get("/transfers").await;
    list.assert_ok(&["Stock transfers"]);
    let listed = testid_row(&list.body, &row).unwrap();
    assert!(
        listed.contains("10 × Soda 500ml") && listed.contains(r#"data-state="sent""#),
        "{listed}"
    );
    let list = b.get("/transfers?state=sent").await;
    assert!(testid_row(&list.body, &row).is_some());
    let list = b.get("/transfers?state=received").await;
    assert!(testid_row(&list.body, &row).is_none(), "{}", list.body);

    // Kilimani counts 9.
    b.post(
        &format!("/transfers/{id}/receive"),
        &[("received_1", "9"), ("note", "one crushed")],
    )
    .await
    .assert_redirect(&format!("/transfers/{id}"));
    assert_eq!(state(&server, id), TransferState::ReceivedWithDiscrepancy);
    assert_eq!(level(&server, soda, &west), -10_000);
    assert_eq!(level(&server, soda, &kili), 9_000);
    let page = b.get(&format!("/transfers/{id}")).await;
    page.assert_ok(&[
        "Received at Kilimani with a discrepancy: 1 line not as sent.",
        r#"data-state="received_with_discrepancy""#,
        "Received otherwise than sent",
        "one crushed",
    ]);
    assert!(page.part("diff-1", "</td>").contains("-1"));
    assert!(!page.body.contains("transfer-receive-form"));

    // Kilimani pulls the receipt with its movement; Westlands without.
    assert_eq!(
        pulled(&server, &kili).await,
        vec![
            ("sent", vec![]),
            ("received", vec![(MovementKind::TransferIn, 9_000)])
        ]
    );
    assert_eq!(
        pulled(&server, &west).await,
        vec![
            ("sent", vec![(MovementKind::TransferOut, -10_000)]),
            ("received", vec![])
        ]
    );

    // The products page shows each branch's stock.
    let products = b.get("/products").await;
    let cell = |t: &Till| {
        products
            .part(&format!("stock-{soda}-{}", t.branch_id), "</td>")
            .to_string()
    };
    assert!(cell(&west).contains(">-10<"), "{}", cell(&west));
    assert!(cell(&kili).contains(">9<"), "{}", cell(&kili));
    let list = b.get("/transfers?state=received_with_discrepancy").await;
    assert!(
        testid_row(&list.body, &row)
            .unwrap()
            .contains("Received with discrepancy")
    );

    // Received once: a second receipt is refused and changes nothing.
    let before = server.snapshot();
    b.post(&format!("/transfers/{id}/receive"), &[("received_1", "10")])
        .await
        .assert_bad("this transfer was received already");
    server.assert_unchanged(&before);
    assert_eq!(server.count("SELECT COUNT(*) FROM transfer_receipts"), 1);
}

#[tokio::test]
async fn a_transfer_a_till_sent_is_listed_and_received_here_in_full() {
    let (server, mut west, kili, soda, b) = two_branches().await;
    let karen = server.till("Karen", "T1");
    let sent = TransferSentRecord {
        id: TransferId::new(),
        from_branch: west.branch_id,
        to_branch: kili.branch_id,
        device_id: west.device_id,
        lines: vec![TransferLine {
            product_id: soda,
            quantity: Quantity::units(4),
        }],
        note: None,
        sent_by: west.cashier,
        sent_at: west.now(),
        movements: vec![StockMovementRecord {
            id: MovementId::new(),
            product_id: soda,
            branch_id: west.branch_id,
            device_id: west.device_id,
            kind: MovementKind::TransferOut,
            quantity: Quantity::units(-4),
            sale_id: None,
            user_id: Some(west.cashier),
            note: None,
            created_at: west.now(),
        }],
    };
    let op = west.op(OpBody::TransferSent(sent.clone()));
    server.push_applied(&west.key, &[op]).await;

    let row = format!("transfer-{}", sent.id);
    let list = b.get("/transfers").await;
    let shown = testid_row(&list.body, &row).expect("the till's transfer is listed");
    for text in [
        "Westlands → Kilimani",
        "4 × Soda 500ml",
        "Wanjiku at T1 (T1)",
        r#"data-state="sent""#,
    ] {
        assert!(shown.contains(text), "{text}: {shown}");
    }
    for (branch, listed) in [(&kili, true), (&west, true), (&karen, false)] {
        let list = b
            .get(&format!("/transfers?branch={}", branch.branch_id))
            .await;
        assert_eq!(
            testid_row(&list.body, &row).is_some(),
            listed,
            "{}",
            branch.branch_code
        );
    }

    b.post(
        &format!("/transfers/{}/receive", sent.id),
        &[("received_1", "4")],
    )
    .await
    .assert_redirect(&format!("/transfers/{}", sent.id));
    assert_eq!(state(&server, sent.id), TransferState::Received);
    assert_eq!(level(&server, soda, &kili), 4_000);
    b.get(&format!("/transfers/{}", sent.id)).await.assert_ok(&[
        "Received at Kilimani: every line as sent.",
        r#"data-state="received""#,
        "wanjiku (Back Office)",
    ]);
}

#[tokio::test]
async fn bad_forms_and_forged_posts_change_nothing() {
    let (server, west, kili, soda, b) = two_branches().await;
    let (a, k, p) = (
        west.branch_id.to_string(),
        kili.branch_id.to_string(),
        soda.to_string(),
    );
    let before = server.snapshot();
    let form = |from: &'static str, lines: Vec<(&'static str, String)>| {
        let mut f: Vec<(String, String)> = vec![
            (
                "from_branch_id".into(),
                if from == "k" { k.clone() } else { a.clone() },
            ),
            ("to_branch_id".into(), k.clone()),
            ("rows".into(), "3".into()),
            ("note".into(), "kept note".into()),
        ];
        f.extend(lines.into_iter().map(|(n, v)| (n.to_string(), v)));
        f
    };
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (
            form(
                "k",
                vec![("product_1", p.clone()), ("quantity_1", "1".into())],
            ),
            "another branch than the one it leaves",
        ),
        (form("a", vec![]), "the transfer has no lines"),
        (
            form(
                "a",
                vec![("product_1", p.clone()), ("quantity_1", "0".into())],
            ),
            "the quantity of line 1 (Soda 500ml) must be more than zero",
        ),
        (
            form(
                "a",
                vec![("product_1", p.clone()), ("quantity_1", "abc".into())],
            ),
            "the quantity of line 1 'abc' is not a quantity",
        ),
        (
            form(
                "a",
                vec![
                    ("product_2", ProductId::new().to_string()),
                    ("quantity_2", "1".into()),
                ],
            ),
            "the product of line 2 is not one of the business's products",
        ),
        (
            form("a", vec![("quantity_3", "2".into())]),
            "line 3 has a quantity but no product",
        ),
        (
            form(
                "a",
                vec![
                    ("product_1", p.clone()),
                    ("quantity_1", "1".into()),
                    ("product_2", p.clone()),
                    ("quantity_2", "2".into()),
                ],
            ),
            "Soda 500ml is on line 1 and on line 2",
        ),
    ];
    for (fields, refusal) in &cases {
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        b.post("/transfers", &fields)
            .await
            .assert_bad_keeping(refusal, Some("kept note"));
    }
    let wrong_to = [
        ("from_branch_id", a.as_str()),
        ("to_branch_id", "nowhere"),
        ("product_1", p.as_str()),
        ("quantity_1", "1"),
    ];
    b.post("/transfers", &wrong_to)
        .await
        .assert_bad("the branch to send to is not one of the business's branches");
    server.assert_unchanged(&before);

    // "Add a line" shows one more row and keeps what was typed.
    let more = b
        .post(
            "/transfers",
            &[
                ("rows", "5"),
                ("product_1", &p),
                ("quantity_1", "7"),
                ("add_line", "1"),
            ],
        )
        .await;
    more.assert_ok(&[
        r#"name="quantity_6""#,
        r#"name="quantity_1" value="7""#,
        r#"name="rows" value="6""#,
    ]);
    assert!(!more.body.contains(r#"name="quantity_7""#));
    server.assert_unchanged(&before);

    // A receipt with a bad count changes nothing and keeps what was typed.
    let id = id_in(&send(&b, &west, &kili, soda, "3").await);
    let before = server.snapshot();
    let receive = format!("/transfers/{id}/receive");
    b.post(&receive, &[("received_1", "-1")])
        .await
        .assert_bad_keeping("is below zero", Some("-1"));
    b.post(&receive, &[("received_1", "lots")])
        .await
        .assert_bad("the quantity received of Soda 500ml (line 1) 'lots' is not a quantity");
    b.post(&receive, &[("received_1", " ")])
        .await
        .assert_bad("is empty");

    // Forged: no token, a wrong token, another site's page.
    for path in ["/transfers", receive.as_str()] {
        let fields = [
            ("from_branch_id", a.as_str()),
            ("to_branch_id", k.as_str()),
            ("product_1", p.as_str()),
            ("quantity_1", "1"),
            ("received_1", "3"),
        ];
        b.post_raw(path, &fields)
            .await
            .assert_status(StatusCode::FORBIDDEN);
        let mut forged = vec![("_csrf", "forged")];
        forged.extend(fields);
        b.post_raw(path, &forged)
            .await
            .assert_status(StatusCode::FORBIDDEN);
        let mut with_token = vec![("_csrf", b.csrf.as_str())];
        with_token.extend(fields);
        let res = b
            .client
            .post(b.url(path))
            .header("origin", "https://evil.example")
            .form(&with_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // Signed out: the sign-in page, nothing changed.
    let stranger = server.browser();
    stranger
        .post_raw(&receive, &[("received_1", "3")])
        .await
        .assert_redirect("/login*");
    stranger
        .get("/transfers")
        .await
        .assert_redirect("/login?next=%2Ftransfers");
    // Unknown transfers and filters.
    b.get(&format!("/transfers/{}", TransferId::new()))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    b.get("/transfers/not-an-id")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    b.get("/transfers?state=lost")
        .await
        .assert_bad("the state 'lost' is not one of");
    b.get("/transfers?branch=nowhere")
        .await
        .assert_bad("the branch 'nowhere'");
    server.assert_unchanged(&before);
    assert_eq!(state(&server, id), TransferState::Sent);
}
