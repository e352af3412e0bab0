//! Driving the real desktop app (`whiz-pos`, Tauri v2 on WebKitGTK) from
//! Rust: `tauri-driver` + WebKitWebDriver through `fantoccini`, bounded waits
//! on the UI's `data-testid` hooks, and the process-tree bookkeeping (kill,
//! memory) the end-to-end test and the desktop benchmark share.
//!
//! Everything here needs a display (run under `xvfb-run`) and a D-Bus session
//! (`dbus-run-session`): see `scripts/desktop-e2e.sh` and
//! `scripts/bench-desktop.sh`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// The WebDriver key code for Enter (what a barcode scanner sends last).
pub const ENTER: &str = "\u{E007}";

/// The workspace root (the parent of `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// The app binary of `profile` (`debug` or `release`); `WHIZ_POS_BIN`
/// overrides it.
pub fn app_binary(profile: &str) -> PathBuf {
    if let Some(bin) = std::env::var_os("WHIZ_POS_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    target_dir().join(profile).join("whiz-pos")
}

/// `tauri-driver`: `TAURI_DRIVER`, else on `PATH`, else `~/.cargo/bin`.
pub fn tauri_driver_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("TAURI_DRIVER").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let bin = dir.join("tauri-driver");
            if bin.is_file() {
                return bin;
            }
        }
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cargo/bin/tauri-driver")
}

/// A port on 127.0.0.1 that nobody listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// How long one UI wait may take: `WHIZ_E2E_TIMEOUT_SECS`, default 15 s
/// (a debug build under Xvfb on two cores).
pub fn ui_timeout() -> Duration {
    let secs = std::env::var("WHIZ_E2E_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    Duration::from_secs(secs)
}

// ---------------------------------------------------------------------------
// Processes

/// Every process whose parent chain reaches `root` (not `root` itself), from
/// `/proc`.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent_of(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        if let Some(kids) = children.get(&p) {
            for &k in kids {
                out.push(k);
                stack.push(k);
            }
        }
    }
    out
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The executable name of `pid` (`/proc/<pid>/comm`).
pub fn process_name(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Proportional set size of one process in KiB (`Pss:` of `smaps_rollup`).
pub fn pss_kib(pid: u32) -> Option<u64> {
    rollup_kib(pid, "Pss:")
}

/// One `field` (e.g. `Pss_Anon:`) of `/proc/<pid>/smaps_rollup`, in KiB.
pub fn rollup_kib(pid: u32, field: &str) -> Option<u64> {
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// PSS of `root` and all its descendants, with each process's name and share.
pub fn tree_pss_kib(root: u32) -> (u64, Vec<(u32, String, u64)>) {
    let mut parts = Vec::new();
    for pid in std::iter::once(root).chain(descendants(root)) {
        if let Some(kib) = pss_kib(pid) {
            parts.push((pid, process_name(pid), kib));
        }
    }
    (parts.iter().map(|p| p.2).sum(), parts)
}

/// Sends `signal` to each pid (by id; missing ones are ignored).
fn signal(pids: &[u32], signal: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Ends `child` and every process below it: TERM, up to 3 s, then KILL.
pub fn kill_tree(child: &mut Child) {
    let root = child.id();
    let mut pids = descendants(root);
    pids.push(root);
    signal(&pids, "TERM");
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)))
            && pids
                .iter()
                .all(|p| !Path::new(&format!("/proc/{p}")).exists())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Processes spawned since the first look are ended too.
    let mut left = descendants(root);
    left.extend(pids);
    signal(&left, "KILL");
    let _ = child.wait();
}

/// The app's environment for a test or benchmark run.
pub fn app_env(data_dir: &Path, keystore: &str, sync_interval_secs: u64) -> Vec<(String, String)> {
    let mut env = vec![
        ("WHIZ_DATA_DIR".to_string(), data_dir.display().to_string()),
        (
            "WHIZ_SYNC_INTERVAL_SECS".to_string(),
            sync_interval_secs.to_string(),
        ),
        // A sale nudges the loop; hold that back as long as the loop itself,
        // so the test decides when the till pushes.
        (
            "WHIZ_SYNC_NUDGE_DELAY_MS".to_string(),
            (sync_interval_secs * 1000).to_string(),
        ),
    ];
    if keystore != "keyring" {
        env.push(("WHIZ_KEYSTORE".to_string(), keystore.to_string()));
    }
    env
}

/// The key store the run uses: `WHIZ_E2E_KEYSTORE` (`keyring` when the
/// script unlocked a real Secret Service, else `memory`).
pub fn keystore() -> String {
    std::env::var("WHIZ_E2E_KEYSTORE").unwrap_or_else(|_| "memory".to_string())
}

/// The app started directly (no WebDriver), for start-up time and memory.
#[derive(Debug)]
pub struct DirectApp {
    pub child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub spawned: Instant,
}

impl DirectApp {
    pub fn spawn(binary: &Path, env: &[(String, String)]) -> DirectApp {
        let spawned = Instant::now();
        let mut child = Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        DirectApp {
            child,
            lines,
            spawned,
        }
    }

    /// Waits for `whiz-pos: ui ready after <N> ms`; returns (N, wall time
    /// from spawn to the line), or the last stderr lines on timeout.
    pub fn wait_ui_ready(&mut self, timeout: Duration) -> Result<(u64, Duration), String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(ms) = parse_ui_ready(&line) {
                        return Ok((ms, self.spawned.elapsed()));
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let tail = seen[seen.len().saturating_sub(20)..].join("\n");
                    let status = self.child.try_wait().ok().flatten();
                    return Err(format!(
                        "no 'whiz-pos: ui ready' line within {timeout:?} (exit status: {status:?}); stderr:\n{tail}"
                    ));
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for DirectApp {
    fn drop(&mut self) {
        kill_tree(&mut self.child);
    }
}

/// `whiz-pos: ui ready after 812 ms` → 812.
pub fn parse_ui_ready(line: &str) -> Option<u64> {
    let rest = &line[line.find("ui ready after ")? + "ui ready after ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

// ---------------------------------------------------------------------------
// tauri-driver

/// A running `tauri-driver` (and below it WebKitWebDriver and the app),
/// ended with its whole process tree when dropped — also when a test panics.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Driver {
    /// Starts tauri-driver on free ports, with `env` for the app, logging to
    /// `log` (its stderr carries the app's and WebKitWebDriver's too).
    pub async fn start(env: &[(String, String)], log: &Path) -> Driver {
        let bin = tauri_driver_binary();
        assert!(
            bin.is_file(),
            "tauri-driver not found at {} (cargo install tauri-driver --locked)",
            bin.display()
        );
        let port = free_port();
        let native_port = free_port();
        let out = fs::File::create(log).expect("driver log file");
        let child = Command::new(&bin)
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut driver = Driver {
            child,
            port,
            log: log.to_path_buf(),
        };
        // Bounded: the port answers within a few seconds or the run fails.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // tauri-driver listens at once; WebKitWebDriver a moment later.
            let up = |p: u16| async move {
                tokio::net::TcpStream::connect(("127.0.0.1", p))
                    .await
                    .is_ok()
            };
            if up(port).await && up(native_port).await {
                break;
            }
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "tauri-driver exited ({status}) before listening; log:\n{}",
                    driver.log_tail(40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "tauri-driver (127.0.0.1:{port}) and WebKitWebDriver (127.0.0.1:{native_port}) not both listening within 10 s; log:\n{}",
                driver.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The app's pid (a `whiz-pos` process below the driver), if running.
    pub fn app_pid(&self) -> Option<u32> {
        descendants(self.pid())
            .into_iter()
            .find(|&p| process_name(p).starts_with("whiz-pos"))
    }

    /// The last `n` lines of the driver's log (app stderr included).
    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The `ui ready` figure printed by the app, once it is in the log.
    pub fn ui_ready_ms(&self) -> Option<u64> {
        fs::read_to_string(&self.log)
            .ok()?
            .lines()
            .find_map(parse_ui_ready)
    }

    /// Opens a WebDriver session, which starts the app at `app`.
    pub async fn session(&self, app: &Path) -> Ui {
        assert!(
            app.is_file(),
            "the app binary {} does not exist (build it: cd ui && npm ci && npm run build; cargo build -p whiz-pos)",
            app.display()
        );
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app.display().to_string() }),
        );
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        let url = self.url();
        let client =
            match tokio::time::timeout(Duration::from_secs(60), builder.connect(&url)).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => panic!(
                    "WebDriver session for {} failed: {e}; log:\n{}",
                    app.display(),
                    self.log_tail(40)
                ),
                Err(_) => panic!("WebDriver session not created within 60 s"),
            };
        Ui {
            client,
            timeout: ui_timeout(),
            artifacts: None,
            log: self.log.clone(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        kill_tree(&mut self.child);
    }
}

// ---------------------------------------------------------------------------
// The UI

/// A WebDriver session on the app's window, with bounded waits on the
/// `data-testid` hooks.
#[derive(Debug)]
pub struct Ui {
    pub client: Client,
    pub timeout: Duration,
    /// Where a failed wait saves a screenshot of the window (if set).
    pub artifacts: Option<PathBuf>,
    log: PathBuf,
}

/// `[data-testid="id"]` plus optional attribute filters.
pub fn css(testid: &str, attrs: &[(&str, &str)]) -> String {
    let mut s = format!("[data-testid=\"{testid}\"]");
    for (k, v) in attrs {
        s.push_str(&format!("[{k}=\"{}\"]", v.replace('"', "\\\"")));
    }
    s
}

/// What a WebDriver call may take before the app counts as hung.
const CALL: Duration = Duration::from_secs(20);

async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CALL, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {CALL:?}")),
    }
}

impl Ui {
    /// Polls `check` until it returns `Ok`, at most `self.timeout`; on timeout
    /// panics saying what was awaited, the last state seen, and any error
    /// banner on screen.
    pub async fn until<T>(&self, what: &str, check: impl AsyncFnMut() -> Result<T, String>) -> T {
        self.until_for(what, self.timeout, check).await
    }

    pub async fn until_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl AsyncFnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match check().await {
                Ok(v) => return v,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                let banner = self.error_banner().await.unwrap_or_default();
                if let Some(dir) = &self.artifacts
                    && let Ok(Ok(png)) = tokio::time::timeout(CALL, self.client.screenshot()).await
                {
                    let _ = fs::create_dir_all(dir);
                    let _ = fs::write(dir.join("FAILED.png"), png);
                }
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n  last seen: {last}\n  error banner: {banner:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible elements matching `selector` (CSS), now.
    pub async fn all(&self, selector: &str) -> Result<Vec<Element>, String> {
        let found = bounded(selector, self.client.find_all(Locator::Css(selector))).await?;
        let mut shown = Vec::with_capacity(found.len());
        for e in found {
            if e.is_displayed().await.unwrap_or(false) {
                shown.push(e);
            }
        }
        Ok(shown)
    }

    /// The first visible element matching `selector`, now.
    pub async fn first(&self, selector: &str) -> Result<Element, String> {
        self.all(selector)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| format!("no visible {selector}"))
    }

    /// Waits for a visible `selector`.
    pub async fn wait(&self, selector: &str) -> Element {
        self.until(&format!("a visible {selector}"), async || {
            self.first(selector).await
        })
        .await
    }

    /// Waits for `testid` to be visible.
    pub async fn wait_id(&self, testid: &str) -> Element {
        self.wait(&css(testid, &[])).await
    }

    /// Clicks the first visible `selector` once it is there and clickable.
    pub async fn click(&self, selector: &str) {
        self.until(&format!("a click on {selector}"), async || {
            let e = self.first(selector).await?;
            if !e.is_enabled().await.unwrap_or(true) {
                return Err(format!("{selector} is disabled"));
            }
            bounded("click", e.click()).await
        })
        .await
    }

    pub async fn click_id(&self, testid: &str) {
        self.click(&css(testid, &[])).await
    }

    /// Clears `testid` and types `text` into it.
    pub async fn type_into(&self, testid: &str, text: &str) {
        let sel = css(testid, &[]);
        self.until(&format!("typing into {sel}"), async || {
            let e = self.first(&sel).await?;
            bounded("clear", e.clear()).await?;
            bounded("send_keys", e.send_keys(text)).await
        })
        .await
    }

    /// Attribute `attr` of the first visible `selector`, now.
    pub async fn attr(&self, selector: &str, attr: &str) -> Result<String, String> {
        let e = self.first(selector).await?;
        bounded("attr", e.attr(attr))
            .await?
            .ok_or_else(|| format!("{selector} has no {attr}"))
    }

    /// Waits until attribute `attr` of `testid` satisfies `ok`; returns it.
    pub async fn wait_attr(
        &self,
        testid: &str,
        attr: &str,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        self.wait_attr_sel(&css(testid, &[]), attr, what, ok).await
    }

    /// Waits until attribute `attr` of the first visible `sel` satisfies
    /// `ok`; returns it.
    pub async fn wait_attr_sel(
        &self,
        sel: &str,
        attr: &str,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        self.until(what, async || {
            let v = self.attr(sel, attr).await?;
            if ok(&v) {
                Ok(v)
            } else {
                Err(format!("{sel} {attr}={v:?}"))
            }
        })
        .await
    }

    /// Text of the first visible `selector`, now.
    pub async fn text(&self, selector: &str) -> Result<String, String> {
        let e = self.first(selector).await?;
        bounded("text", e.text()).await
    }

    /// How many visible `selector` there are, now (0 on a WebDriver error).
    pub async fn count(&self, selector: &str) -> usize {
        self.all(selector).await.map(|v| v.len()).unwrap_or(0)
    }

    /// The error banner's text if one is shown.
    pub async fn error_banner(&self) -> Option<String> {
        self.text(&css("error-banner", &[]))
            .await
            .ok()
            .filter(|t| !t.trim().is_empty())
    }

    /// Saves a PNG of the window as `<dir>/<name>.png`.
    pub async fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        // WebKit's screenshot is the last painted frame, which can lag the
        // DOM the waits just saw: let two frames paint first.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.client.execute_async(
                "const done = arguments[arguments.length - 1];
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            ),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let png = bounded("screenshot", self.client.screenshot())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        fs::create_dir_all(dir).expect("artifact dir");
        let path = dir.join(format!("{name}.png"));
        fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Runs `script` in the page.
    pub async fn js(&self, script: &str) -> Result<serde_json::Value, String> {
        bounded("execute", self.client.execute(script, vec![])).await
    }

    /// Ends the session (WebKitWebDriver then closes the app).
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.close()).await;
    }

    // -- flows shared by the test and the benchmark --------------------------

    /// Logs in as `user` with `pin` through the user list.
    pub async fn login(&self, user: &str, pin: &str) {
        self.click(&css("login-user", &[("data-user-name", user)]))
            .await;
        self.type_into("pin-input", &format!("{pin}{ENTER}")).await;
        self.wait_id("current-user").await;
    }

    /// Adds the tile named `name` to the cart once (search narrows the tiles
    /// first, so it also works in a big catalog).
    pub async fn add_tile(&self, name: &str) {
        self.click(&css("product-tile", &[("data-product-name", name)]))
            .await;
    }

    /// Cart lines as (name, quantity in thousandths).
    pub async fn cart(&self) -> Result<Vec<(String, i64)>, String> {
        let mut lines = Vec::new();
        for e in self.all(&css("cart-line", &[])).await? {
            let name = bounded("attr", e.attr("data-product-name"))
                .await?
                .unwrap_or_default();
            let qty = bounded("attr", e.attr("data-quantity"))
                .await?
                .and_then(|q| q.parse().ok())
                .unwrap_or(0);
            lines.push((name, qty));
        }
        Ok(lines)
    }

    /// Waits for a cart of `n` lines; returns `data-total`.
    pub async fn wait_cart(&self, n: usize) -> i64 {
        self.until(&format!("a cart of {n} lines"), async || {
            let lines = self.cart().await?;
            if lines.len() != n {
                return Err(format!("cart {lines:?}"));
            }
            self.attr(&css("cart-total", &[]), "data-total")
                .await?
                .parse::<i64>()
                .map_err(|e| format!("cart-total data-total: {e}"))
        })
        .await
    }

    /// Pay → cash `tendered` (whole shillings) → Complete; returns the
    /// receipt preview's `data-receipt-no`.
    pub async fn pay_cash(&self, tendered_shillings: i64) -> String {
        self.open_cash_tender(tendered_shillings).await;
        self.complete_sale().await
    }

    /// Pay, Cash, types the cash received (whole shillings) and waits for the
    /// dialog to show the change (`checkout-change` = tendered − total);
    /// leaves the dialog open and returns the change in minor units.
    pub async fn open_cash_tender(&self, tendered_shillings: i64) -> i64 {
        let total: i64 = self
            .attr(&css("cart-total", &[]), "data-total")
            .await
            .and_then(|t| t.parse().map_err(|e| format!("data-total: {e}")))
            .unwrap_or_else(|e| panic!("the cart total before Pay: {e}"));
        let change = tendered_shillings * 100 - total;
        assert!(change >= 0, "tendering {tendered_shillings} for {total}");
        self.click_id("pay-button").await;
        self.wait_id("checkout-dialog").await;
        self.click(&css("tender-method", &[("data-method", "cash")]))
            .await;
        self.type_into("tender-amount", &tendered_shillings.to_string())
            .await;
        let want = change.to_string();
        self.wait_attr(
            "checkout-change",
            "data-change",
            &format!("the checkout to show change {want}"),
            |v| v == want,
        )
        .await;
        change
    }

    /// Complete in the checkout dialog; returns the receipt preview's
    /// `data-receipt-no`.
    pub async fn complete_sale(&self) -> String {
        self.click_id("complete-sale").await;
        self.wait_attr(
            "receipt-preview",
            "data-receipt-no",
            "the receipt preview with a receipt number",
            |v| !v.is_empty(),
        )
        .await
    }

    /// The app's log so far (driver stderr), for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Median of `xs` (sorted in place); 0 when empty.
pub fn median(xs: &mut [u64]) -> u64 {
    xs.sort_unstable();
    if xs.is_empty() { 0 } else { xs[xs.len() / 2] }
}
