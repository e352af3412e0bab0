//! The dashboard's products, stock and categories over real HTTP: forms in,
//! sync ops out, and what the tills then pull.

mod common;

use std::collections::BTreeMap;

use backoffice::web::session::Role;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::web::{Browser, Page};
use common::{T0, TestServer, kes, name};
use pos_domain::{CategoryId, Hlc, MovementKind, ProductId, Quantity, Timestamp};
use reqwest::StatusCode;
use sync_protocol::{ChangeBody, OpBody, OpOutcome, ProductPatch, ProductState};
use uuid::Uuid;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The id in a `/products/{id}` redirect.
fn id_in(page: &Page) -> ProductId {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let loc = page.location.as_deref().unwrap();
    loc.strip_prefix("/products/")
        .unwrap_or_else(|| panic!("redirect to {loc}"))
        .parse()
        .unwrap()
}

fn refs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Makes a product with the form; `extra` adds or overrides fields.
async fn make_product(
    b: &Browser,
    product: &str,
    price: &str,
    extra: &[(&str, &str)],
) -> ProductId {
    let mut fields: Vec<(&str, &str)> = vec![
        ("name", product),
        ("price", price),
        ("sku", ""),
        ("barcode", ""),
        ("category_id", ""),
        ("tax_code", "VAT16"),
        ("track_stock", "1"),
        ("low_stock", ""),
    ];
    for (k, v) in extra {
        fields.retain(|(f, _)| f != k);
        fields.push((k, v));
    }
    let page = b.post_multipart("/products/new", &fields, None).await;
    id_in(&page)
}

/// What a browser posts when the product page's form is sent after
/// changing `changes`: the form starts out holding the values the page
/// showed (its hidden `was_*` fields). `track_stock` "" unticks the box.
fn edited(page: &Page, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in [
        "name",
        "price",
        "sku",
        "barcode",
        "category_id",
        "tax_code",
        "track_stock",
        "low_stock",
    ] {
        let was = page
            .field(&format!("was_{f}"))
            .unwrap_or_else(|| panic!("the form lacks was_{f}:\n{}", page.body));
        out.push((format!("was_{f}"), was.clone()));
        let typed = changes
            .iter()
            .find(|(k, _)| *k == f)
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| {
                if f == "track_stock" {
                    if was == "1" {
                        "1".into()
                    } else {
                        String::new()
                    }
                } else {
                    was
                }
            });
        if f == "track_stock" && typed.is_empty() {
            continue;
        }
        out.push((f.to_string(), typed));
    }
    for (k, v) in changes {
        if !out.iter().any(|(f, _)| f == k) && *k != "track_stock" {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

async fn edit(b: &Browser, id: ProductId, changes: &[(&str, &str)]) -> Page {
    let page = b.get(&format!("/products/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let fields = edited(&page, changes);
    b.post_multipart(&format!("/products/{id}"), &refs(&fields), None)
        .await
}

fn product_row(
    server: &TestServer,
    id: ProductId,
) -> (String, i64, Option<String>, Option<String>, Option<String>) {
    server
        .admin()
        .query_row(
            "SELECT name, price_minor, sku, barcode, image FROM products WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap()
}

fn field_clocks(server: &TestServer, table: &str, id: &str) -> BTreeMap<String, Hlc> {
    let json: String = server
        .admin()
        .query_row(
            &format!("SELECT field_hlc FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

fn level(server: &TestServer, product: ProductId, branch: &str) -> i64 {
    server
        .admin()
        .query_row(
            "SELECT COALESCE((SELECT quantity_milli FROM stock_levels WHERE product_id = ?1 AND branch_id = ?2), 0)",
            [product.to_string(), branch.to_string()],
            |r| r.get(0),
        )
        .unwrap()
}

/// The product states a till pulls for `id`, oldest first.
async fn pulled_products(server: &TestServer, key: &str, id: ProductId) -> Vec<ProductState> {
    let page = server.pull_ok(key, "?limit=1000").await;
    assert!(!page.has_more);
    page.changes
        .into_iter()
        .filter_map(|c| match c.body {
            ChangeBody::Product(p) if p.id == id => Some(p),
            _ => None,
        })
        .collect()
}

/// The stock movements a till pulls for `id`: kind, quantity, device, note.
async fn pulled_moves(
    server: &TestServer,
    key: &str,
    id: ProductId,
) -> Vec<(MovementKind, i64, Uuid, Option<String>)> {
    let page = server.pull_ok(key, "?limit=1000").await;
    assert!(!page.has_more);
    page.changes
        .into_iter()
        .flat_map(|c| match c.body {
            ChangeBody::StockMoved(m) => vec![m],
            ChangeBody::TransferSent(t) => t.movements,
            ChangeBody::TransferReceived(r) => r.movements,
            _ => vec![],
        })
        .filter(|m| m.product_id == id)
        .map(|m| {
            assert_eq!(m.user_id, None);
            (m.kind, m.quantity.milli(), m.device_id.as_uuid(), m.note)
        })
        .collect()
}

#[tokio::test]
async fn a_product_made_in_the_form_reaches_the_till_and_so_does_its_new_price() {
    let server = common::start().await;
    let till = server.till("Westlands", "T1");
    let b = server.signed_in("wanjiku", Role::Owner).await;

    let form = b.get("/products/new").await;
    form.assert_ok(&[
        r#"enctype="multipart/form-data""#,
        r#"data-testid="product-save""#,
        r#"<option value="VAT16" selected>"#,
    ]);
    let page = b
        .post_multipart(
            "/products/new",
            &[
                ("name", "  Soda 500ml "),
                ("price", "80"),
                ("sku", "soda-500"),
                ("barcode", "5000112637922"),
                ("category_id", ""),
                ("tax_code", "VAT16"),
                ("track_stock", "1"),
                ("low_stock", "6"),
            ],
            None,
        )
        .await;
    let id = id_in(&page);
    b.get(&format!("/products/{id}"))
        .await
        .assert_ok(&["Added Soda 500ml: price KES 80.00", r#"value="SODA-500""#]);
    assert_eq!(
        product_row(&server, id),
        (
            "Soda 500ml".into(),
            80_00,
            Some("SODA-500".into()),
            Some("5000112637922".into()),
            None
        )
    );
    let (track, low): (i64, Option<i64>) = server
        .admin()
        .query_row(
            "SELECT track_stock, low_stock_milli FROM products WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((track, low), (1, Some(6_000)));
    // The list links the product by its name.
    b.get("/products").await.assert_ok(&[
        &format!(r#"<a href="/products/{id}">Soda 500ml</a>"#),
        "80.00",
        "SODA-500",
    ]);

    // The price changes, and nothing else does.
    server.clock.advance_millis(60_000);
    let res = edit(&b, id, &[("price", "1,250.50")]).await;
    res.assert_redirect(&format!("/products/{id}"));
    b.get(&format!("/products/{id}"))
        .await
        .assert_ok(&["Saved Soda 500ml (price): price KES 1,250.50"]);
    assert_eq!(product_row(&server, id).1, 1_250_50);
    let audit = server.count("SELECT COUNT(*) FROM web_audit WHERE action = 'product.edit'");
    assert_eq!(audit, 1);

    let states = pulled_products(&server, &till.key, id).await;
    assert_eq!(states.len(), 2, "{states:?}");
    let last = states.last().unwrap();
    assert_eq!(last.price, kes(1_250_50));
    assert_eq!(last.name, name("Soda 500ml"));
    assert_eq!(last.sku.as_ref().map(|s| s.as_str()), Some("SODA-500"));
    assert_eq!(last.low_stock, Some(Quantity::units(6)));
    assert_eq!(last.deleted_at, None);

    // Sending the form unchanged changes nothing.
    let before = server.snapshot();
    edit(&b, id, &[])
        .await
        .assert_redirect(&format!("/products/{id}"));
    assert_eq!(server.snapshot(), before);
    b.get(&format!("/products/{id}"))
        .await
        .assert_ok(&["Nothing to save"]);
}

#[tokio::test]
async fn a_price_edit_leaves_a_tills_concurrent_name_change_alone() {
    let server = common::start().await;
    let mut till = server.till("Westlands", "T1");
    let b = server.signed_in("wanjiku", Role::Manager).await;
    let id = make_product(&b, "Soda 500ml", "80", &[("sku", "SODA-500")]).await;
    let created = field_clocks(&server, "products", &id.to_string());

    // The manager opens the product; meanwhile a till renames it.
    let page = b.get(&format!("/products/{id}")).await;
    page.assert_ok(&[r#"name="was_name" value="Soda 500ml""#]);
    server.clock.advance_millis(5_000);
    let till_hlc = Hlc::new((T0 + 4_000) as u64, 0, Hlc::node_of(till.device_id));
    let op = till.op_at(
        OpBody::ProductChanged(ProductPatch {
            name: Some(name("Soda 500ml (glass)")),
            ..ProductPatch::new(id)
        }),
        till_hlc,
    );
    let res = server.push_ok(&till.key, &[op]).await;
    assert_eq!(res.results[0].outcome, OpOutcome::Applied, "{res:?}");

    // The manager saves a new price; the form still shows the old name.
    let fields = edited(&page, &[("price", "95")]);
    assert!(fields.contains(&("name".to_string(), "Soda 500ml".to_string())));
    b.post_multipart(&format!("/products/{id}"), &refs(&fields), None)
        .await
        .assert_redirect(&format!("/products/{id}"));

    let (n, price, sku, _, _) = product_row(&server, id);
    assert_eq!(
        (n.as_str(), price, sku.as_deref()),
        ("Soda 500ml (glass)", 95_00, Some("SODA-500"))
    );
    let clocks = field_clocks(&server, "products", &id.to_string());
    assert_eq!(clocks["name"], till_hlc);
    assert!(clocks["price"] > till_hlc, "{clocks:?}");
    for f in [
        "sku",
        "barcode",
        "category_id",
        "tax_code",
        "image",
        "track_stock",
        "low_stock",
    ] {
        assert_eq!(clocks[f], created[f], "{f} was written again");
    }
    // The till pulls both changes merged.
    let last = pulled_products(&server, &till.key, id).await.pop().unwrap();
    assert_eq!(
        (last.name.as_str(), last.price),
        ("Soda 500ml (glass)", kes(95_00))
    );
}

#[tokio::test]
async fn a_picture_is_kept_as_a_data_uri_and_bad_files_change_nothing() {
    let server = common::start().await;
    let b = server.signed_in("wanjiku", Role::Owner).await;
    let mut png = PNG.to_vec();
    png.extend_from_slice(&[7u8; 300]);
    let page = b
        .post_multipart(
            "/products/new",
            &[
                ("name", "Mandazi"),
                ("price", "20"),
                ("tax_code", "VAT16"),
                ("track_stock", "1"),
            ],
            Some(("image", "mandazi.png", "image/png", png.clone())),
        )
        .await;
    let id = id_in(&page);
    let uri = format!("data:image/png;base64,{}", STANDARD.encode(&png));
    assert_eq!(product_row(&server, id).4.as_deref(), Some(uri.as_str()));
    b.get(&format!("/products/{id}"))
        .await
        .assert_ok(&[r#"data-testid="product-image""#, &uri]);

    // Too large, even with a PNG's first bytes: refused, nothing changed.
    let before = server.snapshot();
    let mut big = PNG.to_vec();
    big.resize(300 * 1024, 0);
    let form = b.get(&format!("/products/{id}")).await;
    let fields = edited(&form, &[("name", "Mandazi (big)")]);
    let res = b
        .post_multipart(
            &format!("/products/{id}"),
            &refs(&fields),
            Some(("image", "big.png", "image/png", big)),
        )
        .await;
    res.assert_bad("the image is too large (300 KiB; at most 256 KiB)");
    assert!(
        res.body.contains(r#"value="Mandazi (big)""#),
        "{}",
        res.body
    );
    assert_eq!(server.snapshot(), before);

    // Not a picture, whatever the browser says it is.
    let res = b
        .post_multipart(
            &format!("/products/{id}"),
            &refs(&fields),
            Some((
                "image",
                "notes.png",
                "image/png",
                b"just some text".to_vec(),
            )),
        )
        .await;
    res.assert_bad("is not a PNG, JPEG or WebP picture");
    assert_eq!(server.snapshot(), before);
    let res = b
        .post_multipart(
            "/products/new",
            &[("name", "Chapati"), ("price", "30"), ("tax_code", "VAT16")],
            Some(("image", "chapati.txt", "text/plain", b"hello".to_vec())),
        )
        .await;
    res.assert_bad("image");
    assert!(res.body.contains(r#"value="Chapati""#), "{}", res.body);
    assert_eq!(server.snapshot(), before);

    // A JPEG replaces it; then the picture is removed.
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    let res = b
        .post_multipart(
            &format!("/products/{id}"),
            &refs(&edited(&form, &[])),
            Some(("image", "m.jpg", "image/jpeg", jpeg.clone())),
        )
        .await;
    res.assert_redirect(&format!("/products/{id}"));
    let jpeg_uri = format!("data:image/jpeg;base64,{}", STANDARD.encode(&jpeg));
    assert_eq!(
        product_row(&server, id).4.as_deref(),
        Some(jpeg_uri.as_str())
    );
    edit(&b, id, &[("remove_image", "1")])
        .await
        .assert_redirect(&format!("/products/{id}"));
    assert_eq!(product_row(&server, id).4, None);
    assert_eq!(product_row(&server, id).0, "Mandazi");
}

#[tokio::test]
async fn bad_values_are_refused_by_name_and_what_was_typed_is_kept() {
    let server = common::start().await;
    let b = server.signed_in("wanjiku", Role::Owner).await;
    let soda = make_product(
        &b,
        "Soda 500ml",
        "80",
        &[("barcode", "5000112637922"), ("sku", "SODA-500")],
    )
    .await;
    let before = server.snapshot();
    let unknown = CategoryId::new().to_string();
    let cases: &[(&str, &str, &str)] = &[
        ("price", "12.345", "the price '12.345' is not an amount"),
        ("price", "-5", "the price cannot be negative"),
        ("price", "abc", "the price 'abc' is not an amount"),
        ("price", "", "the price"),
        ("name", "   ", "the name cannot be empty"),
        (
            "low_stock",
            "lots",
            "the low-stock level 'lots' is not a quantity",
        ),
        ("low_stock", "-2", "the low-stock level cannot be negative"),
        ("category_id", &unknown, "the category"),
        ("category_id", "not-an-id", "the category"),
        ("tax_code", "NOPE", "the tax code NOPE"),
        ("sku", "has space", "SKU"),
        (
            "sku",
            "soda-500",
            "the SKU SODA-500 is already used by Soda 500ml",
        ),
        (
            "barcode",
            "5000112637922",
            "the barcode 5000112637922 is already used by Soda 500ml",
        ),
    ];
    for (field, value, says) in cases {
        let mut fields = vec![
            ("name", "Chai Masala"),
            ("price", "150"),
            ("sku", "CHAI-1"),
            ("barcode", ""),
            ("category_id", ""),
            ("tax_code", "VAT16"),
            ("track_stock", "1"),
            ("low_stock", "3"),
        ];
        fields.retain(|(f, _)| f != field);
        fields.push((field, value));
        let res = b.post_multipart("/products/new", &fields, None).await;
        res.assert_bad(says);
        for (f, v) in &fields {
            if *f != "category_id" && *f != "tax_code" && *f != "track_stock" {
                assert!(
                    res.body.contains(&format!(r#"name="{f}" value="{v}""#)),
                    "{f}={v} not kept:\n{}",
                    res.body
                );
            }
        }
        assert_eq!(
            server.snapshot(),
            before,
            "{field}={value} changed something"
        );
    }

    // On the product's own page too: the typed name stays in the form.
    let res = edit(&b, soda, &[("name", "Soda 1L"), ("price", "12.345")]).await;
    res.assert_bad("the price '12.345'");
    assert!(
        res.body.contains(r#"name="name" value="Soda 1L""#),
        "{}",
        res.body
    );
    assert!(
        res.body.contains(r#"name="price" value="12.345""#),
        "{}",
        res.body
    );
    assert_eq!(server.snapshot(), before);
    // A product may keep its own SKU and barcode.
    edit(&b, soda, &[("price", "85")])
        .await
        .assert_redirect(&format!("/products/{soda}"));
    assert_eq!(product_row(&server, soda).1, 85_00);
}

#[tokio::test]
async fn restock_adjust_and_transfer_move_stock_exactly_and_reach_their_branch_only() {
    let server = common::start().await;
    let west = server.till("Westlands", "T1");
    let kili = server.till("Kilimani", "T1");
    let (a, bb) = (west.branch_id.to_string(), kili.branch_id.to_string());
    let b = server.signed_in("wanjiku", Role::Manager).await;
    let id = make_product(&b, "Soda 500ml", "80", &[]).await;
    let stock = format!("/products/{id}/stock");
    let back = format!("/products/{id}");

    b.post(
        &stock,
        &[
            ("action", "restock"),
            ("branch_id", &a),
            ("quantity", "5"),
            ("note", "delivery"),
        ],
    )
    .await
    .assert_redirect(&back);
    b.get(&back)
        .await
        .assert_ok(&["Restocked 5 of Soda 500ml at Westlands: Westlands now 5."]);
    assert_eq!(level(&server, id, &a), 5_000);
    b.post(
        &stock,
        &[
            ("action", "adjust"),
            ("branch_id", &a),
            ("quantity", "-5"),
            ("note", "broken crate"),
        ],
    )
    .await
    .assert_redirect(&back);
    assert_eq!(level(&server, id, &a), 0);

    // Refused, with nothing changed and the typed values kept.
    let before = server.snapshot();
    let res = b
        .post(
            &stock,
            &[
                ("action", "adjust"),
                ("branch_id", &a),
                ("quantity", "-2"),
                ("note", "  "),
            ],
        )
        .await;
    res.assert_bad("the note cannot be empty");
    assert!(
        res.body.contains(r#"name="quantity" value="-2""#),
        "{}",
        res.body
    );
    b.post(
        &stock,
        &[
            ("action", "adjust"),
            ("branch_id", &a),
            ("quantity", "0"),
            ("note", "x"),
        ],
    )
    .await
    .assert_bad("cannot be zero");
    b.post(
        &stock,
        &[("action", "restock"), ("branch_id", &a), ("quantity", "-1")],
    )
    .await
    .assert_bad("more than zero");
    b.post(
        &stock,
        &[
            ("action", "restock"),
            ("branch_id", &a),
            ("quantity", "1.2345"),
        ],
    )
    .await
    .assert_bad("the quantity '1.2345' is not a quantity");
    b.post(
        &stock,
        &[
            ("action", "restock"),
            ("branch_id", &Uuid::nil().to_string()),
            ("quantity", "1"),
        ],
    )
    .await
    .assert_bad("the branch");
    b.post(
        &stock,
        &[
            ("action", "transfer"),
            ("from_branch_id", &a),
            ("to_branch_id", &a),
            ("quantity", "1"),
        ],
    )
    .await
    .assert_bad("another branch");
    b.post(
        &stock,
        &[("action", "steal"), ("branch_id", &a), ("quantity", "1")],
    )
    .await
    .assert_bad("not a stock action");
    assert_eq!(server.snapshot(), before);

    // A transfer is never refused for stock: Westlands goes below zero at
    // once; Kilimani gets nothing until it receives the transfer.
    b.post(
        &stock,
        &[
            ("action", "transfer"),
            ("from_branch_id", &a),
            ("to_branch_id", &bb),
            ("quantity", "10"),
            ("note", "van 2"),
        ],
    )
    .await
    .assert_redirect(&back);
    let page = b.get(&back).await;
    page.assert_ok(&[
        "Sent 10 of Soda 500ml from Westlands to Kilimani: Westlands now -10. It is in transit until Kilimani receives it",
        "Westlands is now below zero (-10)",
        "Transfer out",
        "Back Office",
        "broken crate",
    ]);
    assert_eq!(level(&server, id, &a), -10_000);
    assert_eq!(level(&server, id, &bb), 0);
    assert_eq!(server.count("SELECT COUNT(*) FROM stock_movements"), 3);
    assert_eq!(server.count("SELECT COUNT(*) FROM transfers"), 1);
    assert_eq!(server.count("SELECT COUNT(*) FROM transfer_receipts"), 0);

    // Each till pulls its own branch's movements, and no other's: the
    // transfer's movement travels inside the transfer, to Westlands only.
    let nil = Uuid::nil();
    assert_eq!(
        pulled_moves(&server, &west.key, id).await,
        vec![
            (MovementKind::Restock, 5_000, nil, Some("delivery".into())),
            (
                MovementKind::Adjustment,
                -5_000,
                nil,
                Some("broken crate".into())
            ),
            (
                MovementKind::TransferOut,
                -10_000,
                nil,
                Some("van 2".into())
            ),
        ]
    );
    assert_eq!(pulled_moves(&server, &kili.key, id).await, vec![]);
    let sent: Vec<_> = server
        .feed(&kili.key)
        .await
        .into_iter()
        .filter_map(|c| match c {
            ChangeBody::TransferSent(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "Kilimani pulls the transfer to receive it");
    assert_eq!(sent[0].lines[0].quantity, Quantity::units(10));
    assert!(sent[0].movements.is_empty());
    // The list shows both levels, the negative one flagged.
    b.get("/products").await.assert_ok(&[
        "Stock: Kilimani",
        "Stock: Westlands",
        r#"<span class="tag bad" title="below zero"#,
    ]);
}

#[tokio::test]
async fn a_deleted_product_is_a_tombstone_the_till_pulls() {
    let server = common::start().await;
    let till = server.till("Westlands", "T1");
    let b = server.signed_in("wanjiku", Role::Owner).await;
    let id = make_product(&b, "Soda 500ml", "80", &[]).await;
    server.clock.advance_millis(1_000);
    let path = format!("/products/{id}/delete");
    // The first post only asks, saying what happens.
    let before = server.snapshot();
    b.post(&path, &[]).await.assert_confirm(
        &b.csrf,
        &path,
        &[
            "Delete Soda 500ml?",
            "Soda 500ml disappears from every till's grid on their next sync; past receipts keep it.",
            &format!("href=\"/products/{id}\" data-testid=\"confirm-cancel\""),
        ],
    );
    assert_eq!(server.snapshot(), before);
    b.post(&path, &[("confirm", "yes")])
        .await
        .assert_redirect("/products");
    let list = b.get("/products").await;
    list.assert_ok(&["Deleted Soda 500ml"]);
    assert!(
        !list.body.contains(&format!("/products/{id}\"")),
        "{}",
        list.body
    );
    let deleted: Option<i64> = server
        .admin()
        .query_row(
            "SELECT deleted_at FROM products WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(deleted, Some(T0 + 1_000));
    let last = pulled_products(&server, &till.key, id).await.pop().unwrap();
    assert_eq!(last.deleted_at, Some(Timestamp::from_millis(T0 + 1_000)));
    assert_eq!(last.name.as_str(), "Soda 500ml");

    // Its page still opens (sales link to it) but it can no longer change.
    b.get(&format!("/products/{id}"))
        .await
        .assert_ok(&["product-deleted"]);
    let before = server.snapshot();
    let res = b.post(&path, &[("confirm", "yes")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = b.post(&path, &[]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = b
        .post_multipart(
            &format!("/products/{id}"),
            &[("name", "Back"), ("price", "1"), ("tax_code", "VAT16")],
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = b
        .post(
            &format!("/products/{id}/stock"),
            &[
                ("action", "restock"),
                ("branch_id", &till.branch_id.to_string()),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(server.snapshot(), before);
    b.get("/products/not-a-product")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    b.get(&format!("/products/{}", ProductId::new()))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn categories_are_made_renamed_and_deleted() {
    let server = common::start().await;
    let till = server.till("Westlands", "T1");
    let b = server.signed_in("wanjiku", Role::Manager).await;
    b.post("/categories", &[("name", "Drinks"), ("sort_order", "10")])
        .await
        .assert_redirect("/categories");
    let (id, sort): (String, i64) = server
        .admin()
        .query_row(
            "SELECT id, sort_order FROM categories WHERE name = 'Drinks'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(sort, 10);
    b.get("/categories")
        .await
        .assert_ok(&["Added category Drinks", r#"value="Drinks""#]);

    let before = server.snapshot();
    let res = b
        .post("/categories", &[("name", "dRINKS"), ("sort_order", "1")])
        .await;
    res.assert_bad("there is already a category 'Drinks'");
    assert!(res.body.contains(r#"value="dRINKS""#), "{}", res.body);
    b.post("/categories", &[("name", " "), ("sort_order", "1")])
        .await
        .assert_bad("the category name cannot be empty");
    let res = b
        .post(
            "/categories",
            &[("name", "Snacks"), ("sort_order", "first")],
        )
        .await;
    res.assert_bad("the sort order 'first'");
    assert!(res.body.contains(r#"value="Snacks""#), "{}", res.body);
    assert_eq!(server.snapshot(), before);

    // Renamed: only what changed is sent.
    b.post(
        &format!("/categories/{id}"),
        &[
            ("name", "Soft drinks"),
            ("sort_order", "10"),
            ("was_name", "Drinks"),
            ("was_sort_order", "10"),
        ],
    )
    .await
    .assert_redirect("/categories");
    let clocks = field_clocks(&server, "categories", &id);
    assert!(clocks["name"] > clocks["sort_order"], "{clocks:?}");
    b.post(
        &format!("/categories/{id}"),
        &[
            ("name", "Soft drinks"),
            ("sort_order", "5"),
            ("was_name", "Soft drinks"),
            ("was_sort_order", "10"),
        ],
    )
    .await
    .assert_redirect("/categories");
    let (n, sort): (String, i64) = server
        .admin()
        .query_row(
            "SELECT name, sort_order FROM categories WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((n.as_str(), sort), ("Soft drinks", 5));

    // A category with products is not deleted (as on a till).
    let soda = make_product(&b, "Soda 500ml", "80", &[("category_id", &id)]).await;
    let page = b.get("/categories").await;
    page.assert_ok(&[&format!(
        r#"<a href="/products?category={id}" data-testid="category-products">1</a>"#
    )]);
    let before = server.snapshot();
    let path = format!("/categories/{id}/delete");
    b.post(&path, &[("confirm", "yes")])
        .await
        .assert_bad("category 'Soft drinks' still has 1 product");
    // Refused before asking.
    b.post(&path, &[])
        .await
        .assert_bad("category 'Soft drinks' still has 1 product");
    assert_eq!(server.snapshot(), before);
    edit(&b, soda, &[("category_id", "")])
        .await
        .assert_redirect(&format!("/products/{soda}"));
    let cat: Option<String> = server
        .admin()
        .query_row(
            "SELECT category_id FROM products WHERE id = ?1",
            [soda.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cat, None);
    // The first post only asks, saying what happens.
    let before = server.snapshot();
    b.post(&path, &[]).await.assert_confirm(
        &b.csrf,
        &path,
        &[
            "Delete the category Soft drinks?",
            "The category Soft drinks disappears from every till on their next sync.",
        ],
    );
    assert_eq!(server.snapshot(), before);
    b.post(&path, &[("confirm", "yes")])
        .await
        .assert_redirect("/categories");
    b.get("/categories")
        .await
        .assert_ok(&["Deleted category Soft drinks"]);
    let deleted: Option<i64> = server
        .admin()
        .query_row(
            "SELECT deleted_at FROM categories WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(deleted, Some(T0));

    let page = server.pull_ok(&till.key, "?limit=1000").await;
    let states: Vec<_> = page
        .changes
        .into_iter()
        .filter_map(|c| match c.body {
            ChangeBody::Category(c) if c.id.to_string() == id => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(states.len(), 4);
    let last = states.last().unwrap();
    assert_eq!((last.name.as_str(), last.sort_order), ("Soft drinks", 5));
    assert_eq!(last.deleted_at, Some(Timestamp::from_millis(T0)));
}

#[tokio::test]
async fn the_list_searches_filters_flags_and_stops_at_200() {
    let server = common::start().await;
    let mut till = server.till("Westlands", "T1");
    let b = server.signed_in("wanjiku", Role::Manager).await;
    b.post("/categories", &[("name", "Drinks"), ("sort_order", "0")])
        .await
        .assert_redirect("/categories");
    let drinks: String = server
        .admin()
        .query_row("SELECT id FROM categories", [], |r| r.get(0))
        .unwrap();
    let soda = make_product(
        &b,
        "Soda 500ml",
        "80",
        &[
            ("sku", "SODA-500"),
            ("barcode", "5000112637922"),
            ("category_id", &drinks),
            ("low_stock", "5"),
        ],
    )
    .await;
    let chai = make_product(&b, "Chai Masala", "150", &[("track_stock", "")]).await;
    let branch = till.branch_id.to_string();
    b.post(
        &format!("/products/{soda}/stock"),
        &[
            ("action", "restock"),
            ("branch_id", &branch),
            ("quantity", "3"),
        ],
    )
    .await
    .assert_redirect(&format!("/products/{soda}"));

    let link = |id: ProductId, n: &str| format!(r#"<a href="/products/{id}">{n}</a>"#);
    let list = b.get("/products").await;
    list.assert_ok(&[
        &link(soda, "Soda 500ml"),
        &link(chai, "Chai Masala"),
        "not tracked",
        r#"data-testid="low-stock""#,
        "low: Westlands",
    ]);
    let by_category = format!("?category={drinks}");
    for (query, soda_in, chai_in) in [
        ("?q=SODA", true, false),
        ("?q=5000112", true, false),
        ("?q=soda-5", true, false),
        ("?q=masala", false, true),
        (by_category.as_str(), true, false),
        ("?category=none", false, true),
        ("?q=nothing-like-it", false, false),
    ] {
        let page = b.get(&format!("/products{query}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(
            page.body.contains(&link(soda, "Soda 500ml")),
            soda_in,
            "{query}"
        );
        assert_eq!(
            page.body.contains(&link(chai, "Chai Masala")),
            chai_in,
            "{query}"
        );
    }
    assert!(!list.body.contains("list-capped"));

    // 200 rows at most, with a note saying so.
    let ops: Vec<_> = (0..199)
        .map(|i| {
            till.op(common::new_product(
                ProductId::new(),
                &format!("Item {i:03}"),
                10_00,
            ))
        })
        .collect();
    server.push_ok(&till.key, &ops).await;
    let page = b.get("/products").await;
    page.assert_ok(&["Showing the first 200 of 201 products"]);
    assert_eq!(
        page.body.matches(r#"data-testid="product-row""#).count(),
        200
    );
}

#[tokio::test]
async fn a_form_without_the_csrf_token_changes_nothing() {
    let server = common::start().await;
    let till = server.till("Westlands", "T1");
    let b = server.signed_in("wanjiku", Role::Owner).await;
    let id = make_product(&b, "Soda 500ml", "80", &[]).await;
    b.post("/categories", &[("name", "Drinks")])
        .await
        .assert_redirect("/categories");
    let cat: String = server
        .admin()
        .query_row("SELECT id FROM categories", [], |r| r.get(0))
        .unwrap();
    let before = server.snapshot();
    let branch = till.branch_id.to_string();
    for (path, fields) in [
        ("/categories".to_string(), vec![("name", "Snacks")]),
        (format!("/categories/{cat}"), vec![("name", "Snacks")]),
        (
            format!("/categories/{cat}/delete"),
            vec![("confirm", "yes")],
        ),
        (format!("/products/{id}/delete"), vec![("confirm", "yes")]),
        (
            format!("/products/{id}/stock"),
            vec![
                ("action", "restock"),
                ("branch_id", branch.as_str()),
                ("quantity", "5"),
            ],
        ),
    ] {
        let res = b.post_raw(&path, &fields).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
        let mut forged = vec![("_csrf", "forged")];
        forged.extend(fields);
        assert_eq!(
            b.post_raw(&path, &forged).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    for path in ["/products/new".to_string(), format!("/products/{id}")] {
        let form = reqwest::multipart::Form::new()
            .text("name", "Forged")
            .text("price", "1")
            .text("tax_code", "VAT16");
        let res = b
            .client
            .post(b.url(&path))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(server.snapshot(), before);
}
