//! Pure decisions, no IO: what to do with the outbox after the Back Office
//! answered a push, what a `sequence_gap` means, and how long to wait before
//! trying again. The engine ([`crate::engine`]) only carries these out.
//!
//! The rules (see `docs/sync-protocol.md`, "Client behaviour"):
//!
//! - An op leaves the outbox only on an explicit `applied` or `duplicate`
//!   for its op id **and** device sequence. `rejected` quarantines it with
//!   the server's reason. An op the answer does not mention stays queued and
//!   is sent again (the server answers a replay `duplicate`).
//! - A `sequence_gap` is never a reason to delete anything.
//! - While the Back Office is failing, retries back off exponentially with
//!   full jitter, capped, and start over after a success.

use std::collections::HashMap;
use std::time::Duration;

use pos_domain::OpId;
use sync_protocol::{OpEnvelope, OpOutcome, PushResponse};

/// What to do with the ops of one push, given the server's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushPlan {
    /// Applied or duplicate: remove from the outbox.
    pub acknowledge: Vec<OpId>,
    /// Rejected for good: set aside with the server's reason.
    pub quarantine: Vec<(OpId, String)>,
    /// Not answered (or answered inconsistently): keep and send again.
    pub keep: Vec<OpId>,
    /// Answers that did not match what was sent, for the log and the error.
    pub anomalies: Vec<String>,
}

impl PushPlan {
    /// Whether the push moved anything out of the way.
    pub fn made_progress(&self) -> bool {
        !self.acknowledge.is_empty() || !self.quarantine.is_empty()
    }
}

/// Decides the fate of each op `sent` from the server's `response`.
///
/// Results are matched by op id; a result whose device sequence differs
/// from the op's, a second (contradicting) result for the same op, or a
/// result for an op that was not sent is an anomaly and acknowledges
/// nothing: the op stays queued.
pub fn plan_push(sent: &[OpEnvelope], response: &PushResponse) -> PushPlan {
    let mut plan = PushPlan::default();
    let seq_of: HashMap<OpId, u64> = sent.iter().map(|o| (o.op_id, o.device_seq)).collect();
    let mut answers: HashMap<OpId, Option<&OpOutcome>> = HashMap::new();
    for result in &response.results {
        match seq_of.get(&result.op_id) {
            None => plan.anomalies.push(format!(
                "the Back Office answered for op {} (#{}), which was not sent",
                result.op_id, result.device_seq
            )),
            Some(&seq) if seq != result.device_seq => {
                plan.anomalies.push(format!(
                    "the Back Office answered op {} as #{}, but it is #{seq}",
                    result.op_id, result.device_seq
                ));
                answers.insert(result.op_id, None);
            }
            Some(_) => match answers.get(&result.op_id) {
                None => {
                    answers.insert(result.op_id, Some(&result.outcome));
                }
                Some(Some(first)) if *first == &result.outcome => {}
                Some(_) => {
                    plan.anomalies.push(format!(
                        "the Back Office answered op {} twice, differently",
                        result.op_id
                    ));
                    answers.insert(result.op_id, None);
                }
            },
        }
    }
    for op in sent {
        match answers.get(&op.op_id) {
            Some(Some(OpOutcome::Applied | OpOutcome::Duplicate)) => {
                plan.acknowledge.push(op.op_id)
            }
            Some(Some(OpOutcome::Rejected { code, reason })) => plan
                .quarantine
                .push((op.op_id, format!("{reason} ({})", reject_code_name(*code)))),
            Some(None) | None => plan.keep.push(op.op_id),
        }
    }
    plan
}

fn reject_code_name(code: sync_protocol::RejectCode) -> &'static str {
    match code {
        sync_protocol::RejectCode::Invalid => "invalid",
        sync_protocol::RejectCode::WrongBranch => "wrong branch",
        sync_protocol::RejectCode::UnknownReference => "unknown reference",
    }
}

/// What a `409 sequence_gap` answer to a push means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapVerdict {
    /// The server expects an op this till no longer has: it had acknowledged
    /// ops `expected..first_sent` and has lost them (restored from a backup).
    /// Nothing is deleted; the manager is told (Full Cloud Synchronization
    /// sends this till's records again).
    ServerLostOps { expected: u64, first_sent: u64 },
    /// The server says it already has ops past the first one sent, yet
    /// refused the batch instead of answering them `duplicate`: a server
    /// that breaks the protocol. Nothing is deleted.
    ServerAhead { expected: u64, first_sent: u64 },
    /// The server did not say which op it expects.
    Unexplained { first_sent: u64 },
}

/// Reads a `sequence_gap` answer: `expected` is the server's `expected_seq`,
/// `first_sent` the device sequence of the first op of the refused batch.
pub fn judge_gap(expected: Option<u64>, first_sent: u64) -> GapVerdict {
    match expected {
        Some(expected) if expected < first_sent => GapVerdict::ServerLostOps {
            expected,
            first_sent,
        },
        Some(expected) => GapVerdict::ServerAhead {
            expected,
            first_sent,
        },
        None => GapVerdict::Unexplained { first_sent },
    }
}

/// Retry delays while the Back Office is failing: exponential with full
/// jitter (each delay is random between `floor` and the current ceiling),
/// the ceiling doubling from `base` per consecutive failure up to `cap`.
/// A success resets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    floor: Duration,
    failures: u32,
}

impl Backoff {
    /// The desktop's schedule: 5 s, 10 s, 20 s, 40 s, then 60 s at most, each
    /// jittered down to 1 s.
    pub const DEFAULT_BASE: Duration = Duration::from_secs(5);
    pub const DEFAULT_CAP: Duration = Duration::from_secs(60);
    pub const DEFAULT_FLOOR: Duration = Duration::from_secs(1);

    pub fn new(base: Duration, cap: Duration, floor: Duration) -> Backoff {
        let cap = cap.max(floor);
        Backoff {
            base: base.max(Duration::from_millis(1)),
            cap,
            floor: floor.min(cap),
            failures: 0,
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The most the next delay can be: `base · 2^failures`, capped.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .unwrap_or(self.cap)
            .min(self.cap)
            .max(self.floor)
    }

    /// Records a failure and returns how long to wait: `random` (any u64,
    /// e.g. from a RNG) picks a point between the floor and the ceiling.
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let floor_ms = self.floor.as_millis() as u64;
        let span = (ceiling.as_millis() as u64).saturating_sub(floor_ms);
        Duration::from_millis(floor_ms + random % (span + 1))
    }

    /// A success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(
            Backoff::DEFAULT_BASE,
            Backoff::DEFAULT_CAP,
            Backoff::DEFAULT_FLOOR,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pos_domain::{Hlc, Timestamp};
    use sync_protocol::{OpBody, OpResult, RejectCode, SettingsPatch};

    fn op(seq: u64) -> OpEnvelope {
        OpEnvelope {
            op_id: OpId::new(),
            device_seq: seq,
            hlc: Hlc::new(1, 0, 1),
            created_at: Timestamp::from_millis(0),
            body: OpBody::SettingsChanged(SettingsPatch::default()),
        }
    }

    fn result(op: &OpEnvelope, outcome: OpOutcome) -> OpResult {
        OpResult {
            op_id: op.op_id,
            device_seq: op.device_seq,
            outcome,
        }
    }

    fn answer(results: Vec<OpResult>) -> PushResponse {
        PushResponse {
            results,
            server_time: Timestamp::from_millis(0),
        }
    }

    fn rejected(reason: &str) -> OpOutcome {
        OpOutcome::Rejected {
            code: RejectCode::Invalid,
            reason: reason.into(),
        }
    }

    #[test]
    fn applied_and_duplicate_are_acknowledged_rejected_is_quarantined() {
        let ops: Vec<_> = (1..=3).map(op).collect();
        let plan = plan_push(
            &ops,
            &answer(vec![
                result(&ops[0], OpOutcome::Applied),
                result(&ops[1], rejected("price below zero")),
                result(&ops[2], OpOutcome::Duplicate),
            ]),
        );
        assert_eq!(plan.acknowledge, vec![ops[0].op_id, ops[2].op_id]);
        assert_eq!(
            plan.quarantine,
            vec![(ops[1].op_id, "price below zero (invalid)".to_string())]
        );
        assert!(plan.keep.is_empty() && plan.anomalies.is_empty());
        assert!(plan.made_progress());
    }

    #[test]
    fn ops_without_an_answer_are_kept() {
        let ops: Vec<_> = (1..=3).map(op).collect();
        let plan = plan_push(&ops, &answer(vec![result(&ops[0], OpOutcome::Applied)]));
        assert_eq!(plan.acknowledge, vec![ops[0].op_id]);
        assert_eq!(plan.keep, vec![ops[1].op_id, ops[2].op_id]);
        let none = plan_push(&ops, &answer(vec![]));
        assert_eq!(none.keep.len(), 3);
        assert!(!none.made_progress());
    }

    #[test]
    fn answers_in_another_order_still_match_by_op_id() {
        let ops: Vec<_> = (1..=2).map(op).collect();
        let plan = plan_push(
            &ops,
            &answer(vec![
                result(&ops[1], OpOutcome::Applied),
                result(&ops[0], OpOutcome::Applied),
            ]),
        );
        assert_eq!(plan.acknowledge, vec![ops[0].op_id, ops[1].op_id]);
    }

    #[test]
    fn inconsistent_answers_acknowledge_nothing() {
        let ops: Vec<_> = (1..=3).map(op).collect();
        let stranger = op(99);
        let mut wrong_seq = result(&ops[0], OpOutcome::Applied);
        wrong_seq.device_seq = 7;
        let plan = plan_push(
            &ops,
            &answer(vec![
                wrong_seq,
                result(&ops[1], OpOutcome::Applied),
                result(&ops[1], rejected("no")),
                result(&stranger, OpOutcome::Applied),
                result(&ops[2], OpOutcome::Duplicate),
                result(&ops[2], OpOutcome::Duplicate),
            ]),
        );
        // A repeated identical answer is fine; the rest is kept and reported.
        assert_eq!(plan.acknowledge, vec![ops[2].op_id]);
        assert_eq!(plan.keep, vec![ops[0].op_id, ops[1].op_id]);
        assert_eq!(plan.anomalies.len(), 3, "{:?}", plan.anomalies);
        assert!(plan.quarantine.is_empty());
    }

    #[test]
    fn a_gap_before_our_first_op_means_the_server_lost_ops() {
        assert_eq!(
            judge_gap(Some(5), 9),
            GapVerdict::ServerLostOps {
                expected: 5,
                first_sent: 9
            }
        );
        assert_eq!(
            judge_gap(Some(12), 9),
            GapVerdict::ServerAhead {
                expected: 12,
                first_sent: 9
            }
        );
        assert_eq!(
            judge_gap(None, 9),
            GapVerdict::Unexplained { first_sent: 9 }
        );
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn backoff_ceilings_double_up_to_the_cap() {
        let mut b = Backoff::default();
        let mut ceilings = Vec::new();
        for _ in 0..8 {
            ceilings.push(b.ceiling().as_secs());
            b.next_delay(0);
        }
        assert_eq!(ceilings, [5, 10, 20, 40, 60, 60, 60, 60]);
        assert_eq!(b.failures(), 8);
        // Very many failures neither overflow nor pass the cap.
        for _ in 0..100 {
            assert!(b.next_delay(u64::MAX) <= secs(60));
        }
        b.reset();
        assert_eq!((b.failures(), b.ceiling()), (0, secs(5)));
    }

    #[test]
    fn backoff_delays_are_jittered_between_the_floor_and_the_ceiling() {
        let mut b = Backoff::default();
        // The random input picks the point; the extremes are reachable.
        assert_eq!(b.clone().next_delay(0), secs(1));
        assert_eq!(b.clone().next_delay(4_000), secs(5));
        assert_eq!(b.clone().next_delay(4_001), secs(1));
        let mut seen = std::collections::HashSet::new();
        for r in 0..50u64 {
            let mut fresh = Backoff::default();
            for _ in 0..6 {
                fresh.next_delay(r.wrapping_mul(7919));
            }
            let d = fresh.next_delay(r.wrapping_mul(104_729));
            assert!(d >= secs(1) && d <= secs(60), "{d:?}");
            seen.insert(d);
        }
        assert!(seen.len() > 10, "delays are spread out: {seen:?}");
        assert!(b.next_delay(u64::MAX) <= secs(5));
    }

    #[test]
    fn odd_backoff_settings_stay_sane() {
        let mut b = Backoff::new(Duration::ZERO, secs(2), secs(5));
        let d = b.next_delay(123);
        assert!(d <= secs(5), "{d:?}");
        let mut tiny = Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(80),
            Duration::ZERO,
        );
        let ceilings: Vec<u128> = (0..5)
            .map(|_| {
                let c = tiny.ceiling().as_millis();
                tiny.next_delay(0);
                c
            })
            .collect();
        assert_eq!(ceilings, [10, 20, 40, 80, 80]);
    }
}
