//! Stock transfers between branches: sent at one branch (stock leaves at
//! once), received once at the other (the quantity counted arrives; a line
//! received otherwise than sent is a discrepancy), both visible at both ends.
//! A real server on 127.0.0.1:0, driven with reqwest.

mod common;

use common::seed::restock;
use common::*;
use pos_domain::{
    BranchId, MovementId, MovementKind, ProductId, Quantity, TransferId, TransferReceiptId,
};
use record_sql::transfers::{self, TransferState};
use rusqlite::Connection;
use sync_protocol::{
    ChangeBody, OpBody, OpOutcome, RejectCode, StockMovementRecord, TransferLine,
    TransferReceivedLine, TransferReceivedRecord, TransferSentRecord,
};

fn movement(
    till: &Till,
    product: ProductId,
    kind: MovementKind,
    milli: i64,
) -> StockMovementRecord {
    StockMovementRecord {
        id: MovementId::new(),
        product_id: product,
        branch_id: till.branch_id,
        device_id: till.device_id,
        kind,
        quantity: Quantity::from_milli(milli),
        sale_id: None,
        user_id: Some(till.cashier),
        note: None,
        created_at: till.now(),
    }
}

/// `till` sends `units` of each product to `to`.
fn send(till: &Till, to: BranchId, lines: &[(ProductId, i64)]) -> TransferSentRecord {
    TransferSentRecord {
        id: TransferId::new(),
        from_branch: till.branch_id,
        to_branch: to,
        device_id: till.device_id,
        lines: lines
            .iter()
            .map(|&(product_id, units)| TransferLine {
                product_id,
                quantity: Quantity::units(units),
            })
            .collect(),
        note: Some("weekly top-up".into()),
        sent_by: till.cashier,
        sent_at: till.now(),
        movements: lines
            .iter()
            .map(|&(p, units)| movement(till, p, MovementKind::TransferOut, -units * 1000))
            .collect(),
    }
}

/// `till` receives `t` with the counted `units` per line.
fn receive(till: &Till, t: &TransferSentRecord, units: &[i64]) -> TransferReceivedRecord {
    TransferReceivedRecord {
        id: TransferReceiptId::new(),
        transfer_id: t.id,
        branch_id: till.branch_id,
        device_id: till.device_id,
        lines: t
            .lines
            .iter()
            .zip(units)
            .map(|(l, &u)| TransferReceivedLine {
                product_id: l.product_id,
                quantity_received: Quantity::units(u),
            })
            .collect(),
        note: Some("one broken in transit".into()),
        received_by: till.cashier,
        received_at: till.now(),
        movements: t
            .lines
            .iter()
            .zip(units)
            .filter(|&(_, &u)| u != 0)
            .map(|(l, &u)| movement(till, l.product_id, MovementKind::TransferIn, u * 1000))
            .collect(),
    }
}

fn level(conn: &Connection, product: ProductId, branch: BranchId) -> i64 {
    conn.query_row(
        "SELECT COALESCE((SELECT quantity_milli FROM stock_levels
                          WHERE product_id = ?1 AND branch_id = ?2), 0)",
        [product.to_string(), branch.to_string()],
        |r| r.get(0),
    )
    .unwrap()
}

/// The business tables a transfer writes.
fn business_snapshot(server: &TestServer) -> String {
    let conn = server.admin();
    let mut out = String::new();
    for table in [
        "transfers",
        "transfer_lines",
        "transfer_receipts",
        "transfer_receipt_lines",
        "stock_movements",
        "stock_levels",
        "changes",
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i).unwrap();
                out.push_str(&format!("{v:?}|"));
            }
            out.push('\n');
        }
    }
    out
}

fn rejected(outcome: &OpOutcome) -> RejectCode {
    match outcome {
        OpOutcome::Rejected { code, .. } => *code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn ten_sent_nine_received_moves_stock_and_flags_the_discrepancy() {
    let server = start().await;
    let (mut a, soda) = ready_till(&server, "Westlands", "Till 1").await;
    let mut b = server.till("CBD", "Till 1");
    let op = b.cashier_op();
    server.push_applied(&b.key, &[op]).await;
    let op = a.op(restock(&a, soda, 20));
    server.push_applied(&a.key, &[op]).await;

    // A sends 10: A's stock leaves at once.
    let sent = send(&a, b.branch_id, &[(soda, 10)]);
    let op = a.op(OpBody::TransferSent(sent.clone()));
    server.push_applied(&a.key, &[op]).await;
    let conn = server.admin();
    assert_eq!(level(&conn, soda, a.branch_id), 10_000);
    let view = transfers::transfer(&conn, sent.id).unwrap().unwrap();
    assert_eq!(view.state(), TransferState::Sent);

    // B pulls it, without A's movements; A pulls it with them.
    let b_feed = server.feed(&b.key).await;
    let at_b: Vec<_> = b_feed
        .iter()
        .filter_map(|c| match c {
            ChangeBody::TransferSent(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(at_b.len(), 1);
    assert_eq!(at_b[0].id, sent.id);
    assert!(at_b[0].movements.is_empty(), "stock belongs to its branch");
    assert!(
        !b_feed
            .iter()
            .any(|c| matches!(c, ChangeBody::StockMoved(m) if m.branch_id == a.branch_id)),
        "B never sees A's movements"
    );
    let a_feed = server.feed(&a.key).await;
    assert!(
        a_feed
            .iter()
            .any(|c| matches!(c, ChangeBody::TransferSent(t) if *t == sent)),
        "A's copy carries its movements"
    );

    // B receives 9 of the 10.
    let receipt = receive(&b, &sent, &[9]);
    let op = b.op(OpBody::TransferReceived(receipt.clone()));
    server.push_applied(&b.key, &[op]).await;
    assert_eq!(level(&conn, soda, a.branch_id), 10_000, "A: 20 − 10");
    assert_eq!(level(&conn, soda, b.branch_id), 9_000, "B: +9");
    let view = transfers::transfer(&conn, sent.id).unwrap().unwrap();
    assert_eq!(view.state(), TransferState::ReceivedWithDiscrepancy);
    assert_eq!(view.lines[0].sent, Quantity::units(10));
    assert_eq!(view.lines[0].received, Some(Quantity::units(9)));
    assert!(view.lines[0].is_discrepancy());
    assert_eq!(
        transfers::transfers(&conn, Some(a.branch_id), 10)
            .unwrap()
            .len(),
        1
    );

    // A learns it was received (without B's movement); B has its movement.
    let a_feed = server.feed(&a.key).await;
    assert!(a_feed.iter().any(
        |c| matches!(c, ChangeBody::TransferReceived(r) if r.id == receipt.id && r.movements.is_empty())
    ));
    let b_feed = server.feed(&b.key).await;
    assert!(
        b_feed
            .iter()
            .any(|c| matches!(c, ChangeBody::TransferReceived(r) if *r == receipt))
    );

    // A second receipt is refused and changes nothing.
    let before = business_snapshot(&server);
    let second = receive(&b, &sent, &[10]);
    let op = b.op(OpBody::TransferReceived(second));
    let res = server.push_ok(&b.key, &[op]).await;
    assert_eq!(rejected(&res.results[0].outcome), RejectCode::Invalid);
    assert_eq!(
        business_snapshot(&server),
        before,
        "a second receipt changed something"
    );
}

#[tokio::test]
async fn only_the_right_branch_sends_and_receives_and_bad_transfers_change_nothing() {
    let server = start().await;
    let (mut a, soda) = ready_till(&server, "Westlands", "Till 1").await;
    let mut b = server.till("CBD", "Till 1");
    let op = b.cashier_op();
    server.push_applied(&b.key, &[op]).await;
    let before = business_snapshot(&server);

    // B cannot send on A's behalf.
    let forged = TransferSentRecord {
        from_branch: a.branch_id,
        to_branch: b.branch_id,
        ..send(&b, a.branch_id, &[(soda, 5)])
    };
    let op = b.op(OpBody::TransferSent(forged));
    let res = server.push_ok(&b.key, &[op]).await;
    assert_eq!(rejected(&res.results[0].outcome), RejectCode::WrongBranch);

    // Bad quantities, an unknown product, the same branch, an unknown branch,
    // movements that do not match the lines.
    let mut zero = send(&a, b.branch_id, &[(soda, 1)]);
    zero.lines[0].quantity = Quantity::ZERO;
    let mut negative = send(&a, b.branch_id, &[(soda, 1)]);
    negative.lines[0].quantity = Quantity::units(-1);
    negative.movements[0].quantity = Quantity::units(1);
    let unknown_product = send(&a, b.branch_id, &[(ProductId::new(), 1)]);
    let same_branch = send(&a, a.branch_id, &[(soda, 1)]);
    let unknown_branch = send(&a, BranchId::new(), &[(soda, 1)]);
    let mut mismatched = send(&a, b.branch_id, &[(soda, 3)]);
    mismatched.movements[0].quantity = Quantity::units(-2);
    let mut no_movements = send(&a, b.branch_id, &[(soda, 3)]);
    no_movements.movements.clear();
    let bad = [
        (zero, RejectCode::Invalid),
        (negative, RejectCode::Invalid),
        (unknown_product, RejectCode::UnknownReference),
        (same_branch, RejectCode::Invalid),
        (unknown_branch, RejectCode::UnknownReference),
        (mismatched, RejectCode::Invalid),
        (no_movements, RejectCode::Invalid),
    ];
    for (t, code) in bad {
        let op = a.op(OpBody::TransferSent(t));
        let res = server.push_ok(&a.key, &[op]).await;
        assert_eq!(rejected(&res.results[0].outcome), code);
    }
    assert_eq!(
        business_snapshot(&server),
        before,
        "a refused transfer changed something"
    );

    // A transfer's movements never travel on their own.
    for kind in [MovementKind::TransferOut, MovementKind::TransferIn] {
        let op = a.op(OpBody::StockMoved(movement(&a, soda, kind, -1000)));
        let res = server.push_ok(&a.key, &[op]).await;
        assert_eq!(rejected(&res.results[0].outcome), RejectCode::Invalid);
    }
    assert_eq!(
        business_snapshot(&server),
        before,
        "a lone transfer movement changed something"
    );

    // A good one; then only B receives it, never A, and never with a
    // negative quantity or other products.
    let sent = send(&a, b.branch_id, &[(soda, 4)]);
    let op = a.op(OpBody::TransferSent(sent.clone()));
    server.push_applied(&a.key, &[op]).await;
    let before = business_snapshot(&server);

    // Another transfer carrying a movement the server already holds is
    // refused, by name, instead of failing the whole push.
    let mut reused = send(&a, b.branch_id, &[(soda, 4)]);
    reused.movements[0].id = sent.movements[0].id;
    let op = a.op(OpBody::TransferSent(reused));
    let res = server.push_ok(&a.key, &[op]).await;
    match &res.results[0].outcome {
        OpOutcome::Rejected { code, reason } => {
            assert_eq!(*code, RejectCode::Invalid);
            assert!(reason.contains("already recorded"), "{reason}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(business_snapshot(&server), before);

    let by_sender = receive(&a, &sent, &[4]);
    let op = a.op(OpBody::TransferReceived(by_sender));
    let res = server.push_ok(&a.key, &[op]).await;
    assert_eq!(rejected(&res.results[0].outcome), RejectCode::WrongBranch);

    let mut negative = receive(&b, &sent, &[1]);
    negative.lines[0].quantity_received = Quantity::units(-1);
    negative.movements[0].quantity = Quantity::units(-1);
    let mut other_product = receive(&b, &sent, &[4]);
    other_product.lines[0].product_id = ProductId::new();
    let mut wrong_movement = receive(&b, &sent, &[4]);
    wrong_movement.movements[0].quantity = Quantity::units(5);
    let mut unknown = receive(&b, &sent, &[4]);
    unknown.transfer_id = TransferId::new();
    for (r, code) in [
        (negative, RejectCode::Invalid),
        (other_product, RejectCode::Invalid),
        (wrong_movement, RejectCode::Invalid),
        (unknown, RejectCode::UnknownReference),
    ] {
        let op = b.op(OpBody::TransferReceived(r));
        let res = server.push_ok(&b.key, &[op]).await;
        assert_eq!(rejected(&res.results[0].outcome), code);
    }
    assert_eq!(
        business_snapshot(&server),
        before,
        "a refused receipt changed something"
    );

    // Received as sent (nothing missing): `received`, no discrepancy; a line
    // received as zero has no movement.
    let op = b.op(OpBody::TransferReceived(receive(&b, &sent, &[4])));
    server.push_applied(&b.key, &[op]).await;
    let conn = server.admin();
    let view = transfers::transfer(&conn, sent.id).unwrap().unwrap();
    assert_eq!(view.state(), TransferState::Received);
    assert_eq!(
        level(&conn, soda, a.branch_id),
        -4_000,
        "negative stock is allowed"
    );
    assert_eq!(level(&conn, soda, b.branch_id), 4_000);

    let two = send(&a, b.branch_id, &[(soda, 2), (soda, 1)]);
    let op = a.op(OpBody::TransferSent(two.clone()));
    server.push_applied(&a.key, &[op]).await;
    let receipt = receive(&b, &two, &[0, 1]);
    assert_eq!(receipt.movements.len(), 1);
    let op = b.op(OpBody::TransferReceived(receipt));
    server.push_applied(&b.key, &[op]).await;
    let view = transfers::transfer(&conn, two.id).unwrap().unwrap();
    assert_eq!(view.state(), TransferState::ReceivedWithDiscrepancy);
    assert_eq!(level(&conn, soda, b.branch_id), 5_000);
}
