//! One person, one account: the same customer created at two branches (same
//! normalized phone) is merged on the Back Office; the other id becomes an
//! alias that everything follows. A real server on 127.0.0.1:0, driven with
//! reqwest (see `backoffice::customer_merge` for the rules).

mod common;

use backoffice::apply::customer_state;
use backoffice::customer_merge::{aliases_of, canonical_customer, customer_balance};
use common::seed::{credit_sale, customer_patch, ledger_payment, new_customer};
use common::*;
use pos_domain::{CustomerId, Hlc, PaymentMethod, PhoneNumber};
use sync_protocol::{
    ApplyChunk, ChangeBody, CustomerPatch, EntityKind, FullRecord, FullSyncMode, FullSyncRequest,
    FullSyncResponse, OpBody, OpOutcome, PreviewPart, RejectCode, Tombstone, TransactionResponse,
    TransactionStatus,
};
use uuid::Uuid;

fn phone(text: &str) -> PhoneNumber {
    PhoneNumber::parse(text).unwrap()
}

/// The patch a till queues when it adds a customer: every field.
fn new_customer_with(
    id: CustomerId,
    who: &str,
    tel: Option<&str>,
    email: Option<&str>,
    limit: i64,
    notes: Option<&str>,
) -> OpBody {
    OpBody::CustomerChanged(CustomerPatch {
        email: Some(email.map(Into::into)),
        notes: Some(notes.map(Into::into)),
        ..customer_patch(id, who, tel, limit)
    })
}

fn balance(server: &TestServer, id: CustomerId) -> i64 {
    customer_balance(&server.admin(), id).unwrap().minor()
}

fn live_with_phone(server: &TestServer, tel: &str) -> i64 {
    server.count(&format!(
        "SELECT COUNT(*) FROM customers WHERE phone = '{}' AND deleted_at IS NULL",
        phone(tel)
    ))
}

#[tokio::test]
async fn the_same_phone_at_two_branches_becomes_one_customer_owing_both_sales() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, town_soda) = ready_till(&server, "Town", "Till 1").await;

    // Main adds Njeri (a manager gave her 5,000 credit) and sells her 2 sodas.
    let first = CustomerId::new();
    let main_sale = credit_sale(&mut main, soda, 2, first);
    let ops = [
        main.op(new_customer_with(
            first,
            "Njeri",
            Some("0712 345 678"),
            Some("njeri@example.com"),
            5_000_00,
            Some("pays on Fridays"),
        )),
        main.op(OpBody::SaleRecorded(main_sale.clone())),
    ];
    server.push_applied(&main.key, &ops).await;
    let (_, main_cursor) = {
        let page = server.pull_ok(&main.key, "").await;
        (page.changes.len(), page.next_cursor)
    };

    // A little later Town, which had not heard of her, adds her again (a
    // cashier: no credit limit) and sells her 3 sodas on credit.
    server.clock.advance_millis(60_000);
    let second = CustomerId::new();
    let town_sale = credit_sale(&mut town, town_soda, 3, second);
    let ops = [
        town.op(new_customer_with(
            second,
            "Mama Njeri",
            Some("+254712345678"),
            None,
            0,
            Some("sister of Wanjiru"),
        )),
        town.op(OpBody::SaleRecorded(town_sale.clone())),
    ];
    server.push_applied(&town.key, &ops).await;

    // One live customer; the second id is an alias of the first.
    assert_eq!(live_with_phone(&server, "0712345678"), 1);
    let db = server.admin();
    assert_eq!(canonical_customer(&db, second).unwrap(), first);
    assert_eq!(canonical_customer(&db, first).unwrap(), first);
    assert_eq!(aliases_of(&db, first).unwrap(), vec![second]);
    let kept = customer_state(&db, first).unwrap();
    assert_eq!(kept.name.as_str(), "Mama Njeri", "the newer name wins");
    assert_eq!(kept.email.as_deref(), Some("njeri@example.com"));
    assert_eq!(
        kept.notes.as_deref(),
        Some("pays on Fridays\nsister of Wanjiru")
    );
    assert_eq!(kept.credit_limit, kes(5_000_00), "the higher limit");
    assert_eq!(kept.phone, Some(phone("0712345678")));
    assert!(kept.deleted_at.is_none());
    let alias = customer_state(&db, second).unwrap();
    assert!(alias.deleted_at.is_some(), "the alias is a tombstone");

    // The balance is both credit sales; the entries keep their own ids and
    // the customer id they were recorded with.
    let both = main_sale.total.minor() + town_sale.total.minor();
    assert_eq!(both, 5 * 80_00);
    assert_eq!(balance(&server, first), both);
    assert_eq!(
        balance(&server, second),
        both,
        "an alias reads the merged balance"
    );
    assert_eq!(server.count("SELECT COUNT(*) FROM customer_ledger"), 2);
    assert_eq!(
        server.count(&format!(
            "SELECT COUNT(*) FROM customer_ledger WHERE customer_id = '{second}'"
        )),
        1
    );

    // What Main pulls: the alias's tombstone, then the merged customer, then
    // the alias, then Town's ledger entry (not Town's sale).
    let page = server
        .pull_ok(&main.key, &format!("?cursor={main_cursor}"))
        .await;
    let kinds: Vec<String> = page
        .changes
        .iter()
        .map(|c| match &c.body {
            ChangeBody::Customer(s) if s.id == second && s.deleted_at.is_some() => {
                "alias tombstone".to_string()
            }
            ChangeBody::Customer(s) if s.id == first => format!("customer {}", s.name),
            ChangeBody::CustomerAlias { alias, customer } => {
                assert_eq!((*alias, *customer), (second, first));
                "alias".to_string()
            }
            ChangeBody::LedgerEntry(e) => format!("ledger {}", e.amount.minor()),
            other => format!("{other:?}"),
        })
        .filter(|k| !k.starts_with("User") && !k.starts_with("Product") && !k.starts_with("Branch"))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "alias tombstone".to_string(),
            "customer Mama Njeri".to_string(),
            "alias".to_string(),
            format!("ledger {}", town_sale.total.minor()),
        ]
    );

    // A replay of Town's ops changes nothing.
    let before = server.snapshot();
    let res = server.push_ok(&town.key, &ops).await;
    assert!(
        res.results
            .iter()
            .all(|r| r.outcome == OpOutcome::Duplicate)
    );
    assert_eq!(server.snapshot(), before);
    server.stop().await;
}

#[tokio::test]
async fn everything_naming_the_alias_lands_on_the_merged_customer() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, _) = ready_till(&server, "Town", "Till 1").await;
    let first = CustomerId::new();
    let second = CustomerId::new();
    let ops = [main.op(new_customer(first, "Otieno", Some("0722000111"), 1_000_00))];
    server.push_applied(&main.key, &ops).await;
    server.clock.advance_millis(1_000);
    let ops = [town.op(new_customer(second, "Otieno J.", Some("0722 000 111"), 0))];
    server.push_applied(&town.key, &ops).await;
    assert_eq!(canonical_customer(&server.admin(), second).unwrap(), first);

    // Town, before pulling the merge, edits "its" customer, takes a payment
    // and later deletes him: all of it is about the merged customer.
    let main_sale = credit_sale(&mut main, soda, 10, first);
    let ops = [main.op(OpBody::SaleRecorded(main_sale))];
    server.push_applied(&main.key, &ops).await;
    assert_eq!(balance(&server, first), 800_00);
    let ops = [
        town.op(OpBody::CustomerChanged(CustomerPatch {
            email: Some(Some("otieno@example.com".into())),
            ..CustomerPatch::new(second)
        })),
        town.op(ledger_payment(
            &town,
            second,
            300_00,
            PaymentMethod::Cash,
            None,
        )),
    ];
    server.push_applied(&town.key, &ops).await;
    let db = server.admin();
    let kept = customer_state(&db, first).unwrap();
    assert_eq!(kept.email.as_deref(), Some("otieno@example.com"));
    assert_eq!(kept.name.as_str(), "Otieno J.");
    assert_eq!(balance(&server, first), 500_00);
    let alias = customer_state(&db, second).unwrap();
    assert_eq!(alias.email, None, "the alias's own row is not edited");

    // A mobile credit sale naming the alias counts on the merged account too.
    let mut waiter = server.till("Main", "Waiter 1");
    waiter.cashier = main.cashier;
    let mobile_sale = credit_sale(&mut waiter, soda, 1, second);
    let res = server
        .client
        .post(server.url("/api/transaction"))
        .bearer_auth(&waiter.key)
        .json(&mobile_sale)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let answer: TransactionResponse = res.json().await.unwrap();
    assert_eq!(answer.status, TransactionStatus::Applied);
    assert_eq!(balance(&server, first), 580_00);
    assert_eq!(balance(&server, second), 580_00);

    // A later customer with the same phone joins the same account (not the
    // alias), and the alias table stays flat.
    let third = CustomerId::new();
    let ops = [main.op(new_customer(third, "Otieno", Some("+254722000111"), 0))];
    server.push_applied(&main.key, &ops).await;
    let db = server.admin();
    assert_eq!(canonical_customer(&db, third).unwrap(), first);
    assert_eq!(aliases_of(&db, first).unwrap(), vec![second, third]);

    // Deleting the alias deletes the merged customer (soft; the ledger stays).
    let ops = [town.op(OpBody::CustomerDeleted(Tombstone {
        id: second,
        deleted_at: town.now(),
    }))];
    server.push_applied(&town.key, &ops).await;
    let db = server.admin();
    assert!(customer_state(&db, first).unwrap().deleted_at.is_some());
    assert_eq!(balance(&server, first), 580_00);
    // Its phone is free again: a new customer with it is a new account.
    let fourth = CustomerId::new();
    let ops = [main.op(new_customer(
        fourth,
        "Another Otieno",
        Some("0722000111"),
        0,
    ))];
    server.push_applied(&main.key, &ops).await;
    let db = server.admin();
    assert_eq!(canonical_customer(&db, fourth).unwrap(), fourth);
    assert!(customer_state(&db, fourth).unwrap().deleted_at.is_none());
    assert_eq!(balance(&server, fourth), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_phone_edit_onto_another_customers_number_merges_and_repoints_aliases() {
    let server = start().await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, town_soda) = ready_till(&server, "Town", "Till 1").await;
    // Kamau (Main) and his alias from Town; Wambui (Town) with her own number.
    let kamau = CustomerId::new();
    let kamau_town = CustomerId::new();
    let wambui = CustomerId::new();
    let kamau_sale = credit_sale(&mut main, soda, 1, kamau);
    let ops = [
        main.op(new_customer(kamau, "Kamau", Some("0733111222"), 2_000_00)),
        main.op(OpBody::SaleRecorded(kamau_sale)),
    ];
    server.push_applied(&main.key, &ops).await;
    let alias_sale = credit_sale(&mut town, town_soda, 2, kamau_town);
    let wambui_sale = credit_sale(&mut town, town_soda, 4, wambui);
    let ops = [
        town.op(new_customer(kamau_town, "Kamau", Some("0733 111 222"), 0)),
        town.op(OpBody::SaleRecorded(alias_sale)),
        town.op(new_customer(wambui, "Wambui", Some("0744555666"), 3_000_00)),
        town.op(OpBody::SaleRecorded(wambui_sale)),
    ];
    server.push_applied(&town.key, &ops).await;
    assert_eq!(balance(&server, kamau), 240_00);
    assert_eq!(balance(&server, wambui), 320_00);

    // Kamau and Wambui turn out to be one household account: Main gives
    // Kamau Wambui's number. Wambui held it first, so she keeps her id;
    // Kamau and his alias now both point at her.
    let edit = main.op(OpBody::CustomerChanged(CustomerPatch {
        phone: Some(Some(phone("+254744555666"))),
        ..CustomerPatch::new(kamau)
    }));
    server
        .push_applied(&main.key, std::slice::from_ref(&edit))
        .await;
    let db = server.admin();
    assert_eq!(canonical_customer(&db, kamau).unwrap(), wambui);
    assert_eq!(canonical_customer(&db, kamau_town).unwrap(), wambui);
    assert_eq!(aliases_of(&db, wambui).unwrap(), vec![kamau, kamau_town]);
    assert!(aliases_of(&db, kamau).unwrap().is_empty());
    assert_eq!(balance(&server, wambui), 560_00);
    assert_eq!(balance(&server, kamau_town), 560_00);
    let kept = customer_state(&db, wambui).unwrap();
    assert_eq!(kept.credit_limit, kes(3_000_00));
    assert_eq!(live_with_phone(&server, "0744555666"), 1);
    assert_eq!(live_with_phone(&server, "0733111222"), 0);
    // The feed re-points the older alias for every till.
    let page = server.pull_ok(&town.key, "?limit=1000").await;
    let aliases: Vec<(CustomerId, CustomerId)> = page
        .changes
        .iter()
        .filter_map(|c| match c.body {
            ChangeBody::CustomerAlias { alias, customer } => Some((alias, customer)),
            _ => None,
        })
        .collect();
    assert_eq!(
        aliases,
        vec![(kamau_town, kamau), (kamau, wambui), (kamau_town, wambui)]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_bad_change_to_an_alias_is_rejected_and_changes_nothing() {
    let server = start().await;
    let (mut main, _) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, _) = ready_till(&server, "Town", "Till 1").await;
    let first = CustomerId::new();
    let second = CustomerId::new();
    let ops = [main.op(new_customer(first, "Achieng", Some("0755000999"), 0))];
    server.push_applied(&main.key, &ops).await;
    let ops = [town.op(new_customer(second, "Achieng", Some("0755000999"), 0))];
    server.push_applied(&town.key, &ops).await;
    let before = customer_state(&server.admin(), first).unwrap();
    let changes_before = server.count("SELECT COUNT(*) FROM changes");

    let ugx = pos_domain::Money::from_minor(5_00, pos_domain::Currency::from_code("UGX").unwrap())
        .unwrap();
    let bad = town.op(OpBody::CustomerChanged(CustomerPatch {
        credit_limit: Some(ugx),
        ..CustomerPatch::new(second)
    }));
    let res = server.push_ok(&town.key, &[bad]).await;
    match &res.results[0].outcome {
        OpOutcome::Rejected { code, reason } => {
            assert_eq!(*code, RejectCode::Invalid);
            assert!(reason.contains("currency"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // A ledger entry for a customer the server never heard of is still refused.
    let stranger = town.op(ledger_payment(
        &town,
        CustomerId::new(),
        100_00,
        PaymentMethod::Cash,
        None,
    ));
    let res = server.push_ok(&town.key, &[stranger]).await;
    assert!(
        matches!(
            &res.results[0].outcome,
            OpOutcome::Rejected {
                code: RejectCode::UnknownReference,
                ..
            }
        ),
        "{res:?}"
    );
    assert_eq!(customer_state(&server.admin(), first).unwrap(), before);
    assert_eq!(server.count("SELECT COUNT(*) FROM changes"), changes_before);
    assert_eq!(server.count("SELECT COUNT(*) FROM customer_ledger"), 0);
    server.stop().await;
}

/// `POST /api/sync/full` with one request; the answer's JSON.
async fn full(server: &TestServer, key: &str, req: &FullSyncRequest) -> FullSyncResponse {
    let res = server
        .client
        .post(server.url("/api/sync/full"))
        .bearer_auth(key)
        .json(req)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_merge_stays_made_whatever_stale_copies_and_old_deletes_say() {
    let server = start().await;
    let (mut main, _) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, _) = ready_till(&server, "Town", "Till 1").await;
    let first = CustomerId::new();
    let second = CustomerId::new();
    let ops = [main.op(new_customer(first, "Wanjiru", Some("0766123456"), 1_000_00))];
    server.push_applied(&main.key, &ops).await;
    server.clock.advance_millis(1_000);
    // Town's till: it created Wanjiru, and (clock 1 s later) deleted her
    // before the create reached the Back Office. The delete is pushed after
    // the merge, but ordered before it: it was about Town's record alone.
    let create = town.op(new_customer(second, "Wanjiru K.", Some("0766 123 456"), 0));
    let stale_delete_clock = Hlc::new(create.hlc.wall_ms(), create.hlc.counter(), 0);
    server.push_applied(&town.key, &[create]).await;
    assert_eq!(canonical_customer(&server.admin(), second).unwrap(), first);
    let merged = customer_state(&server.admin(), first).unwrap();
    let old_delete = town.op_at(
        OpBody::CustomerDeleted(Tombstone {
            id: second,
            deleted_at: town.now(),
        }),
        stale_delete_clock,
    );
    server.push_applied(&town.key, &[old_delete]).await;
    assert_eq!(customer_state(&server.admin(), first).unwrap(), merged);

    // Town, not having pulled, runs Full Cloud Synchronization with its stale
    // live copy of the merged-away record: the preview calls it unchanged and
    // the upload leaves the merge as it is.
    let mut stale = customer_state(&server.admin(), second).unwrap();
    stale.deleted_at = None;
    stale.name = name("Wanjiru (Town)");
    let records = vec![FullRecord::Customer(stale)];
    let preview = match full(
        &server,
        &town.key,
        &FullSyncRequest::Preview(PreviewPart {
            entity: EntityKind::Customer,
            after: None,
            through: None,
            records: records.iter().map(FullRecord::manifest_entry).collect(),
        }),
    )
    .await
    {
        FullSyncResponse::Preview(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(preview.unchanged, 1, "{preview:?}");
    assert!(preview.to_overwrite.is_empty());
    let before = server.snapshot();
    let chunk = |records| {
        FullSyncRequest::Apply(ApplyChunk {
            session: Uuid::now_v7(),
            chunk: 1,
            mode: FullSyncMode::Overwrite,
            records,
            remove: vec![],
        })
    };
    match full(&server, &town.key, &chunk(records)).await {
        FullSyncResponse::Apply(a) => {
            assert_eq!((a.unchanged, a.overwritten, a.added), (1, 0, 0), "{a:?}");
        }
        other => panic!("{other:?}"),
    }
    let db = server.admin();
    assert_eq!(customer_state(&db, first).unwrap(), merged);
    assert!(customer_state(&db, second).unwrap().deleted_at.is_some());
    assert_eq!(canonical_customer(&db, second).unwrap(), first);
    drop(db);
    // Only the bookkeeping of the upload itself changed.
    let after = server.snapshot();
    let customers = |snap: &str| {
        snap.split("customers\n")
            .nth(1)
            .unwrap()
            .split("sales\n")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(customers(&after), customers(&before));

    // A till uploads a customer it added and deleted, never pushed, with
    // the same phone: it arrives deleted, so it is no second account to
    // merge, and the live customer is untouched.
    let third = CustomerId::new();
    let mut gone = merged.clone();
    gone.id = third;
    gone.name = name("Wanjiru old");
    gone.deleted_at = Some(town.now());
    match full(&server, &town.key, &chunk(vec![FullRecord::Customer(gone)])).await {
        FullSyncResponse::Apply(a) => assert_eq!(a.added, 1, "{a:?}"),
        other => panic!("{other:?}"),
    }
    let db = server.admin();
    assert_eq!(customer_state(&db, first).unwrap(), merged);
    let third_state = customer_state(&db, third).unwrap();
    assert!(third_state.deleted_at.is_some());
    assert_eq!(third_state.phone, merged.phone);
    assert_eq!(third_state.name.as_str(), "Wanjiru old");
    assert_eq!(canonical_customer(&db, third).unwrap(), third);
    assert_eq!(
        server.count(
            "SELECT COUNT(*) FROM customers WHERE phone = '+254766123456' AND deleted_at IS NULL"
        ),
        1
    );
    server.stop().await;
}
