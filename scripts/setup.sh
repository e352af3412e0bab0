#!/usr/bin/env bash
# Installs what building and testing WHIZ POS needs on Debian/Ubuntu.
# Idempotent: installs only what is missing. Called by scripts/run.sh and
# scripts/test.sh; safe to run by hand.
set -euo pipefail

# Debian packages the build needs: the C toolchain for the bundled SQLite;
# libdbus for the OS keyring that holds the Back Office API key on Linux;
# WebKitGTK and friends for the Tauri desktop app; Node.js for its web UI.
APT_PACKAGES=(
    build-essential pkg-config ca-certificates curl libdbus-1-dev
    libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
)
# What the end-to-end tests add (scripts/test.sh): for the desktop app a
# virtual display, a session bus, WebKit's WebDriver, a keyring daemon, and
# screenshots; for the Back Office dashboard, Chromium (driven headless by
# playwright-core, which downloads no browser of its own).
if [ "${WHIZ_SETUP_E2E:-0}" = 1 ]; then
    APT_PACKAGES+=(
        xvfb xauth dbus dbus-x11 at-spi2-core webkit2gtk-driver gnome-keyring
        imagemagick chromium
    )
fi
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)

log() { printf '[setup] %s\n' "$*" >&2; }

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -q
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Rust: the workspace needs Rust 1.89+ (edition 2024); Debian's rustc is older,
# so use rustup when cargo is missing.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    log "installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
fi
for component in clippy rustfmt; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        log "adding rustup component $component"
        rustup component add "$component"
    fi
done

# The web UI's packages, exactly as locked.
ui="$(dirname "$0")/../ui"
if [ ! -d "$ui/node_modules" ] || [ "$ui/package-lock.json" -nt "$ui/node_modules/.package-lock.json" ]; then
    log "installing the web UI's npm packages"
    npm --prefix "$ui" ci --no-audit --no-fund --loglevel=error
fi
# The dashboard's browser test: playwright-core, exactly as locked.
browser="$(dirname "$0")/../tests/browser"
if [ "${WHIZ_SETUP_E2E:-0}" = 1 ] && { [ ! -d "$browser/node_modules" ] ||
    [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; }; then
    log "installing the browser test's npm packages"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm --prefix "$browser" ci --no-audit --no-fund --loglevel=error
fi
# tauri-driver: WebDriver for the desktop app (the end-to-end test).
if [ "${WHIZ_SETUP_E2E:-0}" = 1 ] && ! command -v tauri-driver >/dev/null 2>&1; then
    log "installing tauri-driver"
    cargo install tauri-driver --locked
fi
log "ready: $(cargo --version), node $(node --version)"
