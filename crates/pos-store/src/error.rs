use pos_domain::{DomainError, Money, Role};

/// Everything a store operation can refuse or fail with.
///
/// Every variant except [`StoreError::Database`] and [`StoreError::Corrupt`]
/// is a refusal of bad input: the database is unchanged when it is returned,
/// and the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Rule(#[from] DomainError),

    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },

    #[error("{what} '{name}' has been deleted")]
    Deleted { what: &'static str, name: String },

    #[error("only a {needed} or above can {action}; ask a {needed} to do it")]
    Forbidden { action: &'static str, needed: Role },

    #[error("barcode {barcode} is already used by '{product}'")]
    DuplicateBarcode { barcode: String, product: String },

    #[error("SKU {sku} is already used by '{product}'")]
    DuplicateSku { sku: String, product: String },

    #[error("phone number {phone} already belongs to customer '{customer}'")]
    DuplicatePhone { phone: String, customer: String },

    #[error("category '{0}' already exists")]
    DuplicateCategory(String),

    #[error(
        "M-Pesa code {code} was already used for {used_for}; check the code on the customer's message"
    )]
    MpesaCodeUsed { code: String, used_for: String },

    #[error("wrong PIN; {attempts_left} attempts left before this user is locked")]
    WrongPin { attempts_left: u32 },

    #[error(
        "too many wrong PINs; this user is locked for {minutes} more minute(s), or until a manager unlocks it"
    )]
    LockedOut { minutes: i64 },

    #[error("user '{0}' is deactivated; ask a manager to reactivate them")]
    UserInactive(String),

    #[error(
        "credit of {requested} would take {customer} to {would_owe}, over their limit of {limit} (they owe {owes}); take another payment or ask a manager to raise the limit"
    )]
    CreditLimitExceeded {
        customer: String,
        limit: Money,
        owes: Money,
        requested: Money,
        would_owe: Money,
    },

    #[error("receipt {0} has already been voided")]
    AlreadyVoided(String),

    #[error(
        "receipt {receipt} cannot be voided after items were refunded; refund the remaining items instead"
    )]
    VoidAfterRefund { receipt: String },

    #[error(
        "cannot return {requested} of '{item}': only {left} of it is left to return on receipt {receipt}"
    )]
    RefundTooLarge {
        receipt: String,
        item: String,
        requested: String,
        left: String,
    },

    #[error("receipt {0} is itself a void or refund; only sales can be voided or refunded")]
    NotASale(String),

    #[error("{0}")]
    Invalid(String),

    #[error("there is already an owner; sign in as the owner to add users")]
    AlreadySetUp,

    #[error(
        "the Back Office answered from epoch {page} but this till last pulled from epoch {ours}: \
         it was restored from a backup or replaced; reset the sync cursor and pull everything again"
    )]
    EpochMismatch {
        ours: sync_protocol::Epoch,
        page: sync_protocol::Epoch,
    },

    #[error("the database is busy; try again in a moment")]
    Busy,

    #[error("the till's database could not be upgraded to version {version}: {source}")]
    Migration {
        version: u32,
        source: rusqlite::Error,
    },

    #[error("the till's database holds a value it cannot read ({0}); contact support")]
    Corrupt(String),

    #[error("the till's database failed: {0}")]
    Database(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy
            }
            _ => StoreError::Database(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
