#!/usr/bin/env bash
# Runs every check WHIZ POS has: formatting, lints, all tests, and a smoke run
# of the benchmark. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

if [ -t 1 ]; then
    step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    step() { printf '\n== %s\n' "$*"; }
fi

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
passed=$(grep -E '^test result:' "$log" | grep -oE '[0-9]+ passed' | awk '{s += $1} END {print s + 0}')
failed=$(grep -E '^test result:' "$log" | grep -oE '[0-9]+ failed' | awk '{s += $1} END {print s + 0}')

step "benchmark (smoke scale; run 'cargo bench -p pos-store --bench store' for the full figures)"
WHIZ_BENCH_SCALE=smoke cargo bench -p pos-store --bench store --locked
WHIZ_BENCH_SCALE=smoke cargo bench -p whiz-tests --bench sync --locked

printf '\ntests: %d passed, %d failed\n' "$passed" "$failed"
