//! The one place where the core's errors become a [`CommandError`]: a closed
//! code for the UI's logic and a sentence for the user. Never a `Debug` dump.

use pos_domain::DomainError;
use pos_store::StoreError;
use pos_sync::{ClientError, KeyStoreError, SetupError, SyncError};

use crate::api::{CommandError, ErrorCode};

/// Makes a message a sentence: a capital first letter and a closing stop.
pub(crate) fn sentence(text: impl AsRef<str>) -> String {
    let text = text.as_ref().trim();
    let mut chars = text.chars();
    let mut out = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => return "Something went wrong.".into(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl CommandError {
    pub(crate) fn invalid(message: impl AsRef<str>) -> CommandError {
        CommandError::new(ErrorCode::Invalid, sentence(message))
    }

    pub(crate) fn not_signed_in() -> CommandError {
        CommandError::new(
            ErrorCode::NotSignedIn,
            "Nobody is signed in; sign in with your PIN.",
        )
    }

    pub(crate) fn locked() -> CommandError {
        CommandError::new(
            ErrorCode::Locked,
            "The till locked itself after a while without use; enter your PIN to unlock it.",
        )
    }

    pub(crate) fn forbidden(message: impl AsRef<str>) -> CommandError {
        CommandError::new(ErrorCode::Forbidden, sentence(message))
    }

    fn coded(code: ErrorCode, message: impl AsRef<str>) -> CommandError {
        CommandError::new(code, sentence(message))
    }
}

/// The code of a store refusal or failure.
fn store_code(e: &StoreError) -> ErrorCode {
    match e {
        StoreError::Rule(_) | StoreError::Invalid(_) => ErrorCode::Invalid,
        StoreError::NotFound { .. } | StoreError::Deleted { .. } => ErrorCode::NotFound,
        StoreError::Forbidden { .. } => ErrorCode::Forbidden,
        StoreError::DuplicateBarcode { .. }
        | StoreError::DuplicateSku { .. }
        | StoreError::DuplicatePhone { .. }
        | StoreError::DuplicateCategory(_)
        | StoreError::MpesaCodeUsed { .. }
        | StoreError::AlreadyVoided(_)
        | StoreError::VoidAfterRefund { .. }
        | StoreError::AlreadySetUp => ErrorCode::Conflict,
        StoreError::RefundTooLarge { .. } | StoreError::NotASale(_) => ErrorCode::Invalid,
        StoreError::WrongPin { .. } => ErrorCode::WrongPin,
        StoreError::LockedOut { .. } | StoreError::UserInactive(_) => ErrorCode::UserLocked,
        StoreError::CreditLimitExceeded { .. } => ErrorCode::CreditLimit,
        StoreError::EpochMismatch { .. } => ErrorCode::BackOffice,
        StoreError::Busy
        | StoreError::Migration { .. }
        | StoreError::Corrupt(_)
        | StoreError::Database(_) => ErrorCode::Internal,
    }
}

fn from_store(e: &StoreError) -> CommandError {
    let code = store_code(e);
    if code == ErrorCode::Internal {
        tracing::error!(error = %e, "store failure");
    }
    CommandError::coded(code, e.to_string())
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        from_store(&e)
    }
}

impl From<DomainError> for CommandError {
    fn from(e: DomainError) -> Self {
        CommandError::invalid(e.to_string())
    }
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        let code = match &e {
            ClientError::BadUrl { .. } => ErrorCode::Invalid,
            ClientError::Unreachable { .. } => ErrorCode::Unreachable,
            ClientError::Server { .. } | ClientError::Protocol { .. } => ErrorCode::BackOffice,
        };
        CommandError::coded(code, e.to_string())
    }
}

impl From<KeyStoreError> for CommandError {
    fn from(e: KeyStoreError) -> Self {
        let code = match &e {
            KeyStoreError::NoKeyring(_) | KeyStoreError::Failed(_) => ErrorCode::KeyringUnavailable,
            KeyStoreError::BadKey(_) => ErrorCode::Invalid,
        };
        CommandError::coded(code, e.to_string())
    }
}

impl From<SetupError> for CommandError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Url(e) => e.into(),
            SetupError::KeyStore(e) => e.into(),
            SetupError::Store(e) => e.into(),
        }
    }
}

impl From<SyncError> for CommandError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Client(c) => c.into(),
            SyncError::Store(s) => from_store(&s),
            SyncError::NotConfigured => CommandError::invalid(e.to_string()),
            SyncError::Task(_) => {
                tracing::error!(error = %e, "sync task failure");
                CommandError::coded(ErrorCode::Internal, e.to_string())
            }
            other => CommandError::coded(ErrorCode::BackOffice, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sentences() {
        assert_eq!(
            sentence("wrong PIN; 4 attempts left"),
            "Wrong PIN; 4 attempts left."
        );
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence("  "), "Something went wrong.");
    }

    #[test]
    fn codes_follow_the_kind_of_refusal() {
        let e: CommandError = StoreError::WrongPin { attempts_left: 2 }.into();
        assert_eq!(e.code, ErrorCode::WrongPin);
        let e: CommandError = KeyStoreError::NoKeyring("none".into()).into();
        assert_eq!(e.code, ErrorCode::KeyringUnavailable);
        let e: CommandError = ClientError::Unreachable {
            url: "http://x".into(),
            detail: "refused".into(),
        }
        .into();
        assert_eq!(e.code, ErrorCode::Unreachable);
        let e: CommandError = SyncError::from(StoreError::Invalid("bad".into())).into();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::Invalid, "Bad."));
    }
}
