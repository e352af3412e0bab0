//! The sync log and sync exceptions pages over real HTTP.

mod common;

use backoffice::web::session::Role;
use common::ready_till;
use common::web::Page;
use pos_domain::ProductId;
use reqwest::StatusCode;
use sync_protocol::{OpBody, OpOutcome, RejectCode};

/// The rows marked `data-testid="ROW"`, each up to its `</tr>`.
fn rows<'a>(page: &'a Page, row: &str) -> Vec<&'a str> {
    let marker = format!("data-testid=\"{row}\"");
    page.body
        .split(&marker)
        .skip(1)
        .map(|r| &r[..r.find("</tr>").unwrap()])
        .collect()
}

/// The text of the cell `data-col="COL"` of `row`.
fn cell(row: &str, col: &str) -> String {
    let marker = format!("data-col=\"{col}\">");
    let at = row
        .find(&marker)
        .unwrap_or_else(|| panic!("no {col} in {row}"))
        + marker.len();
    let rest = &row[at..];
    rest[..rest.find("</td>").unwrap()].to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::test]
async fn a_push_with_a_rejected_op_is_in_the_log_and_its_reason_in_the_exceptions() {
    let server = common::start().await;
    let b = server.signed_in("manager", Role::Manager).await;
    // Nothing yet.
    let empty = b.get("/sync-exceptions").await;
    empty.assert_ok(&[
        "sync-exceptions-empty",
        "No rejected ops",
        "a sale of a product it does not know",
    ]);
    b.get("/sync-log").await.assert_ok(&["sync-log-empty"]);

    let (mut till, soda) = ready_till(&server, "Main", "Till 1").await; // push: 2 applied
    let (mut other, _) = ready_till(&server, "Town", "Till 1").await;
    server.clock.advance_millis(60_000);
    let good = till.sale(&[(soda, "Soda 500ml", 80_00, 1)]);
    let ghost = till.sale(&[(ProductId::new(), "Ghost", 10_00, 1)]);
    let ops = [
        till.op(OpBody::SaleRecorded(good)),
        till.op(OpBody::SaleRecorded(ghost)),
    ];
    let bad_op = ops[1].op_id;
    let res = server.push_ok(&till.key, &ops).await;
    let reason = match &res.results[1].outcome {
        OpOutcome::Rejected {
            code: RejectCode::UnknownReference,
            reason,
        } => reason.clone(),
        other => panic!("{other:?}"),
    };
    server.clock.advance_millis(60_000);
    server.pull_ok(&till.key, "").await;
    // A push with a gap: an error in the log.
    other.seq += 5;
    let op = other.cashier_op();
    assert_eq!(
        server.push(&other.key, &[op]).await.status(),
        StatusCode::CONFLICT
    );

    let log = b.get("/sync-log").await;
    log.assert_ok(&["sync-summary"]);
    let all = rows(&log, "sync-row");
    assert_eq!(all.len(), 5, "{}", log.body);
    // Newest first: Town's failed push, Main's pull, Main's push, Town's and Main's first pushes.
    assert!(
        all[0]
            .contains("data-device-name=\"Till 1\" data-direction=\"push\" data-result=\"error\""),
        "{}",
        all[0]
    );
    assert!(cell(all[0], "error").contains("SequenceGap"), "{}", all[0]);
    assert!(all[0].contains("(T1) · Town"), "{}", all[0]);
    assert!(
        all[1].contains("data-direction=\"pull\" data-result=\"ok\""),
        "{}",
        all[1]
    );
    assert!(all[1].contains(">2026-03-02 09:02<"), "{}", all[1]);
    let push = all[2];
    assert!(
        push.contains("data-direction=\"push\" data-result=\"ok\""),
        "{push}"
    );
    assert!(push.contains("(T1) · Main"), "{push}");
    assert!(push.contains(">2026-03-02 09:01<"), "{push}");
    assert_eq!(cell(push, "items"), "2");
    assert_eq!(cell(push, "applied"), "1");
    assert_eq!(cell(push, "duplicates"), "0");
    assert!(cell(push, "rejected").contains(">1</a>"), "{push}");
    let first = all[4];
    assert_eq!(
        (
            cell(first, "items"),
            cell(first, "applied"),
            cell(first, "rejected")
        ),
        ("2".to_string(), "2".to_string(), "0".to_string())
    );

    // The summary per device.
    let summary = &log.body
        [log.body.find("sync-summary").unwrap()..log.body.find("sync-log-filters").unwrap()];
    let main_row = &summary[summary
        .find("(MAIN)")
        .map(|i| summary[..i].rfind("<tr").unwrap())
        .unwrap()..];
    let main_row = &main_row[..main_row.find("</tr>").unwrap()];
    assert_eq!(cell(main_row, "last-push"), "2026-03-02 09:01");
    assert_eq!(cell(main_row, "last-pull"), "2026-03-02 09:02");
    assert_eq!(cell(main_row, "errors-24h"), "0");
    let town_row = &summary[summary
        .find("(TOWN)")
        .map(|i| summary[..i].rfind("<tr").unwrap())
        .unwrap()..];
    let town_row = &town_row[..town_row.find("</tr>").unwrap()];
    assert!(
        cell(town_row, "errors-24h").contains(">1</a>"),
        "{town_row}"
    );
    assert_eq!(cell(town_row, "last-pull"), "never");

    // Filters.
    let pushes = b.get("/sync-log?direction=push").await;
    assert_eq!(rows(&pushes, "sync-row").len(), 4);
    assert!(
        rows(&pushes, "sync-row")
            .iter()
            .all(|r| r.contains("data-direction=\"push\""))
    );
    assert!(
        pushes.body.contains("<option value=\"push\" selected>"),
        "the filter is kept"
    );
    let pulls = b.get("/sync-log?direction=pull").await;
    assert_eq!(rows(&pulls, "sync-row").len(), 1);
    let errors = b.get("/sync-log?result=error").await;
    assert_eq!(rows(&errors, "sync-row").len(), 1);
    let mine = b.get(&format!("/sync-log?device={}", till.device_id)).await;
    assert_eq!(rows(&mine, "sync-row").len(), 3);
    assert!(rows(&mine, "sync-row").iter().all(|r| r.contains("· Main")));
    let none = b
        .get(&format!(
            "/sync-log?device={}&result=error&direction=push",
            till.device_id
        ))
        .await;
    none.assert_ok(&["sync-log-empty", "match these filters"]);
    assert_eq!(rows(&none, "sync-row").len(), 0);

    // Bad filter values: 400 naming the filter.
    b.get("/sync-log?direction=sideways")
        .await
        .assert_bad("the direction 'sideways' is not one of: push, pull, full");
    b.get("/sync-log?result=maybe")
        .await
        .assert_bad("the result 'maybe'");
    b.get("/sync-log?device=nope")
        .await
        .assert_bad("the device 'nope'");
    b.get("/sync-log?device=0190f5a0-0000-7000-8000-00000000abcd")
        .await
        .assert_bad("is not a device of this Back Office");
    b.get("/sync-log?page=0").await.assert_bad("the page '0'");

    // The exceptions: the rejected op with its whole reason.
    let ex = b.get("/sync-exceptions").await;
    let found = rows(&ex, "exception-row");
    assert_eq!(found.len(), 1, "{}", ex.body);
    let r = found[0];
    assert_eq!(cell(r, "kind"), "<code>sale_recorded</code>");
    assert_eq!(cell(r, "seq"), "4");
    assert!(
        cell(r, "code").starts_with("<code>unknown_reference</code>"),
        "{r}"
    );
    assert_eq!(cell(r, "reason"), escape(&reason));
    assert_eq!(cell(r, "op-id"), format!("<code>{bad_op}</code>"));
    assert!(
        r.contains(">2026-03-02 09:01<") && r.contains("Main"),
        "{r}"
    );
    let by_device = b
        .get(&format!("/sync-exceptions?device={}", till.device_id))
        .await;
    assert_eq!(rows(&by_device, "exception-row").len(), 1);
    let other_device = b
        .get(&format!("/sync-exceptions?device={}", other.device_id))
        .await;
    other_device.assert_ok(&["No rejected ops", "from this device"]);
    assert_eq!(rows(&other_device, "exception-row").len(), 0);
    b.get("/sync-exceptions?device=nope")
        .await
        .assert_bad("the device 'nope'");
    b.get("/sync-exceptions?page=x")
        .await
        .assert_bad("the page 'x'");
    server.stop().await;
}

#[tokio::test]
async fn the_log_pages_by_a_hundred() {
    let server = common::start().await;
    let till = server.till("Main", "Till 1");
    {
        let conn = server.admin();
        for i in 0..150i64 {
            conn.execute(
                "INSERT INTO sync_log (device_id, direction, items, duration_ms, result, at)
                 VALUES (?1, 'pull', ?2, 1500, 'ok', ?3)",
                rusqlite::params![till.device_id.to_string(), i, common::T0 + i * 1000],
            )
            .unwrap();
        }
    }
    let b = server.signed_in("owner", Role::Owner).await;
    let first = b.get("/sync-log?direction=pull").await;
    let page1 = rows(&first, "sync-row");
    assert_eq!(page1.len(), 100);
    assert_eq!(cell(page1[0], "items"), "149");
    assert_eq!(cell(page1[99], "items"), "50");
    assert_eq!(cell(page1[0], "duration"), "1.5 s");
    first.assert_ok(&["href=\"/sync-log?direction=pull&amp;page=2\""]);
    assert!(!first.body.contains("page-newer"));
    let second = b.get("/sync-log?direction=pull&page=2").await;
    let page2 = rows(&second, "sync-row");
    assert_eq!(page2.len(), 50);
    assert_eq!(cell(page2[0], "items"), "49");
    assert_eq!(cell(page2[49], "items"), "0");
    second.assert_ok(&["href=\"/sync-log?direction=pull\" data-testid=\"page-newer\""]);
    assert!(!second.body.contains("page-older"));
    let third = b.get("/sync-log?page=3").await;
    third.assert_ok(&["No more requests."]);
    server.stop().await;
}
