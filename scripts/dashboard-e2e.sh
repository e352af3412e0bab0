#!/usr/bin/env bash
# The Back Office dashboard end-to-end test: headless Chromium (Debian's
# /usr/bin/chromium, driven by playwright-core from tests/browser/) against a
# real whiz-backoffice on 127.0.0.1, with real tills syncing on the other side
# (tests/tests/dashboard_browser.rs).
#
#   scripts/dashboard-e2e.sh               install what is missing, run, exit non-zero on failure
#   WHIZ_E2E_SKIP_SETUP=1 ...              do not run scripts/setup.sh first
#   WHIZ_BROWSER_TIMEOUT_MS=30000 ...      longer browser waits on a slow machine
#   WHIZ_CHROMIUM=/path/to/chromium ...    another Chromium
#
# Screenshots: target/e2e-artifacts/dashboard/ (workspace root).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
# playwright-core drives the system Chromium: never download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

log() { printf '[dashboard-e2e] %s\n' "$*" >&2; }

if [ "${WHIZ_E2E_SKIP_SETUP:-0}" != 1 ]; then
    WHIZ_SETUP_E2E=1 ./scripts/setup.sh
fi

chromium="${WHIZ_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    log "no Chromium at $chromium: install Debian's package (sudo apt-get install chromium)"
    log "or run WHIZ_SETUP_E2E=1 scripts/setup.sh"
    exit 1
fi
export WHIZ_CHROMIUM="$chromium"
command -v node >/dev/null 2>&1 || { log "no node on PATH: install Node.js 20+"; exit 1; }

browser=tests/browser
if [ ! -d "$browser/node_modules" ] || [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; then
    log "installing the browser test's npm packages (playwright-core)"
    npm --prefix "$browser" ci --no-audit --no-fund --loglevel=error
fi
log "$("$chromium" --version 2>/dev/null || echo "$chromium"), node $(node --version)"

status=0
cargo test -p whiz-tests --test dashboard_browser --locked -- --ignored --nocapture --test-threads=1 || status=$?
log "artifacts: $root/target/e2e-artifacts/dashboard/"
if [ "$status" -ne 0 ]; then
    log "FAILED (exit $status)"
fi
exit "$status"
