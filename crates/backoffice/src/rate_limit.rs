//! Per-key rate limiting: a token bucket for each API key.
//!
//! Every request that carries a bearer key takes one token from that key's
//! bucket (keyed by the key's SHA-256, the same hash the server stores, so the
//! key itself is never kept). A bucket holds at most `burst` tokens and
//! refills at `per_second`; an empty bucket answers 429 `rate_limited` with a
//! `Retry-After` header (whole seconds). The limit runs before the key is
//! looked up, so a flood with a wrong key costs no database work either.
//!
//! Requests without a key are not counted: they are answered 401 without
//! touching the database, except `GET /api/status`, which is exempt (one
//! indexed read; a public server should sit behind a proxy that limits per
//! client address).
//!
//! Time comes from the server's [`pos_domain::Clock`], so tests drive it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pos_domain::Timestamp;
use sync_protocol::ErrorCode;

use crate::devices::hash_key;
use crate::error::ApiError;
use crate::state::AppState;

/// How fast one key may call the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second (refill rate); at least 1.
    pub per_second: u32,
    /// Requests that may come at once after a quiet spell (bucket size); at
    /// least 1.
    pub burst: u32,
}

impl Default for RateLimit {
    /// 20 requests a second, bursts of 40: a till's round is 2–4 requests
    /// every 10 s, so only a runaway client meets it.
    fn default() -> RateLimit {
        RateLimit {
            per_second: 20,
            burst: 40,
        }
    }
}

/// Above this many buckets, full ones (idle keys) are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// One token is this many milli-tokens: integer arithmetic, no drift.
const TOKEN: u64 = 1_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli_tokens: u64,
    last: Timestamp,
}

/// The buckets of every key seen, behind one mutex (held for a few
/// instructions per request).
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit: RateLimit {
                per_second: limit.per_second.max(1),
                burst: limit.burst.max(1),
            },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn capacity(&self) -> u64 {
        u64::from(self.limit.burst) * TOKEN
    }

    /// Takes a token for `key` at `now`: `Ok` to go on, or `Err(seconds)`
    /// until the next token.
    pub fn take(&self, key: &str, now: Timestamp) -> Result<(), u64> {
        let capacity = self.capacity();
        // One milli-token per millisecond per request-per-second.
        let rate = u64::from(self.limit.per_second);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| refilled(b, now, rate, capacity) < capacity);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            milli_tokens: capacity,
            last: now,
        });
        bucket.milli_tokens = refilled(bucket, now, rate, capacity);
        // A clock that went back does not refill twice.
        bucket.last = Timestamp::from_millis(bucket.last.as_millis().max(now.as_millis()));
        if bucket.milli_tokens >= TOKEN {
            bucket.milli_tokens -= TOKEN;
            Ok(())
        } else {
            let missing_ms = (TOKEN - bucket.milli_tokens).div_ceil(rate);
            Err(missing_ms.div_ceil(1_000).max(1))
        }
    }
}

/// The bucket's milli-tokens at `now`, capped at `capacity`.
fn refilled(b: &Bucket, now: Timestamp, rate: u64, capacity: u64) -> u64 {
    let elapsed = now.as_millis().saturating_sub(b.last.as_millis()).max(0) as u64;
    b.milli_tokens
        .saturating_add(elapsed.saturating_mul(rate))
        .min(capacity)
}

/// The middleware's state: the server's (for its clock) and the buckets,
/// or none when the configuration turns limiting off.
#[derive(Debug, Clone)]
pub struct Limits {
    state: AppState,
    limiter: Option<Arc<RateLimiter>>,
}

impl Limits {
    /// Buckets for the limit configured in `state`.
    pub fn new(state: &AppState) -> Limits {
        Limits {
            state: state.clone(),
            limiter: state
                .config()
                .rate_limit
                .map(|l| Arc::new(RateLimiter::new(l))),
        }
    }
}

/// The middleware: counts requests that carry a bearer key.
pub async fn limit(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let Some(limiter) = &limits.limiter else {
        return next.run(req).await;
    };
    let key = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        return next.run(req).await;
    };
    match limiter.take(&hash_key(key), limits.state.now()) {
        Ok(()) => next.run(req).await,
        Err(seconds) => too_many(limiter.limit, seconds),
    }
}

fn too_many(limit: RateLimit, seconds: u64) -> Response {
    let mut res = ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "this API key sent more than {} requests a second (bursts of {}); wait {seconds} s (Retry-After) and retry more slowly",
            limit.per_second, limit.burst
        ),
    )
    .into_response();
    res.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2,
            burst: 3,
        });
        let t = |ms: i64| Timestamp::from_millis(1_000_000 + ms);
        for _ in 0..3 {
            assert_eq!(limiter.take("a", t(0)), Ok(()));
        }
        assert_eq!(limiter.take("a", t(0)), Err(1));
        // Another key has its own bucket.
        assert_eq!(limiter.take("b", t(0)), Ok(()));
        // Half a second buys one token at 2/s.
        assert_eq!(limiter.take("a", t(499)), Err(1));
        assert_eq!(limiter.take("a", t(500)), Ok(()));
        assert_eq!(limiter.take("a", t(500)), Err(1));
        // A long pause refills to the burst, not beyond.
        for _ in 0..3 {
            assert_eq!(limiter.take("a", t(60_000)), Ok(()));
        }
        assert!(limiter.take("a", t(60_000)).is_err());
        // A clock that steps back neither refills nor panics.
        assert!(limiter.take("a", t(0)).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 1,
        });
        let now = Timestamp::from_millis(5_000);
        assert_eq!(limiter.take("k", now), Ok(()));
        assert_eq!(limiter.take("k", now), Err(1));
        let slow = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 1,
        });
        assert_eq!(slow.take("k", now), Ok(()));
        assert_eq!(
            slow.take("k", Timestamp::from_millis(5_100)),
            Err(1),
            "0.9 s rounds up to 1"
        );
    }
}
