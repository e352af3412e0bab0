//! Settings > Connected Devices over real HTTP: generating a key (shown
//! once, kept only as a hash), revoking one after a confirmation, and who
//! may do either.

mod common;

use backoffice::devices::hash_key;
use backoffice::web::session::Role;
use common::web::{Browser, Page, testid_text};
use common::{TestServer, Till};
use reqwest::StatusCode;
use sync_protocol::OpOutcome;

/// The `<tr>` of the device named `name` on the devices page.
fn device_row<'a>(body: &'a str, name: &str) -> &'a str {
    let marker = format!("data-device-name=\"{name}\"");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no row for {name}:\n{body}"));
    let rest = &body[at..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// A till for a key made on the dashboard (as the device would be set up).
fn till_for_key(server: &TestServer, key: &str) -> Till {
    let conn = server.admin();
    let (device, branch, code, branch_code): (String, String, String, String) = conn
        .query_row(
            "SELECT d.id, d.branch_id, d.code, b.code FROM devices d JOIN branches b ON b.id = d.branch_id
             WHERE d.key_hash = ?1",
            [hash_key(key)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    Till::new(
        server,
        key.to_string(),
        device.parse().unwrap(),
        branch.parse().unwrap(),
        code,
        branch_code,
    )
}

/// Every text value in every table of the database that contains `needle`.
fn tables_holding(server: &TestServer, needle: &str) -> Vec<String> {
    let conn = server.admin();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.len() > 10, "{tables:?}");
    let mut found = Vec::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            for i in 0..n {
                let text = match r.get::<_, rusqlite::types::Value>(i).unwrap() {
                    rusqlite::types::Value::Text(s) => s,
                    rusqlite::types::Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
                    _ => continue,
                };
                if text.contains(needle) {
                    found.push(t.clone());
                }
            }
        }
    }
    found
}

fn audit_rows(server: &TestServer) -> Vec<(String, String)> {
    server
        .admin()
        .prepare("SELECT action, detail FROM web_audit ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn branch_id(server: &TestServer, name: &str) -> String {
    server
        .admin()
        .query_row("SELECT id FROM branches WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .unwrap()
}

fn device_id(server: &TestServer, name: &str) -> String {
    server
        .admin()
        .query_row("SELECT id FROM devices WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .unwrap()
}

async fn create(b: &Browser, branch_id: &str, new_branch: &str, name: &str, kind: &str) -> Page {
    b.post(
        "/devices",
        &[
            ("branch_id", branch_id),
            ("new_branch", new_branch),
            ("name", name),
            ("kind", kind),
        ],
    )
    .await
}

#[tokio::test]
async fn an_owner_generates_a_key_that_syncs_and_only_its_hash_is_kept() {
    let server = common::start().await;
    let b = server.signed_in("owner", Role::Owner).await;
    let list = b.get("/devices").await;
    list.assert_ok(&[
        "devices-empty",
        "data-testid=\"device-create\"",
        "name=\"new_branch\"",
    ]);

    // The answer is the page itself (not a redirect), never cached.
    let res = b
        .client
        .post(b.url("/devices"))
        .form(&[
            ("_csrf", b.csrf.as_str()),
            ("branch_id", ""),
            ("new_branch", "Westlands"),
            ("name", "Till 1"),
            ("kind", "desktop"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = res.text().await.unwrap();
    let key = testid_text(&body, "device-key").expect("the key is shown");
    assert!(
        body.contains("<div class=\"key\" data-testid=\"device-key\">whiz_"),
        "{body}"
    );
    assert!(key.starts_with("whiz_") && key.len() == 45, "{key}");
    assert!(key[5..].chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    assert!(body.contains("shown only now"), "{body}");
    assert!(
        body.contains("Back Office connection") && body.contains("Test connection"),
        "{body}"
    );
    assert_eq!(testid_text(&body, "device-url").unwrap(), server.base);
    let qr = &body[body.find("data-testid=\"device-qr\"").unwrap()..];
    assert!(qr.contains("<svg") && qr.contains("</svg>"), "{body}");
    assert!(!body.contains("<?xml"), "the SVG is inline");

    // Only the hash is kept: the key's text is in no table at all.
    assert_eq!(
        server.count(&format!(
            "SELECT COUNT(*) FROM devices WHERE key_hash = '{}' AND name = 'Till 1' AND code = 'T1'
               AND kind = 'desktop' AND key_prefix = '{}'",
            hash_key(&key),
            &key[..9]
        )),
        1
    );
    assert_eq!(
        server
            .count("SELECT COUNT(*) FROM branches WHERE name = 'Westlands' AND code = 'WESTLAND'"),
        1
    );
    assert_eq!(tables_holding(&server, &key), Vec::<String>::new());
    assert_eq!(tables_holding(&server, &key[9..]), Vec::<String>::new());
    let audit = audit_rows(&server);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].0, "device.add");
    assert!(
        audit[0].1.contains("Till 1") && audit[0].1.contains("Westlands"),
        "{audit:?}"
    );

    // Before it connects, the list says so.
    let list = b.get("/devices").await;
    list.assert_ok(&[]);
    let row = device_row(&list.body, "Till 1");
    assert!(row.contains("data-status=\"never connected\""), "{row}");
    assert!(row.contains(&format!("{}…", &key[..9])), "{row}");
    assert!(row.contains("data-col=\"last-push\">never<"), "{row}");
    assert!(row.contains(">2026-03-02 09:00<"), "created: {row}");

    // The key works on the sync API.
    server.clock.advance_millis(5 * 60_000);
    let mut till = till_for_key(&server, &key);
    assert_eq!(
        (till.code.as_str(), till.branch_code.as_str()),
        ("T1", "WESTLAND")
    );
    let op = till.cashier_op();
    let res = server.push_ok(&key, &[op]).await;
    assert_eq!(res.results[0].outcome, OpOutcome::Applied);
    let list = b.get("/devices").await;
    let row = device_row(&list.body, "Till 1");
    assert!(row.contains("data-status=\"active\""), "{row}");
    assert!(
        row.contains("data-col=\"last-seen\">2026-03-02 09:05<"),
        "{row}"
    );
    assert!(
        row.contains("data-col=\"last-push\">2026-03-02 09:05<"),
        "{row}"
    );
    assert!(row.contains("data-col=\"last-pull\">never<"), "{row}");
    assert!(row.contains("data-testid=\"device-revoke\""), "{row}");

    // Not seen for more than a day: stale.
    server
        .admin()
        .execute(
            "UPDATE devices SET last_seen_at = last_seen_at - 86400001",
            [],
        )
        .unwrap();
    let list = b.get("/devices").await;
    assert!(device_row(&list.body, "Till 1").contains("data-status=\"stale\""));
    server.stop().await;
}

#[tokio::test]
async fn a_key_for_an_existing_branch_comes_from_the_list_and_over_tls_the_url_is_https() {
    let server = common::start().await;
    let first = server.till("Main", "Till 1");
    let b = server.signed_in("owner", Role::Owner).await;
    let main = branch_id(&server, "Main");
    let list = b.get("/devices").await;
    list.assert_ok(&[&format!("<option value=\"{main}\">Main</option>")]);
    // A deleted branch is not offered.
    server
        .admin()
        .execute(
            "INSERT INTO branches (id, code, name, created_at, hlc, deleted_at)
             VALUES ('0190f5a0-0000-7000-8000-000000000001', 'OLD', 'Old Town', 1, '0', 2)",
            [],
        )
        .unwrap();
    assert!(!b.get("/devices").await.body.contains("Old Town"));

    let res = b
        .client
        .post(b.url("/devices"))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("_csrf", b.csrf.as_str()),
            ("branch_id", main.as_str()),
            ("new_branch", ""),
            ("name", "Phone"),
            ("kind", "mobile"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    let url = testid_text(&body, "device-url").unwrap();
    assert_eq!(url, server.base.replace("http://", "https://"));
    let key = testid_text(&body, "device-key").unwrap();
    assert_eq!(
        server.count(&format!(
            "SELECT COUNT(*) FROM devices WHERE key_hash = '{}' AND branch_id = '{main}'
               AND code = 'T2' AND kind = 'mobile'",
            hash_key(&key)
        )),
        1
    );
    assert_eq!(
        server.count("SELECT COUNT(*) FROM branches WHERE deleted_at IS NULL"),
        1
    );
    assert!(body.contains("device-qr") && body.contains("<svg"));
    // Both keys work, each as its own device.
    let mut phone = till_for_key(&server, &key);
    let op = phone.cashier_op();
    server.push_ok(&key, &[op]).await;
    assert_ne!(phone.device_id, first.device_id);
    server.stop().await;
}

#[tokio::test]
async fn revoking_asks_first_then_the_key_stops_working() {
    let server = common::start().await;
    let mut till = server.till("Main", "Till 1");
    let op = till.cashier_op();
    server.push_ok(&till.key, &[op]).await;
    let b = server.signed_in("owner", Role::Owner).await;
    let id = device_id(&server, "Till 1");
    let path = format!("/devices/{id}/revoke");
    let before = server.snapshot();

    // The first post only explains.
    let page = b.post(&path, &[]).await;
    page.assert_ok(&[
        "data-testid=\"device-revoke-confirm\"",
        "name=\"confirm\" value=\"yes\"",
        "stop working at once",
        "Revoke Till 1 (T1) of Main?",
    ]);
    page.assert_confirm_with(
        "device-revoke-confirm",
        &b.csrf,
        &path,
        &[
            "data-testid=\"device-revoke-explain\"",
            "href=\"/devices\" data-testid=\"device-revoke-cancel\"",
        ],
    );
    assert_eq!(server.snapshot(), before);
    assert_eq!(audit_rows(&server).len(), 0);
    let page = b.post(&path, &[("confirm", "no")]).await;
    page.assert_ok(&["device-revoke-confirm"]);
    assert_eq!(server.snapshot(), before);

    // Confirmed: revoked, audited, and the key is refused.
    let page = b.post(&path, &[("confirm", "yes")]).await;
    page.assert_redirect("/devices");
    assert_eq!(
        server.count("SELECT COUNT(*) FROM devices WHERE revoked_at IS NOT NULL"),
        1
    );
    let audit = audit_rows(&server);
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, "device.revoke");
    let op = till.cashier_op();
    let res = server.push(&till.key, &[op]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let list = b.get("/devices").await;
    list.assert_ok(&["data-testid=\"flash\"", "Revoked Till 1 (T1) of Main"]);
    let row = device_row(&list.body, "Till 1");
    assert!(row.contains("data-status=\"revoked\""), "{row}");
    assert!(!row.contains("device-revoke"), "{row}");

    // Again, or a device that does not exist: refused, nothing changed.
    let before = server.snapshot();
    b.post(&path, &[("confirm", "yes")])
        .await
        .assert_bad("already revoked");
    let page = b
        .post(
            "/devices/0190f5a0-0000-7000-8000-00000000abcd/revoke",
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = b
        .post("/devices/Till%201/revoke", &[("confirm", "yes")])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(server.snapshot(), before);
    assert_eq!(audit_rows(&server).len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_manager_sees_the_list_but_cannot_make_or_revoke_keys() {
    let server = common::start().await;
    let _till = server.till("Main", "Till 1");
    let b = server.signed_in("manager", Role::Manager).await;
    let list = b.get("/devices").await;
    list.assert_ok(&["data-device-name=\"Till 1\"", "devices-owner-only"]);
    assert!(!list.body.contains("device-create"));
    assert!(!list.body.contains("device-revoke"));

    let before = server.snapshot();
    let main = branch_id(&server, "Main");
    let page = create(&b, &main, "", "Till 2", "desktop").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    let page = create(&b, "", "Town", "Till 2", "desktop").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let id = device_id(&server, "Till 1");
    let path = format!("/devices/{id}/revoke");
    b.post(&path, &[])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    b.post(&path, &[("confirm", "yes")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    assert_eq!(server.snapshot(), before);
    assert_eq!(audit_rows(&server).len(), 0);
    server.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_by_field_and_changes_nothing() {
    let server = common::start().await;
    let _till = server.till("Main", "Till 1");
    let b = server.signed_in("owner", Role::Owner).await;
    let main = branch_id(&server, "Main");
    let before = server.snapshot();

    let page = create(&b, &main, "", "till 1", "desktop").await;
    page.assert_bad("the device name: branch Main already has a device named 'till 1'");
    assert!(page.body.contains("value=\"till 1\""), "typed name kept");
    assert!(
        page.body
            .contains(&format!("<option value=\"{main}\" selected>Main</option>")),
        "chosen branch kept:\n{}",
        page.body
    );
    create(&b, &main, "", "   ", "desktop")
        .await
        .assert_bad("the device name cannot be empty");
    let page = create(
        &b,
        "0190f5a0-0000-7000-8000-00000000abcd",
        "",
        "Till 2",
        "desktop",
    )
    .await;
    page.assert_bad(
        "the branch: there is no branch with the id '0190f5a0-0000-7000-8000-00000000abcd'",
    );
    let page = create(&b, &main, "Town", "Till 2", "desktop").await;
    page.assert_bad("the branch: choose an existing branch or type a new branch's name, not both");
    assert!(page.body.contains("value=\"Town\""), "typed branch kept");
    create(&b, "", "  ", "Till 2", "desktop")
        .await
        .assert_bad("the branch: choose an existing branch, or type a name for a new one");
    create(&b, "", "Town", "Till 2", "server")
        .await
        .assert_bad("the kind 'server' is not a kind of device");
    create(&b, "", &"x".repeat(61), "Till 2", "desktop")
        .await
        .assert_bad("the branch name is too long (61 characters; at most 60)");
    create(&b, "", "Town", &"y".repeat(61), "mobile")
        .await
        .assert_bad("the device name is too long");
    // A duplicate name in a new-branch form that names the existing branch.
    create(&b, "", "MAIN", "Till 1", "desktop")
        .await
        .assert_bad("the device name: branch MAIN already has a device named 'Till 1'");

    assert_eq!(server.snapshot(), before);
    assert_eq!(server.count("SELECT COUNT(*) FROM devices"), 1);
    assert_eq!(audit_rows(&server).len(), 0);
    server.stop().await;
}

#[tokio::test]
async fn without_the_csrf_token_nothing_changes() {
    let server = common::start().await;
    let _till = server.till("Main", "Till 1");
    let b = server.signed_in("owner", Role::Owner).await;
    let before = server.snapshot();
    let fields = [
        ("branch_id", ""),
        ("new_branch", "Town"),
        ("name", "Till 9"),
        ("kind", "desktop"),
    ];
    let page = b.post_raw("/devices", &fields).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    let mut forged = vec![("_csrf", "0000")];
    forged.extend_from_slice(&fields);
    b.post_raw("/devices", &forged)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let id = device_id(&server, "Till 1");
    let page = b
        .post_raw(&format!("/devices/{id}/revoke"), &[("confirm", "yes")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(server.snapshot(), before);
    assert_eq!(audit_rows(&server).len(), 0);
    // Not signed in: to the sign-in page, nothing changed.
    let stranger = server.browser();
    stranger
        .post_raw("/devices", &fields)
        .await
        .assert_redirect("/login");
    assert_eq!(server.snapshot(), before);
    server.stop().await;
}
