//! The commands against a real store (in memory or in a temp dir) and a
//! memory key store: sessions, role gating, auto-lock, selling, stock,
//! customers, expenses, reports, settings and sync housekeeping.

mod common;

use common::invalid;

use std::sync::Arc;

use pos_app::*;
use pos_domain::{ManualClock, Timestamp};
use pos_sync::{KeyStore, MemoryKeyStore, SyncConfig};

/// 2026-03-02 09:00 in Nairobi (06:00 UTC).
const T0: Timestamp = Timestamp::from_millis(1_772_431_200_000);
const MINUTE: i64 = 60_000;

struct Till {
    app: App,
    clock: Arc<ManualClock>,
}

fn till_with(keys: Arc<dyn KeyStore>) -> Till {
    let clock = Arc::new(ManualClock::new(T0));
    let app = App::open_in_memory(keys, clock.clone()).unwrap();
    Till { app, clock }
}

/// A fresh till with its owner (PIN 1234) signed in.
fn till() -> Till {
    let t = till_with(Arc::new(MemoryKeyStore::new()));
    t.app.create_owner("Wanjiru".into(), "1234".into()).unwrap();
    t
}

fn code<T: std::fmt::Debug>(r: Result<T, CommandError>) -> ErrorCode {
    r.expect_err("should be refused").code
}

fn product(name: &str, price: i64) -> ProductInput {
    ProductInput {
        id: None,
        name: name.into(),
        sku: Some(name.replace(' ', "-")),
        barcode: None,
        category_id: None,
        price,
        tax_code: "VAT16".into(),
        track_stock: true,
        low_stock: None,
    }
}

fn line(p: &ProductView, quantity: i64) -> CartLineInput {
    CartLineInput {
        product_id: p.id.clone(),
        quantity,
        discount: DiscountInput::None,
    }
}

fn cart(lines: Vec<CartLineInput>) -> CartInput {
    CartInput {
        lines,
        discount: DiscountInput::None,
    }
}

fn cash_sale(app: &App, lines: Vec<CartLineInput>, tendered: i64) -> ReceiptView {
    app.checkout(CheckoutInput {
        sale_id: app.new_sale_id().unwrap(),
        cart: cart(lines),
        tenders: vec![TenderInput::Cash { tendered }],
        customer_id: None,
    })
    .unwrap()
}

/// Adds a user as the signed-in one and returns their id.
fn add_user(app: &App, name: &str, role: RoleView, pin: &str) -> String {
    app.save_user(UserInput {
        id: None,
        name: name.into(),
        role,
        active: true,
        pin: Some(pin.into()),
    })
    .unwrap()
    .id
}

fn sign_in_as(app: &App, id: &str, pin: &str) -> Session {
    app.logout().unwrap();
    app.login(id.into(), pin.into()).unwrap()
}

fn settings_input(s: &SettingsView) -> SettingsInput {
    SettingsInput {
        store_name: s.store_name.clone(),
        address: s.address.clone(),
        phone: s.phone.clone(),
        tax_pin: s.tax_pin.clone(),
        receipt_header: s.receipt_header.clone(),
        receipt_footer: s.receipt_footer.clone(),
        currency: s.currency.clone(),
        time_zone: s.time_zone.clone(),
        tax_mode: s.tax_mode.clone(),
        auto_lock_minutes: s.auto_lock_minutes,
    }
}

#[test]
fn the_app_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<App>();
}

#[test]
fn first_run_sets_up_the_owner_then_pins_sign_in() {
    let t = till_with(Arc::new(MemoryKeyStore::new()));
    let info = t.app.app_info().unwrap();
    assert!(info.needs_owner);
    assert_eq!(
        (info.currency.as_str(), info.time_zone.as_str()),
        ("KES", "Africa/Nairobi")
    );
    assert_eq!(code(t.app.categories()), ErrorCode::NotSignedIn);
    assert_eq!(
        code(t.app.create_owner("Wanjiru".into(), "12".into())),
        ErrorCode::Invalid
    );

    let session = t.app.create_owner("Wanjiru".into(), "1234".into()).unwrap();
    assert_eq!(session.user.role, RoleView::Owner);
    assert!(session.can.manage_settings && session.can.manage_sync);
    assert_eq!(session.auto_lock_minutes, 5);
    assert_eq!(
        code(t.app.create_owner("Other".into(), "9999".into())),
        ErrorCode::Conflict
    );

    let info = t.app.app_info().unwrap();
    assert!(!info.needs_owner);
    assert_eq!(info.users.len(), 1);
    let owner = info.users[0].id.clone();

    t.app.logout().unwrap();
    assert_eq!(code(t.app.categories()), ErrorCode::NotSignedIn);
    let wrong = t.app.login(owner.clone(), "0000".into()).unwrap_err();
    assert_eq!(wrong.code, ErrorCode::WrongPin);
    assert!(wrong.message.starts_with("Wrong PIN"), "{}", wrong.message);
    assert_eq!(code(t.app.categories()), ErrorCode::NotSignedIn);
    assert_eq!(
        code(t.app.login("not-an-id".into(), "1234".into())),
        ErrorCode::Invalid
    );
    let session = t.app.login(owner, "1234".into()).unwrap();
    assert_eq!(session.user.name, "Wanjiru");
    assert!(t.app.categories().unwrap().is_empty());
}

#[test]
fn five_wrong_pins_lock_the_user() {
    let t = till();
    let cashier = add_user(&t.app, "Achieng", RoleView::Cashier, "2222");
    t.app.logout().unwrap();
    for _ in 0..4 {
        assert_eq!(
            code(t.app.login(cashier.clone(), "0000".into())),
            ErrorCode::WrongPin
        );
    }
    assert_eq!(
        code(t.app.login(cashier.clone(), "0000".into())),
        ErrorCode::UserLocked
    );
    assert_eq!(
        code(t.app.login(cashier.clone(), "2222".into())),
        ErrorCode::UserLocked
    );
    let owner = t
        .app
        .app_info()
        .unwrap()
        .users
        .iter()
        .find(|u| u.name == "Wanjiru")
        .unwrap()
        .id
        .clone();
    t.app.login(owner, "1234".into()).unwrap();
    t.app.unlock_user(cashier.clone()).unwrap();
    sign_in_as(&t.app, &cashier, "2222");
}

#[tokio::test]
async fn a_cashier_is_refused_manager_commands() {
    let t = till();
    let soda = t.app.save_product(product("Soda", 50_00)).unwrap();
    let cashier = add_user(&t.app, "Achieng", RoleView::Cashier, "2222");
    let session = sign_in_as(&t.app, &cashier, "2222");
    assert!(session.can.sell && !session.can.void_or_refund && !session.can.manage_sync);

    let sale = cash_sale(&t.app, vec![line(&soda, 1000)], 50_00);
    assert_eq!(
        code(t.app.save_product(product("Bread", 60_00))),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(t.app.void_sale(sale.sale_id.clone(), "mistake".into())),
        ErrorCode::Forbidden
    );
    assert_eq!(code(t.app.full_sync_preview().await), ErrorCode::Forbidden);
    assert_eq!(code(t.app.push_pending().await), ErrorCode::Forbidden);
    assert_eq!(code(t.app.users()), ErrorCode::Forbidden);
    assert_eq!(
        code(t.app.discard_quarantined(uuid_like())),
        ErrorCode::Forbidden
    );
    assert_eq!(code(t.app.day_report(None)), ErrorCode::Forbidden);
    let refused = t.app.save_product(product("Bread", 60_00)).unwrap_err();
    assert!(refused.message.contains("manager"), "{}", refused.message);
    // Nothing of it was recorded; the cashier's sale is still the only one.
    assert_eq!(t.app.products(ProductQuery::default()).unwrap().len(), 1);
    assert_eq!(t.app.recent_sales(10).unwrap().len(), 1);
    // Reading the settings is fine, with no key to see.
    assert_eq!(t.app.settings().unwrap().api_key_masked, None);
}

fn uuid_like() -> String {
    "0190a5c2-1234-7abc-8def-0123456789ab".into()
}

#[test]
fn the_session_locks_itself_after_the_auto_lock_delay() {
    let t = till();
    t.clock.advance_millis(4 * MINUTE);
    t.app.touch().unwrap();
    t.clock.advance_millis(4 * MINUTE);
    t.app.categories().unwrap();
    t.clock.advance_millis(5 * MINUTE);
    assert_eq!(code(t.app.categories()), ErrorCode::Locked);
    // Still locked, whatever is asked, until the PIN.
    assert_eq!(code(t.app.touch()), ErrorCode::Locked);
    assert_eq!(code(t.app.sync_status()), ErrorCode::Locked);
    t.app.app_info().unwrap();
    assert_eq!(code(t.app.unlock("9999".into())), ErrorCode::WrongPin);
    assert_eq!(code(t.app.categories()), ErrorCode::Locked);
    let session = t.app.unlock("1234".into()).unwrap();
    assert_eq!(session.user.name, "Wanjiru");
    t.app.categories().unwrap();

    // Locking by hand; logging out ends it all.
    t.app.lock().unwrap();
    assert_eq!(code(t.app.categories()), ErrorCode::Locked);
    t.app.logout().unwrap();
    assert_eq!(code(t.app.unlock("1234".into())), ErrorCode::NotSignedIn);
}

#[test]
fn zero_minutes_never_locks_and_the_delay_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let config = || AppConfig {
        data_dir: dir.path().join("data"),
        keys: keys.clone(),
        sync: SyncConfig::default(),
        clock: clock.clone(),
    };
    {
        let app = App::open(config()).unwrap();
        app.create_owner("Wanjiru".into(), "1234".into()).unwrap();
        let mut s = settings_input(&app.settings().unwrap());
        s.auto_lock_minutes = 0;
        assert_eq!(app.save_settings(s).unwrap().auto_lock_minutes, 0);
        clock.advance_millis(600 * MINUTE);
        app.categories().unwrap();
    }
    assert!(dir.path().join("data").join(DATABASE_FILE).exists());
    let app = App::open(config()).unwrap();
    let info = app.app_info().unwrap();
    assert_eq!(info.auto_lock_minutes, 0);
    assert!(!info.needs_owner, "the owner survived the restart");
    // Restarting signs everyone out.
    assert_eq!(code(app.categories()), ErrorCode::NotSignedIn);
}

#[test]
fn a_priced_cart_costs_what_checkout_records() {
    let t = till();
    let soda = t.app.save_product(product("Soda", 50_00)).unwrap();
    let bread = t.app.save_product(product("Bread", 65_50)).unwrap();
    let sugar = t.app.save_product(product("Sugar", 180_00)).unwrap();
    t.app.restock(soda.id.clone(), 10_000, None).unwrap();
    let cart = CartInput {
        lines: vec![
            line(&soda, 2_000),
            CartLineInput {
                discount: DiscountInput::Percent { basis_points: 1000 },
                ..line(&bread, 1_000)
            },
            line(&sugar, 500),
        ],
        discount: DiscountInput::Amount { amount: 5_00 },
    };
    let priced = t.app.price_cart(cart.clone()).unwrap();
    // 100.00 + 65.50 + 90.00; 6.55 + 5.00 off; VAT inclusive.
    assert_eq!(priced.subtotal, 255_50);
    assert_eq!(priced.discount, 11_55);
    assert_eq!(priced.total, 243_95);
    assert_eq!(
        priced.lines.iter().map(|l| l.total).sum::<i64>(),
        priced.total
    );
    assert_eq!(priced.lines[0].stock_after, Some(8_000));
    assert_eq!(priced.lines[2].stock_after, Some(-500));
    assert!(priced.tax > 0);

    let receipt = t
        .app
        .checkout(CheckoutInput {
            sale_id: t.app.new_sale_id().unwrap(),
            cart,
            tenders: vec![TenderInput::Cash { tendered: 300_00 }],
            customer_id: None,
        })
        .unwrap();
    assert_eq!(
        (
            receipt.subtotal,
            receipt.discount,
            receipt.tax,
            receipt.total
        ),
        (priced.subtotal, priced.discount, priced.tax, priced.total)
    );
    let line_totals: Vec<i64> = receipt.lines.iter().map(|l| l.total).collect();
    let priced_totals: Vec<i64> = priced.lines.iter().map(|l| l.total).collect();
    assert_eq!(line_totals, priced_totals);
    assert_eq!(receipt.change, 300_00 - 243_95);
    assert_eq!(receipt.kind, "sale");
    assert_eq!(receipt.cashier, "Wanjiru");
    assert_eq!(receipt.footer, "Thank you!");
    assert!(
        receipt.receipt_no.ends_with("000001"),
        "{}",
        receipt.receipt_no
    );
    assert!(receipt.text.contains(&receipt.receipt_no));
    assert!(receipt.text.contains("Sugar"));
    assert!(receipt.text.contains("243.95"), "{}", receipt.text);
    assert_eq!(t.app.receipt(receipt.sale_id.clone()).unwrap(), receipt);
    // Stock went down by what was sold.
    let soda_now = t.app.product_by_code("Soda".into()).unwrap().unwrap();
    assert_eq!(soda_now.stock, 8_000);
}

#[test]
fn paying_twice_with_one_sale_id_records_once() {
    let t = till();
    let soda = t.app.save_product(product("Soda", 50_00)).unwrap();
    let input = CheckoutInput {
        sale_id: t.app.new_sale_id().unwrap(),
        cart: cart(vec![line(&soda, 1_000)]),
        tenders: vec![TenderInput::Cash { tendered: 100_00 }],
        customer_id: None,
    };
    let first = t.app.checkout(input.clone()).unwrap();
    let second = t.app.checkout(input).unwrap();
    assert_eq!(first, second);
    assert_eq!(t.app.recent_sales(10).unwrap().len(), 1);
    assert_eq!(
        t.app.product_by_code("Soda".into()).unwrap().unwrap().stock,
        -1_000
    );
    let status = t.app.sync_status().unwrap();
    assert_eq!(status.state, SyncStateView::NotConfigured);
    // The owner, the product and one sale.
    assert_eq!(status.pending, 3);
}

#[test]
fn credit_over_the_limit_is_refused_and_records_nothing() {
    let t = till();
    let tv = t.app.save_product(product("Radio", 3_000_00)).unwrap();
    let kamau = t
        .app
        .save_customer(CustomerInput {
            id: None,
            name: "Kamau".into(),
            phone: Some("0712 345 678".into()),
            email: None,
            notes: None,
            credit_limit: 1_000_00,
        })
        .unwrap();
    assert_eq!(kamau.phone.as_deref(), Some("+254712345678"));
    let before = t.app.sync_status().unwrap().pending;
    let refused = t
        .app
        .checkout(CheckoutInput {
            sale_id: t.app.new_sale_id().unwrap(),
            cart: cart(vec![line(&tv, 1_000)]),
            tenders: vec![TenderInput::Credit {
                amount: 3_000_00,
                customer_id: kamau.id.clone(),
            }],
            customer_id: Some(kamau.id.clone()),
        })
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::CreditLimit);
    assert!(refused.message.ends_with('.'), "{}", refused.message);
    assert!(t.app.recent_sales(10).unwrap().is_empty());
    assert_eq!(t.app.sync_status().unwrap().pending, before);
    let kamau = &t.app.customers("kam".into()).unwrap()[0];
    assert_eq!(kamau.balance, 0);
    assert!(t.app.customer_ledger(kamau.id.clone()).unwrap().is_empty());
}

#[test]
fn a_split_payment_is_recorded_with_each_part() {
    let t = till();
    let shoes = t.app.save_product(product("Shoes", 1_500_00)).unwrap();
    let receipt = t
        .app
        .checkout(CheckoutInput {
            sale_id: t.app.new_sale_id().unwrap(),
            cart: cart(vec![line(&shoes, 1_000)]),
            tenders: vec![
                TenderInput::Mpesa {
                    amount: 1_000_00,
                    code: "qjk3h5trd2".into(),
                },
                TenderInput::Cash { tendered: 1_000_00 },
            ],
            customer_id: None,
        })
        .unwrap();
    let parts: Vec<(&str, i64, Option<&str>)> = receipt
        .payments
        .iter()
        .map(|p| (p.method.as_str(), p.amount, p.reference.as_deref()))
        .collect();
    assert_eq!(
        parts,
        [
            ("cash", 500_00, None),
            ("mpesa", 1_000_00, Some("QJK3H5TRD2"))
        ]
    );
    assert_eq!(receipt.change, 500_00);
    // The same M-Pesa code cannot pay again.
    let again = t.app.checkout(CheckoutInput {
        sale_id: t.app.new_sale_id().unwrap(),
        cart: cart(vec![line(&shoes, 1_000)]),
        tenders: vec![TenderInput::Mpesa {
            amount: 1_500_00,
            code: "QJK3H5TRD2".into(),
        }],
        customer_id: None,
    });
    assert_eq!(code(again), ErrorCode::Conflict);
    assert_eq!(
        code(t.app.checkout(CheckoutInput {
            sale_id: "nope".into(),
            cart: cart(vec![line(&shoes, 1_000)]),
            tenders: vec![TenderInput::Cash { tendered: 1_500_00 }],
            customer_id: None,
        })),
        ErrorCode::Invalid
    );
    assert_eq!(t.app.recent_sales(10).unwrap().len(), 1);
}

#[test]
fn a_manager_voids_and_refunds() {
    let t = till();
    let soda = t.app.save_product(product("Soda", 50_00)).unwrap();
    let bread = t.app.save_product(product("Bread", 60_00)).unwrap();
    let manager = add_user(&t.app, "Mwangi", RoleView::Manager, "3333");
    sign_in_as(&t.app, &manager, "3333");

    let first = cash_sale(&t.app, vec![line(&soda, 2_000)], 100_00);
    let void = t
        .app
        .void_sale(first.sale_id.clone(), "rang up twice".into())
        .unwrap();
    assert_eq!(void.kind, "void");
    assert_eq!(void.total, -100_00);
    assert_eq!(
        void.original_sale_id.as_deref(),
        Some(first.sale_id.as_str())
    );
    assert_eq!(void.reason.as_deref(), Some("rang up twice"));
    assert!(t.app.receipt(first.sale_id.clone()).unwrap().voided);
    assert_eq!(
        code(t.app.void_sale(first.sale_id.clone(), "again".into())),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(t.app.void_sale(first.sale_id.clone(), " ".into())),
        ErrorCode::Invalid
    );

    let second = cash_sale(
        &t.app,
        vec![line(&soda, 1_000), line(&bread, 2_000)],
        200_00,
    );
    let refund = t
        .app
        .refund(RefundInput {
            sale_id: second.sale_id.clone(),
            lines: vec![RefundLineInput {
                line_no: 2,
                quantity: 1_000,
            }],
            reason: "stale".into(),
            refund_to: RefundToInput::Cash,
        })
        .unwrap();
    assert_eq!(refund.kind, "refund");
    assert_eq!(refund.total, -60_00);
    assert_eq!(refund.payments[0].amount, -60_00);
    assert_eq!(
        code(t.app.refund(RefundInput {
            sale_id: second.sale_id.clone(),
            lines: vec![RefundLineInput {
                line_no: 2,
                quantity: 2_000,
            }],
            reason: "more".into(),
            refund_to: RefundToInput::Cash,
        })),
        ErrorCode::Invalid
    );
    let rows = t.app.recent_sales(10).unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().any(|r| r.sale_id == first.sale_id && r.voided));
    assert!(rows.iter().all(|r| r.cashier == "Mwangi"));
    assert_eq!(
        t.app
            .product_by_code("Bread".into())
            .unwrap()
            .unwrap()
            .stock,
        -1_000
    );
}

#[test]
fn products_are_created_edited_restocked_and_counted() {
    let t = till();
    let drinks = t
        .app
        .save_category(CategoryInput {
            id: None,
            name: "Drinks".into(),
        })
        .unwrap();
    let food = t
        .app
        .save_category(CategoryInput {
            id: None,
            name: "Food".into(),
        })
        .unwrap();
    assert_eq!((drinks.sort_order, food.sort_order), (0, 1));
    let soda = t
        .app
        .save_product(ProductInput {
            category_id: Some(drinks.id.clone()),
            barcode: Some("5449000000996".into()),
            low_stock: Some(5_000),
            ..product("Soda", 50_00)
        })
        .unwrap();
    t.app.save_product(product("Bread", 60_00)).unwrap();
    assert_eq!(
        code(t.app.save_product(ProductInput {
            barcode: Some("5449000000996".into()),
            ..product("Juice", 90_00)
        })),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(t.app.save_product(product("Bad", -1))),
        ErrorCode::Invalid
    );

    let edited = t
        .app
        .save_product(ProductInput {
            id: Some(soda.id.clone()),
            price: 55_00,
            ..soda_input(&soda)
        })
        .unwrap();
    assert_eq!((edited.price, edited.name.as_str()), (55_00, "Soda"));
    assert_eq!(edited.barcode.as_deref(), Some("5449000000996"));

    let by_code = t
        .app
        .product_by_code("5449000000996".into())
        .unwrap()
        .unwrap();
    assert_eq!(by_code.id, soda.id);
    let names = |q: ProductQuery| -> Vec<String> {
        t.app
            .products(q)
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect()
    };
    assert_eq!(names(ProductQuery::default()), ["Bread", "Soda"]);
    assert_eq!(
        names(ProductQuery {
            category_id: Some(drinks.id.clone()),
            ..Default::default()
        }),
        ["Soda"]
    );
    assert_eq!(
        names(ProductQuery {
            text: Some("bre".into()),
            ..Default::default()
        }),
        ["Bread"]
    );

    // Below its alert level until restocked.
    assert_eq!(t.app.low_stock().unwrap()[0].id, soda.id);
    let restocked = t
        .app
        .restock(soda.id.clone(), 24_000, Some("crate".into()))
        .unwrap();
    assert_eq!(restocked.stock, 24_000);
    assert!(t.app.low_stock().unwrap().is_empty());
    assert_eq!(
        code(t.app.restock(soda.id.clone(), 0, None)),
        ErrorCode::Invalid
    );

    let counted = t
        .app
        .stocktake(
            vec![CountedLine {
                product_id: soda.id.clone(),
                counted: 20_000,
            }],
            None,
        )
        .unwrap();
    assert_eq!(
        (
            counted[0].expected,
            counted[0].counted,
            counted[0].difference
        ),
        (24_000, 20_000, -4_000)
    );
    let moves = t.app.stock_movements(soda.id.clone()).unwrap();
    let kinds: Vec<(&str, i64)> = moves
        .iter()
        .map(|m| (m.kind.as_str(), m.quantity))
        .collect();
    assert_eq!(kinds, [("stocktake", -4_000), ("restock", 24_000)]);
    assert_eq!(moves[1].note.as_deref(), Some("crate"));
    assert_eq!(moves[1].user_name.as_deref(), Some("Wanjiru"));

    // A category with a product cannot go; an empty one can.
    assert_eq!(
        code(t.app.delete_category(drinks.id.clone())),
        ErrorCode::Invalid
    );
    t.app.delete_category(food.id.clone()).unwrap();
    t.app.delete_product(soda.id.clone()).unwrap();
    assert_eq!(names(ProductQuery::default()), ["Bread"]);
    assert_eq!(t.app.categories().unwrap().len(), 1);
}

fn soda_input(p: &ProductView) -> ProductInput {
    ProductInput {
        id: Some(p.id.clone()),
        name: p.name.clone(),
        sku: p.sku.clone(),
        barcode: p.barcode.clone(),
        category_id: p.category_id.clone(),
        price: p.price,
        tax_code: p.tax_code.clone(),
        track_stock: p.track_stock,
        low_stock: p.low_stock,
    }
}

#[test]
fn a_credit_customer_buys_pays_and_has_a_ledger() {
    let t = till();
    let flour = t.app.save_product(product("Flour", 200_00)).unwrap();
    let amina = t
        .app
        .save_customer(CustomerInput {
            id: None,
            name: "Amina".into(),
            phone: None,
            email: Some("amina@example.com".into()),
            notes: None,
            credit_limit: 1_000_00,
        })
        .unwrap();
    let receipt = t
        .app
        .checkout(CheckoutInput {
            sale_id: t.app.new_sale_id().unwrap(),
            cart: cart(vec![line(&flour, 3_000)]),
            tenders: vec![TenderInput::Credit {
                amount: 600_00,
                customer_id: amina.id.clone(),
            }],
            customer_id: Some(amina.id.clone()),
        })
        .unwrap();
    assert_eq!(receipt.customer.as_deref(), Some("Amina"));
    let after = t
        .app
        .record_customer_payment(CustomerPaymentInput {
            customer_id: amina.id.clone(),
            amount: 250_00,
            method: "cash".into(),
            reference: None,
            note: None,
        })
        .unwrap();
    assert_eq!((after.balance, after.available_credit), (350_00, 650_00));
    assert_eq!(
        code(t.app.record_customer_payment(CustomerPaymentInput {
            customer_id: amina.id.clone(),
            amount: 1_000_00,
            method: "cash".into(),
            reference: None,
            note: None,
        })),
        ErrorCode::Invalid
    );
    assert_eq!(
        code(t.app.record_customer_payment(CustomerPaymentInput {
            customer_id: amina.id.clone(),
            amount: 10_00,
            method: "cheque".into(),
            reference: None,
            note: None,
        })),
        ErrorCode::Invalid
    );
    let ledger = t.app.customer_ledger(amina.id.clone()).unwrap();
    let entries: Vec<(&str, i64)> = ledger.iter().map(|e| (e.kind.as_str(), e.amount)).collect();
    assert_eq!(entries, [("payment", -250_00), ("credit_sale", 600_00)]);
    assert_eq!(
        ledger[1].receipt_no.as_deref(),
        Some(receipt.receipt_no.as_str())
    );

    let renamed = t
        .app
        .save_customer(CustomerInput {
            id: Some(amina.id.clone()),
            name: "Amina Njeri".into(),
            phone: Some("0722 000 111".into()),
            email: Some("amina@example.com".into()),
            notes: Some("pays on Fridays".into()),
            credit_limit: 1_000_00,
        })
        .unwrap();
    assert_eq!(renamed.name, "Amina Njeri");
    assert_eq!(renamed.balance, 350_00);
    let all: Vec<String> = t
        .app
        .customers(String::new())
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(all, ["Amina Njeri"]);
    assert_eq!(
        code(t.app.delete_customer(amina.id.clone())),
        ErrorCode::Invalid
    );
}

#[test]
fn expenses_are_recorded_listed_and_deleted() {
    let t = till();
    let e = t
        .app
        .record_expense(ExpenseInput {
            category: "Transport".into(),
            description: "Boda to the wholesaler".into(),
            amount: 300_00,
            paid_with: "cash".into(),
            reference: None,
        })
        .unwrap();
    assert_eq!((e.amount, e.business_day.as_str()), (300_00, "2026-03-02"));
    assert_eq!(e.user_name.as_deref(), Some("Wanjiru"));
    assert_eq!(
        code(t.app.record_expense(ExpenseInput {
            category: "Transport".into(),
            description: "x".into(),
            amount: 300_00,
            paid_with: "gold".into(),
            reference: None,
        })),
        ErrorCode::Invalid
    );
    let listed = t
        .app
        .expenses("2026-03-01".into(), "2026-03-02".into())
        .unwrap();
    assert_eq!(listed, vec![e.clone()]);
    assert!(
        t.app
            .expenses("2026-03-03".into(), "2026-03-03".into())
            .unwrap()
            .is_empty()
    );
    let bad = t
        .app
        .expenses("March".into(), "2026-03-02".into())
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::Invalid);
    assert!(bad.message.contains("first day"), "{}", bad.message);
    t.app.delete_expense(e.id.clone()).unwrap();
    assert!(
        t.app
            .expenses("2026-03-02".into(), "2026-03-02".into())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_day_report_adds_up_the_day() {
    let t = till();
    let soda = t.app.save_product(product("Soda", 50_00)).unwrap();
    let bread = t.app.save_product(product("Bread", 60_00)).unwrap();
    let a = cash_sale(&t.app, vec![line(&soda, 2_000)], 100_00);
    cash_sale(&t.app, vec![line(&bread, 1_000)], 60_00);
    t.app
        .checkout(CheckoutInput {
            sale_id: t.app.new_sale_id().unwrap(),
            cart: cart(vec![line(&bread, 2_000)]),
            tenders: vec![TenderInput::Card {
                amount: 120_00,
                reference: Some("1234".into()),
            }],
            customer_id: None,
        })
        .unwrap();
    t.app.void_sale(a.sale_id, "wrong".into()).unwrap();
    t.app
        .record_expense(ExpenseInput {
            category: "Cleaning".into(),
            description: "soap".into(),
            amount: 40_00,
            paid_with: "cash".into(),
            reference: None,
        })
        .unwrap();

    let r = t.app.day_report(None).unwrap();
    assert_eq!(r.day, "2026-03-02");
    assert_eq!(r.time_zone, "Africa/Nairobi");
    assert_eq!(r.sales_count, 3);
    assert_eq!(r.gross_sales, 280_00);
    assert_eq!(r.voids_and_refunds, -100_00);
    assert_eq!(r.net_sales, 180_00);
    assert_eq!((r.expenses, r.cash_expenses), (40_00, 40_00));
    // Cash: 100 + 60 − 100 (void) − 40 (expense).
    assert_eq!(r.expected_cash, 20_00);
    let card = r.by_method.iter().find(|m| m.method == "card").unwrap();
    assert_eq!(card.amount, 120_00);
    assert_eq!(r.by_cashier[0].name, "Wanjiru");
    assert_eq!(r.best_sellers[0].name, "Bread");
    assert_eq!(r.best_sellers[0].quantity, 3_000);
    // The branch's own report: named, its expenses by category, its stock
    // now (2 sodas sold and voided back, 3 breads sold: never restocked).
    assert_eq!(
        (r.branch_code.as_str(), r.branch_name.as_str()),
        ("MAIN", "Main branch")
    );
    assert_eq!(
        r.expenses_by_category,
        vec![ExpenseCategoryView {
            category: "Cleaning".into(),
            count: 1,
            amount: 40_00
        }]
    );
    let stock: Vec<_> = r
        .stock
        .iter()
        .map(|l| (l.name.as_str(), l.quantity, l.low))
        .collect();
    assert_eq!(stock, [("Bread", -3_000, true), ("Soda", 0, false)]);
    assert!(!r.stock_truncated);
    assert_eq!(
        r.stock_summary,
        StockSummaryView {
            tracked: 2,
            low: 0,
            out: 1,
            below_zero: 1,
        }
    );
    assert_eq!(t.app.day_report(Some("2026-03-02".into())).unwrap(), r);
    assert_eq!(
        t.app
            .day_report(Some("2026-03-01".into()))
            .unwrap()
            .sales_count,
        0
    );
    assert_eq!(
        code(t.app.day_report(Some("yesterday".into()))),
        ErrorCode::Invalid
    );
}

#[test]
fn the_day_report_counts_all_stock_and_lists_what_needs_attention_first() {
    let t = till();
    // More well-stocked products than the report lists, all named before
    // the ones needing attention.
    for i in 0..501 {
        let p = t
            .app
            .save_product(product(&format!("A{i:03}"), 10_00))
            .unwrap();
        t.app.restock(p.id, 10_000, None).unwrap();
    }
    let low = t
        .app
        .save_product(ProductInput {
            low_stock: Some(5_000),
            ..product("Zx low", 10_00)
        })
        .unwrap();
    t.app.restock(low.id, 2_000, None).unwrap();
    t.app.save_product(product("Zy out", 10_00)).unwrap();
    let negative = t.app.save_product(product("Zz negative", 10_00)).unwrap();
    cash_sale(&t.app, vec![line(&negative, 1_000)], 10_00);

    let r = t.app.day_report(None).unwrap();
    assert!(r.stock_truncated);
    assert_eq!(r.stock.len(), 500);
    let first: Vec<_> = r.stock[..4]
        .iter()
        .map(|l| (l.name.as_str(), l.quantity))
        .collect();
    assert_eq!(
        first,
        [
            ("Zz negative", -1_000),
            ("Zy out", 0),
            ("Zx low", 2_000),
            ("A000", 10_000)
        ]
    );
    assert_eq!(
        r.stock_summary,
        StockSummaryView {
            tracked: 504,
            low: 1,
            out: 1,
            below_zero: 1,
        }
    );
}

#[test]
fn settings_refuse_a_bad_time_zone_and_change_nothing() {
    let t = till();
    let before = t.app.settings().unwrap();
    let mut s = settings_input(&before);
    s.store_name = "Duka La Mama".into();
    s.auto_lock_minutes = 15;
    s.time_zone = "Mars/Olympus".into();
    let err = t.app.save_settings(s.clone()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    assert!(err.message.contains("time zone"), "{}", err.message);
    assert_eq!(t.app.settings().unwrap(), before);
    assert_eq!(t.app.app_info().unwrap().auto_lock_minutes, 5);

    s.time_zone = "Africa/Kampala".into();
    let saved = t.app.save_settings(s).unwrap();
    assert_eq!(saved.store_name, "Duka La Mama");
    assert_eq!(saved.time_zone, "Africa/Kampala");
    assert_eq!(saved.auto_lock_minutes, 15);
    assert_eq!(t.app.app_info().unwrap().time_zone, "Africa/Kampala");

    let rates = t
        .app
        .save_tax_rate(TaxRateView {
            code: "TOURISM".into(),
            name: "Tourism levy".into(),
            basis_points: 200,
        })
        .unwrap()
        .tax_rates;
    assert!(
        rates
            .iter()
            .any(|r| r.code == "TOURISM" && r.basis_points == 200)
    );
    let rates = t.app.retire_tax_rate("TOURISM".into()).unwrap().tax_rates;
    assert!(!rates.iter().any(|r| r.code == "TOURISM"));
    assert_eq!(
        code(t.app.retire_tax_rate("NOPE".into())),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(t.app.save_tax_rate(TaxRateView {
            code: "HIGH".into(),
            name: "Too high".into(),
            basis_points: 10_001,
        })),
        ErrorCode::Invalid
    );
}

#[test]
fn a_manager_cannot_change_the_business_settings() {
    let t = till();
    let manager = add_user(&t.app, "Mwangi", RoleView::Manager, "3333");
    sign_in_as(&t.app, &manager, "3333");
    let s = settings_input(&t.app.settings().unwrap());
    assert_eq!(code(t.app.save_settings(s)), ErrorCode::Forbidden);
    assert_eq!(
        code(t.app.save_connection(ConnectionInput {
            url: "http://127.0.0.1:5000".into(),
            api_key: Some("whiz_abc".into()),
        })),
        ErrorCode::Forbidden
    );
    assert_eq!(t.app.users().unwrap().len(), 2);
}

#[test]
fn the_connection_is_checked_before_anything_is_saved() {
    let keys = Arc::new(MemoryKeyStore::new());
    let t = till_with(keys.clone());
    t.app.create_owner("Wanjiru".into(), "1234".into()).unwrap();
    let err = t
        .app
        .save_connection(ConnectionInput {
            url: "ftp://office".into(),
            api_key: Some("whiz_0123456789abcdef".into()),
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    assert_eq!(keys.load().unwrap(), None, "nothing was saved");
    assert_eq!(t.app.settings().unwrap().backoffice_url, None);
    assert_eq!(
        code(t.app.save_connection(ConnectionInput {
            url: "http://127.0.0.1:5000".into(),
            api_key: None,
        })),
        ErrorCode::Invalid,
        "no key given and none stored"
    );

    let saved = t
        .app
        .save_connection(ConnectionInput {
            url: "http://127.0.0.1:5000/".into(),
            api_key: Some("whiz_0123456789abcdef".into()),
        })
        .unwrap();
    assert_eq!(
        saved.backoffice_url.as_deref(),
        Some("http://127.0.0.1:5000")
    );
    let masked = saved.api_key_masked.unwrap();
    assert!(
        masked.ends_with("cdef") && !masked.contains("whiz"),
        "{masked}"
    );
    assert_eq!(
        t.app.sync_status().unwrap().state,
        SyncStateView::Connecting
    );

    // A null key keeps the stored one.
    let moved = t
        .app
        .save_connection(ConnectionInput {
            url: "http://127.0.0.1:5001".into(),
            api_key: None,
        })
        .unwrap();
    assert_eq!(
        moved.backoffice_url.as_deref(),
        Some("http://127.0.0.1:5001")
    );
    assert!(moved.api_key_masked.unwrap().ends_with("cdef"));

    let forgotten = t.app.forget_connection().unwrap();
    assert_eq!(
        (forgotten.backoffice_url, forgotten.api_key_masked),
        (None, None)
    );
    assert_eq!(keys.load().unwrap(), None);
    assert_eq!(
        t.app.sync_status().unwrap().state,
        SyncStateView::NotConfigured
    );
}

#[test]
fn a_machine_without_a_keyring_is_told_so() {
    let t = till_with(Arc::new(MemoryKeyStore::unavailable()));
    t.app.create_owner("Wanjiru".into(), "1234".into()).unwrap();
    let err = t
        .app
        .save_connection(ConnectionInput {
            url: "http://127.0.0.1:5000".into(),
            api_key: Some("whiz_0123456789abcdef".into()),
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::KeyringUnavailable);
    assert!(err.message.contains("keyring"), "{}", err.message);
    let s = t.app.settings().unwrap();
    assert_eq!(s.backoffice_url, None);
    assert!(!s.keyring.available);
    assert!(s.keyring.message.unwrap().contains("keyring"));
}

#[tokio::test]
async fn sync_rounds_without_a_back_office_report_in_the_status() {
    let t = till();
    let status = t.app.push_pending().await.unwrap();
    assert_eq!(status.state, SyncStateView::NotConfigured);
    assert_eq!(status.pending, 1);
    t.app.pull_updates().await.unwrap();
    assert_eq!(code(t.app.full_sync_preview().await), ErrorCode::Invalid);
    assert_eq!(
        code(t.app.full_sync_apply(false, |_| {}).await),
        ErrorCode::Invalid
    );
}

#[test]
fn a_quarantined_op_is_discarded_but_kept() {
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
    app.save_product(product("Soda", 50_00)).unwrap();

    // The engine would quarantine an op the Back Office rejected; here a
    // second connection to the same file plays that part.
    let mut other = pos_store::Store::open(&dir.path().join(DATABASE_FILE), clock).unwrap();
    let pending = other.outbox_pending(10).unwrap();
    assert_eq!(pending.len(), 2);
    let rejected = pending[1].op.op_id;
    other
        .outbox_quarantine(rejected, "price below zero")
        .unwrap();

    let status = app.sync_status().unwrap();
    assert_eq!(status.pending, 1);
    assert_eq!(status.quarantined.len(), 1);
    assert_eq!(status.quarantined[0].reason, "price below zero");
    assert_eq!(status.quarantined[0].kind, "product_changed");
    assert_eq!(
        code(app.discard_quarantined(pending[0].op.op_id.to_string())),
        ErrorCode::Invalid,
        "a pending op is not quarantined"
    );
    assert_eq!(
        code(app.discard_quarantined("x".into())),
        ErrorCode::Invalid
    );

    let status = app.discard_quarantined(rejected.to_string()).unwrap();
    assert!(status.quarantined.is_empty());
    assert_eq!(status.pending, 1);
    assert_eq!(app.engine().status().quarantined.len(), 0);
    let kept = other.outbox_discarded().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].op.op_id, rejected);
    assert_eq!(
        code(app.retry_quarantined(rejected.to_string())),
        ErrorCode::NotFound
    );
}

#[test]
fn users_are_managed_by_managers_and_owners() {
    let t = till();
    let cashier = add_user(&t.app, "Achieng", RoleView::Cashier, "2222");
    assert_eq!(
        code(t.app.save_user(UserInput {
            id: None,
            name: "Otieno".into(),
            role: RoleView::Cashier,
            active: true,
            pin: None,
        })),
        ErrorCode::Invalid
    );
    let renamed = t
        .app
        .save_user(UserInput {
            id: Some(cashier.clone()),
            name: "Achieng O.".into(),
            role: RoleView::Cashier,
            active: true,
            pin: Some("4444".into()),
        })
        .unwrap();
    assert_eq!(renamed.name, "Achieng O.");
    let session = sign_in_as(&t.app, &cashier, "4444");
    assert_eq!(session.user.name, "Achieng O.");
    t.app.change_own_pin("4444".into(), "5555".into()).unwrap();
    assert_eq!(
        code(t.app.change_own_pin("4444".into(), "6666".into())),
        ErrorCode::WrongPin
    );

    let owner = t
        .app
        .app_info()
        .unwrap()
        .users
        .iter()
        .find(|u| u.name == "Wanjiru")
        .unwrap()
        .id
        .clone();
    sign_in_as(&t.app, &owner, "1234");
    t.app.reset_pin(cashier.clone(), "7777".into()).unwrap();
    assert_eq!(code(t.app.delete_user(owner.clone())), ErrorCode::Invalid);

    let manager = add_user(&t.app, "Mwangi", RoleView::Manager, "8888");
    sign_in_as(&t.app, &manager, "8888");
    t.app
        .save_user(UserInput {
            id: Some(cashier.clone()),
            name: "Achieng O.".into(),
            role: RoleView::Cashier,
            active: false,
            pin: None,
        })
        .unwrap();
    assert_eq!(
        code(t.app.login(cashier.clone(), "7777".into())),
        ErrorCode::UserLocked
    );
    t.app.login(manager.clone(), "8888".into()).unwrap();
    t.app.delete_user(cashier.clone()).unwrap();
    let names: Vec<String> = t.app.users().unwrap().into_iter().map(|u| u.name).collect();
    assert_eq!(names, ["Mwangi", "Wanjiru"]);
    assert_eq!(
        code(t.app.login(cashier, "7777".into())),
        ErrorCode::NotFound
    );
}

#[test]
fn a_user_removed_elsewhere_is_signed_out_at_the_next_command() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let app = App::open(AppConfig {
        data_dir: dir.path().to_path_buf(),
        keys: Arc::new(MemoryKeyStore::new()),
        sync: SyncConfig::default(),
        clock: clock.clone(),
    })
    .unwrap();
    let owner = app
        .create_owner("Wanjiru".into(), "1234".into())
        .unwrap()
        .user
        .id;
    let cashier = add_user(&app, "Achieng", RoleView::Cashier, "2222");
    sign_in_as(&app, &cashier, "2222");
    app.categories().unwrap();

    // Another writer (a pulled change, here a second connection) removes her.
    let mut other = pos_store::Store::open(&dir.path().join(DATABASE_FILE), clock).unwrap();
    let boss = other.login(owner.parse().unwrap(), "1234").unwrap();
    other.delete_user(&boss, cashier.parse().unwrap()).unwrap();

    assert_eq!(code(app.categories()), ErrorCode::NotSignedIn);
    assert_eq!(code(app.unlock("2222".into())), ErrorCode::NotSignedIn);
}

#[test]
fn the_async_commands_can_run_on_any_tokio_worker() {
    fn send<T: Send>(_: &T) {}
    let t = till();
    let connection = ConnectionInput {
        url: "http://127.0.0.1:5000".into(),
        api_key: None,
    };
    send(&t.app.test_connection(connection));
    send(&t.app.push_pending());
    send(&t.app.pull_updates());
    send(&t.app.full_sync_preview());
    send(&t.app.full_sync_apply(true, |_| {}));
}

#[test]
fn bad_input_at_every_door_is_refused_by_name_and_changes_nothing() {
    let t = till();
    let soda = t.app.save_product(product("Soda", 80_00)).unwrap();
    let customer = t
        .app
        .save_customer(CustomerInput {
            id: None,
            name: "Achieng".into(),
            phone: Some("0712 345 678".into()),
            email: None,
            notes: None,
            credit_limit: 1_000_00,
        })
        .unwrap();
    let pending = t.app.sync_status().unwrap().pending;
    let products = t.app.products(ProductQuery::default()).unwrap();

    // Ids that are not ids.
    invalid(
        t.app.price_cart(cart(vec![CartLineInput {
            product_id: "not-an-id".into(),
            ..line(&soda, 1000)
        }])),
        "product id of line 1",
    );
    invalid(t.app.receipt("42".into()), "id");
    invalid(t.app.customer_ledger("".into()), "id");
    // Amounts and quantities out of range.
    invalid(t.app.save_product(product("Soda 2", -5)), "price");
    invalid(t.app.price_cart(cart(vec![line(&soda, 0)])), "line 1");
    invalid(
        t.app.checkout(CheckoutInput {
            sale_id: t.app.new_sale_id().unwrap(),
            cart: cart(vec![line(&soda, 1000)]),
            tenders: vec![TenderInput::Cash { tendered: -100 }],
            customer_id: None,
        }),
        "payment",
    );
    invalid(
        t.app.checkout(CheckoutInput {
            sale_id: "twice?".into(),
            cart: cart(vec![line(&soda, 1000)]),
            tenders: vec![TenderInput::Cash { tendered: 80_00 }],
            customer_id: None,
        }),
        "sale id",
    );
    // Text that must be something.
    invalid(t.app.save_product(product("   ", 80_00)), "name");
    invalid(
        t.app.expenses("2026-13-01".into(), "2026-03-02".into()),
        "first day",
    );
    invalid(
        t.app.record_customer_payment(CustomerPaymentInput {
            customer_id: customer.id.clone(),
            amount: 100_00,
            method: "bitcoin".into(),
            reference: None,
            note: None,
        }),
        "bitcoin",
    );
    invalid(
        t.app.save_user(UserInput {
            id: None,
            name: "Otieno".into(),
            role: RoleView::Cashier,
            active: true,
            pin: Some("12".into()),
        }),
        "pin",
    );

    assert_eq!(
        t.app.sync_status().unwrap().pending,
        pending,
        "nothing queued"
    );
    assert_eq!(t.app.products(ProductQuery::default()).unwrap(), products);
    assert!(
        t.app.recent_sales(10).unwrap().is_empty(),
        "no sale recorded"
    );
    assert_eq!(t.app.customers(String::new()).unwrap()[0].balance, 0);
    assert_eq!(t.app.users().unwrap().len(), 1, "no user added");
}
