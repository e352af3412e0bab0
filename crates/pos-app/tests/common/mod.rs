//! Shared by the pos-app integration tests.
#![allow(dead_code)]

use pos_app::{CommandError, ErrorCode};

/// Refused with `invalid`, a message naming what was wrong.
pub fn invalid<T: std::fmt::Debug>(r: Result<T, CommandError>, names: &str) {
    let e = r.expect_err("bad input must be refused");
    assert_eq!(e.code, ErrorCode::Invalid, "{}", e.message);
    assert!(
        e.message.to_lowercase().contains(names),
        "the message names {names:?}: {}",
        e.message
    );
}
