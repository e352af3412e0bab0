//! The outbox: operations waiting for the Back Office.
//!
//! Ops are written by [`crate::Tx::enqueue`] in the same transaction as the
//! change they describe. This module is the sync engine's side: read what is
//! pending in device-sequence order, and remove an op **only** when the server
//! has acknowledged it. A permanently rejected op is quarantined with its
//! reason and stops blocking the ops behind it; a transient failure is counted
//! and retried. A manager may put a quarantined op back in line
//! ([`Store::outbox_retry`]) or discard it ([`Store::outbox_discard`]): a
//! discarded op stays in the table, marked, but is never sent again.

use pos_domain::{Hlc, OpId, Permission, Timestamp};
use rusqlite::{OptionalExtension, params};
use sync_protocol::{OpBody, OpEnvelope};

use crate::sql::col_parse;
use crate::{Actor, Result, Store, StoreError};

/// An op in the outbox with its delivery history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub op: OpEnvelope,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub quarantine_reason: Option<String>,
}

/// What the Sync Status page shows about the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    pub pending: u64,
    pub quarantined: u64,
    pub oldest_pending_at: Option<Timestamp>,
}

const SELECT: &str = "SELECT seq, op_id, hlc, created_at, payload, attempts, last_error, quarantine_reason FROM outbox";

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    let payload: String = r.get(4)?;
    let body: OpBody = serde_json::from_str(&payload).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(OutboxEntry {
        op: OpEnvelope {
            device_seq: r.get::<_, i64>(0)? as u64,
            op_id: col_parse::<OpId>(r, 1)?,
            hlc: col_parse::<Hlc>(r, 2)?,
            created_at: Timestamp::from_millis(r.get(3)?),
            body,
        },
        attempts: r.get(5)?,
        last_error: r.get(6)?,
        quarantine_reason: r.get(7)?,
    })
}

impl Store {
    /// Up to `limit` ops to push, oldest first, skipping quarantined ones.
    pub fn outbox_pending(&self, limit: u32) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "{SELECT} WHERE quarantined_at IS NULL ORDER BY seq LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Quarantined ops with their reasons, oldest first (discarded ones are
    /// not listed).
    pub fn outbox_quarantined(&self) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "{SELECT} WHERE quarantined_at IS NOT NULL AND discarded_at IS NULL ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn outbox_stats(&self) -> Result<OutboxStats> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FILTER (WHERE quarantined_at IS NULL),
                    COUNT(*) FILTER (WHERE quarantined_at IS NOT NULL AND discarded_at IS NULL),
                    MIN(created_at) FILTER (WHERE quarantined_at IS NULL)
             FROM outbox",
            [],
            |r| {
                Ok(OutboxStats {
                    pending: r.get::<_, i64>(0)? as u64,
                    quarantined: r.get::<_, i64>(1)? as u64,
                    oldest_pending_at: r.get::<_, Option<i64>>(2)?.map(Timestamp::from_millis),
                })
            },
        )?)
    }

    /// Removes ops the server acknowledged (applied or duplicate).
    pub fn outbox_acknowledge(&mut self, op_ids: &[OpId]) -> Result<usize> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached("DELETE FROM outbox WHERE op_id = ?1")?;
            let mut n = 0;
            for id in op_ids {
                n += stmt.execute([id.to_string()])?;
            }
            Ok(n)
        })
    }

    /// Records a transient failure (unreachable, 5xx) against ops; they stay
    /// pending and are retried.
    pub fn outbox_record_failure(&mut self, op_ids: &[OpId], error: &str) -> Result<()> {
        self.write(|tx| {
            let now = tx.now().as_millis();
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?2, last_error = ?3 WHERE op_id = ?1",
            )?;
            for id in op_ids {
                stmt.execute(params![id.to_string(), now, error])?;
            }
            Ok(())
        })
    }

    /// Sets an op the server rejected for good aside, with the reason.
    pub fn outbox_quarantine(&mut self, op_id: OpId, reason: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE outbox SET quarantined_at = ?2, quarantine_reason = ?3, attempts = attempts + 1
                 WHERE op_id = ?1",
                params![op_id.to_string(), tx.now().as_millis(), reason],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound { what: "queued operation", id: op_id.to_string() });
            }
            Ok(())
        })
    }

    /// Puts a quarantined op back in line (manager, after fixing the cause).
    pub fn outbox_retry(&mut self, actor: &Actor, op_id: OpId) -> Result<()> {
        actor.require(Permission::ManageSync, "retry a failed sync operation")?;
        self.write(|tx| {
            let found = tx
                .query_row(
                    "UPDATE outbox SET quarantined_at = NULL, quarantine_reason = NULL
                     WHERE op_id = ?1 AND quarantined_at IS NOT NULL AND discarded_at IS NULL
                     RETURNING seq",
                    [op_id.to_string()],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?;
            found.map(|_| ()).ok_or_else(|| StoreError::NotFound {
                what: "quarantined operation",
                id: op_id.to_string(),
            })
        })
    }

    /// Discards a quarantined op for good (manager, when the change it
    /// carries should not reach the Back Office at all). The op stays in the
    /// outbox marked discarded, with who and when: it is never sent, never
    /// retried and never deleted. Refused for an op that is not quarantined
    /// (a pending op would leave a gap in the device sequence).
    pub fn outbox_discard(&mut self, actor: &Actor, op_id: OpId) -> Result<()> {
        actor.require(Permission::ManageSync, "discard a failed sync operation")?;
        self.write(|tx| {
            let state: Option<(Option<i64>, Option<i64>)> = tx
                .query_row(
                    "SELECT quarantined_at, discarded_at FROM outbox WHERE op_id = ?1",
                    [op_id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match state {
                None => Err(StoreError::NotFound {
                    what: "queued operation",
                    id: op_id.to_string(),
                }),
                Some((_, Some(_))) => Err(StoreError::Invalid(format!(
                    "operation {op_id} has already been discarded"
                ))),
                Some((None, None)) => Err(StoreError::Invalid(format!(
                    "operation {op_id} is not quarantined: it is still waiting to be sent, and only an operation the Back Office refused can be discarded"
                ))),
                Some((Some(_), None)) => {
                    tx.execute(
                        "UPDATE outbox SET discarded_at = ?2, discarded_by = ?3 WHERE op_id = ?1",
                        params![
                            op_id.to_string(),
                            tx.now().as_millis(),
                            actor.user_id.to_string()
                        ],
                    )?;
                    Ok(())
                }
            }
        })
    }

    /// Discarded ops, oldest first (kept for the record; never sent).
    pub fn outbox_discarded(&self) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "{SELECT} WHERE discarded_at IS NOT NULL ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use pos_domain::Role;

    use crate::StoreError;
    use crate::testkit::{actor, kit};

    #[test]
    fn a_discarded_op_is_kept_but_never_sent_retried_or_listed() {
        let mut k = kit();
        // Everything queued so far (the owner) was acknowledged.
        let before: Vec<_> = k
            .store
            .outbox_pending(10)
            .unwrap()
            .into_iter()
            .map(|e| e.op.op_id)
            .collect();
        k.store.outbox_acknowledge(&before).unwrap();
        k.product("Soda", 5000);
        k.product("Bread", 6000);
        let pending = k.store.outbox_pending(10).unwrap();
        assert_eq!(pending.len(), 2);
        let (first, second) = (pending[0].op.op_id, pending[1].op.op_id);
        let first_seq = pending[0].op.device_seq;
        k.store.outbox_quarantine(first, "rejected: test").unwrap();

        // A cashier may not; a pending op may not be discarded.
        let err = k
            .store
            .outbox_discard(&actor(Role::Cashier), first)
            .unwrap_err();
        assert!(matches!(err, StoreError::Forbidden { .. }), "{err}");
        let err = k.store.outbox_discard(&k.owner, second).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");

        k.store.outbox_discard(&k.owner, first).unwrap();
        assert!(k.store.outbox_quarantined().unwrap().is_empty());
        let pending: Vec<_> = k
            .store
            .outbox_pending(10)
            .unwrap()
            .into_iter()
            .map(|e| e.op.op_id)
            .collect();
        assert_eq!(pending, vec![second]);
        let stats = k.store.outbox_stats().unwrap();
        assert_eq!((stats.pending, stats.quarantined), (1, 0));
        assert_eq!(k.count("outbox"), 2, "a discarded op is never deleted");
        let discarded = k.store.outbox_discarded().unwrap();
        assert_eq!(discarded.len(), 1);
        assert_eq!(discarded[0].op.op_id, first);

        // Neither retried nor discarded twice.
        assert!(matches!(
            k.store.outbox_retry(&k.owner, first).unwrap_err(),
            StoreError::NotFound { .. }
        ));
        assert!(matches!(
            k.store.outbox_discard(&k.owner, first).unwrap_err(),
            StoreError::Invalid(_)
        ));
        // The Back Office answered it (rejected): it does not hold back the
        // acknowledged sequence.
        assert_eq!(k.store.acknowledged_seq().unwrap(), first_seq);
    }
}
