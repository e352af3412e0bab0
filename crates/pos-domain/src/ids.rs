//! Record identifiers: UUIDv7, made on the device where the record is created.
//!
//! v7 ids sort by creation time (good for B-tree locality) while staying
//! globally unique without coordination, so a till can create records offline
//! and they never collide with another till's.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh UUIDv7 id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type! {
    /// A product in the shared catalog.
    ProductId;
    /// A product category.
    CategoryId;
    /// A sale, void or refund (all are sale records).
    SaleId;
    /// One payment of a sale.
    PaymentId;
    /// One stock movement.
    MovementId;
    /// A till user (cashier, manager, owner).
    UserId;
    /// A credit customer.
    CustomerId;
    /// One entry of a customer's credit ledger.
    LedgerEntryId;
    /// A petty-cash expense.
    ExpenseId;
    /// A branch (store) of the business.
    BranchId;
    /// A device (desktop till or mobile) registered with the Back Office.
    DeviceId;
    /// An outbox operation: its idempotency key on the server.
    OpId;
    /// A stock transfer from one branch to another.
    TransferId;
    /// The receipt of a stock transfer at its destination branch.
    TransferReceiptId;
}

impl DeviceId {
    /// The Back Office itself (the nil UUID): what its dashboard writes
    /// carry, so every side can say "the Back Office" rather than a till.
    pub const BACK_OFFICE: DeviceId = DeviceId::from_uuid(Uuid::nil());
}
