//! A merge is visible in the customer's history and an owner can undo it
//! from the dashboard (`backoffice::customer_merge::undo_merge`, the
//! "Merged records" section of `/customers/{id}`): the record merged away
//! comes back as its own customer, each balance is its own ledger again, and
//! the feed tells every till to forget the alias before the record returns.
//! A real server on 127.0.0.1:0, driven with reqwest and the web harness.

mod common;

use backoffice::apply::customer_state;
use backoffice::customer_merge::{canonical_customer, customer_balance, merges_into};
use backoffice::web::session::Role;
use common::seed::{credit_sale, ledger_payment, new_customer};
use common::web::{Browser, testid_row};
use common::*;
use pos_domain::{CustomerId, PaymentMethod, PhoneNumber, ProductId};
use reqwest::StatusCode;
use serde_json::Value;
use sync_protocol::ChangeBody;
use sync_protocol::history::CustomerHistory;

fn balance(server: &TestServer, id: CustomerId) -> i64 {
    customer_balance(&server.admin(), id).unwrap().minor()
}

async fn history(server: &TestServer, key: &str, id: CustomerId) -> (CustomerHistory, Value) {
    let res = server
        .client
        .get(server.url(&format!("/api/customers/{id}/history")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let json: Value = res.json().await.unwrap();
    (serde_json::from_value(json.clone()).unwrap(), json)
}

/// Each merge in a history answer has only the fields `docs/openapi.json`
/// names for `HistoryMerge`, and every field it requires.
fn check_against_openapi(json: &Value) {
    let doc: Value = serde_json::from_str(backoffice::openapi::DOCUMENT).unwrap();
    let schema = &doc["components"]["schemas"]["HistoryMerge"];
    let props = schema["properties"].as_object().unwrap();
    assert_eq!(
        doc["components"]["schemas"]["ChangeBody"]["discriminator"]["mapping"]["customer_unaliased"],
        "#/components/schemas/ChangeBodyCustomerUnaliased"
    );
    assert!(
        doc["components"]["schemas"]["CustomerHistory"]["properties"]
            .get("merges")
            .is_some()
    );
    for m in json["merges"].as_array().unwrap() {
        for (k, _) in m.as_object().unwrap() {
            assert!(props.contains_key(k), "{k} is not in the schema");
        }
        for r in schema["required"].as_array().unwrap() {
            assert!(m.get(r.as_str().unwrap()).is_some(), "{r} missing");
        }
    }
}

/// Njeri at Main (owes 160.00) and "Mama Njeri" at Town (owes 240.00 − 50.00
/// paid), same phone: merged into Njeri. Returns (kept, alias).
async fn merged_pair(
    server: &TestServer,
    (main, soda): (&mut Till, ProductId),
    (town, town_soda): (&mut Till, ProductId),
) -> (CustomerId, CustomerId) {
    let njeri = CustomerId::new();
    let sale = credit_sale(main, soda, 2, njeri);
    let ops = [
        main.op(new_customer(njeri, "Njeri", Some("0712 345 678"), 5_000_00)),
        main.op(sync_protocol::OpBody::SaleRecorded(sale)),
    ];
    server.push_applied(&main.key, &ops).await;
    server.clock.advance_millis(MINUTE);
    let mama = CustomerId::new();
    let sale = credit_sale(town, town_soda, 3, mama);
    let ops = [
        town.op(new_customer(mama, "Mama Njeri", Some("+254712345678"), 0)),
        town.op(sync_protocol::OpBody::SaleRecorded(sale)),
        town.op(ledger_payment(town, mama, 50_00, PaymentMethod::Cash, None)),
    ];
    server.push_applied(&town.key, &ops).await;
    assert_eq!(canonical_customer(&server.admin(), mama).unwrap(), njeri);
    (njeri, mama)
}

fn undo_path(kept: CustomerId, merge: i64) -> String {
    format!("/customers/{kept}/merges/{merge}/undo")
}

async fn undo(owner: &Browser, kept: CustomerId, merge: i64, phone: &str) -> common::web::Page {
    owner
        .post(
            &undo_path(kept, merge),
            &[("phone", phone), ("confirm", "yes")],
        )
        .await
}

#[tokio::test]
async fn an_owner_undoes_a_merge_and_each_customer_owes_their_own_ledger_again() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let manager = server.signed_in("manager", Role::Manager).await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, town_soda) = ready_till(&server, "Town", "Till 1").await;
    let (njeri, mama) = merged_pair(&server, (&mut main, soda), (&mut town, town_soda)).await;
    assert_eq!(balance(&server, njeri), 160_00 + 240_00 - 50_00);

    // The history lists the merge: the record's own name and phone, when,
    // why, and the branch that created each record.
    let (h, json) = history(&server, &main.key, mama).await;
    check_against_openapi(&json);
    assert_eq!(h.customer.id, njeri);
    assert_eq!(h.merges.len(), 1);
    let m = &h.merges[0];
    assert_eq!(m.alias_id, mama);
    assert_eq!(m.name, "Mama Njeri");
    assert_eq!(m.phone.as_deref(), Some("+254712345678"));
    assert_eq!(m.merged_at.unwrap().as_millis(), T0 + MINUTE);
    assert_eq!(m.reason.as_deref(), Some("same phone +254712345678"));
    assert_eq!(m.alias_branch.as_ref().unwrap().id, town.branch_id);
    assert_eq!(m.customer_branch.as_ref().unwrap().id, main.branch_id);
    assert!(m.undone_at.is_none());
    let merge = merges_into(&server.admin(), njeri).unwrap()[0].id;

    // The dashboard shows it with an owner's undo form; a manager sees it
    // without the form.
    let page = owner.get(&format!("/customers/{njeri}")).await;
    page.assert_ok(&[
        "Merged records",
        "Mama Njeri",
        "same phone +254712345678",
        "Town",
    ]);
    let row = testid_row(&page.body, &format!("merge-{mama}")).unwrap();
    assert!(row.contains(&undo_path(njeri, merge)), "{row}");
    let page = manager.get(&format!("/customers/{njeri}")).await;
    let row = testid_row(&page.body, &format!("merge-{mama}")).unwrap();
    assert!(row.contains("Only an owner can undo a merge."), "{row}");
    assert!(!row.contains(&undo_path(njeri, merge)));

    // A manager is refused, confirmed or not; nothing changes.
    let before = server.snapshot();
    for fields in [vec![("phone", "")], vec![("phone", ""), ("confirm", "yes")]] {
        manager
            .post(&undo_path(njeri, merge), &fields)
            .await
            .assert_status(StatusCode::FORBIDDEN);
    }
    // A phone that is no phone, and the kept customer's phone (in another
    // form), are refused with the form again; nothing changes.
    owner
        .post(&undo_path(njeri, merge), &[("phone", "07123")])
        .await
        .assert_bad_keeping("is not a phone number", Some("07123"));
    server.assert_unchanged(&before);
    undo(&owner, njeri, merge, "0712 345 678")
        .await
        .assert_bad("who stays as they are");
    server.assert_unchanged(&before);
    // Another live customer's phone is refused too.
    let otieno = CustomerId::new();
    let ops = [main.op(new_customer(otieno, "Otieno", Some("0722000111"), 0))];
    server.push_applied(&main.key, &ops).await;
    let before_other = server.snapshot();
    undo(&owner, njeri, merge, "+254 722 000 111")
        .await
        .assert_bad("already the number of customer 'Otieno'");
    server.assert_unchanged(&before_other);
    let changes_before = server.count("SELECT COUNT(*) FROM changes");
    let cursor = server.pull_ok(&main.key, "?limit=1000").await.next_cursor;

    // The owner asks: the confirmation says who owes what once separated.
    let ask = owner
        .post(&undo_path(njeri, merge), &[("phone", "0733 444 555")])
        .await;
    ask.assert_confirm(
        &owner.csrf,
        &undo_path(njeri, merge),
        &[
            "Separate Mama Njeri from",
            "KES 190.00",
            "KES 160.00",
            "profile stays",
        ],
    );
    assert_eq!(ask.field("phone").as_deref(), Some("0733 444 555"));
    assert!(
        !ask.body.contains("undo-credit-warning"),
        "both owe: no warning"
    );
    assert_eq!(server.count("SELECT COUNT(*) FROM changes"), changes_before);
    server.clock.advance_millis(MINUTE);
    undo(&owner, njeri, merge, "0733 444 555")
        .await
        .assert_redirect(&format!("/customers/{njeri}"));

    // Two live customers, each owing their own ledger; the alias is gone.
    let db = server.admin();
    assert_eq!(canonical_customer(&db, mama).unwrap(), mama);
    let back = customer_state(&db, mama).unwrap();
    assert!(back.deleted_at.is_none());
    assert_eq!(back.phone, Some(PhoneNumber::parse("0733444555").unwrap()));
    assert_eq!(back.name.as_str(), "Mama Njeri");
    let kept = customer_state(&db, njeri).unwrap();
    assert!(kept.deleted_at.is_none());
    assert_eq!(kept.phone, Some(PhoneNumber::parse("0712345678").unwrap()));
    assert_eq!(kept.name.as_str(), "Mama Njeri", "the folded profile stays");
    assert_eq!(balance(&server, njeri), 160_00);
    assert_eq!(balance(&server, mama), 190_00);
    assert_eq!(server.count("SELECT COUNT(*) FROM customer_aliases"), 0);
    assert_eq!(
        server.count(
            "SELECT COUNT(*) FROM web_audit WHERE action = 'customer.unmerge' AND entity_id IN \
             (SELECT alias_id FROM customer_merges WHERE undone_at IS NOT NULL)"
        ),
        1
    );
    // The revived clock is newer than the merge's.
    let merge_clock = kept.hlc;
    assert!(back.hlc > merge_clock, "{} vs {merge_clock}", back.hlc);
    drop(db);

    // The history shows the merge undone; each history is its own ledger.
    let (h, json) = history(&server, &main.key, njeri).await;
    check_against_openapi(&json);
    assert_eq!(h.merges.len(), 1);
    assert_eq!(h.merges[0].undone_at.unwrap().as_millis(), T0 + 2 * MINUTE);
    assert_eq!(h.balance.minor(), 160_00);
    assert_eq!(h.ledger.len(), 1);
    let (h, _) = history(&server, &town.key, mama).await;
    assert_eq!(h.customer.id, mama);
    assert_eq!(h.balance.minor(), 190_00);
    assert_eq!(h.ledger.len(), 2);
    let page = owner.get(&format!("/customers/{njeri}")).await;
    let row = testid_row(&page.body, &format!("merge-{mama}")).unwrap();
    assert!(row.contains("undone") && row.contains("by owner"), "{row}");
    let page = owner.get(&format!("/customers/{mama}")).await;
    page.assert_ok(&["Mama Njeri", "KES 190.00"]);
    let note = page.part("separated", "</div>");
    assert!(
        note.contains(&format!("/customers/{njeri}")) && note.contains("owner undid that"),
        "{note}"
    );

    // What a till pulls: the alias forgotten first, then the record back.
    let page = server
        .pull_ok(&main.key, &format!("?cursor={cursor}"))
        .await;
    let bodies: Vec<ChangeBody> = page.changes.into_iter().map(|c| c.body).collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(bodies[0], ChangeBody::CustomerUnaliased { alias: mama });
    match &bodies[1] {
        ChangeBody::Customer(s) => {
            assert_eq!(s.id, mama);
            assert!(s.deleted_at.is_none());
            assert_eq!(s.phone.as_ref().map(|p| p.as_str()), Some("+254733444555"));
        }
        other => panic!("{other:?}"),
    }

    // Undoing twice is refused clearly, changing nothing.
    let before = server.snapshot();
    undo(&owner, njeri, merge, "")
        .await
        .assert_bad("this merge was already undone");
    owner
        .post(&undo_path(njeri, merge), &[("phone", "")])
        .await
        .assert_bad("already undone");
    server.assert_unchanged(&before);
    // A merge that does not exist is not found.
    owner
        .post(&undo_path(njeri, merge + 100), &[("phone", "")])
        .await
        .assert_status(StatusCode::NOT_FOUND);

    // One phone, one account, still: a till that gives Mama Njeri's new
    // number to a new customer merges them again.
    server.clock.advance_millis(MINUTE);
    let again = CustomerId::new();
    let ops = [town.op(new_customer(again, "M. Njeri", Some("0733444555"), 0))];
    server.push_applied(&town.key, &ops).await;
    let db = server.admin();
    assert_eq!(canonical_customer(&db, again).unwrap(), mama);
    let rows = merges_into(&db, mama).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].alias, again);
    server.stop().await;
}

#[tokio::test]
async fn an_undo_leaving_one_account_in_credit_and_the_other_in_debt_says_so() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, town_soda) = ready_till(&server, "Town", "Till 1").await;
    let (njeri, mama) = merged_pair(&server, (&mut main, soda), (&mut town, town_soda)).await;
    // While merged, the person pays off both debts at Main, against the kept
    // account: 300.00 of the 350.00 owed.
    server.clock.advance_millis(MINUTE);
    let pay = main.op(ledger_payment(
        &main,
        njeri,
        300_00,
        PaymentMethod::Cash,
        None,
    ));
    server.push_applied(&main.key, &[pay]).await;
    assert_eq!(balance(&server, njeri), 50_00);
    let merge = merges_into(&server.admin(), njeri).unwrap()[0].id;

    // Separated, the kept account's own ledger is 160.00 − 300.00: a credit;
    // the alias's, 190.00 owed. The confirmation says so plainly.
    let before = server.snapshot();
    let ask = owner.post(&undo_path(njeri, merge), &[("phone", "")]).await;
    ask.assert_confirm(
        &owner.csrf,
        &undo_path(njeri, merge),
        &[
            "will be in credit by <strong>KES 140.00</strong>",
            "will owe <strong>KES 190.00</strong>",
            "One account will show a credit balance and the other a debt.",
            "will show a credit of KES 140.00 and Mama Njeri a debt of KES 190.00",
            "ledger adjustment at a till",
        ],
    );
    let warning = ask.part("undo-credit-warning", "</div>");
    assert!(warning.contains("move the amount"), "{warning}");
    server.assert_unchanged(&before);

    // Confirmed, the balances are as the page said.
    undo(&owner, njeri, merge, "")
        .await
        .assert_redirect(&format!("/customers/{njeri}"));
    assert_eq!(balance(&server, njeri), -140_00);
    assert_eq!(balance(&server, mama), 190_00);
    server.stop().await;
}

#[tokio::test]
async fn an_undo_to_no_phone_leaves_re_pointed_aliases_with_the_kept_customer() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, town_soda) = ready_till(&server, "Town", "Till 1").await;
    // Kamau (Main) and his alias from Town; then Kamau is given Wambui's
    // number: Kamau merges into Wambui and his alias is re-pointed.
    let kamau = CustomerId::new();
    let kamau_town = CustomerId::new();
    let wambui = CustomerId::new();
    let s0 = credit_sale(&mut main, soda, 1, kamau);
    let ops = [
        main.op(new_customer(kamau, "Kamau", Some("0733111222"), 0)),
        main.op(sync_protocol::OpBody::SaleRecorded(s0)),
    ];
    server.push_applied(&main.key, &ops).await;
    let s1 = credit_sale(&mut town, town_soda, 2, kamau_town);
    let s2 = credit_sale(&mut town, town_soda, 4, wambui);
    let ops = [
        town.op(new_customer(
            kamau_town,
            "Kamau T.",
            Some("0733 111 222"),
            0,
        )),
        town.op(sync_protocol::OpBody::SaleRecorded(s1)),
        town.op(new_customer(wambui, "Wambui", Some("0744555666"), 0)),
        town.op(sync_protocol::OpBody::SaleRecorded(s2)),
    ];
    server.push_applied(&town.key, &ops).await;
    let edit = main.op(sync_protocol::OpBody::CustomerChanged(
        sync_protocol::CustomerPatch {
            phone: Some(Some(PhoneNumber::parse("+254744555666").unwrap())),
            ..sync_protocol::CustomerPatch::new(kamau)
        },
    ));
    server.push_applied(&main.key, &[edit]).await;

    // Wambui's history: both records, the re-pointed one saying how.
    let (h, _) = history(&server, &main.key, wambui).await;
    let listed: Vec<CustomerId> = h.merges.iter().map(|m| m.alias_id).collect();
    assert_eq!(listed, vec![kamau, kamau_town]);
    assert!(
        h.merges[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("merged earlier into Kamau"),
        "{:?}",
        h.merges[1].reason
    );
    let rows = merges_into(&server.admin(), wambui).unwrap();
    // Kamau's own page no longer offers the superseded merge.
    assert!(merges_into(&server.admin(), kamau).unwrap().is_empty());
    let superseded = server.count(&format!(
        "SELECT id FROM customer_merges WHERE alias_id = '{kamau_town}' AND superseded_at IS NOT NULL"
    ));
    owner
        .post(
            &undo_path(kamau, superseded),
            &[("phone", ""), ("confirm", "yes")],
        )
        .await
        .assert_bad("merged into another customer since");

    // Undo Kamau's merge (no phone): Kamau is his own again with his own
    // sale; his old Town alias stays with Wambui.
    undo(&owner, wambui, rows[0].id, "")
        .await
        .assert_redirect(&format!("/customers/{wambui}"));
    let db = server.admin();
    assert_eq!(canonical_customer(&db, kamau).unwrap(), kamau);
    assert_eq!(canonical_customer(&db, kamau_town).unwrap(), wambui);
    let k = customer_state(&db, kamau).unwrap();
    assert!(k.deleted_at.is_none() && k.phone.is_none());
    assert_eq!(balance(&server, kamau), 80_00);
    assert_eq!(balance(&server, wambui), 160_00 + 320_00);
    // A delete naming Kamau now deletes Kamau alone.
    let del = main.op(sync_protocol::OpBody::CustomerDeleted(
        sync_protocol::Tombstone {
            id: kamau,
            deleted_at: main.now(),
        },
    ));
    server.push_applied(&main.key, &[del]).await;
    let db = server.admin();
    assert!(customer_state(&db, kamau).unwrap().deleted_at.is_some());
    assert!(customer_state(&db, wambui).unwrap().deleted_at.is_none());
    server.stop().await;
}

#[test]
fn the_migration_records_a_merge_per_alias_made_before_it() {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    let before = backoffice::schema::MIGRATIONS
        .iter()
        .position(|(name, _)| *name == "0006_customer_merges")
        .unwrap();
    for (_, sql) in &backoffice::schema::MIGRATIONS[..before] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", before as u32)
        .unwrap();
    let (branch, device) = (pos_domain::BranchId::new(), pos_domain::DeviceId::new());
    let (kept, alias) = (CustomerId::new(), CustomerId::new());
    conn.execute_batch(&format!(
        "INSERT INTO branches (id, code, name, created_at, hlc) VALUES ('{branch}', 'CBD', 'CBD', 1, 'x');
         INSERT INTO devices (id, branch_id, code, name, kind, key_hash, key_prefix, created_at)
             VALUES ('{device}', '{branch}', 'T1', 'Till 1', 'desktop', 'h', 'p', 1);
         INSERT INTO customers (id, name, phone, currency, created_at, hlc)
             VALUES ('{kept}', 'Njeri', '+254712345678', 'KES', 100, 'x');
         INSERT INTO customers (id, name, phone, currency, created_at, hlc, deleted_at)
             VALUES ('{alias}', 'Mama Njeri', '+254712345678', 'KES', 150, 'x', 200);
         INSERT INTO customer_aliases (alias_id, customer_id) VALUES ('{alias}', '{kept}');
         INSERT INTO changes (entity, entity_id, origin, body, created_at)
             VALUES ('customer', '{alias}', '{device}', '{{}}', 150);"
    ))
    .unwrap();

    backoffice::schema::migrate(&mut conn).unwrap();

    let rows = merges_into(&conn, kept).unwrap();
    assert_eq!(rows.len(), 1);
    let m = &rows[0];
    assert_eq!((m.alias, m.customer), (alias, kept));
    assert_eq!(m.merged_at.as_millis(), 200, "the alias's tombstone time");
    assert_eq!(m.reason, "same phone +254712345678");
    assert_eq!(
        m.alias_branch.as_ref().map(|b| b.code.as_str()),
        Some("CBD")
    );
    assert_eq!(m.customer_branch, None, "no change says who made it");
    assert!(m.is_current());
}
