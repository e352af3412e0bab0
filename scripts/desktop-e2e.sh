#!/usr/bin/env bash
# The desktop end-to-end test: the real whiz-pos app (debug build) under a
# virtual display, driven through its UI by tauri-driver + WebKitWebDriver,
# against a real whiz-backoffice on 127.0.0.1 (tests/tests/desktop_e2e.rs).
#
#   scripts/desktop-e2e.sh            build what is missing, run, exit non-zero on failure
#   WHIZ_E2E_SKIP_BUILD=1 ...         use the app binary as it is
#   WHIZ_E2E_KEYSTORE=memory ...      keep the API key in memory (default: the
#                                     real Secret Service via gnome-keyring when it starts)
#   WHIZ_E2E_TIMEOUT_SECS=30 ...      longer UI waits on a slow machine
#
# Screenshots and logs: target/e2e-artifacts/desktop/ (workspace root).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

log() { printf '[desktop-e2e] %s\n' "$*" >&2; }

# Inside the D-Bus session and the virtual display (see the end).
if [ "${1:-}" = "--inner" ]; then
    keyring_pid=""
    cleanup() {
        # Only the keyring daemon this run started, by its id.
        if [ -n "$keyring_pid" ]; then kill "$keyring_pid" 2>/dev/null || true; fi
        if [ -n "${keyring_home:-}" ]; then rm -rf "$keyring_home"; fi
    }
    trap cleanup EXIT
    if [ -z "${WHIZ_E2E_KEYSTORE:-}" ]; then
        WHIZ_E2E_KEYSTORE=memory
        if command -v gnome-keyring-daemon >/dev/null 2>&1; then
            # A throwaway login keyring, unlocked with a throwaway password.
            keyring_home=$(mktemp -d)
            if out=$(printf 'whiz-e2e-keyring' | XDG_DATA_HOME="$keyring_home" \
                gnome-keyring-daemon --unlock --components=secrets 2>/dev/null); then
                eval "$(printf '%s\n' "$out" | sed -n 's/^\(GNOME_KEYRING_[A-Z_]*=.*\)$/export \1/p')"
                keyring_pid="${GNOME_KEYRING_PID:-}"
                if dbus-send --session --print-reply --dest=org.freedesktop.secrets \
                    /org/freedesktop/secrets org.freedesktop.DBus.Peer.Ping >/dev/null 2>&1; then
                    WHIZ_E2E_KEYSTORE=keyring
                fi
            fi
        fi
    fi
    export WHIZ_E2E_KEYSTORE
    log "key store: $WHIZ_E2E_KEYSTORE; display: ${DISPLAY:-none}"
    cargo test -p whiz-tests --test desktop_e2e --locked -- --ignored --nocapture --test-threads=1
    exit $?
fi

# Outside: what the run needs.
WHIZ_SETUP_E2E=1 ./scripts/setup.sh

if [ "${WHIZ_E2E_SKIP_BUILD:-0}" != 1 ]; then
    log "building the web UI and the app (debug)"
    npm --prefix ui run build >/dev/null
    cargo build -p whiz-pos --locked
fi
app="$CARGO_TARGET_DIR/debug/whiz-pos"
[ -x "$app" ] || { log "no app binary at $app"; exit 1; }
# Build the test before the display exists, so a compile error is plain.
cargo test -p whiz-tests --test desktop_e2e --locked --no-run

status=0
dbus-run-session -- xvfb-run -a -s "-screen 0 1366x768x24" "$0" --inner || status=$?
log "artifacts: $root/target/e2e-artifacts/desktop/"
if [ "$status" -ne 0 ]; then
    log "FAILED (exit $status)"
fi
exit "$status"
