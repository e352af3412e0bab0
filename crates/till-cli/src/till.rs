//! The till's conversation: a small state machine from first-run setup and
//! sign-in to the sales prompt, and the commands of the sales prompt.

use std::io::Write;

use pos_domain::{
    Barcode, BusinessDay, Cart, CartLine, Currency, Discount, Money, MpesaCode, Name, Pin,
    Quantity, SaleId, Sku, TaxCode, Tender, UserId,
};
use pos_store::catalog::{NewProduct, Product};
use pos_store::customers::NewCustomer;
use pos_store::sales::{Checkout, CheckoutLine};
use pos_store::{Actor, Store, StoreError};

const HELP: &str = "\
Selling
  find TEXT                   search products by name, SKU or barcode
  scan CODE [QTY]             add a product by barcode or SKU (QTY like 2 or 0.5)
  add N [QTY]                 add result N of the last find
  cart                        show the cart and its total
  qty LINE QTY | remove LINE  change or remove a cart line
  discount 10% | discount 50  discount the whole cart
  cancel                      empty the cart
  pay cash 1000               pay; split with several parts, e.g.
  pay mpesa QJK3H5TRD2 300 cash 200
  pay card [AMOUNT] | pay credit PHONE-OR-NAME [AMOUNT]
Receipts
  receipts                    the latest receipts
  receipt NUMBER              print a receipt again
  void NUMBER REASON          void a sale (manager)
Stock and customers
  newproduct NAME; PRICE[; BARCODE]   add a product (manager)
  restock CODE QTY            receive stock (manager)
  lowstock                    products at or below their alert level
  newcustomer NAME; PHONE[; CREDIT LIMIT]   add a credit customer
Day
  report [YYYY-MM-DD]         the day's summary (manager)
  pending                     operations waiting to sync
  logout | quit";

/// Where the conversation is.
enum Step {
    OwnerName,
    OwnerPin(Name),
    ChooseUser(Vec<(UserId, String)>),
    Pin(UserId, String),
    Selling(Actor),
}

/// One line of the cart.
struct Line {
    product: Product,
    quantity: Quantity,
}

/// The terminal till: the store, who is signed in, and the open cart.
pub struct Till {
    store: Store,
    step: Step,
    cart: Vec<Line>,
    cart_discount: Discount,
    /// Made when the cart opens, so a repeated `pay` cannot record it twice.
    sale_id: SaleId,
    found: Vec<Product>,
}

type Out<'a> = &'a mut dyn Write;

impl Till {
    pub fn new(store: Store) -> Till {
        Till {
            store,
            step: Step::OwnerName,
            cart: Vec::new(),
            cart_discount: Discount::None,
            sale_id: SaleId::new(),
            found: Vec::new(),
        }
    }

    /// Starts the conversation; returns the first prompt.
    pub fn greet(&mut self, out: Out<'_>) -> String {
        if let Ok(s) = self.store.settings() {
            let id = self.store.identity();
            let _ = writeln!(
                out,
                "{} — branch {}, till {}",
                s.store_name, id.branch_code, id.device_code
            );
        }
        self.sign_in_prompt(out)
    }

    fn sign_in_prompt(&mut self, out: Out<'_>) -> String {
        let users = match self.store.users() {
            Ok(u) => u,
            Err(e) => return self.fail(out, &e),
        };
        if users.is_empty() {
            let _ = writeln!(out, "No users yet: set up the owner of this till.");
            self.step = Step::OwnerName;
            return "Owner's name: ".into();
        }
        let _ = writeln!(out, "Who is signing in?");
        let list: Vec<(UserId, String)> = users
            .iter()
            .filter(|u| u.active)
            .map(|u| (u.id, u.name.clone()))
            .collect();
        for (i, u) in users.iter().filter(|u| u.active).enumerate() {
            let _ = writeln!(out, "  {}. {} ({})", i + 1, u.name, u.role);
        }
        self.step = Step::ChooseUser(list);
        "User number: ".into()
    }

    fn fail(&mut self, out: Out<'_>, e: &dyn std::fmt::Display) -> String {
        let _ = writeln!(out, "! {e}");
        "> ".into()
    }

    /// Handles one line; returns the next prompt, or `None` to quit.
    pub fn handle(&mut self, line: &str, out: Out<'_>) -> Option<String> {
        if line == "quit" || line == "exit" {
            return None;
        }
        let step = std::mem::replace(&mut self.step, Step::OwnerName);
        let prompt = match step {
            Step::OwnerName => match Name::parse("name", line) {
                Ok(name) => {
                    self.step = Step::OwnerPin(name);
                    "Owner's PIN (4 to 8 digits): ".into()
                }
                Err(e) => {
                    let _ = writeln!(out, "! {e}");
                    "Owner's name: ".into()
                }
            },
            Step::OwnerPin(name) => match Pin::parse(line) {
                Ok(pin) => match self.store.create_first_owner(name, &pin) {
                    Ok(actor) => {
                        let _ = writeln!(
                            out,
                            "Welcome, {}. Type 'help' for the commands.",
                            actor.name
                        );
                        self.selling(actor)
                    }
                    Err(e) => {
                        let _ = writeln!(out, "! {e}");
                        self.sign_in_prompt(out)
                    }
                },
                Err(e) => {
                    let _ = writeln!(out, "! {e}");
                    self.step = Step::OwnerPin(name);
                    "Owner's PIN (4 to 8 digits): ".into()
                }
            },
            Step::ChooseUser(list) => match line
                .parse::<usize>()
                .ok()
                .and_then(|n| list.get(n.wrapping_sub(1)))
            {
                Some((id, name)) => {
                    let (id, name) = (*id, name.clone());
                    self.step = Step::Pin(id, name.clone());
                    format!("PIN for {name}: ")
                }
                None => {
                    let _ = writeln!(out, "! choose a number from the list");
                    self.step = Step::ChooseUser(list);
                    "User number: ".into()
                }
            },
            Step::Pin(id, name) => match self.store.login(id, line) {
                Ok(actor) => {
                    let _ = writeln!(
                        out,
                        "Signed in as {} ({}). Type 'help' for the commands.",
                        actor.name, actor.role
                    );
                    self.selling(actor)
                }
                Err(e) => {
                    let _ = writeln!(out, "! {e}");
                    match e {
                        StoreError::WrongPin { .. } | StoreError::Rule(_) => {
                            self.step = Step::Pin(id, name.clone());
                            format!("PIN for {name}: ")
                        }
                        _ => self.sign_in_prompt(out),
                    }
                }
            },
            Step::Selling(actor) => {
                self.step = Step::Selling(actor.clone());
                if line == "logout" {
                    let _ = writeln!(out, "Signed out.");
                    return Some(self.sign_in_prompt(out));
                }
                if let Err(e) = self.command(&actor, line, out) {
                    let _ = writeln!(out, "! {e}");
                }
                format!("{}> ", actor.name)
            }
        };
        Some(prompt)
    }

    fn selling(&mut self, actor: Actor) -> String {
        let prompt = format!("{}> ", actor.name);
        self.step = Step::Selling(actor);
        prompt
    }

    fn currency(&self) -> Currency {
        self.store
            .settings()
            .map(|s| s.currency)
            .unwrap_or_default()
    }

    fn command(
        &mut self,
        actor: &Actor,
        line: &str,
        out: Out<'_>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        let args: Vec<&str> = rest.split_whitespace().collect();
        match cmd {
            "" => {}
            "help" => writeln!(out, "{HELP}")?,
            "find" => {
                self.found = self.store.search_products(rest, 20)?;
                if self.found.is_empty() {
                    writeln!(out, "No products match '{rest}'.")?;
                }
                for (i, p) in self.found.iter().enumerate() {
                    writeln!(
                        out,
                        "  {:>2}. {:<40} {:>12}   stock {}",
                        i + 1,
                        p.name,
                        p.price.amount_text(),
                        p.stock
                    )?;
                }
            }
            "scan" => {
                let code = args.first().ok_or("scan what? give a barcode or SKU")?;
                let quantity = quantity(args.get(1))?;
                let product = self
                    .store
                    .product_by_code(code)?
                    .ok_or_else(|| format!("no product has barcode or SKU '{code}'"))?;
                self.add(product, quantity, out)?;
            }
            "add" => {
                let n: usize = args
                    .first()
                    .and_then(|n| n.parse().ok())
                    .ok_or("add which? give a number from the last find")?;
                let product = self
                    .found
                    .get(n.wrapping_sub(1))
                    .cloned()
                    .ok_or("that number is not in the last find")?;
                self.add(product, quantity(args.get(1))?, out)?;
            }
            "cart" => self.show_cart(out)?,
            "qty" => {
                let i = self.line_index(args.first())?;
                let q = quantity(args.get(1))?;
                Quantity::for_sale(q.milli())?;
                self.cart[i].quantity = q;
                self.show_cart(out)?;
            }
            "remove" => {
                let i = self.line_index(args.first())?;
                self.cart.remove(i);
                self.show_cart(out)?;
            }
            "discount" => {
                self.cart_discount = match rest.strip_suffix('%') {
                    Some(pct) => Discount::percent_bp(percent_bp(pct)?)?,
                    None => Discount::Amount(Money::parse(rest, self.currency())?),
                };
                self.show_cart(out)?;
            }
            "cancel" => {
                self.clear_cart();
                writeln!(out, "Cart emptied.")?;
            }
            "pay" => self.pay(actor, &args, out)?,
            "receipts" => {
                for s in self.store.recent_sales(15)? {
                    let mark = if s.voided { "  (voided)" } else { "" };
                    writeln!(
                        out,
                        "  {}  {:<6} {:>14}{mark}",
                        s.receipt_no,
                        s.kind.as_str(),
                        s.total.amount_text()
                    )?;
                }
            }
            "receipt" => {
                let sale = self.store.sale_by_receipt(rest)?;
                write!(out, "{}", self.store.receipt_text(sale.id, 42)?)?;
            }
            "void" => {
                let (number, reason) = rest.split_once(' ').ok_or("void NUMBER REASON: say why")?;
                let sale = self.store.sale_by_receipt(number)?;
                let void = self.store.void_sale(actor, sale.id, reason)?;
                write!(out, "{}", self.store.receipt_text(void.id, 42)?)?;
            }
            "newproduct" => {
                let parts: Vec<&str> = rest.split(';').map(str::trim).collect();
                let (Some(name), Some(price)) = (parts.first(), parts.get(1)) else {
                    return Err("newproduct NAME; PRICE[; BARCODE]".into());
                };
                let name = Name::parse("name", name)?;
                let barcode = parts
                    .get(2)
                    .filter(|b| !b.is_empty())
                    .map(|b| Barcode::parse(b))
                    .transpose()?;
                let product = self.store.create_product(
                    actor,
                    NewProduct {
                        sku: Sku::parse(&name.as_str().replace(char::is_whitespace, "-")).ok(),
                        name,
                        barcode,
                        category_id: None,
                        price: Money::parse(price, self.currency())?,
                        tax_code: TaxCode::parse("VAT16")?,
                        image: None,
                        track_stock: true,
                        low_stock: Some(Quantity::units(5)),
                    },
                )?;
                writeln!(out, "Added {} at {}.", product.name, product.price)?;
            }
            "restock" => {
                let code = args.first().ok_or("restock CODE QTY")?;
                let product = self
                    .store
                    .product_by_code(code)?
                    .ok_or_else(|| format!("no product has barcode or SKU '{code}'"))?;
                let level = self
                    .store
                    .restock(actor, product.id, quantity(args.get(1))?, None)?;
                writeln!(out, "{} now {} in stock.", product.name, level)?;
            }
            "lowstock" => {
                let low = self.store.low_stock(50)?;
                if low.is_empty() {
                    writeln!(out, "Nothing is low.")?;
                }
                for p in low {
                    writeln!(out, "  {:<40} stock {}", p.name, p.stock)?;
                }
            }
            "newcustomer" => {
                let parts: Vec<&str> = rest.split(';').map(str::trim).collect();
                let (Some(name), Some(phone)) = (parts.first(), parts.get(1)) else {
                    return Err("newcustomer NAME; PHONE[; CREDIT LIMIT]".into());
                };
                let limit = match parts.get(2) {
                    Some(l) => Money::parse(l, self.currency())?,
                    None => Money::zero(self.currency()),
                };
                let c = self.store.create_customer(
                    actor,
                    NewCustomer {
                        name: Name::parse("name", name)?,
                        phone: Some(pos_domain::PhoneNumber::parse(phone)?),
                        email: None,
                        credit_limit: limit,
                        notes: None,
                    },
                )?;
                writeln!(
                    out,
                    "Added customer {} with a credit limit of {}.",
                    c.name, c.credit_limit
                )?;
            }
            "report" => {
                let day = match args.first() {
                    Some(d) => BusinessDay::parse(d).ok_or("write the day as YYYY-MM-DD")?,
                    None => self
                        .store
                        .identity()
                        .time_zone
                        .business_day(self.store.now()),
                };
                let s = self.store.day_summary(actor, day)?;
                writeln!(out, "Day {}", s.day)?;
                writeln!(
                    out,
                    "  sales           {:>6} {:>14}",
                    s.sales.sales_count,
                    s.sales.gross_sales.amount_text()
                )?;
                writeln!(
                    out,
                    "  voids/refunds          {:>14}",
                    s.sales.voids_and_refunds.amount_text()
                )?;
                writeln!(
                    out,
                    "  net sales              {:>14}",
                    s.sales.net_sales.amount_text()
                )?;
                writeln!(
                    out,
                    "  tax                    {:>14}",
                    s.sales.tax.amount_text()
                )?;
                for m in &s.payments {
                    writeln!(
                        out,
                        "  {:<14} {:>6} {:>14}",
                        m.method.to_string(),
                        m.count,
                        m.amount.amount_text()
                    )?;
                }
                writeln!(
                    out,
                    "  expenses               {:>14}",
                    s.expenses.amount_text()
                )?;
                writeln!(
                    out,
                    "  expected cash          {:>14}",
                    s.expected_cash.amount_text()
                )?;
            }
            "pending" => {
                let stats = self.store.outbox_stats()?;
                writeln!(
                    out,
                    "{} operations waiting to sync, {} set aside.",
                    stats.pending, stats.quarantined
                )?;
            }
            other => writeln!(out, "Unknown command '{other}'. Type 'help'.")?,
        }
        Ok(())
    }

    fn add(
        &mut self,
        product: Product,
        quantity: Quantity,
        out: Out<'_>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Quantity::for_sale(quantity.milli())?;
        match self.cart.iter_mut().find(|l| l.product.id == product.id) {
            Some(line) => {
                line.quantity = line
                    .quantity
                    .checked_add(quantity)
                    .ok_or("quantity too large")?;
                Quantity::for_sale(line.quantity.milli())?;
            }
            None => self.cart.push(Line { product, quantity }),
        }
        self.show_cart(out)
    }

    fn line_index(&self, arg: Option<&&str>) -> Result<usize, Box<dyn std::error::Error>> {
        let n: usize = arg
            .and_then(|n| n.parse().ok())
            .ok_or("give a cart line number")?;
        if n == 0 || n > self.cart.len() {
            return Err(format!("the cart has {} line(s)", self.cart.len()).into());
        }
        Ok(n - 1)
    }

    fn priced_cart(&self) -> Result<Option<pos_domain::SaleTotals>, Box<dyn std::error::Error>> {
        if self.cart.is_empty() {
            return Ok(None);
        }
        let cart = Cart {
            currency: self.currency(),
            lines: self
                .cart
                .iter()
                .map(|l| CartLine {
                    product_id: l.product.id,
                    name: l.product.name.clone(),
                    unit_price: l.product.price,
                    quantity: l.quantity,
                    tax_code: l.product.tax_code.clone(),
                    discount: Discount::None,
                })
                .collect(),
            discount: self.cart_discount,
        };
        Ok(Some(cart.totals(&self.store.tax_table()?)?))
    }

    fn show_cart(&self, out: Out<'_>) -> Result<(), Box<dyn std::error::Error>> {
        let Some(totals) = self.priced_cart()? else {
            writeln!(out, "The cart is empty.")?;
            return Ok(());
        };
        for (i, (l, t)) in self.cart.iter().zip(&totals.lines).enumerate() {
            writeln!(
                out,
                "  {}. {:<34} {:>6} x {:>10} {:>12}",
                i + 1,
                l.product.name,
                l.quantity,
                l.product.price.amount_text(),
                t.gross.amount_text()
            )?;
        }
        if !totals.discount.is_zero() {
            writeln!(
                out,
                "     discount {:>55}",
                totals.discount.negated().amount_text()
            )?;
        }
        writeln!(out, "     TOTAL {:>58}", totals.total.to_string())?;
        Ok(())
    }

    fn pay(
        &mut self,
        actor: &Actor,
        args: &[&str],
        out: Out<'_>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let total = self.priced_cart()?.ok_or("the cart is empty")?.total;
        let cur = total.currency();
        let mut tenders = Vec::new();
        let mut customer_id = None;
        let mut covered = Money::zero(cur);
        let mut it = args.iter().peekable();
        let amount_or_rest = |it: &mut std::iter::Peekable<std::slice::Iter<'_, &str>>,
                              covered: Money| {
            match it.peek().and_then(|a| Money::parse(a, cur).ok()) {
                Some(m) => {
                    it.next();
                    Ok::<Money, pos_domain::DomainError>(m)
                }
                None => total.checked_sub(covered),
            }
        };
        while let Some(method) = it.next() {
            let tender = match *method {
                "cash" => Tender::Cash {
                    tendered: amount_or_rest(&mut it, covered)?,
                },
                "mpesa" => {
                    let code = MpesaCode::parse(it.next().ok_or("pay mpesa CODE [AMOUNT]")?)?;
                    Tender::Mpesa {
                        code,
                        amount: amount_or_rest(&mut it, covered)?,
                    }
                }
                "card" => Tender::Card {
                    amount: amount_or_rest(&mut it, covered)?,
                    reference: None,
                },
                "credit" => {
                    let who = it.next().ok_or("pay credit PHONE-OR-NAME [AMOUNT]")?;
                    let matches = self.store.search_customers(who, 5)?;
                    let customer = match matches.as_slice() {
                        [one] => one.clone(),
                        [] => return Err(format!("no customer matches '{who}'").into()),
                        _ => {
                            return Err(format!(
                                "several customers match '{who}'; use their phone number"
                            )
                            .into());
                        }
                    };
                    customer_id = Some(customer.id);
                    Tender::Credit {
                        customer: customer.id,
                        amount: amount_or_rest(&mut it, covered)?,
                    }
                }
                other => {
                    return Err(format!(
                        "'{other}' is not a way to pay: use cash, mpesa, card or credit"
                    )
                    .into());
                }
            };
            let offered = match &tender {
                Tender::Cash { tendered } => *tendered,
                Tender::Mpesa { amount, .. }
                | Tender::Card { amount, .. }
                | Tender::Credit { amount, .. } => *amount,
            };
            covered = covered.checked_add(offered)?;
            tenders.push(tender);
        }
        if tenders.is_empty() {
            tenders.push(Tender::Cash { tendered: total });
        }
        let checkout = Checkout {
            sale_id: self.sale_id,
            lines: self
                .cart
                .iter()
                .map(|l| CheckoutLine {
                    product_id: l.product.id,
                    quantity: l.quantity,
                    discount: Discount::None,
                })
                .collect(),
            discount: self.cart_discount,
            tenders,
            customer_id,
        };
        let sale = self.store.checkout(actor, &checkout)?;
        write!(out, "{}", self.store.receipt_text(sale.id, 42)?)?;
        self.clear_cart();
        // Between customers is the time to tidy the database log.
        let _ = self.store.checkpoint();
        Ok(())
    }

    fn clear_cart(&mut self) {
        self.cart.clear();
        self.cart_discount = Discount::None;
        self.sale_id = SaleId::new();
    }
}

fn quantity(arg: Option<&&str>) -> Result<Quantity, pos_domain::DomainError> {
    match arg {
        Some(q) => Quantity::parse(q),
        None => Ok(Quantity::units(1)),
    }
}

/// `12.5` → 1250 basis points.
fn percent_bp(text: &str) -> Result<i64, pos_domain::DomainError> {
    let q =
        Quantity::parse(text.trim()).map_err(|_| pos_domain::DomainError::BadDiscountPercent)?;
    // Quantity parses to thousandths: 12.5 → 12500; basis points are hundredths of a percent.
    if q.milli() % 10 != 0 {
        return Err(pos_domain::DomainError::BadDiscountPercent);
    }
    Ok(q.milli() / 10)
}
