//! An owner undoes a wrong customer merge from the dashboard and every till
//! follows: two people sharing a phone, added at two branches offline, were
//! merged; after the undo each till has two live customers, no alias, and
//! each balance is that customer's own ledger. The real Back Office
//! in-process on a temp file, two real tills (store files + `pos-sync`
//! engines), the dashboard over HTTP.

mod common;

use backoffice::customer_merge::{canonical_customer, customer_balance};
use backoffice::web::session::{self, Role};
use common::{kes, start_server};
use pos_domain::{PhoneNumber, SystemClock};

const BEER: i64 = 250_00;
const PASSWORD: &str = "correct horse battery";

/// The value of the first `name="{name}" value="…"` field of a page.
fn field(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = body.find(&marker).expect("the field") + marker.len();
    body[at..at + body[at..].find('"').unwrap()].to_string()
}

/// The value a response sets cookie `name` to.
fn cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("the cookie is set")
}

/// An owner signed in to the dashboard: (client, session cookie, CSRF).
async fn owner_session(url: &str) -> (reqwest::Client, String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client.get(format!("{url}/login")).send().await.unwrap();
    let login = cookie(&form, session::LOGIN_CSRF_COOKIE);
    let token = field(&form.text().await.unwrap(), "_csrf");
    let res = client
        .post(format!("{url}/login"))
        .header("cookie", format!("{}={login}", session::LOGIN_CSRF_COOKIE))
        .form(&[
            ("_csrf", token.as_str()),
            ("username", "owner"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let jar = format!(
        "{}={}",
        session::SESSION_COOKIE,
        cookie(&res, session::SESSION_COOKIE)
    );
    let home = client
        .get(format!("{url}/"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    let csrf = field(&home.text().await.unwrap(), "_csrf");
    (client, jar, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undone_merge_gives_every_till_two_customers_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    {
        let conn = backoffice::db::open(&server.path, &SystemClock).unwrap();
        session::add_account(&conn, &SystemClock, "owner", "owner", Role::Owner, PASSWORD).unwrap();
    }
    let a = server.till(dir.path(), "a", "Westlands", "Till 1");
    let b = server.till(dir.path(), "b", "CBD", "Till 1");
    for t in [&a, &b] {
        t.sync().await;
    }
    let beer = a.add_product("Tusker 500ml", BEER);
    a.sync().await;
    b.sync().await;

    // Offline, each branch adds "its" customer with the family's one phone
    // and sells on credit: they are merged when both have synced.
    let wanjiku = a.add_customer("Wanjiku", "0712 345 678", 5_000_00, None);
    a.sell_on_credit(beer, 2, BEER, wanjiku);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let kamau = b.add_customer("Kamau", "+254712345678", 5_000_00, None);
    b.sell_on_credit(beer, 3, BEER, kamau);
    for t in [&a, &b, &a, &b] {
        t.sync().await;
    }
    for t in [&a, &b] {
        let s = t.store.lock().unwrap();
        assert_eq!(s.canonical_customer(kamau).unwrap(), wanjiku);
        assert_eq!(s.customer(wanjiku).unwrap().balance, kes(5 * BEER));
        assert_eq!(
            s.customer_history(wanjiku, pos_domain::Timestamp::from_millis(0))
                .unwrap()
                .merges
                .len(),
            1
        );
    }

    // Kamau is not Wanjiku: the owner undoes the merge, giving Kamau his
    // own number.
    let merge: i64 = server
        .query()
        .query_row(
            "SELECT id FROM customer_merges WHERE alias_id = ?1",
            [kamau.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    let (client, jar, csrf) = owner_session(&server.url).await;
    let res = client
        .post(format!(
            "{}/customers/{wanjiku}/merges/{merge}/undo",
            server.url
        ))
        .header("cookie", &jar)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("phone", "0799 888 777"),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let db = server.query();
    assert_eq!(canonical_customer(&db, kamau).unwrap(), kamau);
    assert_eq!(customer_balance(&db, wanjiku).unwrap(), kes(2 * BEER));
    assert_eq!(customer_balance(&db, kamau).unwrap(), kes(3 * BEER));
    drop(db);

    // Both tills pull it: two live customers, no alias, each owing their own.
    for t in [&a, &b] {
        t.sync().await;
    }
    for t in [&a, &b] {
        let s = t.store.lock().unwrap();
        assert_eq!(s.canonical_customer(kamau).unwrap(), kamau);
        let aliases: i64 = s
            .conn()
            .query_row("SELECT COUNT(*) FROM customer_aliases", [], |r| r.get(0))
            .unwrap();
        assert_eq!(aliases, 0);
        let live = s.search_customers("", 10).unwrap();
        assert_eq!(live.len(), 2, "{live:?}");
        let w = s.customer(wanjiku).unwrap();
        let k = s.customer(kamau).unwrap();
        assert_eq!(w.balance, kes(2 * BEER));
        assert_eq!(k.balance, kes(3 * BEER));
        assert!(k.deleted_at.is_none());
        assert_eq!(k.phone, Some(PhoneNumber::parse("0799888777").unwrap()));
        assert_eq!(w.phone, Some(PhoneNumber::parse("0712345678").unwrap()));
        assert!(s.held_changes().unwrap().is_empty());
        assert_eq!(s.outbox_stats().unwrap().pending, 0);
    }
    server.stop().await;
}
