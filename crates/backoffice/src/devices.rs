//! Devices, branches and API keys: what `whiz-backoffice device …` and the
//! dashboard's Connected devices and Branches pages do, and the list of
//! branches the dashboard's pages share ([`all_branches`]).
//!
//! A key is `whiz_` followed by 40 random hex digits, shown once. The server
//! keeps only its SHA-256 (`key_hash`, to authenticate) and its first 9
//! characters (`key_prefix`, so a person can tell keys apart).

use pos_domain::{BranchId, Clock, DeviceId, TimeZone, Timestamp};
use rand::RngCore;
use rand::rngs::OsRng;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use sync_protocol::{BranchState, ChangeBody};

use crate::changes::record_change;
use crate::db::server_hlc;

/// Every key starts with this.
pub const KEY_PREFIX: &str = "whiz_";
/// How many characters of a key are kept in clear to tell keys apart.
pub const SHOWN_PREFIX_LEN: usize = 9;
/// The longest branch code.
pub const MAX_BRANCH_CODE: usize = 8;
/// The longest branch or device name, in characters.
pub const MAX_NAME_CHARS: usize = 60;

/// Why a device command was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{what} cannot be empty")]
    EmptyName { what: &'static str },
    #[error("{what} is too long ({len} characters; at most {max})")]
    NameTooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error(
        "branch {branch} already has a device named '{name}'; pick another name, or revoke that device first"
    )]
    DuplicateName { branch: String, name: String },
    #[error("no device has the id or name '{0}'; `whiz-backoffice device list` shows them")]
    NotFound(String),
    #[error("{count} devices are named '{name}'; revoke by id instead (see `device list`)")]
    Ambiguous { name: String, count: usize },
    #[error("device '{0}' is already revoked")]
    AlreadyRevoked(String),
    #[error("could not generate a random key: {0}; retry")]
    Random(#[from] rand::Error),
    #[error("the Back Office database failed: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Desktop till or mobile device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Desktop,
    Mobile,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Desktop => "desktop",
            DeviceKind::Mobile => "mobile",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceKind> {
        match s {
            "desktop" => Some(DeviceKind::Desktop),
            "mobile" => Some(DeviceKind::Mobile),
            _ => None,
        }
    }
}

/// A device as `device list` shows it. Never holds the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub id: DeviceId,
    pub branch_id: BranchId,
    pub branch_code: String,
    pub branch_name: String,
    pub name: String,
    pub kind: String,
    pub code: String,
    pub key_prefix: String,
    pub created_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    pub last_push_at: Option<Timestamp>,
    pub last_pull_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A device just added, with its key: the only time the key exists in clear.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub device: DeviceInfo,
    pub api_key: String,
    /// Whether the branch was created for it.
    pub new_branch: bool,
}

/// A fresh API key.
pub fn generate_key() -> Result<String, rand::Error> {
    let mut bytes = [0u8; 20];
    OsRng.try_fill_bytes(&mut bytes)?;
    Ok(format!("{KEY_PREFIX}{}", hex::encode(bytes)))
}

/// The SHA-256 of a key, in hex: what the server stores and looks up.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn check_name(what: &'static str, text: &str) -> Result<String, DeviceError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(DeviceError::EmptyName { what });
    }
    let len = t.chars().count();
    if len > MAX_NAME_CHARS {
        return Err(DeviceError::NameTooLong {
            what,
            len,
            max: MAX_NAME_CHARS,
        });
    }
    Ok(t.to_string())
}

/// Adds a device to the branch named `branch` (created if new) and returns
/// its key. The device's code is the next `T<n>` of its branch; codes are
/// never reused, because receipt numbers carry them.
pub fn add_device(
    conn: &mut Connection,
    clock: &dyn Clock,
    branch: &str,
    name: &str,
    kind: DeviceKind,
) -> Result<NewDevice, DeviceError> {
    let branch_name = check_name("the branch name", branch)?;
    let name = check_name("the device name", name)?;
    let key = generate_key()?;
    let now = clock.now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<String> = tx
        .query_row(
            "SELECT id FROM branches WHERE name = ?1 COLLATE NOCASE AND deleted_at IS NULL",
            [&branch_name],
            |r| r.get(0),
        )
        .optional()?;
    let (branch_id, new_branch) = match existing {
        Some(id) => (id, false),
        None => (create_branch(&tx, &branch_name, now)?.to_string(), true),
    };
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE branch_id = ?1 AND name = ?2 COLLATE NOCASE
                        AND revoked_at IS NULL)",
        params![branch_id, name],
        |r| r.get(0),
    )?;
    if taken {
        return Err(DeviceError::DuplicateName {
            branch: branch_name,
            name,
        });
    }
    let codes: Vec<String> = tx
        .prepare("SELECT code FROM devices WHERE branch_id = ?1")?
        .query_map([&branch_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let next = codes
        .iter()
        .filter_map(|c| c.strip_prefix('T').and_then(|n| n.parse::<u32>().ok()))
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    let id = DeviceId::new();
    tx.execute(
        "INSERT INTO devices (id, branch_id, code, name, kind, key_hash, key_prefix, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id.to_string(),
            branch_id,
            format!("T{next}"),
            name,
            kind.as_str(),
            hash_key(&key),
            &key[..SHOWN_PREFIX_LEN],
            now.as_millis()
        ],
    )?;
    let device = load(&tx, "d.id = ?1", &id.to_string())?
        .pop()
        .ok_or_else(|| DeviceError::NotFound(id.to_string()))?;
    tx.commit()?;
    Ok(NewDevice {
        device,
        api_key: key,
        new_branch,
    })
}

/// Makes a branch with a unique code derived from its name, and records it in
/// the change feed for every device.
pub(crate) fn create_branch(
    conn: &Connection,
    name: &str,
    now: Timestamp,
) -> Result<BranchId, DeviceError> {
    let code = derive_branch_code(conn, name)?;
    Ok(insert_branch(conn, &code, name, TimeZone::default(), now)?)
}

/// A branch code made from `name`'s letters and digits (at most
/// [`MAX_BRANCH_CODE`]), numbered until no branch, live or deleted, has it:
/// receipt numbers carry the code, so one is never reused.
pub(crate) fn derive_branch_code(conn: &Connection, name: &str) -> rusqlite::Result<String> {
    let base: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(MAX_BRANCH_CODE)
        .collect();
    let base = if base.is_empty() { "BR".into() } else { base };
    let mut code = base.clone();
    let mut n = 1u32;
    while branch_code_used(conn, &code)? {
        n += 1;
        let suffix = n.to_string();
        let keep = MAX_BRANCH_CODE.saturating_sub(suffix.len()).min(base.len());
        code = format!("{}{suffix}", &base[..keep]);
    }
    Ok(code)
}

/// Whether any branch, live or deleted, has `code`.
pub(crate) fn branch_code_used(conn: &Connection, code: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM branches WHERE code = ?1)",
        [code],
        |r| r.get(0),
    )
}

/// Inserts a branch with the code, name and time zone given (the caller
/// checked them) and records it in the change feed for every device.
pub(crate) fn insert_branch(
    conn: &Connection,
    code: &str,
    name: &str,
    zone: TimeZone,
    now: Timestamp,
) -> rusqlite::Result<BranchId> {
    let branch = BranchState {
        id: BranchId::new(),
        code: code.to_string(),
        name: name.to_string(),
        time_zone: zone,
        hlc: server_hlc(now),
        deleted_at: None,
    };
    conn.execute(
        "INSERT INTO branches (id, code, name, time_zone, created_at, hlc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            branch.id.to_string(),
            branch.code,
            branch.name,
            branch.time_zone.name(),
            now.as_millis(),
            branch.hlc.to_string()
        ],
    )?;
    let id = branch.id;
    record_change(conn, &ChangeBody::Branch(branch), None, None, now)?;
    Ok(id)
}

/// Saves a live branch's name and time zone (the caller checked them; its
/// code never changes) with its new clock, and records it in the change
/// feed for every device.
pub(crate) fn update_branch(
    conn: &Connection,
    branch: BranchState,
    now: Timestamp,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE branches SET name = ?2, time_zone = ?3, hlc = ?4 WHERE id = ?1",
        params![
            branch.id.to_string(),
            branch.name,
            branch.time_zone.name(),
            branch.hlc.to_string()
        ],
    )?;
    record_change(conn, &ChangeBody::Branch(branch), None, None, now)?;
    Ok(())
}

/// A branch as the dashboard's pages list it.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub id: String,
    pub name: String,
    /// Its business days and times are in this zone.
    pub zone: TimeZone,
    /// False once the branch is closed (deleted); its records stay.
    pub live: bool,
}

/// The columns [`branch_row`] reads, from `branches`.
pub(crate) const BRANCH_COLUMNS: &str = "id, name, time_zone, deleted_at IS NULL";

/// A [`Branch`] from a row of [`BRANCH_COLUMNS`].
pub(crate) fn branch_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Branch> {
    let zone: String = r.get(2)?;
    Ok(Branch {
        id: r.get(0)?,
        name: r.get(1)?,
        zone: TimeZone::parse(&zone).unwrap_or_default(),
        live: r.get(3)?,
    })
}

/// Every branch, live ones first (closed ones keep their sales and
/// devices), each group by name.
pub(crate) fn all_branches(conn: &Connection) -> rusqlite::Result<Vec<Branch>> {
    conn.prepare_cached(&format!(
        "SELECT {BRANCH_COLUMNS} FROM branches
         ORDER BY deleted_at IS NOT NULL, name COLLATE NOCASE, id"
    ))?
    .query_map([], branch_row)?
    .collect()
}

const DEVICE_SELECT: &str =
    "SELECT d.id, d.branch_id, b.code, b.name, d.name, d.kind, d.code, d.key_prefix,
        d.created_at, d.last_seen_at, d.last_push_at, d.last_pull_at, d.revoked_at
 FROM devices d JOIN branches b ON b.id = d.branch_id";

fn load(conn: &Connection, filter: &str, arg: &str) -> rusqlite::Result<Vec<DeviceInfo>> {
    let sql = format!("{DEVICE_SELECT} WHERE {filter} ORDER BY b.name, d.created_at");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([arg], |r| {
        let ts = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
            Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp::from_millis))
        };
        Ok(DeviceInfo {
            id: parse_col(r, 0)?,
            branch_id: parse_col(r, 1)?,
            branch_code: r.get(2)?,
            branch_name: r.get(3)?,
            name: r.get(4)?,
            kind: r.get(5)?,
            code: r.get(6)?,
            key_prefix: r.get(7)?,
            created_at: Timestamp::from_millis(r.get(8)?),
            last_seen_at: ts(9)?,
            last_push_at: ts(10)?,
            last_pull_at: ts(11)?,
            revoked_at: ts(12)?,
        })
    })?;
    rows.collect()
}

/// Reads a UUID-like id column.
pub(crate) fn parse_col<T>(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = r.get(i)?;
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Every device, by branch then age, revoked ones included.
pub fn list_devices(conn: &Connection) -> Result<Vec<DeviceInfo>, DeviceError> {
    Ok(load(conn, "?1 = ?1", "")?)
}

/// Revokes a device by id or by name: its key stops working at once (403).
pub fn revoke_device(
    conn: &mut Connection,
    clock: &dyn Clock,
    id_or_name: &str,
) -> Result<DeviceInfo, DeviceError> {
    let wanted = id_or_name.trim();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut found = load(&tx, "d.id = ?1", wanted)?;
    if found.is_empty() {
        found = load(
            &tx,
            "d.name = ?1 COLLATE NOCASE AND d.revoked_at IS NULL",
            wanted,
        )?;
    }
    if found.is_empty() {
        // Only revoked devices have that name.
        if let Some(d) = load(&tx, "d.name = ?1 COLLATE NOCASE", wanted)?.pop() {
            return Err(DeviceError::AlreadyRevoked(d.name));
        }
        return Err(DeviceError::NotFound(wanted.to_string()));
    }
    if found.len() > 1 {
        return Err(DeviceError::Ambiguous {
            name: wanted.to_string(),
            count: found.len(),
        });
    }
    let device = found.remove(0);
    if device.revoked_at.is_some() {
        return Err(DeviceError::AlreadyRevoked(device.name));
    }
    tx.execute(
        "UPDATE devices SET revoked_at = ?2 WHERE id = ?1",
        params![device.id.to_string(), clock.now().as_millis()],
    )?;
    let device = load(&tx, "d.id = ?1", &device.id.to_string())?
        .pop()
        .ok_or_else(|| DeviceError::NotFound(wanted.to_string()))?;
    tx.commit()?;
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pos_domain::ManualClock;

    fn setup() -> (Connection, ManualClock) {
        let clock = ManualClock::new(Timestamp::from_millis(1_772_431_200_000));
        (crate::db::open_in_memory(&clock).unwrap(), clock)
    }

    #[test]
    fn keys_are_random_and_only_their_hash_is_stored() {
        let (mut conn, clock) = setup();
        let a = add_device(&mut conn, &clock, "Main", "Till 1", DeviceKind::Desktop).unwrap();
        let b = add_device(&mut conn, &clock, "main", "Till 2", DeviceKind::Mobile).unwrap();
        assert!(a.api_key.starts_with("whiz_") && a.api_key.len() == 45);
        assert!(a.api_key[5..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.api_key, b.api_key);
        assert!(a.new_branch && !b.new_branch);
        assert_eq!(
            (a.device.code.as_str(), b.device.code.as_str()),
            ("T1", "T2")
        );
        assert_eq!(a.device.branch_code, "MAIN");
        assert_eq!(a.device.key_prefix, &a.api_key[..9]);
        let stored: String = conn
            .query_row(
                "SELECT key_hash FROM devices WHERE id = ?1",
                [a.device.id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, hash_key(&a.api_key));
        let dump: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM devices WHERE key_hash = ?1 OR key_prefix = ?1",
                [&a.api_key],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(dump, 0);
    }

    #[test]
    fn branch_codes_are_short_unique_and_recorded_as_changes() {
        let (mut conn, clock) = setup();
        let a = add_device(
            &mut conn,
            &clock,
            "Westlands Mall",
            "T",
            DeviceKind::Desktop,
        )
        .unwrap();
        let b = add_device(
            &mut conn,
            &clock,
            "Westlands-Mall 2!",
            "T",
            DeviceKind::Desktop,
        )
        .unwrap();
        let c = add_device(&mut conn, &clock, "Ω", "T", DeviceKind::Desktop).unwrap();
        assert_eq!(a.device.branch_code, "WESTLAND");
        assert_eq!(b.device.branch_code, "WESTLAN2");
        assert_eq!(c.device.branch_code, "BR");
        let branches: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM changes WHERE entity = 'branch'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(branches, 3);
    }

    #[test]
    fn names_are_unique_per_branch_and_revoking_finds_by_id_or_name() {
        let (mut conn, clock) = setup();
        let a = add_device(&mut conn, &clock, "Main", "Till 1", DeviceKind::Desktop).unwrap();
        assert!(matches!(
            add_device(&mut conn, &clock, "Main", "till 1", DeviceKind::Desktop),
            Err(DeviceError::DuplicateName { .. })
        ));
        add_device(&mut conn, &clock, "Town", "Till 1", DeviceKind::Desktop).unwrap();
        assert!(matches!(
            revoke_device(&mut conn, &clock, "Till 1"),
            Err(DeviceError::Ambiguous { count: 2, .. })
        ));
        let r = revoke_device(&mut conn, &clock, &a.device.id.to_string()).unwrap();
        assert!(r.revoked_at.is_some());
        assert!(matches!(
            revoke_device(&mut conn, &clock, &a.device.id.to_string()),
            Err(DeviceError::AlreadyRevoked(_))
        ));
        // The code of a revoked device is not reused.
        let again = add_device(&mut conn, &clock, "Main", "Till 1", DeviceKind::Desktop).unwrap();
        assert_eq!(again.device.code, "T2");
        assert!(matches!(
            revoke_device(&mut conn, &clock, "nope"),
            Err(DeviceError::NotFound(_))
        ));
        assert_eq!(list_devices(&conn).unwrap().len(), 3);
    }
}
