//! A protocol test double of the Back Office: just enough of
//! `docs/sync-protocol.md` (status, push answering per op, pull pages,
//! `sequence_gap`, `epoch_changed`, errors, a dropped connection) to drive the
//! engine end to end over real HTTP on 127.0.0.1. It is not the product: the
//! real `whiz-backoffice` is tested against the engine separately.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pos_domain::{OpId, Timestamp};
use sync_protocol::{
    BranchState, ChangeBody, Cursor, DeviceInfo, DeviceKind, Epoch, ErrorBody, ErrorCode,
    ErrorDetail, OpBody, OpEnvelope, OpOutcome, OpResult, PROTOCOL_VERSION, PullQuery,
    PullResponse, PushRequest, PushResponse, RejectCode, StatusResponse,
};

pub const KEY: &str = "wz_test_key_1";
/// What the double's clock says (the till's test clock runs 3 s ahead).
pub const SERVER_TIME: Timestamp = Timestamp::from_millis(1_772_431_197_000);

/// A failure to inject into the next push or pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally (to let earlier requests through before a fault).
    Pass,
    /// 500 with an `internal` error body; nothing applied.
    Internal,
    /// Apply the push, then cut the answer off half-way (a dropped connection).
    DropAfterApplying,
    /// 409 `sequence_gap` expecting this sequence; nothing applied.
    Gap(u64),
    /// 429 `rate_limited` with `Retry-After` of this many seconds; nothing
    /// applied.
    RateLimited(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Push,
    Pull,
}

#[derive(Debug, Default)]
pub struct Counts {
    pub status: AtomicUsize,
    pub push: AtomicUsize,
    pub pull: AtomicUsize,
}

impl Counts {
    pub fn get(&self) -> (usize, usize, usize) {
        (
            self.status.load(Ordering::SeqCst),
            self.push.load(Ordering::SeqCst),
            self.pull.load(Ordering::SeqCst),
        )
    }
}

#[derive(Debug)]
struct Books {
    epoch: Epoch,
    /// Every op answered, by id: the answer a replay gets again.
    answered: HashMap<OpId, OpOutcome>,
    /// Ops applied, in the order they were applied.
    applied: Vec<OpEnvelope>,
    /// The device sequence expected next.
    expected_seq: u64,
    feed: Vec<ChangeBody>,
    /// The `cursor` of every pull, as sent.
    pull_cursors: Vec<Option<String>>,
    faults: VecDeque<(Route, Fault)>,
    push_delay: Duration,
    /// Who the test key belongs to (`GET /api/device`).
    device: DeviceInfo,
}

#[derive(Debug)]
pub struct Double {
    books: Mutex<Books>,
    pub counts: Counts,
}

pub struct Running {
    pub double: Arc<Double>,
    pub url: String,
}

impl Double {
    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap()
    }

    pub fn fail_next(&self, route: Route, fault: Fault) {
        self.books().faults.push_back((route, fault));
    }

    pub fn set_push_delay(&self, d: Duration) {
        self.books().push_delay = d;
    }

    pub fn add_changes(&self, changes: impl IntoIterator<Item = ChangeBody>) {
        self.books().feed.extend(changes);
    }

    /// The server is restored from a backup: a new epoch and another feed.
    pub fn restore(&self, feed: Vec<ChangeBody>) -> Epoch {
        let mut b = self.books();
        b.epoch = Epoch(uuid::Uuid::now_v7());
        b.feed = feed;
        b.epoch
    }

    pub fn epoch(&self) -> Epoch {
        self.books().epoch
    }

    pub fn applied(&self) -> Vec<OpEnvelope> {
        self.books().applied.clone()
    }

    pub fn pull_cursors(&self) -> Vec<Option<String>> {
        self.books().pull_cursors.clone()
    }

    fn take_fault(&self, route: Route) -> Option<Fault> {
        let mut b = self.books();
        let i = b.faults.iter().position(|(r, _)| *r == route)?;
        b.faults.remove(i).map(|(_, f)| f)
    }
}

/// Starts the double on `addr` (127.0.0.1:0 for any free port).
pub async fn start_on(addr: SocketAddr) -> Running {
    let double = Arc::new(Double {
        books: Mutex::new(Books {
            epoch: Epoch(uuid::Uuid::now_v7()),
            answered: HashMap::new(),
            applied: Vec::new(),
            expected_seq: 1,
            feed: Vec::new(),
            pull_cursors: Vec::new(),
            faults: VecDeque::new(),
            push_delay: Duration::ZERO,
            device: DeviceInfo {
                device_id: pos_domain::DeviceId::new(),
                device_code: "T1".into(),
                device_name: "Till 1".into(),
                kind: DeviceKind::Desktop,
                branch: BranchState {
                    id: pos_domain::BranchId::new(),
                    code: "MAIN".into(),
                    name: "Main".into(),
                    time_zone: pos_domain::TimeZone::NAIROBI,
                    hlc: pos_domain::Hlc::ZERO,
                    deleted_at: None,
                },
                acknowledged_seq: 0,
            },
        }),
        counts: Counts::default(),
    });
    let app = Router::new()
        .route("/api/status", get(status))
        .route("/api/device", get(device))
        .route("/api/sync", get(pull).post(push))
        .with_state(double.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Running { double, url }
}

pub async fn start() -> Running {
    start_on(([127, 0, 0, 1], 0).into()).await
}

fn error(code: ErrorCode, message: &str, expected_seq: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap();
    let body = ErrorBody {
        error: ErrorDetail {
            code,
            message: message.into(),
            expected_seq,
        },
    };
    (status, Json(body)).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {KEY}"))
}

async fn device(State(d): State<Arc<Double>>, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return error(ErrorCode::Unauthorized, "unknown key", None);
    }
    let books = d.books();
    let mut info = books.device.clone();
    info.acknowledged_seq = books.expected_seq - 1;
    Json(info).into_response()
}

async fn status(State(d): State<Arc<Double>>) -> Json<StatusResponse> {
    d.counts.status.fetch_add(1, Ordering::SeqCst);
    Json(StatusResponse {
        service: "test-double".into(),
        version: "0.0.0-double".into(),
        protocol: PROTOCOL_VERSION,
        epoch: d.epoch(),
        server_time: SERVER_TIME,
        max_clock_ahead_ms: 300_000,
    })
}

/// Applies a push like the real server must: a batch may start at or
/// before the next expected sequence (replays answer `duplicate`), never
/// after it; a product named "REJECT…" is rejected for good.
async fn push(
    State(d): State<Arc<Double>>,
    headers: HeaderMap,
    Json(req): Json<PushRequest>,
) -> Response {
    d.counts.push.fetch_add(1, Ordering::SeqCst);
    if !authorized(&headers) {
        return error(ErrorCode::Unauthorized, "unknown API key", None);
    }
    let delay = d.books().push_delay;
    tokio::time::sleep(delay).await;
    let fault = d.take_fault(Route::Push);
    match fault {
        Some(Fault::Internal) => return error(ErrorCode::Internal, "database is locked", None),
        Some(Fault::RateLimited(secs)) => {
            let mut answer = error(ErrorCode::RateLimited, "slow down", None);
            answer
                .headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
            return answer;
        }
        Some(Fault::Gap(expected)) => {
            return error(
                ErrorCode::SequenceGap,
                &format!("expected op {expected}"),
                Some(expected),
            );
        }
        _ => {}
    }
    let mut b = d.books();
    if let Some(first) = req.ops.first()
        && first.device_seq > b.expected_seq
    {
        let expected = b.expected_seq;
        return error(
            ErrorCode::SequenceGap,
            &format!("expected op {expected}"),
            Some(expected),
        );
    }
    let mut results = Vec::new();
    for op in req.ops {
        let outcome = if let Some(known) = b.answered.get(&op.op_id) {
            match known {
                OpOutcome::Applied => OpOutcome::Duplicate,
                other => other.clone(),
            }
        } else {
            let outcome = match &op.body {
                OpBody::ProductChanged(p)
                    if p.name
                        .as_ref()
                        .is_some_and(|n| n.as_str().starts_with("REJECT")) =>
                {
                    OpOutcome::Rejected {
                        code: RejectCode::Invalid,
                        reason: "product names may not start with REJECT".into(),
                    }
                }
                _ => OpOutcome::Applied,
            };
            b.answered.insert(op.op_id, outcome.clone());
            if outcome == OpOutcome::Applied {
                if let OpBody::SaleRecorded(s) = &op.body {
                    b.feed.push(ChangeBody::Sale(s.clone()));
                }
                b.applied.push(op.clone());
            }
            b.expected_seq = b.expected_seq.max(op.device_seq + 1);
            outcome
        };
        results.push(OpResult {
            op_id: op.op_id,
            device_seq: op.device_seq,
            outcome,
        });
    }
    drop(b);
    let answer = PushResponse {
        results,
        server_time: SERVER_TIME,
    };
    if fault == Some(Fault::DropAfterApplying) {
        // Headers go out, then the connection dies in the middle of the body.
        let json = serde_json::to_vec(&answer).unwrap();
        let half = Bytes::copy_from_slice(&json[..json.len() / 2]);
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            vec![Ok(half), Err(std::io::Error::other("connection reset"))];
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap();
    }
    Json(answer).into_response()
}

async fn pull(
    State(d): State<Arc<Double>>,
    headers: HeaderMap,
    Query(q): Query<PullQuery>,
) -> Response {
    d.counts.pull.fetch_add(1, Ordering::SeqCst);
    if !authorized(&headers) {
        return error(ErrorCode::Unauthorized, "unknown API key", None);
    }
    d.books().pull_cursors.push(q.cursor.map(|c| c.to_string()));
    if d.take_fault(Route::Pull) == Some(Fault::Internal) {
        return error(ErrorCode::Internal, "database is locked", None);
    }
    let b = d.books();
    let from = match q.cursor {
        Some(c) if c.epoch != b.epoch => {
            return error(
                ErrorCode::EpochChanged,
                "this cursor is from before a restore: bootstrap again",
                None,
            );
        }
        Some(c) => c.seq as usize,
        None => 0,
    };
    let limit = q.limit.unwrap_or(100) as usize;
    let to = (from + limit).min(b.feed.len()).max(from);
    let changes = b.feed[from.min(b.feed.len())..to]
        .iter()
        .enumerate()
        .map(|(i, body)| sync_protocol::Change {
            seq: (from + i + 1) as u64,
            body: body.clone(),
        })
        .collect();
    Json(PullResponse {
        epoch: b.epoch,
        changes,
        next_cursor: Cursor {
            epoch: b.epoch,
            seq: to as u64,
        },
        has_more: to < b.feed.len(),
    })
    .into_response()
}
