//! Conversions from the core's types to the views the UI shows, in one
//! place: money as minor units, quantities as thousandths, times as RFC 3339.

use chrono::SecondsFormat;
use pos_domain::{BranchId, Permission, ProductId, Role, TaxRate, Timestamp, UserId};
use pos_store::catalog::{Category, Product};
use pos_store::customers::{Customer, LedgerEntry};
use pos_store::expenses::Expense;
use pos_store::reports::{
    BranchInfo, CashierTotal, DaySummary, ExpenseCategoryTotal, MethodTotal, ProductTotal,
    StockLevel, StockSummary,
};
use pos_store::sales::SaleSummary;
use pos_store::settings::BusinessSettings;
use pos_store::stock::{StockMovement, StocktakeLine};
use pos_store::transfers::{Transfer, TransferState};
use pos_store::users::UserSummary;
use pos_sync::{
    EngineState, FullSyncPhase, FullSyncPreview, FullSyncProgress, FullSyncReport, SyncStatus,
};
use sync_protocol::SaleRecord;
use sync_protocol::history::CustomerHistory;

use crate::api::*;

pub(crate) fn time(t: Timestamp) -> String {
    t.to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn role(role: Role) -> RoleView {
    match role {
        Role::Cashier => RoleView::Cashier,
        Role::Manager => RoleView::Manager,
        Role::Owner => RoleView::Owner,
    }
}

pub(crate) fn capabilities(role: Role) -> Capabilities {
    Capabilities {
        sell: role.can(Permission::Sell),
        record_expense: role.can(Permission::RecordExpense),
        serve_customers: role.can(Permission::ServeCustomers),
        void_or_refund: role.can(Permission::VoidOrRefund),
        manage_catalog: role.can(Permission::ManageCatalog),
        manage_money: role.can(Permission::ManageMoney),
        view_reports: role.can(Permission::ViewReports),
        manage_users: role >= Role::Manager,
        manage_sync: role.can(Permission::ManageSync),
        manage_settings: role.can(Permission::ManageSettings),
    }
}

pub(crate) fn user(u: &UserSummary) -> UserView {
    UserView {
        id: u.id.to_string(),
        name: u.name.clone(),
        role: role(u.role),
        active: u.active,
        locked_until: u.locked_until.map(time),
    }
}

pub(crate) fn category(c: &Category) -> CategoryView {
    CategoryView {
        id: c.id.to_string(),
        name: c.name.clone(),
        sort_order: i32::try_from(c.sort_order).unwrap_or(i32::MAX),
    }
}

pub(crate) fn product(p: &Product) -> ProductView {
    ProductView {
        id: p.id.to_string(),
        name: p.name.clone(),
        sku: p.sku.clone(),
        barcode: p.barcode.clone(),
        category_id: p.category_id.map(|c| c.to_string()),
        price: p.price.minor(),
        tax_code: p.tax_code.to_string(),
        track_stock: p.track_stock,
        low_stock: p.low_stock.map(|q| q.milli()),
        stock: p.stock.milli(),
    }
}

pub(crate) fn movement(m: &StockMovement) -> MovementView {
    MovementView {
        id: m.id.to_string(),
        kind: m.kind.as_str().to_string(),
        quantity: m.quantity.milli(),
        user_name: m.user_name.clone(),
        note: m.note.clone(),
        created_at: time(m.created_at),
    }
}

pub(crate) fn stocktake_line(l: &StocktakeLine) -> StocktakeLineView {
    StocktakeLineView {
        product_id: l.product_id.to_string(),
        name: l.name.clone(),
        expected: l.expected.milli(),
        counted: l.counted.milli(),
        difference: l.difference.milli(),
    }
}

/// What a receipt shows besides the sale record itself.
pub(crate) struct ReceiptContext<'a> {
    pub settings: &'a BusinessSettings,
    pub cashier: String,
    pub customer: Option<String>,
    pub text: String,
    pub voided: bool,
}

pub(crate) fn receipt(sale: &SaleRecord, ctx: ReceiptContext<'_>) -> ReceiptView {
    ReceiptView {
        sale_id: sale.id.to_string(),
        receipt_no: sale.receipt_no.clone(),
        kind: sale.kind.as_str().to_string(),
        original_sale_id: sale.original_sale_id.map(|s| s.to_string()),
        store_name: ctx.settings.store_name.clone(),
        header: ctx.settings.receipt_header.clone(),
        footer: ctx.settings.receipt_footer.clone(),
        cashier: ctx.cashier,
        customer: ctx.customer,
        created_at: time(sale.created_at),
        business_day: sale.business_day.clone(),
        currency: sale.currency.code().to_string(),
        lines: sale
            .lines
            .iter()
            .map(|l| ReceiptLineView {
                line_no: l.line_no,
                name: l.name.clone(),
                quantity: l.quantity.milli(),
                unit_price: l.unit_price.minor(),
                discount: l.discount.minor(),
                total: l.total.minor(),
            })
            .collect(),
        payments: sale
            .payments
            .iter()
            .map(|p| PaymentView {
                method: p.method.as_str().to_string(),
                amount: p.amount.minor(),
                reference: p.reference.clone(),
            })
            .collect(),
        subtotal: sale.subtotal.minor(),
        discount: sale.discount.minor(),
        tax: sale.tax.minor(),
        total: sale.total.minor(),
        change: sale.change.minor(),
        reason: sale.reason.clone(),
        text: ctx.text,
        voided: ctx.voided,
    }
}

pub(crate) fn sale_row(s: &SaleSummary, cashier: String) -> SaleRow {
    SaleRow {
        sale_id: s.id.to_string(),
        receipt_no: s.receipt_no.clone(),
        kind: s.kind.as_str().to_string(),
        total: s.total.minor(),
        cashier,
        created_at: time(s.created_at),
        voided: s.voided,
    }
}

pub(crate) fn expense(e: &Expense, user_name: Option<String>) -> ExpenseView {
    ExpenseView {
        id: e.id.to_string(),
        category: e.category.clone(),
        description: e.description.clone(),
        amount: e.amount.minor(),
        paid_with: e.paid_with.as_str().to_string(),
        reference: e.reference.clone(),
        user_name,
        spent_at: time(e.spent_at),
        business_day: e.business_day.to_string(),
    }
}

pub(crate) fn customer(c: &Customer) -> CustomerView {
    CustomerView {
        id: c.id.to_string(),
        name: c.name.clone(),
        phone: c.phone.as_ref().map(|p| p.to_string()),
        email: c.email.clone(),
        notes: c.notes.clone(),
        credit_limit: c.credit_limit.minor(),
        balance: c.balance.minor(),
        available_credit: c.available_credit.minor(),
    }
}

pub(crate) fn ledger(e: &LedgerEntry) -> LedgerView {
    LedgerView {
        id: e.id.to_string(),
        kind: e.kind.as_str().to_string(),
        amount: e.amount.minor(),
        receipt_no: e.receipt_no.clone(),
        method: e.method.map(|m| m.as_str().to_string()),
        reference: e.reference.clone(),
        note: e.note.clone(),
        created_at: time(e.created_at),
    }
}

/// A customer history (the Back Office's or this till's) as the UI shows it.
pub(crate) fn customer_history(
    h: &CustomerHistory,
    source: HistorySource,
    offline_reason: Option<String>,
    branch_code: String,
) -> CustomerHistoryView {
    CustomerHistoryView {
        customer_id: h.customer.id.to_string(),
        customer_name: h.customer.name.clone(),
        balance: h.balance.minor(),
        source,
        offline_reason,
        branch_code,
        sales: h
            .sales
            .iter()
            .map(|s| HistorySaleView {
                id: s.id.to_string(),
                receipt_no: s.receipt_no.clone(),
                kind: s.kind.as_str().to_string(),
                branch_code: s.branch.code.clone(),
                branch_name: s.branch.name.clone(),
                device_code: s.device_code.clone(),
                created_at: time(s.created_at),
                business_day: s.business_day.clone(),
                total: s.total.minor(),
                on_credit: s.on_credit.minor(),
                this_branch: s.this_branch,
            })
            .collect(),
        sales_truncated: h.sales_truncated,
        ledger: h
            .ledger
            .iter()
            .map(|e| HistoryLedgerView {
                id: e.id.to_string(),
                kind: e.kind.as_str().to_string(),
                amount: e.amount.minor(),
                method: e.method.map(|m| m.as_str().to_string()),
                reference: e.reference.clone(),
                branch_code: e.branch.code.clone(),
                branch_name: e.branch.name.clone(),
                created_at: time(e.created_at),
                sale_id: e.sale_id.map(|id| id.to_string()),
                this_branch: e.this_branch,
            })
            .collect(),
        ledger_truncated: h.ledger_truncated,
        merges: h
            .merges
            .iter()
            .map(|m| HistoryMergeView {
                alias_id: m.alias_id.to_string(),
                name: m.name.clone(),
                phone: m.phone.clone(),
                merged_at: m.merged_at.map(time),
                reason: m.reason.clone(),
                branch_name: m.alias_branch.as_ref().map(|b| b.name.clone()),
                undone_at: m.undone_at.map(time),
            })
            .collect(),
        as_of: time(h.server_time),
    }
}

pub(crate) fn branch(b: &BranchInfo) -> BranchView {
    BranchView {
        id: b.id.to_string(),
        code: b.code.clone(),
        name: b.name.clone(),
        this_branch: b.this_branch,
    }
}

/// The names a transfer view shows, looked up by the caller.
pub(crate) struct TransferNames<'a> {
    pub here: BranchId,
    pub branch: &'a dyn Fn(BranchId) -> BranchView,
    pub product: &'a dyn Fn(ProductId) -> String,
    pub user: &'a dyn Fn(UserId) -> String,
}

pub(crate) fn transfer(t: &Transfer, names: &TransferNames<'_>) -> TransferView {
    // The dashboard's people are Back Office accounts, not till users.
    let by = |device: pos_domain::DeviceId, user: UserId| {
        if device == pos_domain::DeviceId::BACK_OFFICE {
            "the Back Office".to_string()
        } else {
            (names.user)(user)
        }
    };
    TransferView {
        id: t.id.to_string(),
        from_branch: (names.branch)(t.from_branch),
        to_branch: (names.branch)(t.to_branch),
        direction: if t.from_branch == names.here {
            TransferDirection::Outgoing
        } else {
            TransferDirection::Incoming
        },
        state: match t.state() {
            TransferState::Sent => TransferStateView::Sent,
            TransferState::Received => TransferStateView::Received,
            TransferState::ReceivedWithDiscrepancy => TransferStateView::ReceivedWithDiscrepancy,
        },
        sent_by: by(t.device_id, t.sent_by),
        sent_at: time(t.sent_at),
        received_by: t.receipt.as_ref().map(|r| by(r.device_id, r.received_by)),
        received_at: t.receipt.as_ref().map(|r| time(r.received_at)),
        note: t.note.clone(),
        receipt_note: t.receipt.as_ref().and_then(|r| r.note.clone()),
        lines: t
            .lines
            .iter()
            .map(|l| TransferLineView {
                line_no: l.line_no,
                product_id: l.product_id.to_string(),
                product_name: (names.product)(l.product_id),
                sent: l.sent.milli(),
                received: l.received.map(|q| q.milli()),
                discrepancy: l.is_discrepancy(),
            })
            .collect(),
    }
}

pub(crate) fn expense_category(c: &ExpenseCategoryTotal) -> ExpenseCategoryView {
    ExpenseCategoryView {
        category: c.category.clone(),
        count: i64::try_from(c.count).unwrap_or(i64::MAX),
        amount: c.amount.minor(),
    }
}

pub(crate) fn stock_level(l: &StockLevel) -> StockLevelView {
    StockLevelView {
        product_id: l.product_id.to_string(),
        name: l.name.clone(),
        quantity: l.quantity.milli(),
        low_stock: l.low_stock.map(|q| q.milli()),
        low: l.is_low(),
    }
}

fn method_total(m: &MethodTotal) -> MethodTotalView {
    MethodTotalView {
        method: m.method.as_str().to_string(),
        count: i64::try_from(m.count).unwrap_or(i64::MAX),
        amount: m.amount.minor(),
    }
}

/// What the day report shows besides the day's summary.
pub(crate) struct DayReportParts<'a> {
    pub cashiers: &'a [CashierTotal],
    pub products: &'a [ProductTotal],
    pub time_zone: &'a str,
    pub branch: &'a BranchInfo,
    pub expenses_by_category: &'a [ExpenseCategoryTotal],
    pub stock: &'a [StockLevel],
    pub stock_truncated: bool,
    pub stock_summary: StockSummary,
}

pub(crate) fn stock_summary(s: &StockSummary) -> StockSummaryView {
    let n = |c: u64| i64::try_from(c).unwrap_or(i64::MAX);
    StockSummaryView {
        tracked: n(s.tracked),
        low: n(s.low),
        out: n(s.out),
        below_zero: n(s.below_zero),
    }
}

pub(crate) fn day_report(summary: &DaySummary, parts: DayReportParts<'_>) -> DayReport {
    let DayReportParts {
        cashiers,
        products,
        time_zone,
        branch,
        expenses_by_category,
        stock,
        stock_truncated,
        stock_summary: summary_of_stock,
    } = parts;
    let s = &summary.sales;
    DayReport {
        day: summary.day.to_string(),
        time_zone: time_zone.to_string(),
        branch_code: branch.code.clone(),
        branch_name: branch.name.clone(),
        currency: s.gross_sales.currency().code().to_string(),
        sales_count: i64::try_from(s.sales_count).unwrap_or(i64::MAX),
        gross_sales: s.gross_sales.minor(),
        voids_and_refunds: s.voids_and_refunds.minor(),
        net_sales: s.net_sales.minor(),
        tax: s.tax.minor(),
        discounts: s.discounts.minor(),
        average_sale: s.average_sale.minor(),
        by_method: summary.payments.iter().map(method_total).collect(),
        by_cashier: cashiers
            .iter()
            .map(|c| CashierTotalView {
                name: c.name.clone(),
                sales_count: i64::try_from(c.sales_count).unwrap_or(i64::MAX),
                net: c.net.minor(),
            })
            .collect(),
        best_sellers: products
            .iter()
            .map(|p| ProductTotalView {
                name: p.name.clone(),
                quantity: p.quantity.milli(),
                net: p.net.minor(),
            })
            .collect(),
        expenses: summary.expenses.minor(),
        cash_expenses: summary.cash_expenses.minor(),
        credit_payments: summary.credit_payments.iter().map(method_total).collect(),
        expected_cash: summary.expected_cash.minor(),
        expenses_by_category: expenses_by_category.iter().map(expense_category).collect(),
        stock: stock.iter().map(stock_level).collect(),
        stock_truncated,
        stock_summary: stock_summary(&summary_of_stock),
    }
}

pub(crate) fn tax_rate(r: &TaxRate) -> TaxRateView {
    TaxRateView {
        code: r.code.to_string(),
        name: r.name.clone(),
        basis_points: r.basis_points(),
    }
}

/// A key with all but its last 4 characters hidden.
pub(crate) fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let keep = chars.len().min(4);
    let shown: String = chars[chars.len() - keep..].iter().collect();
    format!("{}{shown}", "•".repeat(chars.len() - keep))
}

fn state(s: EngineState) -> SyncStateView {
    match s {
        EngineState::NotConfigured => SyncStateView::NotConfigured,
        EngineState::Connecting => SyncStateView::Connecting,
        EngineState::Syncing => SyncStateView::Syncing,
        EngineState::Online => SyncStateView::Online,
        EngineState::Unreachable => SyncStateView::Unreachable,
    }
}

pub(crate) fn sync_status(s: &SyncStatus, backoffice_url: Option<String>) -> SyncStatusView {
    SyncStatusView {
        state: state(s.state),
        pending: i64::try_from(s.pending).unwrap_or(i64::MAX),
        quarantined: s
            .quarantined
            .iter()
            .map(|q| QuarantinedView {
                op_id: q.op_id.to_string(),
                device_seq: i64::try_from(q.device_seq).unwrap_or(i64::MAX),
                kind: q.kind.to_string(),
                reason: q.reason.clone(),
            })
            .collect(),
        held_changes: i64::try_from(s.held_changes).unwrap_or(i64::MAX),
        last_push_at: s.last_push_at.map(time),
        last_pull_at: s.last_pull_at.map(time),
        last_error: s.last_error.clone(),
        last_error_at: s.last_error_at.map(time),
        clock_skew_ms: s.clock_skew_ms,
        failures: s.failures,
        retry_in_ms: s
            .retry_in
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        backoffice_url,
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn full_sync_preview(p: &FullSyncPreview) -> FullSyncPreviewView {
    let (to_add, to_overwrite, server_only) = p.totals();
    FullSyncPreviewView {
        entities: p
            .entities
            .iter()
            .map(|e| EntityPreviewView {
                entity: e
                    .entity
                    .map_or_else(|| "unknown".to_string(), |k| k.as_str().to_string()),
                to_add: count(e.to_add.len()),
                to_overwrite: count(e.to_overwrite.len()),
                server_only: count(e.only_on_server.len()),
                unchanged: i64::try_from(e.unchanged).unwrap_or(i64::MAX),
            })
            .collect(),
        to_add: i64::try_from(to_add).unwrap_or(i64::MAX),
        to_overwrite: i64::try_from(to_overwrite).unwrap_or(i64::MAX),
        server_only: i64::try_from(server_only).unwrap_or(i64::MAX),
    }
}

pub(crate) fn full_sync_progress(p: &FullSyncProgress) -> FullSyncProgressView {
    let phase = match p.phase {
        FullSyncPhase::Previewing => "preview",
        FullSyncPhase::Uploading => "upload",
        FullSyncPhase::Finishing => "finish",
        FullSyncPhase::Converging => "push",
        FullSyncPhase::Done => "done",
    };
    FullSyncProgressView {
        phase: phase.to_string(),
        entity: None,
        done: i64::try_from(p.done).unwrap_or(i64::MAX),
        total: i64::try_from(p.total).unwrap_or(i64::MAX),
    }
}

pub(crate) fn full_sync_report(r: &FullSyncReport) -> FullSyncReportView {
    FullSyncReportView {
        added: i64::try_from(r.added).unwrap_or(i64::MAX),
        overwritten: i64::try_from(r.overwritten).unwrap_or(i64::MAX),
        removed: i64::try_from(r.removed).unwrap_or(i64::MAX),
        rejected: count(r.rejected.len()),
        messages: r
            .rejected
            .iter()
            .map(|x| format!("{} {}: {}", x.entity.as_str(), x.id, x.reason))
            .collect(),
    }
}
