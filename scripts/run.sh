#!/usr/bin/env bash
# Runs WHIZ POS on this machine's default database.
#
# Until the desktop app lands, this is the terminal till: it opens (creating
# on first run) the same embedded database the desktop app will use, in
# ${XDG_DATA_HOME:-~/.local/share}/ke.whiz.pos/pos.sqlite3.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo run --quiet --release --locked -p whiz-till -- "$@"
