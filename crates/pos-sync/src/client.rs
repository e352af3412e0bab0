//! The HTTP client of the Back Office sync API (`GET /api/status`,
//! `POST /api/sync`, `GET /api/sync`, `POST /api/sync/full`, `GET /api/customers/{id}/history`), with the wire types of
//! `sync-protocol` as they are.
//!
//! Every failure is one of three kinds ([`ClientError`]): the Back Office
//! could not be reached or the answer was cut off ([`ClientError::Unreachable`]:
//! retry later; whatever was sent may or may not have been applied), it
//! answered with an error body ([`ClientError::Server`]), or it answered
//! something this till cannot read ([`ClientError::Protocol`]).

use std::time::Duration;

use pos_domain::CustomerId;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use sync_protocol::history::CustomerHistory;
use sync_protocol::{
    Cursor, DeviceInfo, ErrorBody, ErrorCode, FullSyncRequest, FullSyncResponse, PullResponse,
    PushRequest, PushResponse, StatusResponse,
};

use crate::credentials::ApiKey;

/// How long connecting may take before the Back Office counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request (a push of 500 ops, a page of changes) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A Back Office, as this till reaches it: its address and this till's key.
#[derive(Debug, Clone)]
pub struct BackOffice {
    /// As entered, normalized, without a trailing slash (for display).
    base_url: String,
    /// With a trailing slash, so `api/…` joins below any path prefix.
    root: Url,
    key: ApiKey,
    http: reqwest::Client,
}

/// Why a request to the Back Office failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error(
        "'{url}' is not a usable Back Office address ({reason}); \
         enter it as https://your-server or http://192.168.1.10:5000"
    )]
    BadUrl { url: String, reason: String },

    #[error(
        "the Back Office at {url} cannot be reached ({detail}); check the internet \
         connection and the Back Office address. Sales go on offline and sync when it is back"
    )]
    Unreachable { url: String, detail: String },

    #[error("the Back Office refused the request: {message}{}", code_hint(.code))]
    Server {
        status: u16,
        code: ErrorCode,
        message: String,
        /// With `sequence_gap`: the device sequence the server expects next.
        expected_seq: Option<u64>,
    },

    #[error(
        "the Back Office sent an answer this till cannot read (HTTP {status}: {detail}); \
         it may run another version: update the app or the Back Office"
    )]
    Protocol { status: u16, detail: String },
}

fn code_hint(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::Unauthorized => {
            "; enter this till's API key from Back Office > Settings > Connected Devices"
        }
        ErrorCode::Forbidden => {
            "; the API key was revoked or belongs to another branch: ask the owner for a new one"
        }
        ErrorCode::Internal | ErrorCode::Unavailable | ErrorCode::RateLimited => {
            "; nothing was lost, it will be retried"
        }
        _ => "",
    }
}

impl ClientError {
    /// Whether the same request may succeed later without anyone acting.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Server { code, .. } => code.is_transient(),
            // A proxy's HTML error page in front of a restarting server.
            ClientError::Protocol { status, .. } => *status >= 500 || *status == 429,
            ClientError::BadUrl { .. } => false,
        }
    }

    /// The error code of a server refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl BackOffice {
    /// A client for the Back Office at `base_url` (http or https, optionally
    /// with a path prefix), authenticating with `key`.
    pub fn new(base_url: &str, key: ApiKey) -> Result<BackOffice, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = base_url.trim();
        let mut root = Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
        if !matches!(root.scheme(), "http" | "https") {
            return Err(bad("it must start with https:// or http://"));
        }
        if root.host_str().is_none_or(str::is_empty) {
            return Err(bad("it has no server name"));
        }
        if !root.username().is_empty() || root.password().is_some() {
            return Err(bad("it must not contain a user name or password"));
        }
        root.set_query(None);
        root.set_fragment(None);
        if !root.path().ends_with('/') {
            let path = format!("{}/", root.path());
            root.set_path(&path);
        }
        let base_url = root.as_str().trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("whiz-pos/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(BackOffice {
            base_url,
            root,
            key,
            http,
        })
    }

    /// The address, normalized, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn url(&self, path: &str) -> Result<Url, ClientError> {
        self.root.join(path).map_err(|e| ClientError::BadUrl {
            url: self.base_url.clone(),
            reason: e.to_string(),
        })
    }

    /// `GET /api/status` (no key needed): version, epoch, server time.
    pub async fn status(&self) -> Result<StatusResponse, ClientError> {
        let req = self.http.get(self.url("api/status")?);
        self.send(req).await
    }

    /// `GET /api/device`: the device and branch this key belongs to.
    pub async fn device(&self) -> Result<DeviceInfo, ClientError> {
        let req = self
            .http
            .get(self.url("api/device")?)
            .bearer_auth(self.key.expose());
        self.send(req).await
    }

    /// `POST /api/sync`: one batch of outbox ops, oldest first.
    pub async fn push(&self, batch: &PushRequest) -> Result<PushResponse, ClientError> {
        let req = self
            .http
            .post(self.url("api/sync")?)
            .bearer_auth(self.key.expose())
            .json(batch);
        self.send(req).await
    }

    /// `POST /api/sync/full`: one step of Full Cloud Synchronization.
    pub async fn full_sync(&self, step: &FullSyncRequest) -> Result<FullSyncResponse, ClientError> {
        let req = self
            .http
            .post(self.url("api/sync/full")?)
            .bearer_auth(self.key.expose())
            .json(step);
        self.send(req).await
    }

    /// `GET /api/customers/{id}/history`: the customer's sales and account
    /// at every branch, read-only (each row marked with whether it is from
    /// this till's branch).
    pub async fn customer_history(&self, id: CustomerId) -> Result<CustomerHistory, ClientError> {
        let req = self
            .http
            .get(self.url(&format!("api/customers/{id}/history"))?)
            .bearer_auth(self.key.expose());
        self.send(req).await
    }

    /// `GET /api/sync?cursor=…&limit=…`: the page of changes after `cursor`
    /// (`None`: from the beginning).
    pub async fn pull(
        &self,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<PullResponse, ClientError> {
        let mut url = self.url("api/sync")?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(c) = cursor {
                q.append_pair("cursor", &c.to_string());
            }
            q.append_pair("limit", &limit.to_string());
        }
        let req = self.http.get(url).bearer_auth(self.key.expose());
        self.send(req).await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            url: self.base_url.clone(),
            detail: describe(&e),
        };
        let mut req = req;
        let mut waits = 0;
        let resp = loop {
            // A 429 is answered before the server does anything, so the same
            // request may go again once the server's Retry-After has passed.
            let again = req.try_clone();
            let resp = req.send().await.map_err(unreachable)?;
            match (again, rate_limit_wait(&resp)) {
                (Some(next), Some(wait)) if waits < RATE_LIMIT_RETRIES => {
                    tracing::debug!(?wait, "rate limited by the Back Office: waiting");
                    tokio::time::sleep(wait).await;
                    waits += 1;
                    req = next;
                }
                _ => break resp,
            }
        };
        let status = resp.status();
        // A body cut off half-way is a dropped connection, not a bad answer.
        let body = resp.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| ClientError::Protocol {
                status: status.as_u16(),
                detail: e.to_string(),
            });
        }
        Err(error_from(status, &body))
    }
}

/// How many times one request waits out a `429 rate_limited` before the
/// error is returned (and the round retried later).
const RATE_LIMIT_RETRIES: u32 = 5;
/// The longest `Retry-After` waited in place; a longer one ends the request.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10);

/// For a 429, how long the server asks to wait (`Retry-After` in seconds,
/// 1 s when absent), if that is short enough to wait in place.
fn rate_limit_wait(resp: &reqwest::Response) -> Option<Duration> {
    if resp.status() != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let secs = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1);
    let wait = Duration::from_secs(secs.max(1));
    (wait <= MAX_RATE_LIMIT_WAIT).then_some(wait)
}

/// The error a non-2xx answer carries.
fn error_from(status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => ClientError::Server {
            status: status.as_u16(),
            code: e.error.code,
            message: e.error.message,
            expected_seq: e.error.expected_seq,
        },
        Err(_) => {
            // Not our error body: say what it was in a line, never dump HTML.
            let detail = match serde_json::from_slice::<Value>(body) {
                Ok(v) => format!("unexpected JSON {}", truncate(&v.to_string())),
                Err(_) => format!(
                    "{} with a non-JSON body",
                    status.canonical_reason().unwrap_or("error")
                ),
            };
            ClientError::Protocol {
                status: status.as_u16(),
                detail,
            }
        }
    }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 120;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A one-line description of a transport error (reqwest's Display hides
/// the cause, which is what a person needs: "connection refused").
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "the connection failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::parse("wz_test").unwrap()
    }

    #[test]
    fn addresses_are_normalized_and_joined_below_their_path() {
        let bo = BackOffice::new(" https://bo.example.co.ke:5000/ ", key()).unwrap();
        assert_eq!(bo.base_url(), "https://bo.example.co.ke:5000");
        assert_eq!(
            bo.url("api/sync").unwrap().as_str(),
            "https://bo.example.co.ke:5000/api/sync"
        );
        let prefixed = BackOffice::new("http://10.0.0.2/whiz?x=1", key()).unwrap();
        assert_eq!(prefixed.base_url(), "http://10.0.0.2/whiz");
        assert_eq!(
            prefixed.url("api/status").unwrap().as_str(),
            "http://10.0.0.2/whiz/api/status"
        );
        for bad in [
            "",
            "bo.example",
            "ftp://bo.example",
            "https://user:pw@bo.example",
        ] {
            assert!(
                matches!(BackOffice::new(bad, key()), Err(ClientError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_bodies_become_typed_errors() {
        let body =
            br#"{"error":{"code":"sequence_gap","message":"expected op 5","expected_seq":5}}"#;
        let e = error_from(StatusCode::CONFLICT, body);
        assert_eq!(
            e,
            ClientError::Server {
                status: 409,
                code: ErrorCode::SequenceGap,
                message: "expected op 5".into(),
                expected_seq: Some(5)
            }
        );
        assert!(!e.is_transient());
        let e = error_from(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":{"code":"internal","message":"db locked"}}"#,
        );
        assert!(e.is_transient());
        assert!(e.to_string().contains("it will be retried"), "{e}");
        let e = error_from(
            StatusCode::UNAUTHORIZED,
            br#"{"error":{"code":"unauthorized","message":"unknown key"}}"#,
        );
        assert!(e.to_string().contains("Connected Devices"), "{e}");
        // A proxy's page in front of a restarting server: unreadable but transient.
        let e = error_from(StatusCode::BAD_GATEWAY, b"<html>502 Bad Gateway</html>");
        assert!(matches!(e, ClientError::Protocol { status: 502, .. }));
        assert!(e.is_transient());
        assert!(!e.to_string().contains("<html>"), "{e}");
        let e = error_from(StatusCode::BAD_REQUEST, br#"{"oops": true}"#);
        assert!(matches!(e, ClientError::Protocol { status: 400, .. }));
        assert!(!e.is_transient());
    }
}
