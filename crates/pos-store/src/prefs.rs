//! Preferences of this machine only: how soon the screen locks and the like.
//!
//! They live in `device_prefs`, are never queued and never synced (unlike
//! [`crate::settings`], which every device shares). Keys are the app's;
//! values are text the app parses. Who may change which preference is the
//! app's decision: the store only keeps them.

use rusqlite::{OptionalExtension, params};

use crate::{Result, Store, StoreError};

/// The longest preference key or value kept.
pub const MAX_PREF_LEN: usize = 1000;

impl Store {
    /// The value of preference `key`, or `None` if it was never set.
    pub fn device_pref(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM device_prefs WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Sets preference `key` to `value`, or with `None` forgets it. Local to
    /// this till: nothing is queued.
    pub fn set_device_pref(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        if key.trim().is_empty() || key.len() > MAX_PREF_LEN {
            return Err(StoreError::Invalid(
                "a preference needs a name of 1 to 1000 characters".into(),
            ));
        }
        if value.is_some_and(|v| v.len() > MAX_PREF_LEN) {
            return Err(StoreError::Invalid(format!(
                "the value of preference '{key}' is too long (at most {MAX_PREF_LEN} characters)"
            )));
        }
        self.write(|tx| {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO device_prefs (key, value, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                         updated_at = excluded.updated_at",
                    params![key, v, tx.now().as_millis()],
                )?,
                None => tx.execute("DELETE FROM device_prefs WHERE key = ?1", [key])?,
            };
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use pos_domain::ManualClock;

    use crate::Store;
    use crate::testkit::{T0, kit};

    #[test]
    fn a_preference_is_set_changed_and_forgotten_without_queuing_anything() {
        let mut k = kit();
        let ops = k.count("outbox");
        assert_eq!(k.store.device_pref("auto_lock_minutes").unwrap(), None);
        k.store
            .set_device_pref("auto_lock_minutes", Some("5"))
            .unwrap();
        k.store
            .set_device_pref("auto_lock_minutes", Some("15"))
            .unwrap();
        assert_eq!(
            k.store.device_pref("auto_lock_minutes").unwrap().as_deref(),
            Some("15")
        );
        assert_eq!(
            k.count("outbox"),
            ops,
            "a device preference is never synced"
        );
        k.store.set_device_pref("auto_lock_minutes", None).unwrap();
        assert_eq!(k.store.device_pref("auto_lock_minutes").unwrap(), None);
    }

    #[test]
    fn a_bad_preference_changes_nothing() {
        let mut k = kit();
        assert!(k.store.set_device_pref(" ", Some("1")).is_err());
        let long = "x".repeat(1001);
        assert!(k.store.set_device_pref("k", Some(&long)).is_err());
        assert_eq!(k.count("device_prefs"), 0);
    }

    #[test]
    fn preferences_survive_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("till.sqlite3");
        let clock = Arc::new(ManualClock::new(T0));
        {
            let mut store = Store::open(&path, clock.clone()).unwrap();
            store
                .set_device_pref("auto_lock_minutes", Some("0"))
                .unwrap();
        }
        let store = Store::open(&path, clock).unwrap();
        assert_eq!(
            store.device_pref("auto_lock_minutes").unwrap().as_deref(),
            Some("0")
        );
    }
}
