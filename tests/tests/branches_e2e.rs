//! The branch model end to end (DESIGN.md invariant 7, docs/branch-model.md):
//! the real Back Office in-process on a temp file and **three tills in two
//! branches** — Westlands (tills 1 and 2) and CBD (till 1) — each a store
//! file and a `pos-sync` engine talking HTTP on 127.0.0.1.
//!
//! One story, in the order a business lives it:
//! 1. every till knows its branch from its key and numbers its receipts
//!    `BRANCH-TILL-000001` with no round trip; the server keeps the tags;
//! 2. a customer registered at Westlands is found at CBD, by name and phone;
//! 3. the same person registered offline at Westlands till 2 and at CBD is
//!    one account everywhere, owing what both sold;
//! 4. 10 units sent from Westlands and counted as 9 at CBD leave Westlands
//!    −10 and CBD +9, with the discrepancy flagged at both ends (and seen by
//!    the Westlands till that did not send it);
//! 5. CBD cannot void Westlands' sale — not from its till, not by pushing a
//!    forged void — while Westlands can;
//! 6. CBD reads the customer's Westlands sales from the Back Office, marked
//!    as another branch's.

mod common;

use common::{Server, Till, kes, start_server};
use pos_domain::{BranchId, DeviceId, Hlc, OpId, ProductId, Quantity, SaleId};
use pos_store::StoreError;
use pos_store::transfers::{TransferFilter, TransferState};
use pos_sync::{ApiKey, BackOffice};
use sync_protocol::{OpEnvelope, OpOutcome, PushRequest, RejectCode, SaleKind};

const BEER: i64 = 250_00;

fn branch_of(t: &Till) -> BranchId {
    t.store.lock().unwrap().identity().branch_id
}

/// The server's stock of `product` at `branch`, in units.
fn server_level(server: &Server, product: ProductId, branch: BranchId) -> i64 {
    server
        .query()
        .query_row(
            "SELECT COALESCE((SELECT quantity_milli FROM stock_levels
                              WHERE product_id = ?1 AND branch_id = ?2), 0)",
            [product.to_string(), branch.to_string()],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        / 1000
}

async fn sync_all(tills: &[&Till]) {
    for t in tills {
        t.sync().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tills_in_two_branches_share_customers_transfer_stock_and_keep_their_sales() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let a1 = server.till(dir.path(), "a1", "Westlands", "Till 1");
    let a2 = server.till(dir.path(), "a2", "Westlands", "Till 2");
    let b = server.till(dir.path(), "b", "CBD", "Till 1");
    let all = [&a1, &a2, &b];
    sync_all(&all).await;
    let beer = a1.add_product("Tusker 500ml", BEER);
    a1.store
        .lock()
        .unwrap()
        .restock(&a1.owner, beer, Quantity::units(24), None)
        .unwrap();
    sync_all(&all).await;
    let (west, cbd) = (branch_of(&a1), branch_of(&b));
    assert_eq!(
        branch_of(&a2),
        west,
        "both Westlands tills know their branch"
    );
    assert_ne!(west, cbd);

    // 1. Branch identity: receipt numbers made offline, unique per branch
    //    and till, and the server keeps each sale's branch and device.
    let sales: Vec<(SaleId, String, BranchId, DeviceId)> = all
        .iter()
        .map(|t| {
            let id = t.sell(beer, 1, BEER);
            let s = t.store.lock().unwrap();
            let who = s.identity();
            let receipt = s.sale(id).unwrap().receipt_no;
            let prefix = format!("{}-{}-", who.branch_code, who.device_code);
            assert!(
                receipt.starts_with(&prefix) && receipt.len() == prefix.len() + 6,
                "{receipt} is {prefix}NNNNNN"
            );
            (id, receipt, who.branch_id, who.device_id)
        })
        .collect();
    let receipts: std::collections::HashSet<_> = sales.iter().map(|s| &s.1).collect();
    assert_eq!(
        receipts.len(),
        3,
        "three distinct receipt numbers: {sales:?}"
    );
    sync_all(&all).await;
    for (id, receipt, branch, device) in &sales {
        let tags: (String, String, String) = server
            .query()
            .query_row(
                "SELECT receipt_no, branch_id, device_id FROM sales WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            tags,
            (receipt.clone(), branch.to_string(), device.to_string())
        );
    }
    // Sales belong to their branch: CBD's till holds none of Westlands'.
    assert!(matches!(
        b.store.lock().unwrap().sale(sales[0].0),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(a2.stock(beer), Quantity::units(22), "Westlands sold 2");
    assert_eq!(
        b.stock(beer),
        Quantity::units(-1),
        "CBD sold 1 it never had"
    );

    // 2. A customer registered at Westlands is found at CBD.
    let wanjiru = a1.add_customer("Wanjiru Kamau", "0722 000 111", 2_000_00, None);
    sync_all(&[&a1, &b]).await;
    {
        let s = b.store.lock().unwrap();
        for query in ["wanjiru", "0722000111", "+254722000111"] {
            let found = s.search_customers(query, 10).unwrap();
            assert_eq!(
                found.iter().map(|c| c.id).collect::<Vec<_>>(),
                [wanjiru],
                "'{query}' at CBD"
            );
        }
    }

    // 3. Offline, Westlands till 2 and CBD each register Njeri (her phone
    //    typed two ways) and sell her beer on credit: 2 and 3.
    let at_a2 = a2.add_customer("Njeri", "0712 345 678", 5_000_00, None);
    let credit_a2 = a2.sell_on_credit(beer, 2, BEER, at_a2);
    let at_b = b.add_customer("Mama Njeri", "+254 712 345678", 1_000_00, None);
    let credit_b = b.sell_on_credit(beer, 3, BEER, at_b);
    sync_all(&[&a2, &b, &a1, &a2, &b]).await;
    let kept = backoffice::customer_merge::canonical_customer(&server.query(), at_b).unwrap();
    assert_eq!(kept, at_a2, "Westlands registered her first");
    assert_eq!(
        backoffice::customer_merge::customer_balance(&server.query(), kept).unwrap(),
        kes(5 * BEER)
    );
    for t in all {
        let s = t.store.lock().unwrap();
        let found = s.search_customers("0712345678", 10).unwrap();
        assert_eq!(found.len(), 1, "one Njeri");
        assert_eq!(found[0].id, kept);
        assert_eq!(found[0].balance, kes(5 * BEER), "both branches' sales");
        assert_eq!(found[0].credit_limit, kes(5_000_00), "the higher limit");
        assert_eq!(s.canonical_customer(at_b).unwrap(), kept);
    }

    // 4. Westlands (till 1) sends 10 to CBD; CBD counts 9.
    let transfer = a1
        .store
        .lock()
        .unwrap()
        .send_transfer(
            &a1.owner,
            cbd,
            &[(beer, Quantity::units(10))],
            Some("weekend stock".into()),
        )
        .unwrap();
    assert_eq!(transfer.state(), TransferState::Sent);
    assert_eq!(a1.stock(beer), Quantity::units(22 - 2 - 10));
    sync_all(&[&a1, &b]).await;
    let to_receive = b
        .store
        .lock()
        .unwrap()
        .transfers(TransferFilter::ToReceive, 10)
        .unwrap();
    assert_eq!(
        to_receive.iter().map(|t| t.id).collect::<Vec<_>>(),
        [transfer.id]
    );
    let cbd_before = server_level(&server, beer, cbd);
    let received = b
        .store
        .lock()
        .unwrap()
        .receive_transfer(
            &b.owner,
            transfer.id,
            &[Quantity::units(9)],
            Some("one broken".into()),
        )
        .unwrap();
    assert_eq!(received.state(), TransferState::ReceivedWithDiscrepancy);
    sync_all(&[&b, &a1, &a2]).await;
    assert_eq!(server_level(&server, beer, west), 22 - 2 - 10);
    assert_eq!(server_level(&server, beer, cbd), cbd_before + 9);
    assert_eq!(b.stock(beer), Quantity::units(cbd_before + 9));
    for t in [&a1, &a2] {
        assert_eq!(
            t.stock(beer),
            Quantity::units(10),
            "Westlands: 24 − 4 sold − 10 sent"
        );
    }
    for t in all {
        let seen = t.store.lock().unwrap().transfer(transfer.id).unwrap();
        assert_eq!(seen.state(), TransferState::ReceivedWithDiscrepancy);
        assert_eq!(seen.lines[0].sent, Quantity::units(10));
        assert_eq!(seen.lines[0].received, Some(Quantity::units(9)));
        assert!(seen.lines[0].is_discrepancy());
    }
    // A transfer is received once: asking again at CBD is refused.
    let again = b.store.lock().unwrap().receive_transfer(
        &b.owner,
        transfer.id,
        &[Quantity::units(10)],
        None,
    );
    assert!(matches!(again, Err(StoreError::Invalid(_))), "{again:?}");

    // 5. CBD cannot change Westlands' sales. Its till does not hold them
    //    (above); a void pushed by a CBD key is refused by the server, and
    //    Westlands' own void goes through.
    let (west_sale, ..) = &sales[0];
    let void = a1
        .store
        .lock()
        .unwrap()
        .void_sale(&a1.owner, *west_sale, "rung up twice")
        .unwrap();
    assert_eq!(void.kind, SaleKind::Void);
    let forger = BackOffice::new(
        &server.url,
        ApiKey::parse(&server.add_till("CBD", "Till 9")).unwrap(),
    )
    .unwrap();
    let me = forger.device().await.unwrap();
    let mut forged = void.clone();
    forged.id = SaleId::new();
    forged.receipt_no = format!("{}-{}-000001", me.branch.code, me.device_code);
    forged.branch_id = cbd;
    forged.device_id = me.device_id;
    for m in &mut forged.movements {
        m.branch_id = cbd;
        m.device_id = me.device_id;
    }
    let sales_before = count(&server, "sales");
    let answer = forger
        .push(&PushRequest {
            ops: vec![OpEnvelope {
                op_id: OpId::new(),
                device_seq: 1,
                hlc: Hlc::new(
                    forged.created_at.as_millis() as u64,
                    0,
                    Hlc::node_of(me.device_id),
                ),
                created_at: forged.created_at,
                body: sync_protocol::OpBody::SaleRecorded(forged),
            }],
        })
        .await
        .unwrap();
    match &answer.results[0].outcome {
        OpOutcome::Rejected { code, reason } => {
            assert_eq!(*code, RejectCode::WrongBranch);
            assert!(
                reason.contains("only the branch that made a sale"),
                "{reason}"
            );
        }
        other => panic!("CBD voided Westlands' sale: {other:?}"),
    }
    assert_eq!(count(&server, "sales"), sales_before, "nothing recorded");
    a1.sync().await;
    let voids: i64 = server
        .query()
        .query_row(
            "SELECT COUNT(*) FROM sales WHERE original_sale_id = ?1 AND kind = 'void'",
            [west_sale.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(voids, 1, "Westlands voided its own sale");

    // 6. At CBD, Njeri's history from the Back Office: Westlands' credit
    //    sale marked as another branch's, CBD's as its own.
    let history = b
        .engine
        .backoffice()
        .unwrap()
        .customer_history(at_b)
        .await
        .unwrap();
    assert_eq!(history.customer.id, kept);
    assert_eq!(history.balance, kes(5 * BEER));
    let mut seen: Vec<(SaleId, String, bool)> = history
        .sales
        .iter()
        .map(|s| (s.id, s.branch.name.clone(), s.this_branch))
        .collect();
    seen.sort_by_key(|s| s.2);
    assert_eq!(
        seen,
        [
            (credit_a2, "Westlands".to_string(), false),
            (credit_b, "CBD".to_string(), true),
        ]
    );

    // The merge is in her history: CBD's record, why, and not undone.
    assert_eq!(history.merges.len(), 1, "{:?}", history.merges);
    let merge = &history.merges[0];
    assert_eq!(merge.alias_id, at_b);
    assert_eq!(merge.name, "Mama Njeri");
    assert!(
        merge
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("+254712345678"),
        "{merge:?}"
    );
    assert_eq!(
        merge.alias_branch.as_ref().map(|b| b.name.as_str()),
        Some("CBD")
    );
    assert_eq!(merge.undone_at, None);

    // Every till has pushed everything and holds nothing back.
    for t in all {
        assert_eq!(t.pending(), 0);
        assert!(t.store.lock().unwrap().held_changes().unwrap().is_empty());
    }
    server.stop().await;
}

fn count(server: &Server, table: &str) -> i64 {
    server
        .query()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Two tills of CBD both record the same delivery while offline. Goods
/// arrive once: the receipt that reaches the Back Office first counts, the
/// other is refused with whose receipt counted and what to do, and stays
/// visible on that till (quarantined op, held change) instead of silently
/// doubling CBD's stock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tills_of_one_branch_receiving_the_same_transfer_offline_count_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let a = server.till(dir.path(), "a", "Westlands", "Till 1");
    let b1 = server.till(dir.path(), "b1", "CBD", "Till 1");
    let b2 = server.till(dir.path(), "b2", "CBD", "Till 2");
    sync_all(&[&a, &b1, &b2]).await;
    let beer = a.add_product("Tusker 500ml", BEER);
    let cbd = branch_of(&b1);
    let transfer = a
        .store
        .lock()
        .unwrap()
        .send_transfer(&a.owner, cbd, &[(beer, Quantity::units(10))], None)
        .unwrap();
    sync_all(&[&a, &b1, &b2]).await;

    // Offline, till 1 counts 9 and till 2 counts 10.
    for (t, units) in [(&b1, 9), (&b2, 10)] {
        t.store
            .lock()
            .unwrap()
            .receive_transfer(&t.owner, transfer.id, &[Quantity::units(units)], None)
            .unwrap();
    }
    sync_all(&[&b1, &b2, &b1, &a]).await;

    // The Back Office counted till 1's receipt, once.
    assert_eq!(server_level(&server, beer, cbd), 9);
    assert_eq!(count(&server, "transfer_receipts"), 1);
    for t in [&a, &b1] {
        let seen = t.store.lock().unwrap().transfer(transfer.id).unwrap();
        assert_eq!(seen.lines[0].received, Some(Quantity::units(9)));
    }
    // Till 2 is told, in words a manager can act on.
    {
        let s = b2.store.lock().unwrap();
        let refused = s.outbox_quarantined().unwrap();
        assert_eq!(refused.len(), 1);
        let reason = refused[0].quarantine_reason.clone().unwrap_or_default();
        assert!(
            reason.contains("was received already, by till T1") && reason.contains("stocktake"),
            "{reason}"
        );
        let held = s.held_changes().unwrap();
        assert_eq!(
            held.len(),
            1,
            "till 1's receipt, which clashes with till 2's"
        );
        assert_eq!(held[0].entity, "transfer_receipt");
        // Its stock counts its own receipt only, never both.
        assert_eq!(s.product(beer).unwrap().stock, Quantity::units(10));
    }
    server.stop().await;
}
