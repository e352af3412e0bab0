//! Drives the real `whiz-till` binary through a scripted session on a fresh
//! database: set up the owner, add products, ring up a split-paid sale, refuse
//! bad input, then restart and find everything still there.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn session(db: &Path, script: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_whiz-till"))
        .env("WHIZ_POS_DB", db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start whiz-till");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    let out = child.wait_with_output().expect("whiz-till output");
    assert!(
        out.status.success(),
        "whiz-till failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Whether some line of `out` consists of exactly these words.
fn has_line(out: &str, words: &[&str]) -> bool {
    out.lines()
        .any(|l| l.split_whitespace().eq(words.iter().copied()))
}

#[test]
fn a_day_at_the_till() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("till.sqlite3");

    let first = session(
        &db,
        "Wanjiru\n12\n1234\n\
         newproduct Tusker Lager 500ml; 250; 6001234567890\n\
         newproduct Mandazi; 20\n\
         scan 6001234567890 2\n\
         scan 999999\n\
         find mand\n\
         add 1 3\n\
         pay mpesa QJK3H5TRD2 300 cash 500\n\
         pay cash 10\n\
         scan 6001234567890\n\
         pay cash 100\n\
         cancel\n\
         pending\n\
         report\n\
         quit\n",
    );
    assert!(first.contains("No users yet"), "{first}");
    assert!(first.contains("! a PIN is 4 to 8 digits"), "{first}");
    assert!(first.contains("Welcome, Wanjiru"), "{first}");
    assert!(
        first.contains("Added Tusker Lager 500ml at KES 250.00."),
        "{first}"
    );
    assert!(
        first.contains("! no product has barcode or SKU '999999'"),
        "{first}"
    );
    // The receipt of the sale: 2 × 250 + 3 × 20 = 560, paid 300 M-Pesa + 500 cash.
    assert!(first.contains("Receipt MAIN-T1-000001"), "{first}");
    assert!(first.contains("KES 560.00"), "{first}");
    assert!(first.contains("M-Pesa QJK3H5TRD2"), "{first}");
    assert!(has_line(&first, &["Change", "240.00"]), "{first}");
    // Paying with an empty cart, and paying too little, are refused.
    assert!(first.contains("! the cart is empty"), "{first}");
    assert!(first.contains("is still due"), "{first}");
    assert!(
        !first.contains("MAIN-T1-000002"),
        "an underpaid sale was recorded: {first}"
    );
    // Two products, one owner and one sale wait for the Back Office.
    assert!(first.contains("4 operations waiting to sync"), "{first}");
    assert!(has_line(&first, &["net", "sales", "560.00"]), "{first}");
    assert!(has_line(&first, &["expected", "cash", "260.00"]), "{first}");

    // After a restart everything is still there; a wrong PIN is refused.
    let second = session(
        &db,
        "1\n9999\n1234\nreceipt MAIN-T1-000001\nlowstock\nquit\n",
    );
    assert!(second.contains("1. Wanjiru (owner)"), "{second}");
    assert!(second.contains("! wrong PIN; 4 attempts left"), "{second}");
    assert!(second.contains("Signed in as Wanjiru"), "{second}");
    assert!(second.contains("Tusker Lager 500ml"), "{second}");
    assert!(second.contains("Mandazi"), "{second}");
}
