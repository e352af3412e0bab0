#!/usr/bin/env bash
# The desktop benchmark (tests/benches/desktop.rs): cold start to the sales
# screen, idle memory of the app's process tree, Pay -> receipt with 100,000
# products, and the release binary and .deb sizes. Prints figures and targets.
#
#   scripts/bench-desktop.sh                          full: builds the release app and the .deb
#   WHIZ_BENCH_SCALE=smoke scripts/bench-desktop.sh   CI: 1 start, 1,000 products, 3 sales,
#                                                     on the debug build; builds no .deb
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
scale="${WHIZ_BENCH_SCALE:-full}"

log() { printf '[bench-desktop] %s\n' "$*" >&2; }

# What the run needs (the same as the end-to-end test).
WHIZ_SETUP_E2E=1 ./scripts/setup.sh

release="$CARGO_TARGET_DIR/release/whiz-pos"
if [ "$scale" = smoke ]; then
    # The debug build the tests just used: always current (a release binary
    # left in a cache may be older than the code).
    app="$CARGO_TARGET_DIR/debug/whiz-pos"
    npm --prefix ui run build >/dev/null
    cargo build -p whiz-pos --locked
    log "smoke scale: measuring the debug build (figures are not representative)"
else
    # The UI first, then the Tauri CLI builds the release binary (embedding
    # ui/dist) and the .deb; the config's beforeBuildCommand (the same UI
    # build) is skipped so that this script doesn't depend on its path.
    log "building the web UI, the release app and the .deb (tauri build --bundles deb)"
    npm --prefix ui run build >/dev/null
    (cd src-tauri && ../ui/node_modules/.bin/tauri build --bundles deb \
        --config '{"build":{"beforeBuildCommand":""}}')
    app="$release"
fi

deb=""
if [ "$scale" != smoke ] && [ -d "$CARGO_TARGET_DIR/release/bundle/deb" ]; then
    deb=$(find "$CARGO_TARGET_DIR/release/bundle/deb" -maxdepth 1 -name '*.deb' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
fi
# The benchmark itself is compiled before the display exists.
cargo bench -p whiz-tests --bench desktop --locked --no-run
WHIZ_POS_BIN="$app" WHIZ_BENCH_DEB="$deb" WHIZ_BENCH_SCALE="$scale" \
    dbus-run-session -- xvfb-run -a -s "-screen 0 1366x768x24" \
    cargo bench -p whiz-tests --bench desktop --locked
