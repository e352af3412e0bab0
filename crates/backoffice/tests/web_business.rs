//! The dashboard's business pages over real HTTP: branches (made and changed
//! by owners, pulled by every till), business settings (a patch of the
//! changed fields) and tax rates (basis points, retired as tombstones).

mod common;

use backoffice::web::session::Role;
use common::web::testid_row;
use common::*;
use pos_domain::{BranchId, Currency, Hlc, TaxCode, TaxMode, TimeZone};
use reqwest::StatusCode;
use sync_protocol::{BranchState, ChangeBody, SettingsState, TaxRateRecord};

async fn pulled_branch(server: &TestServer, till: &Till, code: &str) -> BranchState {
    server
        .feed(&till.key)
        .await
        .into_iter()
        .filter_map(|b| match b {
            ChangeBody::Branch(s) if s.code == code => Some(s),
            _ => None,
        })
        .next_back()
        .unwrap_or_else(|| panic!("the till pulled no branch {code}"))
}

async fn pulled_settings(server: &TestServer, till: &Till) -> SettingsState {
    server
        .feed(&till.key)
        .await
        .into_iter()
        .filter_map(|b| match b {
            ChangeBody::Settings(s) => Some(s),
            _ => None,
        })
        .next_back()
        .expect("the till pulled the settings")
}

async fn pulled_rate(server: &TestServer, till: &Till, code: &str) -> TaxRateRecord {
    server
        .feed(&till.key)
        .await
        .into_iter()
        .filter_map(|b| match b {
            ChangeBody::TaxRate(r) if r.code.as_str() == code => Some(r),
            _ => None,
        })
        .next_back()
        .unwrap_or_else(|| panic!("the till pulled no tax rate {code}"))
}

fn setting_clock(server: &TestServer, key: &str) -> Hlc {
    let text: String = server
        .admin()
        .query_row(
            "SELECT hlc FROM business_settings WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .unwrap();
    text.parse().unwrap()
}

// Branches ------------------------------------------------------------------------

#[tokio::test]
async fn an_owner_adds_a_branch_that_every_till_pulls() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let (main, _) = ready_till(&server, "Main", "Till 1").await;

    owner
        .post(
            "/branches",
            &[
                ("name", "Westlands"),
                ("code", "wl1"),
                ("time_zone", "Africa/Kampala"),
            ],
        )
        .await
        .assert_redirect("/branches");
    let b = pulled_branch(&server, &main, "WL1").await;
    assert_eq!(b.name, "Westlands");
    assert_eq!(b.time_zone, TimeZone::parse("Africa/Kampala").unwrap());
    assert!(b.deleted_at.is_none());
    // No code given: one is made from the name.
    owner
        .post(
            "/branches",
            &[
                ("name", "Kilimani Mall"),
                ("code", ""),
                ("time_zone", "Africa/Nairobi"),
            ],
        )
        .await
        .assert_redirect("/branches");
    assert_eq!(
        pulled_branch(&server, &main, "KILIMANI").await.name,
        "Kilimani Mall"
    );

    // The list: devices and their last push and pull, in the branch's zone.
    let page = owner.get("/branches").await;
    page.assert_ok(&[
        "Westlands",
        "Kilimani Mall",
        "Branch Kilimani Mall (KILIMANI) added.",
    ]);
    let main_row = testid_row(&page.body, "branch-MAIN").unwrap();
    assert!(
        main_row.contains("<td class=\"num\">1</td>"),
        "one device: {main_row}"
    );
    assert_eq!(
        main_row.matches("2026-03-02 09:00").count(),
        2,
        "pushed and pulled at 09:00: {main_row}"
    );
    let west = testid_row(&page.body, "branch-WL1").unwrap();
    assert!(
        west.contains("<td class=\"num\">0</td>") && west.matches("never").count() == 2,
        "{west}"
    );

    // Bad input: the form again with what was typed, nothing changed.
    let before = server.snapshot();
    for (fields, message) in [
        (
            [
                ("name", "main"),
                ("code", ""),
                ("time_zone", "Africa/Nairobi"),
            ],
            "the name: there is already a branch called 'Main'",
        ),
        (
            [
                ("name", "Parklands"),
                ("code", "WL1"),
                ("time_zone", "Africa/Nairobi"),
            ],
            "the code: a branch already has the code WL1",
        ),
        (
            [
                ("name", "Parklands"),
                ("code", "MAIN"),
                ("time_zone", "Africa/Nairobi"),
            ],
            "the code: a branch already has the code MAIN",
        ),
        (
            [
                ("name", "Parklands"),
                ("code", "PARKLANDS1"),
                ("time_zone", "Africa/Nairobi"),
            ],
            "the code 'PARKLANDS1' must be 1 to 8 letters",
        ),
        (
            [
                ("name", "Parklands"),
                ("code", "P-1"),
                ("time_zone", "Africa/Nairobi"),
            ],
            "the code 'P-1' must be 1 to 8 letters",
        ),
        (
            [
                ("name", "Parklands"),
                ("code", ""),
                ("time_zone", "Mars/Olympus"),
            ],
            "the time zone 'Mars/Olympus' is not a time zone",
        ),
        (
            [
                ("name", "  "),
                ("code", ""),
                ("time_zone", "Africa/Nairobi"),
            ],
            "the name cannot be empty",
        ),
    ] {
        owner
            .post("/branches", &fields)
            .await
            .assert_bad_keeping(message, Some(fields[2].1));
        server.assert_unchanged(&before);
    }
    let no_token = [
        ("name", "Parklands"),
        ("code", ""),
        ("time_zone", "Africa/Nairobi"),
    ];
    owner
        .post_raw("/branches", &no_token)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    server.assert_unchanged(&before);
}

#[tokio::test]
async fn an_owner_renames_a_branch_and_changes_its_time_zone() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let main = server.till("Main", "Till 1");
    let _town = server.till("Town", "Till 1");
    let first = pulled_branch(&server, &main, "MAIN").await;
    let path = format!("/branches/{}", main.branch_id);

    let renamed = [
        ("name", "Main Street"),
        ("time_zone", "Africa/Dar_es_Salaam"),
    ];
    server.clock.advance_millis(60_000);
    owner
        .post(&path, &renamed)
        .await
        .assert_redirect("/branches");
    let b = pulled_branch(&server, &main, "MAIN").await;
    assert_eq!((b.id, b.name.as_str()), (main.branch_id, "Main Street"));
    assert_eq!(b.time_zone.name(), "Africa/Dar_es_Salaam");
    assert!(
        b.hlc > first.hlc,
        "a newer clock: {} > {}",
        b.hlc,
        first.hlc
    );
    assert_eq!(b.code, "MAIN", "the code never changes");

    let before = server.snapshot();
    for (fields, message) in [
        (
            [("name", "town"), ("time_zone", "Africa/Nairobi")],
            "there is already a branch called 'Town'",
        ),
        (
            [("name", "Main Street"), ("time_zone", "Nairobi")],
            "the time zone 'Nairobi' is not a time zone",
        ),
        (
            [("name", ""), ("time_zone", "Africa/Nairobi")],
            "the name cannot be empty",
        ),
    ] {
        owner
            .post(&path, &fields)
            .await
            .assert_bad_keeping(message, Some(fields[1].1));
        server.assert_unchanged(&before);
    }
    // The same values again change nothing.
    owner
        .post(&path, &renamed)
        .await
        .assert_redirect("/branches");
    server.assert_unchanged(&before);
    owner
        .post(
            &format!("/branches/{}", BranchId::new()),
            &[("name", "X"), ("time_zone", "UTC")],
        )
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_manager_sees_branches_and_settings_but_changes_nothing() {
    let server = start().await;
    let manager = server.signed_in("mary", Role::Manager).await;
    let main = server.till("Main", "Till 1");
    manager
        .get("/branches")
        .await
        .assert_ok(&["read-only", "Main"]);
    let settings = manager.get("/settings").await;
    settings.assert_ok(&["read-only", "My Shop", "VAT16"]);
    assert!(
        settings.body.contains("<fieldset disabled"),
        "the form is read-only"
    );
    assert!(!settings.body.contains("tax-rate-form"));

    let before = server.snapshot();
    for (path, fields) in [
        (
            "/branches".to_string(),
            vec![
                ("name", "Westlands"),
                ("code", ""),
                ("time_zone", "Africa/Nairobi"),
            ],
        ),
        (
            format!("/branches/{}", main.branch_id),
            vec![("name", "Main Street"), ("time_zone", "Africa/Nairobi")],
        ),
        (
            "/settings".to_string(),
            vec![
                ("store_name", "Duka Bora"),
                ("currency", "KES"),
                ("time_zone", "Africa/Nairobi"),
                ("tax_mode", "inclusive"),
            ],
        ),
        (
            "/settings/tax-rates".to_string(),
            vec![("code", "VAT8"), ("name", "VAT 8%"), ("percent", "8")],
        ),
        ("/settings/tax-rates/ZERO/delete".to_string(), vec![]),
        (
            "/settings/tax-rates/ZERO/delete".to_string(),
            vec![("confirm", "yes")],
        ),
    ] {
        let page = manager.post(&path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
        assert!(
            page.body.contains("only an owner may do this"),
            "{}",
            page.body
        );
        server.assert_unchanged(&before);
    }
}

// Settings ------------------------------------------------------------------------

fn settings_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("store_name", "My Shop"),
        ("address", ""),
        ("phone", ""),
        ("tax_pin", ""),
        ("receipt_header", ""),
        ("receipt_footer", "Thank you!"),
        ("currency", "KES"),
        ("time_zone", "Africa/Nairobi"),
        ("tax_mode", "inclusive"),
    ];
    for (k, v) in changes {
        fields.iter_mut().find(|(f, _)| *f == *k).unwrap().1 = v;
    }
    fields
}

#[tokio::test]
async fn settings_are_sent_as_a_patch_of_the_changed_fields() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let (till, _) = ready_till(&server, "Main", "Till 1").await;

    // Unchanged values change nothing.
    let before = server.snapshot();
    owner
        .post("/settings", &settings_form(&[]))
        .await
        .assert_redirect("/settings");
    server.assert_unchanged(&before);

    server.clock.advance_millis(60_000);
    let form = settings_form(&[
        ("store_name", "  Duka Bora "),
        ("address", "Moi Avenue, Nairobi"),
        ("phone", "0712 345 678"),
        ("tax_pin", "p051234567x"),
        ("receipt_header", "Karibu!\r\nOpen 8 to 8"),
        ("tax_mode", "exclusive"),
    ]);
    owner
        .post("/settings", &form)
        .await
        .assert_redirect("/settings");
    let s = pulled_settings(&server, &till).await;
    assert_eq!(s.store_name, "Duka Bora");
    assert_eq!(s.address, "Moi Avenue, Nairobi");
    assert_eq!(s.phone, "+254712345678");
    assert_eq!(s.tax_pin, "P051234567X");
    assert_eq!(s.receipt_header, "Karibu!\nOpen 8 to 8");
    assert_eq!(s.receipt_footer, "Thank you!");
    assert_eq!(s.tax_mode, TaxMode::Exclusive);
    assert_eq!(s.currency, Currency::KES);
    // Only the changed settings carry the new clock.
    assert!(setting_clock(&server, "store_name") > Hlc::ZERO);
    assert_eq!(
        setting_clock(&server, "store_name"),
        setting_clock(&server, "tax_mode")
    );
    for untouched in ["receipt_footer", "currency", "time_zone"] {
        assert_eq!(setting_clock(&server, untouched), Hlc::ZERO, "{untouched}");
    }
    let detail: String = server
        .admin()
        .query_row(
            "SELECT detail FROM web_audit WHERE action = 'settings.update'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        detail,
        "changed store name, address, phone, tax PIN, receipt header, tax mode"
    );

    // Bad input: the form again with what was typed, naming the field.
    let before = server.snapshot();
    for (field, value, message) in [
        ("store_name", " ", "the store name cannot be empty"),
        ("phone", "12", "the phone '12' is not a phone number"),
        (
            "tax_pin",
            "P05-1",
            "the tax PIN 'P05-1' must be up to 20 letters and digits",
        ),
        (
            "currency",
            "XYZ",
            "the currency 'XYZ' is not a currency code",
        ),
        (
            "currency",
            "UGX",
            "the currency cannot change from KES to UGX",
        ),
        (
            "time_zone",
            "Nairobi",
            "the time zone 'Nairobi' is not a time zone",
        ),
        (
            "tax_mode",
            "both",
            "the tax mode 'both' is not inclusive or exclusive",
        ),
        (
            "receipt_footer",
            "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13",
            "the receipt footer has 13 lines",
        ),
    ] {
        let mut fields = settings_form(&[("store_name", "Duka Bora 2")]);
        fields.iter_mut().find(|(f, _)| *f == field).unwrap().1 = value;
        owner
            .post("/settings", &fields)
            .await
            .assert_bad_keeping(message, (field != "store_name").then_some("Duka Bora 2"));
        server.assert_unchanged(&before);
    }
    let mut no_token = settings_form(&[("store_name", "Forged")]);
    no_token.push(("_csrf", "forged"));
    owner
        .post_raw("/settings", &no_token)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    server.assert_unchanged(&before);
    owner
        .get("/settings")
        .await
        .assert_ok(&["value=\"Duka Bora\"", "the currency is fixed at KES"]);
}

#[tokio::test]
async fn the_currency_may_change_only_before_anything_is_priced() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let till = server.till("Kampala", "Till 1");
    owner
        .post(
            "/settings",
            &settings_form(&[("currency", "ugx"), ("time_zone", "Africa/Kampala")]),
        )
        .await
        .assert_redirect("/settings");
    let s = pulled_settings(&server, &till).await;
    assert_eq!(s.currency.code(), "UGX");
    assert_eq!(s.time_zone.name(), "Africa/Kampala");
}

// Tax rates ---------------------------------------------------------------------

#[tokio::test]
async fn tax_rates_are_added_changed_and_retired_in_basis_points() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let (till, _) = ready_till(&server, "Main", "Till 1").await;

    owner
        .post(
            "/settings/tax-rates",
            &[("code", "vat8"), ("name", "VAT 8.5%"), ("percent", "8.5")],
        )
        .await
        .assert_redirect("/settings");
    let r = pulled_rate(&server, &till, "VAT8").await;
    assert_eq!(
        r,
        TaxRateRecord {
            code: TaxCode::parse("VAT8").unwrap(),
            name: "VAT 8.5%".into(),
            basis_points: 850,
            deleted: false
        }
    );
    owner
        .get("/settings")
        .await
        .assert_ok(&["Tax rate VAT8 (8.5%) saved", "VAT 8.5%", "8.5%"]);
    owner
        .get("/settings?edit=VAT8")
        .await
        .assert_ok(&["value=\"VAT 8.5%\"", "value=\"8.5\""]);

    server.clock.advance_millis(60_000);
    owner
        .post(
            "/settings/tax-rates",
            &[("code", "VAT8"), ("name", "VAT 8.25%"), ("percent", "8.25")],
        )
        .await
        .assert_redirect("/settings");
    assert_eq!(pulled_rate(&server, &till, "VAT8").await.basis_points, 825);

    let before = server.snapshot();
    for (fields, message) in [
        (
            [("code", "VAT8"), ("name", "VAT"), ("percent", "8.555")],
            "the percent '8.555' is not a tax rate",
        ),
        (
            [("code", "VAT8"), ("name", "VAT"), ("percent", "101")],
            "the percent '101' is not a tax rate",
        ),
        (
            [("code", "VAT8"), ("name", "VAT"), ("percent", "abc")],
            "the percent 'abc' is not a tax rate",
        ),
        (
            [("code", "VAT 8"), ("name", "VAT"), ("percent", "8")],
            "the code: tax code 'VAT 8'",
        ),
        (
            [("code", ""), ("name", "VAT"), ("percent", "8")],
            "the code: tax code cannot be empty",
        ),
        (
            [("code", "VAT8"), ("name", " "), ("percent", "8")],
            "the tax rate name cannot be empty",
        ),
    ] {
        owner
            .post("/settings/tax-rates", &fields)
            .await
            .assert_bad_keeping(message, Some(fields[2].1));
        server.assert_unchanged(&before);
    }
    // The same values again change nothing.
    owner
        .post(
            "/settings/tax-rates",
            &[
                ("code", "VAT8"),
                ("name", "VAT 8.25%"),
                ("percent", "8.250"),
            ],
        )
        .await
        .assert_bad("the percent '8.250'");
    owner
        .post(
            "/settings/tax-rates",
            &[
                ("code", "VAT8"),
                ("name", "VAT 8.25%"),
                ("percent", "8.25 %"),
            ],
        )
        .await
        .assert_redirect("/settings");
    server.assert_unchanged(&before);

    // A rate live products use stays; an unused one is retired.
    owner
        .post("/settings/tax-rates/VAT16/delete", &[("confirm", "yes")])
        .await
        .assert_bad("tax rate VAT16 is used by 1 product; move them to another tax rate first");
    // Refused before asking.
    owner
        .post("/settings/tax-rates/VAT16/delete", &[])
        .await
        .assert_bad("tax rate VAT16 is used by 1 product; move them to another tax rate first");
    owner
        .post_raw("/settings/tax-rates/VAT8/delete", &[("confirm", "yes")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    // The first post only asks, saying what happens.
    owner
        .post("/settings/tax-rates/VAT8/delete", &[])
        .await
        .assert_confirm(
            &owner.csrf,
            "/settings/tax-rates/VAT8/delete",
            &[
                "Retire tax rate VAT8 (VAT 8.25%, 8.25%)?",
                "sales already made keep the rate they were made with",
            ],
        );
    server.assert_unchanged(&before);
    server.clock.advance_millis(60_000);
    owner
        .post("/settings/tax-rates/VAT8/delete", &[("confirm", "yes")])
        .await
        .assert_redirect("/settings");
    let r = pulled_rate(&server, &till, "VAT8").await;
    assert!(r.deleted && r.basis_points == 825, "{r:?}");
    let page = owner.get("/settings").await;
    assert!(
        !page.body.contains("data-testid=\"rate-VAT8\""),
        "a retired rate is not listed"
    );
    owner
        .post("/settings/tax-rates/VAT8/delete", &[("confirm", "yes")])
        .await
        .assert_status(StatusCode::NOT_FOUND);
    owner
        .post("/settings/tax-rates/VAT8/delete", &[])
        .await
        .assert_status(StatusCode::NOT_FOUND);
    // Saving it again brings it back.
    server.clock.advance_millis(60_000);
    owner
        .post(
            "/settings/tax-rates",
            &[("code", "VAT8"), ("name", "VAT 8%"), ("percent", "8")],
        )
        .await
        .assert_redirect("/settings");
    let r = pulled_rate(&server, &till, "VAT8").await;
    assert!(!r.deleted && r.basis_points == 800, "{r:?}");
}

#[tokio::test]
async fn each_branch_shows_its_tills_last_sync_and_a_quiet_branch_is_flagged() {
    let server = start().await;
    let owner = server.signed_in("owner", Role::Owner).await;
    let mut main1 = server.till("Main", "Till 1");
    let main2 = server.till("Main", "Till 2");
    let mut town = server.till("Town", "Till 1");
    let revoked = server.till("Town", "Old till");

    // 09:00 Town's till pushes; 10:00 Main's Till 1 pushes; 11:00 Main's
    // Till 2 pulls; the old Town till syncs last, then its key is revoked.
    let op = town.cashier_op();
    server.push_applied(&town.key, &[op]).await;
    server.at(T0 + 60 * MINUTE);
    let op = main1.cashier_op();
    server.push_applied(&main1.key, &[op]).await;
    server.at(T0 + 120 * MINUTE);
    server.pull_ok(&main2.key, "").await;
    server.at(T0 + 180 * MINUTE);
    server.pull_ok(&revoked.key, "").await;
    server
        .admin()
        .execute(
            "UPDATE devices SET revoked_at = ?1 WHERE id = ?2",
            rusqlite::params![T0 + 181 * MINUTE, revoked.device_id.to_string()],
        )
        .unwrap();

    // The same day: both branches synced.
    let page = owner.get("/branches").await;
    let main = testid_row(&page.body, "branch-MAIN").unwrap();
    assert!(
        main.contains("2026-03-02 10:00") && main.contains("2026-03-02 11:00"),
        "Main: pushed at 10:00, pulled at 11:00: {main}"
    );
    let row = testid_row(&page.body, "branch-TOWN").unwrap();
    assert!(
        row.contains("2026-03-02 09:00") && row.contains("never") && !row.contains("12:00"),
        "Town: pushed at 09:00, never pulled (the revoked till's pull does not count): {row}"
    );
    for code in ["MAIN", "TOWN"] {
        assert!(
            page.part(&format!("sync-{code}"), "</span>")
                .contains("synced in the last 24 h")
        );
    }
    // Per till.
    let till = |code: &str| testid_row(&page.body, code).unwrap().to_string();
    let t1 = till(&format!("till-MAIN-{}", main1.code));
    assert!(
        t1.contains("Till 1") && t1.contains("2026-03-02 10:00") && t1.contains("never"),
        "{t1}"
    );
    let t2 = till(&format!("till-MAIN-{}", main2.code));
    assert!(
        t2.contains("Till 2") && t2.contains("2026-03-02 11:00"),
        "{t2}"
    );
    assert!(testid_row(&page.body, &format!("till-TOWN-{}", revoked.code)).is_none());

    // 26 hours after Town's push, Main's Till 2 pulls again: Town is flagged.
    server.at(T0 + 26 * 60 * MINUTE);
    server.pull_ok(&main2.key, "").await;
    // (The morning's session ran out overnight.)
    let owner = server.signed_in("owner2", Role::Owner).await;
    let page = owner.get("/branches").await;
    assert!(
        page.part("sync-MAIN", "</span>")
            .contains("synced in the last 24 h")
    );
    assert!(
        page.part("sync-TOWN", "</span>")
            .contains("no sync in 24 h")
    );
    assert!(
        page.part(&format!("till-sync-MAIN-{}", main1.code), "</span>")
            .contains("no sync in 24 h"),
        "Main's Till 1 alone is quiet, the branch is not"
    );
    assert!(
        testid_row(&page.body, "branch-MAIN")
            .unwrap()
            .contains("2026-03-03 11:00"),
        "Main's last pull"
    );
    // A branch without tills is not a sync problem.
    owner
        .post(
            "/branches",
            &[
                ("name", "Karen"),
                ("code", "KRN"),
                ("time_zone", "Africa/Nairobi"),
            ],
        )
        .await
        .assert_redirect("/branches");
    let page = owner.get("/branches").await;
    assert!(page.part("sync-KRN", "</span>").contains("no tills"));
}
