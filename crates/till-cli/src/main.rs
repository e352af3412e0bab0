//! WHIZ POS terminal till.
//!
//! Opens the till's database — the same file the desktop app uses — and reads
//! commands line by line: sign in with a PIN, find or scan products, ring up a
//! cart, take cash / M-Pesa / card / credit (split as needed), print the
//! receipt, void, restock, and see the day's summary. Every action goes through
//! the same `pos-store` services the desktop app calls, so it keeps the same
//! rules: one transaction per sale with its outbox op, role checks, clear
//! refusals that change nothing.
//!
//! The database is `$WHIZ_POS_DB`, or `$XDG_DATA_HOME/ke.whiz.pos/pos.sqlite3`
//! (`~/.local/share/ke.whiz.pos/pos.sqlite3`). Commands come from standard
//! input, so a session can be scripted (see `tests/session.rs`).

mod till;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use pos_domain::SystemClock;
use pos_store::Store;

fn database_path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("WHIZ_POS_DB") {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_DATA_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".local/share"),
            None => {
                return Err(
                    "set WHIZ_POS_DB or HOME to say where the till's database lives".into(),
                );
            }
        },
    };
    Ok(base.join("ke.whiz.pos").join("pos.sqlite3"))
}

fn main() -> std::process::ExitCode {
    let path = match database_path() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("whiz-till: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("whiz-till: cannot create {}: {e}", dir.display());
        return std::process::ExitCode::FAILURE;
    }
    let store = match Store::open(&path, Arc::new(SystemClock)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("whiz-till: cannot open {}: {e}", path.display());
            return std::process::ExitCode::FAILURE;
        }
    };
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    let mut till = till::Till::new(store);
    let _ = writeln!(out, "WHIZ POS terminal till — database {}", path.display());
    let mut lines = stdin.lock().lines();
    let mut prompt = till.greet(&mut out);
    loop {
        let _ = write!(out, "{prompt}");
        let _ = out.flush();
        let Some(Ok(line)) = lines.next() else { break };
        match till.handle(line.trim(), &mut out) {
            Some(p) => prompt = p,
            None => break,
        }
    }
    let _ = writeln!(out);
    std::process::ExitCode::SUCCESS
}
