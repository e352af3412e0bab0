//! Business days in a branch's own time zone.
//!
//! A sale at 01:30 in Nairobi on the 2nd belongs to the 2nd, even though it is
//! 22:30 on the 1st in UTC. Reports group by [`BusinessDay`], never by UTC date.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, TimeZone as _};
use serde::{Deserialize, Serialize};

use crate::{DomainError, Timestamp};

/// An IANA time zone such as `Africa/Nairobi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub const NAIROBI: TimeZone = TimeZone(chrono_tz::Africa::Nairobi);

    pub fn parse(name: &str) -> Result<TimeZone, DomainError> {
        chrono_tz::Tz::from_str(name.trim())
            .map(TimeZone)
            .map_err(|_| DomainError::UnknownTimeZone(name.to_string()))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// An instant as a clock on the wall here shows it: `2026-03-02 14:05`.
    pub fn local_time(&self, t: Timestamp) -> String {
        t.to_datetime()
            .with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// The business day an instant falls on.
    pub fn business_day(&self, t: Timestamp) -> BusinessDay {
        BusinessDay(t.to_datetime().with_timezone(&self.0).date_naive())
    }

    /// The instants `[start, end)` of a business day.
    pub fn day_bounds(&self, day: BusinessDay) -> (Timestamp, Timestamp) {
        let start = self.start_of(day.0);
        let end = self.start_of(day.0.succ_opt().unwrap_or(day.0));
        (start, end)
    }

    fn start_of(&self, date: NaiveDate) -> Timestamp {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        // The earliest instant of the local day; where midnight does not exist
        // (a DST jump) fall back to the first hour that does.
        let local = self
            .0
            .from_local_datetime(&midnight)
            .earliest()
            .or_else(|| {
                self.0
                    .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                    .earliest()
            });
        local
            .map(|dt| Timestamp::from_datetime(dt.to_utc()))
            .unwrap_or(Timestamp::from_millis(0))
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone::NAIROBI
    }
}

impl TryFrom<String> for TimeZone {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TimeZone::parse(&s)
    }
}

impl From<TimeZone> for String {
    fn from(t: TimeZone) -> String {
        t.name().to_string()
    }
}

/// A calendar day in a branch's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BusinessDay(pub NaiveDate);

impl BusinessDay {
    pub fn parse(s: &str) -> Option<BusinessDay> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(BusinessDay)
    }
}

impl fmt::Display for BusinessDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for TimeZone {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TimeZone::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nairobi_days_start_at_21_utc() {
        let tz = TimeZone::parse("Africa/Nairobi").unwrap();
        // 2026-03-01T22:30Z is 01:30 on 2 March in Nairobi.
        let t = Timestamp::from_millis(1_772_404_200_000);
        assert_eq!(tz.business_day(t).to_string(), "2026-03-02");
        let (start, end) = tz.day_bounds(BusinessDay::parse("2026-03-02").unwrap());
        assert_eq!(
            start.to_datetime().to_rfc3339(),
            "2026-03-01T21:00:00+00:00"
        );
        assert_eq!(end.as_millis() - start.as_millis(), 86_400_000);
        assert!(TimeZone::parse("Mars/Olympus").is_err());
    }
}
