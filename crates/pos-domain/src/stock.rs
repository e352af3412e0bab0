//! Stock is never a number that is overwritten: it is the sum of movements.
//! Two tills that sell the last bottle offline both record a −1, and the level
//! goes to −1 (allowed, and flagged) instead of one sale erasing the other.

use serde::{Deserialize, Serialize};

/// Why stock moved. The sign of a movement's quantity says which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Sold (negative).
    Sale,
    /// Returned by a refund or void (positive).
    Return,
    /// Goods received (positive).
    Restock,
    /// A correction: breakage, theft, spoilage (either sign).
    Adjustment,
    /// The difference found by a count (either sign).
    Stocktake,
    /// Sent to another branch (negative).
    TransferOut,
    /// Received from another branch (positive).
    TransferIn,
}

impl MovementKind {
    pub const ALL: [MovementKind; 7] = [
        MovementKind::Sale,
        MovementKind::Return,
        MovementKind::Restock,
        MovementKind::Adjustment,
        MovementKind::Stocktake,
        MovementKind::TransferOut,
        MovementKind::TransferIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Sale => "sale",
            MovementKind::Return => "return",
            MovementKind::Restock => "restock",
            MovementKind::Adjustment => "adjustment",
            MovementKind::Stocktake => "stocktake",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::TransferIn => "transfer_in",
        }
    }

    pub fn parse(s: &str) -> Option<MovementKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
