//! The same customer added at two branches, offline, becomes one account
//! everywhere: the real Back Office in-process on a temp file, two real tills
//! (store files + `pos-sync` engines) in two branches, over HTTP.

mod common;

use backoffice::customer_merge::{canonical_customer, customer_balance};
use common::{Till, kes, start_server};
use pos_domain::{CustomerId, PaymentMethod};

const BEER: i64 = 250_00;

/// What a till shows for a customer: (balance, available credit, name).
fn account(t: &Till, id: CustomerId) -> (i64, i64, String) {
    let c = t.store.lock().unwrap().customer(id).unwrap();
    (c.balance.minor(), c.available_credit.minor(), c.name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_added_at_two_branches_offline_is_one_account_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let a = server.till(dir.path(), "a", "Westlands", "Till 1");
    let b = server.till(dir.path(), "b", "CBD", "Till 1");
    for t in [&a, &b] {
        t.sync().await;
    }
    let beer = a.add_product("Tusker 500ml", BEER);
    a.sync().await;
    b.sync().await;

    // Offline, each branch registers Njeri (the phone typed differently) and
    // sells her beer on credit: 2 at Westlands, 3 at CBD.
    let at_a = a.add_customer("Njeri", "0712 345 678", 5_000_00, Some("pays on Fridays"));
    let sale_a = a.sell_on_credit(beer, 2, BEER, at_a);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let at_b = b.add_customer(
        "Mama Njeri",
        "+254712345678",
        3_000_00,
        Some("sister of Wanjiru"),
    );
    let sale_b = b.sell_on_credit(beer, 3, BEER, at_b);
    assert_eq!(account(&a, at_a).0, 2 * BEER);
    assert_eq!(account(&b, at_b).0, 3 * BEER);

    // Westlands reaches the Back Office first, then CBD; then both pull again.
    for t in [&a, &b, &a, &b] {
        t.sync().await;
    }

    // The Back Office: one live customer (Westlands' id: it had the phone
    // first), CBD's id an alias, both sales and both ledger entries kept.
    let db = server.query();
    let live: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM customers WHERE phone = '+254712345678' AND deleted_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(live, 1);
    assert_eq!(canonical_customer(&db, at_b).unwrap(), at_a);
    assert_eq!(customer_balance(&db, at_a).unwrap(), kes(5 * BEER));
    for (sale, customer) in [(sale_a, at_a), (sale_b, at_b)] {
        let (n, ledger): (i64, i64) = db
            .query_row(
                "SELECT COUNT(*), (SELECT COUNT(*) FROM customer_ledger l WHERE l.sale_id = ?1 AND l.customer_id = ?2)
                 FROM sales WHERE id = ?1 AND customer_id = ?2",
                [sale.to_string(), customer.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (n, ledger),
            (1, 1),
            "sale {sale} and its ledger entry, as recorded"
        );
    }

    // Both tills: the same single customer, owing both sales, with the
    // newer name, both notes and the higher limit; nothing pending or held.
    for t in [&a, &b] {
        let s = t.store.lock().unwrap();
        let found = s.search_customers("0712", 10).unwrap();
        assert_eq!(found.len(), 1, "one live customer");
        let c = &found[0];
        assert_eq!(c.id, at_a);
        assert_eq!(c.name, "Mama Njeri");
        assert_eq!(c.balance, kes(5 * BEER));
        assert_eq!(c.credit_limit, kes(5_000_00));
        assert_eq!(c.available_credit, kes(5_000_00 - 5 * BEER));
        assert_eq!(
            c.notes.as_deref(),
            Some("pays on Fridays\nsister of Wanjiru")
        );
        assert_eq!(s.canonical_customer(at_b).unwrap(), at_a);
        let alias = s.customer(at_b).unwrap();
        assert!(alias.deleted_at.is_some());
        assert_eq!(alias.balance, kes(0));
        assert_eq!(s.customer_ledger(at_a, 10).unwrap().len(), 2);
        assert_eq!(s.outbox_stats().unwrap().pending, 0);
        assert!(s.held_changes().unwrap().is_empty());
    }
    assert_eq!(
        b.store.lock().unwrap().sale(sale_b).unwrap().customer_id,
        Some(at_b),
        "CBD's receipt still names the id it was rung up with"
    );

    // Life goes on with the one account: CBD takes a payment, Westlands
    // sells one more on credit; every replica and the server agree.
    b.store
        .lock()
        .unwrap()
        .record_customer_payment(&b.owner, at_a, kes(300_00), PaymentMethod::Cash, None)
        .unwrap();
    a.sell_on_credit(beer, 1, BEER, at_a);
    for t in [&b, &a, &b] {
        t.sync().await;
    }
    let expected = 6 * BEER - 300_00;
    assert_eq!(
        customer_balance(&server.query(), at_a).unwrap(),
        kes(expected)
    );
    assert_eq!(account(&a, at_a), account(&b, at_a));
    assert_eq!(account(&a, at_a).0, expected);
    server.stop().await;
}
