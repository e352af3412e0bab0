#!/usr/bin/env bash
# Runs every check WHIZ POS has: the web UI's type check, unit tests and build;
# formatting, lints and all Rust tests; the desktop end-to-end test (the real
# app under Xvfb against a real Back Office); the Back Office dashboard in
# headless Chromium; and smoke runs of the benchmarks.
# This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
WHIZ_SETUP_E2E=1 ./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

if [ -t 1 ]; then
    step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    step() { printf '\n== %s\n' "$*"; }
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The counts below grep the logs; a grep that finds nothing is not a failure.

# The desktop app embeds ui/dist, so the UI is built before any cargo build.
step "web UI: type check, unit tests, build"
npm --prefix ui run check
NO_COLOR=1 npm --prefix ui test 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g' | tee "$log"
ui_passed=$(grep -E '^ +Tests +' "$log" | grep -oE '[0-9]+ passed' | awk '{s += $1} END {print s + 0}') || true
ui_failed=$(grep -E '^ +Tests +' "$log" | grep -oE '[0-9]+ failed' | awk '{s += $1} END {print s + 0}') || true
npm --prefix ui run build

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "test"
cargo test --workspace --locked 2>&1 | tee "$log"
passed=$(grep -E '^test result:' "$log" | grep -oE '[0-9]+ passed' | awk '{s += $1} END {print s + 0}') || true
failed=$(grep -E '^test result:' "$log" | grep -oE '[0-9]+ failed' | awk '{s += $1} END {print s + 0}') || true

step "desktop end-to-end (the built app under Xvfb, driven by tauri-driver)"
./scripts/desktop-e2e.sh 2>&1 | tee "$log"
e2e_passed=$(grep -E '^test result:' "$log" | grep -oE '[0-9]+ passed' | awk '{s += $1} END {print s + 0}') || true

step "Back Office in a browser (headless Chromium, Playwright)"
./scripts/dashboard-e2e.sh 2>&1 | tee "$log"
browser_passed=$(grep -E '^test result:' "$log" | grep -oE '[0-9]+ passed' | awk '{s += $1} END {print s + 0}') || true
e2e_passed=$((e2e_passed + browser_passed))

step "benchmark (smoke scale; run 'cargo bench -p pos-store --bench store' for the full figures)"
WHIZ_BENCH_SCALE=smoke cargo bench -p pos-store --bench store --locked
WHIZ_BENCH_SCALE=smoke cargo bench -p whiz-tests --bench sync --locked
WHIZ_BENCH_SCALE=smoke ./scripts/bench-desktop.sh

passed=$((passed + ui_passed + e2e_passed))
failed=$((failed + ui_failed))
printf '\ntests: %d passed, %d failed\n' "$passed" "$failed"
