#!/usr/bin/env bash
# Builds the installable Debian package of the desktop till:
#   target/release/bundle/deb/WHIZ POS_<version>_amd64.deb
# (under $CARGO_TARGET_DIR when set). Install it with
#   sudo apt install ./target/release/bundle/deb/*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cd src-tauri
# The Tauri CLI from npm (ui/node_modules); it runs the UI build first.
../ui/node_modules/.bin/tauri build --bundles deb "$@"
find "${CARGO_TARGET_DIR:-../target}/release/bundle/deb" -name '*.deb' -printf '%p (%s bytes)\n'
