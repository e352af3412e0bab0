//! Hybrid logical clocks: the order of edits to shared records across devices.
//!
//! An [`Hlc`] is (wall-clock milliseconds, counter, node). A device's
//! [`HlcClock`] never goes backwards, even when the wall clock does, and moves
//! past every clock it observes, so an edit made after seeing another edit
//! always orders after it. Ties between devices break on the node id. The text
//! form is fixed-width hex, so comparing strings (e.g. in SQL) orders them the
//! same way as comparing values.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{DeviceId, DomainError, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hlc {
    wall_ms: u64,
    counter: u32,
    node: u64,
}

impl Hlc {
    pub const ZERO: Hlc = Hlc {
        wall_ms: 0,
        counter: 0,
        node: 0,
    };

    pub fn new(wall_ms: u64, counter: u32, node: u64) -> Hlc {
        Hlc {
            wall_ms,
            counter,
            node,
        }
    }

    pub fn wall_ms(&self) -> u64 {
        self.wall_ms
    }

    pub fn counter(&self) -> u32 {
        self.counter
    }

    pub fn node(&self) -> u64 {
        self.node
    }

    /// The node id of a device: the low 64 bits of its UUID.
    pub fn node_of(device: DeviceId) -> u64 {
        device.as_uuid().as_u64_pair().1
    }

    /// Clamps a clock that runs more than `max_ahead_ms` ahead of `now`:
    /// returns the clock to use and how far ahead the original was.
    /// (The server uses this so a till whose clock says 2030 cannot win every
    /// edit for years.)
    pub fn clamp(self, now: Timestamp, max_ahead_ms: u64) -> (Hlc, u64) {
        let now_ms = now.as_millis().max(0) as u64;
        let limit = now_ms.saturating_add(max_ahead_ms);
        if self.wall_ms > limit {
            (
                Hlc {
                    wall_ms: limit,
                    ..self
                },
                self.wall_ms - now_ms,
            )
        } else {
            (self, 0)
        }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:013x}-{:08x}-{:016x}",
            self.wall_ms, self.counter, self.node
        )
    }
}

impl FromStr for Hlc {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DomainError::BadHlc(s.to_string());
        let mut parts = s.split('-');
        let (Some(w), Some(c), Some(n), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if w.len() != 13 || c.len() != 8 || n.len() != 16 {
            return Err(bad());
        }
        Ok(Hlc {
            wall_ms: u64::from_str_radix(w, 16).map_err(|_| bad())?,
            counter: u32::from_str_radix(c, 16).map_err(|_| bad())?,
            node: u64::from_str_radix(n, 16).map_err(|_| bad())?,
        })
    }
}

impl TryFrom<String> for Hlc {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Hlc> for String {
    fn from(h: Hlc) -> String {
        h.to_string()
    }
}

/// One device's clock. Persist [`HlcClock::last`] and restore it with
/// [`HlcClock::resume`] so the clock never repeats across restarts.
#[derive(Debug, Clone)]
pub struct HlcClock {
    node: u64,
    last: Hlc,
}

impl HlcClock {
    pub fn resume(node: u64, last: Hlc) -> HlcClock {
        HlcClock { node, last }
    }

    pub fn last(&self) -> Hlc {
        self.last
    }

    /// A new timestamp for a local event at wall time `now`.
    pub fn tick(&mut self, now: Timestamp) -> Hlc {
        let now_ms = now.as_millis().max(0) as u64;
        let next = if now_ms > self.last.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
                node: self.node,
            }
        } else {
            Hlc {
                wall_ms: self.last.wall_ms,
                counter: self.last.counter.saturating_add(1),
                node: self.node,
            }
        };
        self.last = next;
        next
    }

    /// Moves past a clock seen on another device's record.
    pub fn observe(&mut self, remote: Hlc, now: Timestamp) -> Hlc {
        let now_ms = now.as_millis().max(0) as u64;
        let wall = now_ms.max(self.last.wall_ms).max(remote.wall_ms);
        let counter = if wall == self.last.wall_ms && wall == remote.wall_ms {
            self.last.counter.max(remote.counter).saturating_add(1)
        } else if wall == self.last.wall_ms {
            self.last.counter.saturating_add(1)
        } else if wall == remote.wall_ms {
            remote.counter.saturating_add(1)
        } else {
            0
        };
        self.last = Hlc {
            wall_ms: wall,
            counter,
            node: self.node,
        };
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_form_round_trips_and_sorts() {
        let a = Hlc::new(1_700_000_000_000, 3, 42);
        let b = Hlc::new(1_700_000_000_000, 10, 1);
        assert_eq!(a.to_string().parse::<Hlc>().unwrap(), a);
        assert!(a < b && a.to_string() < b.to_string());
        assert!("garbage".parse::<Hlc>().is_err());
        assert!(
            "0000000000000-00000000-zzzzzzzzzzzzzzzz"
                .parse::<Hlc>()
                .is_err()
        );
    }

    #[test]
    fn never_goes_backwards_when_the_wall_clock_does() {
        let mut c = HlcClock::resume(1, Hlc::ZERO);
        let a = c.tick(Timestamp::from_millis(10_000));
        let b = c.tick(Timestamp::from_millis(5_000));
        assert!(b > a);
        assert_eq!(b.wall_ms(), 10_000);
    }

    #[test]
    fn future_clocks_are_clamped() {
        let now = Timestamp::from_millis(1_000_000);
        let far = Hlc::new(1_000_000 + 3_600_000, 0, 7);
        let (clamped, skew) = far.clamp(now, 300_000);
        assert_eq!(clamped.wall_ms(), 1_300_000);
        assert_eq!(skew, 3_600_000);
        assert_eq!(Hlc::new(1_000_100, 0, 7).clamp(now, 300_000).1, 0);
    }

    proptest! {
        #[test]
        fn events_after_observing_order_after(
            events in prop::collection::vec((any::<bool>(), 0u64..1_000_000, 0u64..1_000_000, 0u32..5), 1..50)
        ) {
            let mut c = HlcClock::resume(9, Hlc::ZERO);
            let mut prev = Hlc::ZERO;
            for (remote, now, rwall, rcount) in events {
                let now = Timestamp::from_millis(now as i64);
                let next = if remote {
                    let r = Hlc::new(rwall, rcount, 3);
                    let n = c.observe(r, now);
                    prop_assert!(n > r);
                    n
                } else {
                    c.tick(now)
                };
                prop_assert!(next > prev);
                prev = next;
            }
        }
    }
}
