//! The dashboard's sign-in, sessions and CSRF over real HTTP.

mod common;

use backoffice::web::session::{self, Role};
use common::web::{Browser, PASSWORD, Page};
use reqwest::StatusCode;

/// Every page of the dashboard (GET), for the "sign in first" check.
const PAGES: &[&str] = &[
    "/",
    "/products",
    "/products/new",
    "/categories",
    "/sales",
    "/sales.csv",
    "/customers",
    "/expenses",
    "/users",
    "/branches",
    "/devices",
    "/settings",
    "/sync-log",
    "/sync-exceptions",
];

/// Signs in as wanjiku through the form opened with `?next={next}`, which
/// asks to go to `next` afterwards.
async fn sign_in_then(b: &Browser, next: &str) -> Page {
    let form = b.get(&format!("/login?next={next}")).await;
    let token = form.field("_csrf").unwrap();
    b.post_raw(
        "/login",
        &[
            ("_csrf", &token),
            ("username", "wanjiku"),
            ("password", PASSWORD),
            ("next", next),
        ],
    )
    .await
}

#[tokio::test]
async fn a_fresh_install_has_no_account_and_says_how_to_make_one() {
    let server = common::start().await;
    let b = server.browser();
    let page = b.get("/login").await;
    page.assert_ok(&["no-accounts", "whiz-backoffice user add --role owner"]);
    let cookie = page.set_cookies.join("\n");
    assert!(
        cookie.contains("whiz_login=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // Nothing to guess: there is no default account.
    let mut b = server.browser();
    let res = b.sign_in("admin", "admin").await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST.max(StatusCode::UNAUTHORIZED),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn every_page_needs_a_session() {
    let server = common::start().await;
    let b = server.browser();
    for path in PAGES {
        let page = b.get(path).await;
        page.assert_redirect("/login*");
    }
    let page = b.get("/sales?branch=x").await;
    page.assert_redirect("/login?next=%2Fsales%3Fbranch%3Dx");
}

#[tokio::test]
async fn sign_in_sets_a_safe_cookie_and_sign_out_ends_the_session() {
    let server = common::start().await;
    server.account("wanjiku", Role::Owner);
    let mut b = server.browser();
    let res = b.sign_in("wanjiku", PASSWORD).await;
    res.assert_redirect("/");
    let cookie = res
        .set_cookies
        .iter()
        .find(|c| c.starts_with("whiz_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure flag, or the browser drops it"
    );
    // Only the token's hash is kept.
    let token = cookie
        .trim_start_matches("whiz_session=")
        .split(';')
        .next()
        .unwrap();
    assert_eq!(
        server.count(&format!(
            "SELECT COUNT(*) FROM web_sessions WHERE token_hash = '{token}'"
        )),
        0
    );
    assert_eq!(server.count("SELECT COUNT(*) FROM web_sessions"), 1);

    let home = b.get("/").await;
    home.assert_ok(&["signed-in-as", "wanjiku"]);
    b.csrf = home.field("_csrf").unwrap();
    // Sign-out without the token is refused and the session lives on.
    let res = b.post_raw("/logout", &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    b.get("/").await.assert_status(StatusCode::OK);
    b.post("/logout", &[]).await.assert_redirect("/login");
    b.get("/").await.assert_redirect("/login*");
    assert_eq!(server.count("SELECT COUNT(*) FROM web_sessions"), 0);
}

#[tokio::test]
async fn behind_tls_the_cookie_is_secure() {
    let server = common::start().await;
    server.account("wanjiku", Role::Owner);
    let b = server.browser();
    let form = b.get("/login").await;
    let token = form.field("_csrf").unwrap();
    let res = b
        .client
        .post(b.url("/login"))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("_csrf", token.as_str()),
            ("username", "wanjiku"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("whiz_session="))
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_guessing_is_limited() {
    let server = common::start().await;
    server.account("wanjiku", Role::Owner);
    let mut b = server.browser();
    for _ in 0..session::MAX_FAILURES_PER_ACCOUNT {
        let res = b.sign_in("wanjiku", "not the password").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
        assert!(res.body.contains("do not match"), "{}", res.body);
        assert!(
            res.body.contains("value=\"wanjiku\""),
            "the username stays typed in"
        );
    }
    // Now even the right password waits.
    let res = b.sign_in("wanjiku", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(res.body.contains("try again in 15 minutes"), "{}", res.body);
    assert_eq!(server.count("SELECT COUNT(*) FROM web_sessions"), 0);
    // Once the window has passed, the owner gets in.
    server.clock.advance_millis(session::FAILURE_WINDOW_MS + 1);
    b.sign_in("wanjiku", PASSWORD).await.assert_redirect("/");
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_token_and_a_safe_next() {
    let server = common::start().await;
    server.account("wanjiku", Role::Owner);
    let b = server.browser();
    let res = b
        .post_raw(
            "/login",
            &[
                ("_csrf", "forged"),
                ("username", "wanjiku"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(server.count("SELECT COUNT(*) FROM web_sessions"), 0);
    // `next` may only be a path of this site.
    sign_in_then(&b, "//evil.example/x")
        .await
        .assert_redirect("/");
    let mut b = server.browser();
    sign_in_then(&b, "/sales").await.assert_redirect("/sales");
    b.csrf.clear();
}

#[tokio::test]
async fn a_cross_site_post_is_refused() {
    let server = common::start().await;
    let b = server.signed_in("wanjiku", Role::Owner).await;
    let res = b
        .client
        .post(b.url("/logout"))
        .header("origin", "http://evil.example")
        .form(&[("_csrf", b.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.get("/").await.status, StatusCode::OK, "still signed in");
}

#[tokio::test]
async fn sessions_end_when_idle_or_when_the_account_is_disabled() {
    let server = common::start().await;
    let b = server.signed_in("wanjiku", Role::Owner).await;
    for why in ["used within the idle time", "use keeps it alive"] {
        server
            .clock
            .advance_millis(session::SESSION_IDLE_MS - 60_000);
        assert_eq!(b.get("/").await.status, StatusCode::OK, "{why}");
    }
    server.clock.advance_millis(session::SESSION_IDLE_MS + 1);
    b.get("/").await.assert_redirect("/login*");

    let b = server.signed_in("otieno", Role::Manager).await;
    session::set_disabled(&server.admin(), server.clock.as_ref(), "otieno", true).unwrap();
    b.get("/").await.assert_redirect("/login*");
    let mut again = server.browser();
    let res = again.sign_in("otieno", PASSWORD).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn accounts_refuse_weak_passwords_and_duplicate_names() {
    let dir = tempfile::tempdir().unwrap();
    let clock = pos_domain::ManualClock::new(pos_domain::Timestamp::from_millis(common::T0));
    let conn = backoffice::db::open(&dir.path().join("b.sqlite3"), &clock).unwrap();
    let add = |u: &str, p: &str| session::add_account(&conn, &clock, u, u, Role::Owner, p);
    assert!(matches!(
        add("owner", "short"),
        Err(session::AccountError::WeakPassword)
    ));
    assert!(matches!(
        add("ownerowner", "ownerowner"),
        Err(session::AccountError::WeakPassword)
    ));
    assert!(matches!(
        add("a b", PASSWORD),
        Err(session::AccountError::BadUsername(_))
    ));
    add("owner", PASSWORD).unwrap();
    assert!(matches!(
        add("OWNER", PASSWORD),
        Err(session::AccountError::Taken(_))
    ));
    let hash: String = conn
        .query_row("SELECT password_hash FROM web_users", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
    assert_eq!(session::list_accounts(&conn).unwrap().len(), 1);
}

/// `whiz-backoffice user add|list|password|disable` as an owner types them.
#[test]
fn the_cli_makes_accounts_that_can_sign_in() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bo.sqlite3");
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_whiz-backoffice"))
            .args(args)
            .env("WHIZ_BACKOFFICE_DB", &db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run(&["user", "list"], "");
    assert!(ok && out.contains("No accounts yet"), "{out}");
    let add_wanjiku = |password: &str| {
        run(
            &[
                "user",
                "add",
                "--role",
                "owner",
                "--name",
                "Wanjiku",
                "--password-stdin",
                "wanjiku",
            ],
            &format!("{password}\n"),
        )
    };
    let (ok, out) = add_wanjiku("short");
    assert!(!ok && out.contains("at least 10 characters"), "{out}");
    let (ok, out) = add_wanjiku(PASSWORD);
    assert!(ok && out.contains("Added owner account 'wanjiku'"), "{out}");
    let (ok, out) = run(&["user", "list"], "");
    assert!(
        ok && out.contains("wanjiku") && out.contains("owner") && out.contains("active"),
        "{out}"
    );
    let (ok, out) = run(
        &["user", "password", "--password-stdin", "nobody"],
        &format!("{PASSWORD}\n"),
    );
    assert!(!ok && out.contains("no account 'nobody'"), "{out}");
    let (ok, _) = run(
        &["user", "password", "--password-stdin", "wanjiku"],
        "another long password\n",
    );
    assert!(ok);
    let (ok, out) = run(&["user", "disable", "wanjiku"], "");
    assert!(ok, "{out}");
    let clock = pos_domain::ManualClock::new(pos_domain::Timestamp::from_millis(common::T0));
    let conn = backoffice::db::open(&db, &clock).unwrap();
    let a = session::find_account(&conn, "WANJIKU").unwrap();
    assert_eq!(a.name, "Wanjiku");
    assert!(a.disabled_at.is_some());
}

#[tokio::test]
async fn pages_are_not_cached_framed_or_scripted_and_unknown_ones_are_404_pages() {
    let server = common::start().await;
    let b = server.signed_in("wanjiku", Role::Owner).await;
    let res = b.client.get(b.url("/")).send().await.unwrap();
    let h = res.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let page = b.get("/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.body.contains("there is no page /no-such-page"),
        "{}",
        page.body
    );
    // The API keeps answering JSON.
    let api = b.get("/api/no-such-thing").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(api.body.starts_with("{\"error\""), "{}", api.body);
}
