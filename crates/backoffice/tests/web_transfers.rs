//! Stock transfers in the dashboard over real HTTP: a transfer sent from
//! the browser is the sending branch's `transfer_sent` (its stock leaves at
//! once, and only its till pulls the movement), received here as the
//! receiving branch (the counted quantity arrives, a short count is
//! flagged); a transfer a till sent is listed like any other; bad forms and
//! forged posts change nothing.

mod common;

use backoffice::web::session::Role;
use backoffice::web::transfers::{FLASH_LINES, LIST_LIMIT};
use common::web::{Browser, Page, testid_row};
use common::*;
use pos_domain::{
    Barcode, MovementId, MovementKind, ProductId, Quantity, Sku, TransferId, TransferReceiptId,
};
use record_sql::transfers::{self, TransferState};
use reqwest::StatusCode;
use rusqlite::params;
use sync_protocol::{
    ChangeBody, OpBody, ProductPatch, StockMovementRecord, TransferLine, TransferSentRecord,
};
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

/// Sends `quantity` of `product` (its SKU, barcode or name, as typed) from
/// `from` to `to` with the send form.
async fn send(b: &Browser, from: &Till, to: &Till, product: &str, quantity: &str) -> Page {
    let (f, t) = (from.branch_id.to_string(), to.branch_id.to_string());
    b.post(
        "/transfers",
        &[
            ("from_branch_id", &f),
            ("to_branch_id", &t),
            ("rows", "5"),
            ("product_1", product),
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
    let res = send(&b, &west, &kili, "soda 500ML", "10").await;
    let id = id_in(&res);
    let page = b.get(&format!("/transfers/{id}")).await;
    page.assert_ok(&[
        "Sent 10 × Soda 500ml from Westlands to Kilimani.",
        "Soda 500ml at Westlands is now below zero (-10)",
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
    let (server, west, kili, _soda, b) = two_branches().await;
    let (a, k, p) = (
        west.branch_id.to_string(),
        kili.branch_id.to_string(),
        "Soda 500ml".to_string(),
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
                vec![("product_2", "xyz".into()), ("quantity_2", "1".into())],
            ),
            "line 2: no product with SKU, barcode or name 'xyz'",
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
        r#"name="product_1" value="Soda 500ml""#,
        r#"name="product_6""#,
        r#"name="rows" value="6""#,
    ]);
    assert!(!more.body.contains(r#"name="quantity_7""#));
    server.assert_unchanged(&before);

    // A receipt with a bad count changes nothing and keeps what was typed.
    let id = id_in(&send(&b, &west, &kili, "Soda 500ml", "3").await);
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

/// A product named `name` with these codes, created at `till`.
async fn coded(
    server: &TestServer,
    till: &mut Till,
    name: &str,
    sku: Option<&str>,
    barcode: Option<&str>,
) -> ProductId {
    let id = ProductId::new();
    let OpBody::ProductChanged(p) = new_product(id, name, 50_00) else {
        unreachable!()
    };
    let op = till.op(OpBody::ProductChanged(ProductPatch {
        sku: Some(sku.map(|s| Sku::parse(s).unwrap())),
        barcode: Some(barcode.map(|b| Barcode::parse(b).unwrap())),
        ..p
    }));
    server.push_applied(&till.key, &[op]).await;
    id
}

/// The send form's fields: Westlands to Kilimani, these lines.
fn lines_form(west: &Till, kili: &Till, lines: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut f = vec![
        ("from_branch_id".to_string(), west.branch_id.to_string()),
        ("to_branch_id".to_string(), kili.branch_id.to_string()),
        ("rows".to_string(), lines.len().max(1).to_string()),
    ];
    for (i, (product, quantity)) in lines.iter().enumerate() {
        f.push((format!("product_{}", i + 1), product.to_string()));
        f.push((format!("quantity_{}", i + 1), quantity.to_string()));
    }
    f
}

async fn post_lines(b: &Browser, west: &Till, kili: &Till, lines: &[(&str, &str)]) -> Page {
    let f = lines_form(west, kili, lines);
    let fields: Vec<(&str, &str)> = f.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    b.post("/transfers", &fields).await
}

#[tokio::test]
async fn a_line_names_its_product_by_sku_barcode_or_exact_name_from_one_shared_list() {
    let (server, mut west, kili, soda, b) = two_branches().await;
    let milk = coded(
        &server,
        &mut west,
        "Milk 1L",
        Some("MILK-1L"),
        Some("5000112637922"),
    )
    .await;
    let bread = coded(&server, &mut west, "Bread", None, Some("6001234567890")).await;
    coded(&server, &mut west, "Sugar 1kg", None, None).await;
    coded(&server, &mut west, "Sugar 1kg", None, None).await;
    coded(&server, &mut west, "Tea", Some("TEA"), None).await;
    coded(&server, &mut west, "Coffee", None, Some("TEA")).await;

    // One list of the products, however many rows: no <select> per row.
    let form = b.get("/transfers/new").await;
    form.assert_ok(&[
        r#"<datalist id="transfer-products""#,
        r#"<option value="MILK-1L">Milk 1L · SKU MILK-1L · barcode 5000112637922</option>"#,
        r#"<option value="Bread">Bread · barcode 6001234567890</option>"#,
        r#"<option value="Soda 500ml">Soda 500ml</option>"#,
        r#"list="transfer-products" name="product_5""#,
    ]);
    assert_eq!(form.body.matches("<datalist").count(), 1);
    assert_eq!(form.body.matches(r#"value="MILK-1L""#).count(), 1);
    assert!(!form.body.contains(r#"<select name="product_"#));

    // A SKU in any case, a barcode, an exact name in any case.
    let sent = post_lines(
        &b,
        &west,
        &kili,
        &[
            ("milk-1l", "2"),
            ("6001234567890", "3"),
            (" SODA 500ML ", "1"),
        ],
    )
    .await;
    let id = id_in(&sent);
    let t = transfers::transfer(&server.admin(), id).unwrap().unwrap();
    let got: Vec<(ProductId, i64)> = t
        .lines
        .iter()
        .map(|l| (l.product_id, l.sent.milli()))
        .collect();
    assert_eq!(got, vec![(milk, 2_000), (bread, 3_000), (soda, 1_000)]);
    // The notice lists the lines, and what went below zero at Westlands.
    b.get(&format!("/transfers/{id}")).await.assert_ok(&[
        "Sent 2 × Milk 1L, 3 × Bread, 1 × Soda 500ml from Westlands to Kilimani.",
        "Milk 1L at Westlands is now below zero (-2): more left than was recorded",
        "Bread at Westlands is now below zero (-3)",
        "Soda 500ml at Westlands is now below zero (-1)",
    ]);
    let after_send = server.snapshot();

    // Unknown or ambiguous: refused naming the line, typed values kept.
    for (lines, refusal, kept) in [
        (
            vec![("Milk 1L", "1"), ("xyz", "1")],
            "line 2: no product with SKU, barcode or name 'xyz'",
            "xyz",
        ),
        (
            vec![("5000000000000", "1")],
            "line 1: no product with SKU, barcode or name '5000000000000'",
            "5000000000000",
        ),
        (
            vec![("Bread", "1"), ("sugar 1KG", "4")],
            "line 2: 'sugar 1KG' is the name of 2 products (Sugar 1kg, Sugar 1kg); type the product's SKU or barcode instead, or send it from its product page",
            "sugar 1KG",
        ),
        (
            vec![("TEA", "1")],
            "line 1: 'TEA' is the SKU or barcode of 2 products (Coffee, Tea)",
            "TEA",
        ),
        (
            vec![("MILK-1L", "1"), ("5000112637922", "1")],
            "Milk 1L is on line 1 and on line 2",
            "5000112637922",
        ),
    ] {
        post_lines(&b, &west, &kili, &lines)
            .await
            .assert_bad_keeping(refusal, Some(kept));
    }
    server.assert_unchanged(&after_send);
}

#[tokio::test]
async fn a_large_send_is_summarised_in_its_notice() {
    let (server, mut west, kili, _soda, b) = two_branches().await;
    let count = FLASH_LINES + 2;
    let mut skus = Vec::new();
    for i in 1..=count {
        let sku = format!("BOX-{i}");
        coded(&server, &mut west, &format!("Box {i}"), Some(&sku), None).await;
        skus.push(sku);
    }
    let lines: Vec<(&str, &str)> = skus.iter().map(|s| (s.as_str(), "1")).collect();
    let id = id_in(&post_lines(&b, &west, &kili, &lines).await);
    let page = b.get(&format!("/transfers/{id}")).await;
    page.assert_ok(&[
        &format!("Sent {count} lines from Westlands to Kilimani."),
        &format!("{count} products at Westlands are now below zero"),
    ]);
    let flash = page.part("flash", "</div>");
    assert!(!flash.contains("× Box"), "{flash}");
    assert_eq!(
        transfers::transfer(&server.admin(), id)
            .unwrap()
            .unwrap()
            .lines
            .len(),
        count
    );
}

#[tokio::test]
async fn an_old_transfer_in_transit_is_listed_however_many_came_after_it() {
    let (server, west, kili, _soda, b) = two_branches().await;
    let old = id_in(&send(&b, &west, &kili, "Soda 500ml", "1").await);
    let sent_at = transfers::transfer(&server.admin(), old)
        .unwrap()
        .unwrap()
        .sent_at
        .as_millis();
    // LIST_LIMIT newer transfers, all received, straight into the tables.
    let mut db = server.admin();
    let tx = db.transaction().unwrap();
    for i in 1..=i64::from(LIST_LIMIT) {
        let (t, r) = (
            TransferId::new().to_string(),
            TransferReceiptId::new().to_string(),
        );
        tx.execute(
            "INSERT INTO transfers (id, from_branch_id, to_branch_id, device_id, sent_by, sent_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                t,
                west.branch_id.to_string(),
                kili.branch_id.to_string(),
                west.device_id.to_string(),
                west.cashier.to_string(),
                sent_at + i
            ],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO transfer_receipts (id, transfer_id, branch_id, device_id, received_by, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                r,
                t,
                kili.branch_id.to_string(),
                kili.device_id.to_string(),
                kili.cashier.to_string(),
                sent_at + i + 1
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(db);

    let row = format!("transfer-{old}");
    // Unfiltered, the newest LIST_LIMIT: the old one is past the limit.
    let all = b.get("/transfers").await;
    all.assert_ok(&[r#"data-testid="transfers-more""#]);
    assert!(testid_row(&all.body, &row).is_none());
    // In transit: the filter is applied before the limit.
    for query in [
        "state=sent".to_string(),
        format!("state=sent&branch={}", kili.branch_id),
        format!("state=sent&branch={}", west.branch_id),
    ] {
        let list = b.get(&format!("/transfers?{query}")).await;
        let listed = testid_row(&list.body, &row).unwrap_or_else(|| panic!("{query}"));
        assert!(listed.contains(r#"data-state="sent""#), "{listed}");
        assert_eq!(
            list.body.matches(r#"<tr data-testid="transfer-"#).count(),
            1,
            "{query}"
        );
        assert!(!list.body.contains("transfers-more"), "{query}");
    }
    let received = b.get("/transfers?state=received").await;
    assert!(testid_row(&received.body, &row).is_none());
    assert!(received.body.contains("transfers-more"));
}
