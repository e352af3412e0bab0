//! Stock transfers through the desktop's commands, against a real store in
//! a temp dir: the branches a till knows (pulled from the Back Office, here
//! applied as a pulled page through a second connection), sending (managers
//! and owners only; every bad input refused by name, changing nothing),
//! and receiving an incoming transfer once, a different count flagged as a
//! discrepancy.

mod common;

use common::invalid;

use std::sync::Arc;

use pos_app::*;
use pos_domain::{
    BranchId, DeviceId, Hlc, ManualClock, ProductId, Quantity, TimeZone, Timestamp, TransferId,
    UserId,
};
use pos_store::Store;
use pos_sync::{MemoryKeyStore, SyncConfig};
use sync_protocol::{
    BranchState, Change, ChangeBody, Cursor, Epoch, PullResponse, TransferLine, TransferSentRecord,
};

/// 2026-03-02 09:00 in Nairobi (06:00 UTC).
const T0: Timestamp = Timestamp::from_millis(1_772_431_200_000);

struct Till {
    app: App,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    /// The next pulled page's first change.
    seq: u64,
    epoch: Epoch,
}

impl Till {
    /// Applies `bodies` as the next pulled page, as the sync engine would.
    fn pull(&mut self, bodies: Vec<ChangeBody>) {
        let first = self.seq;
        let changes: Vec<Change> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Change {
                seq: first + i as u64,
                body,
            })
            .collect();
        self.seq += changes.len() as u64;
        let page = PullResponse {
            epoch: self.epoch,
            next_cursor: Cursor {
                epoch: self.epoch,
                seq: self.seq - 1,
            },
            changes,
            has_more: false,
        };
        let mut store =
            Store::open(&self.dir.path().join(DATABASE_FILE), self.clock.clone()).unwrap();
        store.apply_pulled(&page).unwrap();
    }

    fn pending(&self) -> i64 {
        self.app.sync_status().unwrap().pending
    }

    fn stock(&self, product: &ProductView) -> i64 {
        self.app
            .products(ProductQuery {
                text: Some(product.name.clone()),
                ..ProductQuery::default()
            })
            .unwrap()
            .into_iter()
            .find(|p| p.id == product.id)
            .unwrap()
            .stock
    }

    fn here(&self) -> BranchView {
        let all = self.app.branches().unwrap();
        all.into_iter().find(|b| b.this_branch).unwrap()
    }
}

fn branch_state(id: BranchId, code: &str, name: &str) -> ChangeBody {
    ChangeBody::Branch(BranchState {
        id,
        code: code.into(),
        name: name.into(),
        time_zone: TimeZone::NAIROBI,
        hlc: Hlc::new(T0.as_millis() as u64, 0, 1),
        deleted_at: None,
    })
}

fn product(name: &str) -> ProductInput {
    ProductInput {
        id: None,
        name: name.into(),
        sku: Some(name.replace(' ', "-")),
        barcode: None,
        category_id: None,
        price: 80_00,
        tax_code: "VAT16".into(),
        track_stock: true,
        low_stock: None,
    }
}

/// A till on disk with its owner (PIN 1234) signed in, 20 sodas and 10
/// bags of flour in stock, that has pulled the CBD branch.
fn till() -> (Till, BranchId, ProductView, ProductView) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let app = App::open(AppConfig {
        data_dir: dir.path().to_path_buf(),
        keys: Arc::new(MemoryKeyStore::new()),
        sync: SyncConfig::default(),
        clock: clock.clone(),
    })
    .unwrap();
    app.create_owner("Wanjiru".into(), "1234".into()).unwrap();
    let soda = app.save_product(product("Soda")).unwrap();
    let flour = app.save_product(product("Flour")).unwrap();
    app.restock(soda.id.clone(), 20_000, None).unwrap();
    app.restock(flour.id.clone(), 10_000, None).unwrap();
    let mut t = Till {
        app,
        clock,
        dir,
        seq: 1,
        epoch: Epoch(uuid::Uuid::now_v7()),
    };
    let cbd = BranchId::new();
    t.pull(vec![branch_state(cbd, "CBD", "CBD branch")]);
    (t, cbd, soda, flour)
}

fn send(to: &str, lines: &[(&ProductView, i64)]) -> SendTransferInput {
    SendTransferInput {
        to_branch_id: to.into(),
        lines: lines
            .iter()
            .map(|(p, q)| SendTransferLineInput {
                product_id: p.id.clone(),
                quantity: *q,
            })
            .collect(),
        note: Some("  weekly top-up ".into()),
    }
}

#[test]
fn the_destination_picker_lists_the_branches_this_till_knows() {
    let (t, cbd, _, _) = till();
    let branches = t.app.branches().unwrap();
    assert_eq!(branches.len(), 2);
    assert!(branches[0].this_branch, "its own branch first");
    assert_eq!(branches[0].code, "MAIN");
    assert_eq!(
        (
            branches[1].id.as_str(),
            branches[1].code.as_str(),
            branches[1].name.as_str(),
            branches[1].this_branch
        ),
        (cbd.to_string().as_str(), "CBD", "CBD branch", false)
    );
    t.app.logout().unwrap();
    assert_eq!(
        t.app.branches().unwrap_err().code,
        ErrorCode::NotSignedIn,
        "gated by the session"
    );
}

#[test]
fn a_manager_sends_stock_that_leaves_now_and_shows_in_transit() {
    let (t, cbd, soda, flour) = till();
    let pending = t.pending();
    let sent = t
        .app
        .send_transfer(send(&cbd.to_string(), &[(&soda, 5_000), (&flour, 2_500)]))
        .unwrap();
    assert_eq!(sent.direction, TransferDirection::Outgoing);
    assert_eq!(sent.state, TransferStateView::Sent);
    assert_eq!(sent.from_branch.code, "MAIN");
    assert!(sent.from_branch.this_branch);
    assert_eq!(
        (sent.to_branch.code.as_str(), sent.to_branch.name.as_str()),
        ("CBD", "CBD branch")
    );
    assert_eq!(sent.sent_by, "Wanjiru");
    assert_eq!(sent.note.as_deref(), Some("weekly top-up"));
    assert_eq!(
        (sent.received_by.clone(), sent.received_at.clone()),
        (None, None)
    );
    let lines: Vec<_> = sent
        .lines
        .iter()
        .map(|l| {
            (
                l.line_no,
                l.product_name.as_str(),
                l.sent,
                l.received,
                l.discrepancy,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (1, "Soda", 5_000, None, false),
            (2, "Flour", 2_500, None, false)
        ]
    );
    assert_eq!(t.stock(&soda), 15_000, "the stock left at once");
    assert_eq!(t.stock(&flour), 7_500);
    assert_eq!(t.pending(), pending + 1, "one op queued");

    assert_eq!(
        t.app.transfers(TransferFilterInput::InTransit).unwrap(),
        vec![sent.clone()]
    );
    assert!(
        t.app
            .transfers(TransferFilterInput::ToReceive)
            .unwrap()
            .is_empty()
    );
    assert_eq!(t.app.transfer(sent.id.clone()).unwrap(), sent);
    assert_eq!(
        t.app
            .transfer(TransferId::new().to_string())
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    invalid(t.app.transfer("t-1".into()), "transfer id");
    // The sender cannot record the receipt: only the destination can.
    let e = t
        .app
        .receive_transfer(ReceiveTransferInput {
            transfer_id: sent.id.clone(),
            lines: vec![
                ReceiveTransferLineInput {
                    line_no: 1,
                    quantity: 5_000,
                },
                ReceiveTransferLineInput {
                    line_no: 2,
                    quantity: 2_500,
                },
            ],
            note: None,
        })
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(e.message.contains("another branch"), "{}", e.message);
    assert_eq!(t.stock(&soda), 15_000);
}

#[test]
fn sending_is_refused_to_a_cashier_and_for_bad_input_changing_nothing() {
    let (t, cbd, soda, flour) = till();
    let cbd = cbd.to_string();
    let here = t.here().id;
    let pending = t.pending();

    // Bad input, each refused by name.
    invalid(t.app.send_transfer(send(&cbd, &[])), "no lines");
    invalid(t.app.send_transfer(send(&cbd, &[(&soda, 0)])), "line 1");
    invalid(
        t.app
            .send_transfer(send(&cbd, &[(&soda, 1_000), (&flour, -2_000)])),
        "quantity of line 2",
    );
    invalid(
        t.app.send_transfer(send("", &[(&soda, 1_000)])),
        "destination branch",
    );
    invalid(
        t.app.send_transfer(send("CBD", &[(&soda, 1_000)])),
        "destination branch",
    );
    invalid(
        t.app
            .send_transfer(send(&BranchId::new().to_string(), &[(&soda, 1_000)])),
        "destination branch",
    );
    invalid(
        t.app.send_transfer(send(&here, &[(&soda, 1_000)])),
        "another branch",
    );
    invalid(
        t.app.send_transfer(SendTransferInput {
            lines: vec![SendTransferLineInput {
                product_id: "soda".into(),
                quantity: 1_000,
            }],
            ..send(&cbd, &[])
        }),
        "product id of line 1",
    );
    invalid(
        t.app
            .send_transfer(send(&cbd, &[(&soda, 1_000), (&soda, 2_000)])),
        "same product",
    );
    invalid(
        t.app.send_transfer(send(&cbd, &[(&soda, i64::MAX)])),
        "quantity of line 1",
    );

    // A cashier may not send stock.
    let cashier = t
        .app
        .save_user(UserInput {
            id: None,
            name: "Achieng".into(),
            role: RoleView::Cashier,
            active: true,
            pin: Some("2222".into()),
        })
        .unwrap();
    let pending_after_user = t.pending();
    assert_eq!(pending_after_user, pending + 1, "the new user's op");
    t.app.logout().unwrap();
    t.app.login(cashier.id.clone(), "2222".into()).unwrap();
    let e = t
        .app
        .send_transfer(send(&cbd, &[(&soda, 1_000)]))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden, "{}", e.message);

    assert_eq!(t.pending(), pending_after_user, "nothing queued");
    assert_eq!(t.stock(&soda), 20_000, "no stock moved");
    assert_eq!(t.stock(&flour), 10_000);
    assert!(
        t.app
            .transfers(TransferFilterInput::All)
            .unwrap()
            .is_empty()
    );
}

/// A transfer of `lines` from CBD to this till's branch, as pulled.
fn incoming(t: &mut Till, cbd: BranchId, lines: &[(&ProductView, i64)]) -> TransferId {
    incoming_from(t, cbd, DeviceId::new(), lines)
}

/// [`incoming`], sent by `device` (the nil id: the Back Office's dashboard).
fn incoming_from(
    t: &mut Till,
    cbd: BranchId,
    device: DeviceId,
    lines: &[(&ProductView, i64)],
) -> TransferId {
    let here: BranchId = t.here().id.parse().unwrap();
    let record = TransferSentRecord {
        id: TransferId::new(),
        from_branch: cbd,
        to_branch: here,
        device_id: device,
        lines: lines
            .iter()
            .map(|(p, q)| TransferLine {
                product_id: p.id.parse::<ProductId>().unwrap(),
                quantity: Quantity::from_milli(*q),
            })
            .collect(),
        note: Some("from the CBD store".into()),
        sent_by: UserId::new(),
        sent_at: Timestamp::from_millis(T0.as_millis() + 60_000),
        // This branch's copy carries none of CBD's movements.
        movements: vec![],
    };
    let id = record.id;
    t.pull(vec![ChangeBody::TransferSent(record)]);
    id
}

fn counted(id: TransferId, lines: &[(u32, i64)]) -> ReceiveTransferInput {
    ReceiveTransferInput {
        transfer_id: id.to_string(),
        lines: lines
            .iter()
            .map(|&(line_no, quantity)| ReceiveTransferLineInput { line_no, quantity })
            .collect(),
        note: Some("one crate broken".into()),
    }
}

#[test]
fn an_incoming_transfer_received_short_is_flagged_and_cannot_be_received_twice() {
    let (mut t, cbd, soda, flour) = till();
    let id = incoming(&mut t, cbd, &[(&soda, 10_000), (&flour, 4_000)]);

    let to_receive = t.app.transfers(TransferFilterInput::ToReceive).unwrap();
    assert_eq!(to_receive.len(), 1);
    let tr = &to_receive[0];
    assert_eq!(tr.id, id.to_string());
    assert_eq!(tr.direction, TransferDirection::Incoming);
    assert_eq!(tr.state, TransferStateView::Sent);
    assert_eq!(tr.from_branch.code, "CBD");
    assert!(tr.to_branch.this_branch);
    assert_eq!(tr.sent_by, "unknown user", "a user not pulled yet");
    assert!(
        t.app
            .transfers(TransferFilterInput::InTransit)
            .unwrap()
            .is_empty()
    );
    let pending = t.pending();

    // Bad receipts: refused by name, nothing changes.
    invalid(
        t.app.receive_transfer(counted(id, &[(1, 10_000)])),
        "line 2",
    );
    invalid(
        t.app
            .receive_transfer(counted(id, &[(1, 10_000), (2, -1_000)])),
        "line 2",
    );
    invalid(
        t.app
            .receive_transfer(counted(id, &[(1, 10_000), (1, 9_000), (2, 4_000)])),
        "line 1",
    );
    invalid(
        t.app
            .receive_transfer(counted(id, &[(1, 10_000), (2, 4_000), (3, 1_000)])),
        "no line 3",
    );
    invalid(
        t.app.receive_transfer(ReceiveTransferInput {
            transfer_id: "x".into(),
            ..counted(id, &[])
        }),
        "transfer id",
    );
    assert_eq!(
        t.app
            .receive_transfer(counted(TransferId::new(), &[(1, 1_000)]))
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    assert_eq!(t.pending(), pending);
    assert_eq!(t.stock(&soda), 20_000);

    // 9 of the 10 sodas arrived, all the flour: a discrepancy on line 1.
    let done = t
        .app
        .receive_transfer(counted(id, &[(2, 4_000), (1, 9_000)]))
        .unwrap();
    assert_eq!(done.state, TransferStateView::ReceivedWithDiscrepancy);
    assert_eq!(done.received_by.as_deref(), Some("Wanjiru"));
    assert!(done.received_at.is_some());
    assert_eq!(done.receipt_note.as_deref(), Some("one crate broken"));
    assert_eq!(done.note.as_deref(), Some("from the CBD store"));
    let lines: Vec<_> = done
        .lines
        .iter()
        .map(|l| (l.product_name.as_str(), l.sent, l.received, l.discrepancy))
        .collect();
    assert_eq!(
        lines,
        [
            ("Soda", 10_000, Some(9_000), true),
            ("Flour", 4_000, Some(4_000), false)
        ]
    );
    assert_eq!(t.stock(&soda), 29_000, "what arrived entered the stock");
    assert_eq!(t.stock(&flour), 14_000);
    assert_eq!(t.pending(), pending + 1);
    assert!(
        t.app
            .transfers(TransferFilterInput::ToReceive)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        t.app.transfers(TransferFilterInput::All).unwrap(),
        vec![done.clone()]
    );

    // Once only.
    let e = t
        .app
        .receive_transfer(counted(id, &[(1, 1_000), (2, 0)]))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(e.message.contains("received already"), "{}", e.message);
    assert_eq!(t.stock(&soda), 29_000);
    assert_eq!(t.pending(), pending + 1);
}

#[test]
fn received_as_sent_is_received_and_a_cashier_cannot_receive() {
    let (mut t, cbd, soda, _) = till();
    let id = incoming(&mut t, cbd, &[(&soda, 3_000)]);
    let cashier = t
        .app
        .save_user(UserInput {
            id: None,
            name: "Achieng".into(),
            role: RoleView::Cashier,
            active: true,
            pin: Some("2222".into()),
        })
        .unwrap();
    let owner = t
        .app
        .users()
        .unwrap()
        .into_iter()
        .find(|u| u.role == RoleView::Owner)
        .unwrap()
        .id;
    t.app.logout().unwrap();
    t.app.login(cashier.id, "2222".into()).unwrap();
    let e = t
        .app
        .receive_transfer(counted(id, &[(1, 3_000)]))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert_eq!(t.stock(&soda), 20_000);

    t.app.logout().unwrap();
    t.app.login(owner, "1234".into()).unwrap();
    let done = t.app.receive_transfer(counted(id, &[(1, 3_000)])).unwrap();
    assert_eq!(done.state, TransferStateView::Received);
    assert!(!done.lines[0].discrepancy);
    assert_eq!(t.stock(&soda), 23_000);
}

#[test]
fn a_transfer_sent_from_the_dashboard_says_the_back_office_sent_it() {
    let (mut t, cbd, soda, _) = till();
    let nil: DeviceId = "00000000-0000-0000-0000-000000000000".parse().unwrap();
    let id = incoming_from(&mut t, cbd, nil, &[(&soda, 2_000)]);
    let tr = t.app.transfer(id.to_string()).unwrap();
    assert_eq!(tr.sent_by, "the Back Office");
}
