//! Where the till finds its Back Office: the **URL** is a local setting in
//! the till's database (`sync_state.backoffice_url`, owners only, never
//! synced), the **API key** lives in the OS keyring (service
//! [`KEYRING_SERVICE`], user [`KEYRING_USER`]) and nowhere else: not in
//! SQLite, not in a file, not in a log line ([`ApiKey`]'s `Debug` hides it).
//!
//! [`KeyStore`] wraps the keyring so tests (and machines without one) can
//! use [`MemoryKeyStore`]. A machine with no usable keyring gets
//! [`KeyStoreError::NoKeyring`], whose message the Settings page shows.

use std::fmt;
use std::sync::Mutex;

use pos_store::{Actor, Store, StoreError};

use crate::client::{BackOffice, ClientError};

/// The keyring service name of WHIZ POS secrets.
pub const KEYRING_SERVICE: &str = "ke.whiz.pos";
/// The keyring user name of the Back Office API key.
pub const KEYRING_USER: &str = "backoffice-api-key";

/// The longest API key accepted.
const MAX_KEY_LEN: usize = 512;

/// A Back Office API key. Printing it shows `ApiKey(****)`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key as typed or pasted: surrounding spaces are dropped; it must be
    /// visible ASCII without spaces.
    pub fn parse(text: &str) -> Result<ApiKey, KeyStoreError> {
        let key = text.trim();
        if key.is_empty() {
            return Err(KeyStoreError::BadKey("the API key is empty".into()));
        }
        if key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KeyStoreError::BadKey(
                "an API key is letters, digits and punctuation without spaces".into(),
            ));
        }
        Ok(ApiKey(key.to_string()))
    }

    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(****)")
    }
}

/// Why the API key could not be read or kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyStoreError {
    #[error(
        "no keyring on this machine: {0}. The API key is only kept in the system keyring; \
         install or unlock one (Keychain, Windows Credential Manager, GNOME Keyring or KWallet) \
         and enter the key again"
    )]
    NoKeyring(String),

    #[error("{0}; copy the key again from Back Office > Settings > Connected Devices")]
    BadKey(String),

    #[error("the system keyring failed: {0}; try again, or restart the computer")]
    Failed(String),
}

/// Somewhere to keep the API key.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// The stored key, or `None` if none was saved.
    fn load(&self) -> Result<Option<ApiKey>, KeyStoreError>;
    fn save(&self, key: &ApiKey) -> Result<(), KeyStoreError>;
    /// Forgets the key; forgetting a key that is not there is fine.
    fn delete(&self) -> Result<(), KeyStoreError>;
}

/// The OS keyring, through the `keyring` crate.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
    user: String,
}

impl KeyringStore {
    /// The entry WHIZ POS uses ([`KEYRING_SERVICE`], [`KEYRING_USER`]).
    pub fn new() -> KeyringStore {
        KeyringStore::with_names(KEYRING_SERVICE, KEYRING_USER)
    }

    /// Another entry (tests that touch a real keyring use their own names).
    pub fn with_names(service: &str, user: &str) -> KeyringStore {
        KeyringStore {
            service: service.to_string(),
            user: user.to_string(),
        }
    }

    fn entry(&self) -> Result<keyring::Entry, KeyStoreError> {
        keyring::Entry::new(&self.service, &self.user).map_err(keyring_error)
    }
}

impl Default for KeyringStore {
    fn default() -> Self {
        KeyringStore::new()
    }
}

fn keyring_error(e: keyring::Error) -> KeyStoreError {
    match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            KeyStoreError::NoKeyring(inner.to_string())
        }
        other => KeyStoreError::Failed(other.to_string()),
    }
}

impl KeyStore for KeyringStore {
    fn load(&self) -> Result<Option<ApiKey>, KeyStoreError> {
        match self.entry()?.get_password() {
            Ok(text) => ApiKey::parse(&text).map(Some),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn save(&self, key: &ApiKey) -> Result<(), KeyStoreError> {
        self.entry()?
            .set_password(key.expose())
            .map_err(keyring_error)
    }

    fn delete(&self) -> Result<(), KeyStoreError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

/// A key store in memory, for tests. [`MemoryKeyStore::unavailable`] acts
/// like a machine with no keyring.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    key: Mutex<Option<ApiKey>>,
    unavailable: bool,
}

impl MemoryKeyStore {
    pub fn new() -> MemoryKeyStore {
        MemoryKeyStore::default()
    }

    pub fn holding(key: ApiKey) -> MemoryKeyStore {
        MemoryKeyStore {
            key: Mutex::new(Some(key)),
            unavailable: false,
        }
    }

    /// A store that fails like a machine with no keyring.
    pub fn unavailable() -> MemoryKeyStore {
        MemoryKeyStore {
            key: Mutex::new(None),
            unavailable: true,
        }
    }

    fn slot(&self) -> Result<std::sync::MutexGuard<'_, Option<ApiKey>>, KeyStoreError> {
        if self.unavailable {
            return Err(KeyStoreError::NoKeyring(
                "no Secret Service is running (test)".into(),
            ));
        }
        Ok(self.key.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl KeyStore for MemoryKeyStore {
    fn load(&self) -> Result<Option<ApiKey>, KeyStoreError> {
        Ok(self.slot()?.clone())
    }

    fn save(&self, key: &ApiKey) -> Result<(), KeyStoreError> {
        *self.slot()? = Some(key.clone());
        Ok(())
    }

    fn delete(&self) -> Result<(), KeyStoreError> {
        *self.slot()? = None;
        Ok(())
    }
}

/// Why the till cannot connect to its Back Office as configured.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Url(#[from] ClientError),
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Saves the Back Office address (in the till's database) and API key (in
/// the key store) that an owner entered in Settings. Both are checked before
/// anything is saved. Returns a client for them.
pub fn save_connection(
    store: &mut Store,
    actor: &Actor,
    keys: &dyn KeyStore,
    url: &str,
    key: &str,
) -> Result<BackOffice, SetupError> {
    let key = ApiKey::parse(key)?;
    let client = BackOffice::new(url, key.clone())?;
    actor.require(
        pos_domain::Permission::ManageSettings,
        "change the Back Office address",
    )?;
    keys.save(&key)?;
    store.set_backoffice_url(actor, Some(client.base_url()))?;
    Ok(client)
}

/// Disconnects the till: forgets the address and the key.
pub fn forget_connection(
    store: &mut Store,
    actor: &Actor,
    keys: &dyn KeyStore,
) -> Result<(), SetupError> {
    store.set_backoffice_url(actor, None)?;
    keys.delete()?;
    Ok(())
}

/// The client for the Back Office configured on this till, or `None` while
/// the address or the key is missing.
pub fn configured_backoffice(
    store: &Store,
    keys: &dyn KeyStore,
) -> Result<Option<BackOffice>, SetupError> {
    let Some(url) = store.backoffice_url()? else {
        return Ok(None);
    };
    let Some(key) = keys.load()? else {
        return Ok(None);
    };
    Ok(Some(BackOffice::new(&url, key)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pos_domain::{ManualClock, Name, Pin, Timestamp};
    use std::sync::Arc;

    fn store_with_owner() -> (Store, Actor) {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_772_431_200_000)));
        let mut store = Store::open_in_memory(clock).unwrap();
        let owner = store
            .create_first_owner(
                Name::parse("name", "Wanjiru").unwrap(),
                &Pin::parse("1234").unwrap(),
            )
            .unwrap();
        (store, owner)
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        let key = ApiKey::parse("  wz_live_4f9a  ").unwrap();
        assert_eq!(key.expose(), "wz_live_4f9a");
        assert_eq!(format!("{key:?}"), "ApiKey(****)");
        for bad in ["", "   ", "has space", "tab\tkey"] {
            assert!(
                matches!(ApiKey::parse(bad), Err(KeyStoreError::BadKey(_))),
                "{bad:?}"
            );
        }
        assert!(ApiKey::parse(&"k".repeat(513)).is_err());
    }

    #[test]
    fn a_connection_is_saved_in_two_places_and_read_back() {
        let (mut store, owner) = store_with_owner();
        let keys = MemoryKeyStore::new();
        assert!(configured_backoffice(&store, &keys).unwrap().is_none());

        let client = save_connection(
            &mut store,
            &owner,
            &keys,
            "https://bo.example.co.ke:5000/",
            "wz_live_4f9a",
        )
        .unwrap();

        assert_eq!(client.base_url(), "https://bo.example.co.ke:5000");
        assert_eq!(keys.load().unwrap().unwrap().expose(), "wz_live_4f9a");
        // The key is nowhere in the database.
        let hits: i64 = store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM sync_state WHERE backoffice_url LIKE '%wz_live%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hits, 0);
        let again = configured_backoffice(&store, &keys).unwrap().unwrap();
        assert_eq!(again.base_url(), client.base_url());

        forget_connection(&mut store, &owner, &keys).unwrap();
        assert!(configured_backoffice(&store, &keys).unwrap().is_none());
        assert!(keys.load().unwrap().is_none());
    }

    #[test]
    fn bad_input_or_no_keyring_saves_nothing() {
        let (mut store, owner) = store_with_owner();
        let keys = MemoryKeyStore::new();
        for (url, key) in [
            ("not a url", "wz_1"),
            ("ftp://bo.example", "wz_1"),
            ("https://bo.example", ""),
        ] {
            assert!(
                save_connection(&mut store, &owner, &keys, url, key).is_err(),
                "{url} {key}"
            );
        }
        let none = MemoryKeyStore::unavailable();
        let err =
            save_connection(&mut store, &owner, &none, "https://bo.example", "wz_1").unwrap_err();
        assert!(
            err.to_string().starts_with("no keyring on this machine: "),
            "{err}"
        );
        assert_eq!(store.backoffice_url().unwrap(), None);
        assert!(keys.load().unwrap().is_none());
        // A cashier may not point the till elsewhere.
        let cashier = Actor {
            user_id: pos_domain::UserId::new(),
            name: "Otieno".into(),
            role: pos_domain::Role::Cashier,
        };
        let err =
            save_connection(&mut store, &cashier, &keys, "https://bo.example", "wz_1").unwrap_err();
        assert!(
            matches!(err, SetupError::Store(StoreError::Forbidden { .. })),
            "{err}"
        );
        assert!(keys.load().unwrap().is_none());
    }

    /// The real keyring, where the machine has one (CI usually has none:
    /// then it must say so clearly, not panic or hang).
    #[test]
    fn the_os_keyring_round_trips_or_says_there_is_none() {
        let store = KeyringStore::with_names("ke.whiz.pos.test", "pos-sync-unit-test");
        let key = ApiKey::parse("wz_test_key").unwrap();
        match store.save(&key) {
            Ok(()) => {
                assert_eq!(store.load().unwrap(), Some(key));
                store.delete().unwrap();
                assert_eq!(store.load().unwrap(), None);
            }
            Err(e) => {
                let text = e.to_string();
                assert!(
                    matches!(e, KeyStoreError::NoKeyring(_) | KeyStoreError::Failed(_)),
                    "{text}"
                );
            }
        }
    }
}
