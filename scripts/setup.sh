#!/usr/bin/env bash
# Installs what building and testing WHIZ POS needs on Debian/Ubuntu.
# Idempotent: installs only what is missing. Called by scripts/run.sh and
# scripts/test.sh; safe to run by hand.
set -euo pipefail

# Debian packages the build needs (C toolchain for the bundled SQLite; libdbus
# for the OS keyring that holds the Back Office API key on Linux).
APT_PACKAGES=(build-essential pkg-config ca-certificates curl libdbus-1-dev)

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
log "ready: $(cargo --version)"
