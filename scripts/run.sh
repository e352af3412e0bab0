#!/usr/bin/env bash
# Runs WHIZ POS, the desktop till, on this machine's default database:
# ${XDG_DATA_HOME:-~/.local/share}/ke.whiz.pos/ (created and migrated on first
# start). The first run builds the app (a few minutes); later runs start at once.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
npm --prefix ui run build --silent
exec cargo run --quiet --release --locked -p whiz-pos -- "$@"
