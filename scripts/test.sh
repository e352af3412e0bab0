#!/usr/bin/env bash
# Runs every check WHIZ POS has: formatting, lints, all tests, and a smoke run
# of the benchmark. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "test"
cargo test --workspace --locked

step "benchmark (smoke scale; run 'cargo bench -p pos-store --bench store' for the full figures)"
WHIZ_BENCH_SCALE=smoke cargo bench -p pos-store --bench store --locked
