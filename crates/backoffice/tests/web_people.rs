//! The dashboard's people pages over real HTTP: credit customers (balances
//! across branches and merged aliases, edits as patches), expenses (totals
//! per branch and category, deletes as tombstones) and till users (PINs as
//! argon2 hashes the tills verify, who may manage whom).

mod common;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use backoffice::web::session::Role;
use common::seed::{credit_sale, ledger_payment, new_customer};
use common::web::{Browser, testid_row, testid_text};
use common::*;
use pos_domain::{CustomerId, ExpenseId, PaymentMethod, Timestamp, UserId};
use reqwest::StatusCode;
use sync_protocol::{ChangeBody, ExpensePaidWith, ExpensePatch, OpBody, UserState};

// Credit customers ------------------------------------------------------------

#[tokio::test]
async fn a_balance_adds_up_credit_sales_and_payments_at_every_branch_and_alias() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let (mut main, soda) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, town_soda) = ready_till(&server, "Town", "Till 1").await;
    // Town's clock is an hour behind Nairobi's: its entries show in its zone.
    owner
        .post(
            &format!("/branches/{}", town.branch_id),
            &[("name", "Town"), ("time_zone", "Africa/Lagos")],
        )
        .await
        .assert_redirect("/branches");

    // Main adds Njeri with 5,000 of credit and sells her 2 sodas (160.00).
    let njeri = CustomerId::new();
    let otieno = CustomerId::new();
    let main_sale = credit_sale(&mut main, soda, 2, njeri);
    let ops = [
        main.op(new_customer(njeri, "Njeri", Some("0712 345 678"), 5_000_00)),
        main.op(new_customer(otieno, "Otieno", None, 0)),
        main.op(OpBody::SaleRecorded(main_sale.clone())),
    ];
    server.push_applied(&main.key, &ops).await;

    // Ten minutes later Town, which had not heard of her, adds her again
    // (same phone: merged into Njeri) and sells her 3 sodas (240.00); then
    // she pays 100.00 by M-Pesa at Town.
    server.clock.advance_millis(10 * 60_000);
    let alias = CustomerId::new();
    let town_sale = credit_sale(&mut town, town_soda, 3, alias);
    let ops = [
        town.op(new_customer(alias, "Njeri", Some("+254712345678"), 0)),
        town.op(OpBody::SaleRecorded(town_sale.clone())),
    ];
    server.push_applied(&town.key, &ops).await;
    server.clock.advance_millis(5 * 60_000);
    let pay = town.op(ledger_payment(
        &town,
        njeri,
        100_00,
        PaymentMethod::Mpesa,
        Some("QJK3H5TRD2"),
    ));
    server.push_applied(&town.key, &[pay]).await;
    assert_eq!(main_sale.total, kes(160_00));
    assert_eq!(town_sale.total, kes(240_00));

    let list = owner.get("/customers").await;
    list.assert_ok(&["Credit customers"]);
    let r = testid_row(&list.body, &format!("customer-{njeri}")).expect("Njeri is listed");
    assert!(r.contains("+254712345678"), "{r}");
    assert!(r.contains("KES 5,000.00"), "{r}");
    assert_eq!(
        testid_text(r, "balance").as_deref(),
        Some("KES 300.00"),
        "160 + 240 - 100"
    );
    assert!(
        r.contains("2026-03-02 09:15"),
        "last activity: the payment, in the business's zone: {r}"
    );
    let r = testid_row(&list.body, &format!("customer-{otieno}")).expect("Otieno is listed");
    assert_eq!(testid_text(r, "balance").as_deref(), Some("KES 0.00"));
    assert!(r.contains("never"), "{r}");
    assert!(
        testid_row(&list.body, &format!("customer-{alias}")).is_none(),
        "the merged-away id is not a second customer"
    );
    assert_eq!(
        testid_text(&list.body, "total-owed").as_deref(),
        Some("KES 300.00")
    );

    // Search by name, or by phone typed any way.
    for q in ["otie", "OTIENO"] {
        let page = owner.get(&format!("/customers?q={q}")).await;
        page.assert_ok(&["Otieno"]);
        assert!(!page.body.contains(&format!("customer-{njeri}")), "{q}");
    }
    for q in ["0712%20345%20678", "%2B254712345678", "345678"] {
        let page = owner.get(&format!("/customers?q={q}")).await;
        assert!(page.body.contains(&format!("customer-{njeri}")), "{q}");
        assert!(!page.body.contains(&format!("customer-{otieno}")), "{q}");
    }
    let none = owner.get("/customers?q=nobody%25").await;
    none.assert_ok(&["No customer's name or phone matches."]);

    // The profile: the whole ledger, each entry in its branch's zone.
    let page = owner.get(&format!("/customers/{njeri}")).await;
    page.assert_ok(&[
        "Main",
        "Town",
        "Credit sale",
        "Payment",
        "M-Pesa",
        "QJK3H5TRD2",
        &format!("/sales/{}", main_sale.id),
        &format!("/sales/{}", town_sale.id),
        "2026-03-02 09:00", // Main's sale, Nairobi
        "2026-03-02 07:10", // Town's sale, Lagos (an hour behind)
        "2026-03-02 07:15", // the payment at Town
        "KES -100.00",
    ]);
    assert_eq!(
        testid_text(&page.body, "balance").as_deref(),
        Some("KES 300.00")
    );
    assert_eq!(
        testid_text(&page.body, "credit-left").as_deref(),
        Some("KES 4,700.00")
    );
    assert!(
        page.body.contains(&format!("<code>{alias}</code>")),
        "the merged-in record is listed"
    );
    // The alias's own address leads to the customer it became.
    owner
        .get(&format!("/customers/{alias}"))
        .await
        .assert_redirect(&format!("/customers/{njeri}"));
    owner
        .get(&format!("/customers/{}", CustomerId::new()))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn editing_a_customer_sends_only_the_changed_fields() {
    let server = start().await;
    let manager = server.signed_in("mary", Role::Manager).await;
    let (mut main, _) = ready_till(&server, "Main", "Till 1").await;
    let (otieno, akinyi) = (CustomerId::new(), CustomerId::new());
    let ops = [
        main.op(new_customer(otieno, "Otieno", None, 0)),
        main.op(new_customer(akinyi, "Akinyi", Some("0722 000 111"), 0)),
    ];
    server.push_applied(&main.key, &ops).await;
    let path = format!("/customers/{otieno}");
    manager.get(&path).await.assert_ok(&["edit-customer"]);

    // Bad input: the form again, naming the field, with what was typed.
    let before = server.snapshot();
    let good = [
        ("name", "Otieno Juma"),
        ("phone", "0733 444 555"),
        ("credit_limit", "7,500.50"),
        ("notes", "pays monthly"),
    ];
    for (field, value, message) in [
        (
            "credit_limit",
            "12.345",
            "the credit limit '12.345' is not an amount",
        ),
        ("credit_limit", "-5", "the credit limit cannot be negative"),
        (
            "phone",
            "07l2 345",
            "the phone '07l2 345' is not a phone number",
        ),
        ("name", "  ", "the name cannot be empty"),
        (
            "phone",
            "+254722000111",
            "is already the number of customer 'Akinyi'",
        ),
    ] {
        let fields: Vec<(&str, &str)> = good
            .iter()
            .map(|&(k, v)| if k == field { (k, value) } else { (k, v) })
            .collect();
        let page = manager.post(&path, &fields).await;
        page.assert_bad_keeping(message, (field != "name").then_some("Otieno Juma"));
        server.assert_unchanged(&before);
    }
    // No CSRF token: refused, nothing changed.
    let mut forged: Vec<(&str, &str)> = good.to_vec();
    forged.push(("_csrf", "forged"));
    manager
        .post_raw(&path, &forged)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    manager
        .post_raw(&path, &good)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    server.assert_unchanged(&before);

    // A manager may edit a customer; the till pulls the merged state.
    server.clock.advance_millis(60_000);
    manager.post(&path, &good).await.assert_redirect(&path);
    let state = server
        .feed(&main.key)
        .await
        .into_iter()
        .filter_map(|b| match b {
            ChangeBody::Customer(c) if c.id == otieno => Some(c),
            _ => None,
        })
        .next_back()
        .unwrap();
    assert_eq!(state.name.as_str(), "Otieno Juma");
    assert_eq!(state.phone.unwrap().as_str(), "+254733444555");
    assert_eq!(state.credit_limit, kes(750_050));
    assert_eq!(state.notes.as_deref(), Some("pays monthly"));
    // Only the changed fields carry the dashboard's clock: the email kept the
    // till's.
    let clocks: String = server
        .admin()
        .query_row(
            "SELECT field_hlc FROM customers WHERE id = ?1",
            [otieno.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    let clocks: serde_json::Value = serde_json::from_str(&clocks).unwrap();
    assert_ne!(clocks["email"], clocks["name"], "{clocks}");
    assert_eq!(clocks["name"], clocks["credit_limit"], "{clocks}");
    assert_eq!(
        server.count("SELECT COUNT(*) FROM web_audit WHERE action = 'customer.update'"),
        1
    );
    let page = manager.get(&path).await;
    page.assert_ok(&["Saved (name, phone, credit limit, notes)", "KES 7,500.50"]);

    // Sending the same values again changes nothing.
    let before = server.snapshot();
    manager.post(&path, &good).await.assert_redirect(&path);
    server.assert_unchanged(&before);
    // Clearing the notes is a change of the notes alone.
    let mut cleared = good.to_vec();
    cleared[3] = ("notes", "");
    manager.post(&path, &cleared).await.assert_redirect(&path);
    let db = server.admin();
    let notes: Option<String> = db
        .query_row(
            "SELECT notes FROM customers WHERE id = ?1",
            [otieno.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(notes, None);
    let detail: String = db
        .query_row(
            "SELECT detail FROM web_audit ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(detail, "changed notes");
}

// Expenses ----------------------------------------------------------------------

fn expense(
    till: &Till,
    category: &str,
    what: &str,
    minor: i64,
    paid: ExpensePaidWith,
    reference: Option<&str>,
    day: &str,
) -> (ExpenseId, OpBody) {
    let id = ExpenseId::new();
    let body = OpBody::ExpenseChanged(ExpensePatch {
        branch_id: Some(till.branch_id),
        device_id: Some(till.device_id),
        user_id: Some(till.cashier),
        category: Some(name(category)),
        description: Some(what.into()),
        amount: Some(kes(minor)),
        paid_with: Some(paid),
        reference: Some(reference.map(Into::into)),
        spent_at: Some(till.now()),
        business_day: Some(day.into()),
        ..ExpensePatch::new(id)
    });
    (id, body)
}

#[tokio::test]
async fn expenses_are_totalled_per_branch_and_category_for_the_days_chosen() {
    let server = start().await;
    let manager = server.signed_in("mary", Role::Manager).await;
    let (mut main, _) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, _) = ready_till(&server, "Town", "Till 1").await;
    let (_, a) = expense(
        &main,
        "Transport",
        "Boda to the market",
        500_00,
        ExpensePaidWith::Cash,
        None,
        "2026-03-02",
    );
    let (_, b) = expense(
        &main,
        "Cleaning",
        "Soap and mops",
        250_00,
        ExpensePaidWith::Mpesa,
        Some("QJK3H5TRD2"),
        "2026-03-02",
    );
    let (_, c) = expense(
        &main,
        "Transport",
        "Fuel",
        99_00,
        ExpensePaidWith::Card,
        None,
        "2026-03-05",
    );
    let ops = [main.op(a), main.op(b), main.op(c)];
    server.push_applied(&main.key, &ops).await;
    let (_, d) = expense(
        &town,
        "Transport",
        "Delivery van",
        1_000_00,
        ExpensePaidWith::Bank,
        None,
        "2026-03-02",
    );
    let op = town.op(d);
    server.push_applied(&town.key, &[op]).await;

    let day = manager.get("/expenses?from=2026-03-02&to=2026-03-02").await;
    day.assert_ok(&[
        "Boda to the market",
        "Soap and mops",
        "Delivery van",
        "QJK3H5TRD2",
        "M-Pesa",
        "Wanjiku",
    ]);
    assert!(!day.body.contains("Fuel"), "the 5th is outside the range");
    for (id, total) in [
        ("total-all", "KES 1,750.00"),
        ("total-branch-MAIN", "KES 750.00"),
        ("total-branch-TOWN", "KES 1,000.00"),
        ("total-category-Transport", "KES 1,500.00"),
        ("total-category-Cleaning", "KES 250.00"),
    ] {
        assert_eq!(testid_text(&day.body, id).as_deref(), Some(total), "{id}");
    }
    // One branch.
    let town_only = manager
        .get(&format!(
            "/expenses?branch={}&from=2026-03-02&to=2026-03-02",
            town.branch_id
        ))
        .await;
    town_only.assert_ok(&["Delivery van"]);
    assert_eq!(
        testid_text(&town_only.body, "total-all").as_deref(),
        Some("KES 1,000.00")
    );
    assert_eq!(testid_text(&town_only.body, "total-branch-MAIN"), None);
    assert!(!town_only.body.contains("Boda to the market"));
    // A wider range; and by default this month so far (March 1st to 2nd).
    let week = manager.get("/expenses?from=2026-03-01&to=2026-03-07").await;
    assert_eq!(
        testid_text(&week.body, "total-all").as_deref(),
        Some("KES 1,849.00")
    );
    assert_eq!(
        testid_text(&week.body, "total-category-Transport").as_deref(),
        Some("KES 1,599.00")
    );
    let default = manager.get("/expenses").await;
    default.assert_ok(&["value=\"2026-03-01\"", "value=\"2026-03-02\""]);
    assert_eq!(
        testid_text(&default.body, "total-all").as_deref(),
        Some("KES 1,750.00")
    );

    // A bad filter says which.
    manager
        .get("/expenses?from=2026-02-30")
        .await
        .assert_bad("from '2026-02-30' is not a date");
    manager
        .get("/expenses?from=2026-03-05&to=2026-03-01")
        .await
        .assert_bad("from (2026-03-05) is after to (2026-03-01)");
    manager
        .get("/expenses?branch=nope")
        .await
        .assert_bad("the branch 'nope'");
}

#[tokio::test]
async fn deleting_an_expense_is_a_tombstone_only_its_branch_pulls() {
    let server = start().await;
    let manager = server.signed_in("mary", Role::Manager).await;
    let (mut main, _) = ready_till(&server, "Main", "Till 1").await;
    let (mut town, _) = ready_till(&server, "Town", "Till 1").await;
    let (kept, a) = expense(
        &main,
        "Transport",
        "Boda",
        500_00,
        ExpensePaidWith::Cash,
        None,
        "2026-03-02",
    );
    let op = main.op(a);
    server.push_applied(&main.key, &[op]).await;
    let (gone, b) = expense(
        &town,
        "Cleaning",
        "Typo: 10x too much",
        2_500_00,
        ExpensePaidWith::Cash,
        None,
        "2026-03-02",
    );
    let op = town.op(b);
    server.push_applied(&town.key, &[op]).await;
    let path = format!("/expenses/{gone}/delete");

    let before = server.snapshot();
    manager
        .post_raw(&path, &[("confirm", "yes")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    server.assert_unchanged(&before);

    // The first post only asks, saying what happens; it keeps `back`.
    let back = "/expenses?from=2026-03-02&amp;to=2026-03-02";
    manager
        .post(
            &path,
            &[("back", "/expenses?from=2026-03-02&to=2026-03-02")],
        )
        .await
        .assert_confirm(
            &manager.csrf,
            &path,
            &[
                "Delete the expense Typo: 10x too much (KES 2,500.00)?",
                "is deleted at every till of Town on their next sync",
                &format!("name=\"back\" value=\"{back}\""),
                &format!("href=\"{back}\" data-testid=\"confirm-cancel\""),
            ],
        );
    server.assert_unchanged(&before);

    server.clock.advance_millis(60_000);
    manager
        .post(
            &path,
            &[
                ("back", "/expenses?from=2026-03-02&to=2026-03-02"),
                ("confirm", "yes"),
            ],
        )
        .await
        .assert_redirect("/expenses?from=2026-03-02&to=2026-03-02");
    let town_feed = server.feed(&town.key).await;
    let tomb = town_feed
        .iter()
        .filter_map(|b| match b {
            ChangeBody::Expense(e) if e.id == gone => Some(e),
            _ => None,
        })
        .next_back()
        .unwrap();
    assert_eq!(tomb.deleted_at, Some(Timestamp::from_millis(T0 + 60_000)));
    assert!(
        !server
            .feed(&main.key)
            .await
            .iter()
            .any(|b| matches!(b, ChangeBody::Expense(e) if e.id == gone)),
        "Main never sees Town's expenses"
    );
    let page = manager.get("/expenses?from=2026-03-02&to=2026-03-02").await;
    assert_eq!(
        testid_text(&page.body, "total-all").as_deref(),
        Some("KES 500.00")
    );
    assert!(page.body.contains(&kept.to_string()) && !page.body.contains(&gone.to_string()));
    // Twice: there is nothing left to delete. A foreign `back` is ignored.
    manager
        .post(&path, &[("confirm", "yes")])
        .await
        .assert_status(StatusCode::NOT_FOUND);
    manager
        .post(&path, &[])
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let (other, c) = expense(
        &main,
        "Transport",
        "Boda back",
        300_00,
        ExpensePaidWith::Cash,
        None,
        "2026-03-02",
    );
    let op = main.op(c);
    server.push_applied(&main.key, &[op]).await;
    manager
        .post(
            &format!("/expenses/{other}/delete"),
            &[("back", "//evil.example/x"), ("confirm", "yes")],
        )
        .await
        .assert_redirect("/expenses");
}

// Till users --------------------------------------------------------------------

fn verifies(hash: &str, pin: &str) -> bool {
    let parsed = PasswordHash::new(hash).unwrap();
    Argon2::default()
        .verify_password(pin.as_bytes(), &parsed)
        .is_ok()
}

/// The latest state of till user `id` in a till's feed.
async fn pulled_user(server: &TestServer, till: &Till, id: UserId) -> UserState {
    server
        .feed(&till.key)
        .await
        .into_iter()
        .filter_map(|b| match b {
            ChangeBody::User(u) if u.id == id => Some(u),
            _ => None,
        })
        .next_back()
        .expect("the till pulled the user")
}

fn user_id(server: &TestServer, who: &str) -> UserId {
    let id: String = server
        .admin()
        .query_row("SELECT id FROM users WHERE name = ?1", [who], |r| r.get(0))
        .unwrap();
    id.parse().unwrap()
}

async fn add_user(b: &Browser, who: &str, role: &str, pin: &str) {
    b.post(
        "/users",
        &[
            ("name", who),
            ("role", role),
            ("pin", pin),
            ("pin_again", pin),
        ],
    )
    .await
    .assert_redirect("/users");
}

#[tokio::test]
async fn an_owner_adds_a_till_user_whose_pin_the_tills_verify() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let till = server.till("Main", "Till 1");

    // Bad input: the form again, naming the field; the name stays typed in,
    // a PIN never comes back.
    let before = server.snapshot();
    for (fields, message) in [
        (
            [
                ("name", "Baraka"),
                ("role", "cashier"),
                ("pin", "12a4"),
                ("pin_again", "12a4"),
            ],
            "the PIN must be 4 to 8 digits",
        ),
        (
            [
                ("name", "Baraka"),
                ("role", "cashier"),
                ("pin", "123"),
                ("pin_again", "123"),
            ],
            "the PIN must be 4 to 8 digits",
        ),
        (
            [
                ("name", "Baraka"),
                ("role", "cashier"),
                ("pin", "97531864"),
                ("pin_again", "97531865"),
            ],
            "do not match",
        ),
        (
            [
                ("name", " "),
                ("role", "cashier"),
                ("pin", "97531864"),
                ("pin_again", "97531864"),
            ],
            "the name cannot be empty",
        ),
        (
            [
                ("name", "Baraka"),
                ("role", "boss"),
                ("pin", "97531864"),
                ("pin_again", "97531864"),
            ],
            "the role 'boss'",
        ),
    ] {
        let page = owner.post("/users", &fields).await;
        page.assert_bad_keeping(message, (fields[0].1 == "Baraka").then_some("Baraka"));
        assert!(!page.body.contains("97531864"), "a PIN is never shown");
        server.assert_unchanged(&before);
    }
    let no_token = [
        ("name", "Baraka"),
        ("role", "cashier"),
        ("pin", "9753"),
        ("pin_again", "9753"),
    ];
    owner
        .post_raw("/users", &no_token)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    server.assert_unchanged(&before);

    add_user(&owner, "Achieng", "cashier", "43218765").await;
    let id = user_id(&server, "Achieng");
    let u = pulled_user(&server, &till, id).await;
    assert_eq!(u.name.as_str(), "Achieng");
    assert_eq!(u.role, pos_domain::Role::Cashier);
    assert!(u.active && u.deleted_at.is_none());
    assert!(
        u.pin_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "the till's parameters: {}",
        u.pin_hash
    );
    assert!(verifies(&u.pin_hash, "43218765"));
    assert!(!verifies(&u.pin_hash, "4321"));

    // Names are unique among live users, ignoring case.
    let before = server.snapshot();
    owner
        .post(
            "/users",
            &[
                ("name", "ACHIENG"),
                ("role", "manager"),
                ("pin", "5555"),
                ("pin_again", "5555"),
            ],
        )
        .await
        .assert_bad("already a till user called 'Achieng'");
    server.assert_unchanged(&before);

    let list = owner.get("/users").await;
    list.assert_ok(&["Achieng", "Cashier", "2026-03-02 09:00"]);
    assert!(!list.body.contains("$argon2") && !list.body.contains("43218765"));
    let audit: String = server
        .admin()
        .query_row(
            "SELECT detail FROM web_audit WHERE action = 'till_user.add'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audit, "added Achieng as cashier");
}

#[tokio::test]
async fn a_pin_reset_changes_the_hash_the_tills_verify() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let till = server.till("Main", "Till 1");
    add_user(&owner, "Achieng", "cashier", "4321").await;
    let id = user_id(&server, "Achieng");
    let path = format!("/users/{id}/pin");

    let before = server.snapshot();
    owner
        .post(&path, &[("pin", "8642"), ("pin_again", "8643")])
        .await
        .assert_bad("do not match");
    owner
        .post(&path, &[("pin", "86"), ("pin_again", "86")])
        .await
        .assert_bad("the PIN must be 4 to 8 digits");
    owner
        .post_raw(&path, &[("pin", "8642"), ("pin_again", "8642")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    server.assert_unchanged(&before);

    server.clock.advance_millis(60_000);
    owner
        .post(&path, &[("pin", "8642"), ("pin_again", "8642")])
        .await
        .assert_redirect("/users");
    let u = pulled_user(&server, &till, id).await;
    assert!(verifies(&u.pin_hash, "8642"));
    assert!(
        !verifies(&u.pin_hash, "4321"),
        "the old PIN no longer works"
    );
    assert_eq!(u.name.as_str(), "Achieng", "only the PIN changed");
    let detail: String = server
        .admin()
        .query_row(
            "SELECT detail FROM web_audit WHERE action = 'till_user.pin_reset'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(detail, "PIN reset");
}

#[tokio::test]
async fn role_access_and_name_changes_and_deletes_reach_the_tills() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let till = server.till("Main", "Till 1");
    add_user(&owner, "Boss", "owner", "1111").await;
    add_user(&owner, "Achieng", "cashier", "4321").await;
    let (boss, achieng) = (user_id(&server, "Boss"), user_id(&server, "Achieng"));

    // Promoted to manager, renamed and turned off (the box left unticked).
    server.clock.advance_millis(60_000);
    owner
        .post(
            &format!("/users/{achieng}"),
            &[("name", "Achieng Odhiambo"), ("role", "manager")],
        )
        .await
        .assert_redirect("/users");
    let u = pulled_user(&server, &till, achieng).await;
    assert_eq!(
        (u.name.as_str(), u.role, u.active),
        ("Achieng Odhiambo", pos_domain::Role::Manager, false)
    );
    assert!(verifies(&u.pin_hash, "4321"), "the PIN did not change");

    // The last active owner cannot be demoted, turned off or deleted.
    let before = server.snapshot();
    let edit = owner
        .post(
            &format!("/users/{boss}"),
            &[("name", "Boss"), ("role", "cashier"), ("active", "on")],
        )
        .await;
    edit.assert_bad("the role: 'Boss' is the only active owner");
    assert!(
        edit.body.contains("value=\"cashier\" selected"),
        "the typed role stays chosen"
    );
    owner
        .post(
            &format!("/users/{boss}"),
            &[("name", "Boss"), ("role", "owner")],
        )
        .await
        .assert_bad("active: 'Boss' is the only active owner");
    owner
        .post(&format!("/users/{boss}/delete"), &[("confirm", "yes")])
        .await
        .assert_bad("only active owner");
    // Refused before asking.
    owner
        .post(&format!("/users/{boss}/delete"), &[])
        .await
        .assert_bad("only active owner");
    server.assert_unchanged(&before);

    // The first post only asks, saying what happens.
    let path = format!("/users/{achieng}/delete");
    owner.post(&path, &[]).await.assert_confirm(
        &owner.csrf,
        &path,
        &[
            "Delete Achieng Odhiambo (manager)?",
            "Achieng Odhiambo can no longer sign in at any till",
            "Their name stays on the receipts and sales they made.",
        ],
    );
    server.assert_unchanged(&before);

    // Deleted: a tombstone every till pulls; the page no longer lists it.
    server.clock.advance_millis(60_000);
    owner
        .post(&path, &[("confirm", "yes")])
        .await
        .assert_redirect("/users");
    let u = pulled_user(&server, &till, achieng).await;
    assert_eq!(u.deleted_at, Some(Timestamp::from_millis(T0 + 120_000)));
    let list = owner.get("/users").await;
    list.assert_ok(&["Till user Achieng Odhiambo deleted."]);
    assert!(
        !list
            .body
            .contains(&format!("data-testid=\"user-{achieng}\""))
    );
    assert!(list.body.contains(&format!("data-testid=\"user-{boss}\"")));
    owner
        .get(&format!("/users/{achieng}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_manager_manages_cashiers_only() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let manager = server.signed_in("mary", Role::Manager).await;
    let till = server.till("Main", "Till 1");
    add_user(&owner, "Boss", "owner", "1111").await;
    add_user(&owner, "Peter", "manager", "2222").await;
    add_user(&owner, "Achieng", "cashier", "4321").await;
    let (boss, peter, achieng) = (
        user_id(&server, "Boss"),
        user_id(&server, "Peter"),
        user_id(&server, "Achieng"),
    );

    let before = server.snapshot();
    for (path, fields) in [
        (
            "/users".to_string(),
            vec![
                ("name", "New Owner"),
                ("role", "owner"),
                ("pin", "3333"),
                ("pin_again", "3333"),
            ],
        ),
        (
            "/users".to_string(),
            vec![
                ("name", "New Manager"),
                ("role", "manager"),
                ("pin", "3333"),
                ("pin_again", "3333"),
            ],
        ),
        (
            format!("/users/{boss}"),
            vec![("name", "Boss"), ("role", "owner"), ("active", "on")],
        ),
        (
            format!("/users/{boss}/pin"),
            vec![("pin", "0000"), ("pin_again", "0000")],
        ),
        (format!("/users/{boss}/delete"), vec![]),
        (format!("/users/{boss}/delete"), vec![("confirm", "yes")]),
        (
            format!("/users/{peter}/pin"),
            vec![("pin", "0000"), ("pin_again", "0000")],
        ),
        (
            format!("/users/{achieng}"),
            vec![("name", "Achieng"), ("role", "owner"), ("active", "on")],
        ),
        (
            format!("/users/{achieng}"),
            vec![("name", "Achieng"), ("role", "manager"), ("active", "on")],
        ),
    ] {
        let page = manager.post(&path, &fields).await;
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "{path} {fields:?}: {}",
            page.body
        );
        assert!(page.body.contains("only an owner"), "{}", page.body);
        server.assert_unchanged(&before);
    }
    manager
        .get(&format!("/users/{boss}"))
        .await
        .assert_ok(&["read-only"]);

    // Cashiers are theirs: a new one, a PIN reset, a rename.
    add_user(&manager, "Baraka", "cashier", "5678").await;
    manager
        .post(
            &format!("/users/{achieng}/pin"),
            &[("pin", "8642"), ("pin_again", "8642")],
        )
        .await
        .assert_redirect("/users");
    let u = pulled_user(&server, &till, achieng).await;
    assert!(verifies(&u.pin_hash, "8642"));
    manager
        .post(
            &format!("/users/{achieng}"),
            &[
                ("name", "Achieng O."),
                ("role", "cashier"),
                ("active", "on"),
            ],
        )
        .await
        .assert_redirect("/users");
    assert_eq!(
        pulled_user(&server, &till, achieng).await.name.as_str(),
        "Achieng O."
    );
    let baraka = pulled_user(&server, &till, user_id(&server, "Baraka")).await;
    assert_eq!(baraka.role, pos_domain::Role::Cashier);
    assert!(verifies(&baraka.pin_hash, "5678"));
}
