# Shared setup for the loadtest/*.sh scripts; source it, don't run it.
# Builds the release binary, makes a throwaway work dir $W (removed on exit, with the
# server), picks free loopback ports $PORT and $ADMIN, and points synedge at a store in
# $W through SYNEDGE_* variables. start_server starts `synedge serve` and waits for
# /readyz. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v oha >/dev/null || { echo "needs oha: cargo install oha" >&2; exit 2; }
cargo build --release --quiet
BIN=target/release/synedge
W=$(mktemp -d /tmp/synedge-load.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port) ADMIN=$(free_port)
export SYNEDGE_ORIGIN__URL="sqlite://$W/catalog.db" SYNEDGE_SERVER__LISTEN="127.0.0.1:$PORT" SYNEDGE_ADMIN__LISTEN="127.0.0.1:$ADMIN"

start_server() {
  RUST_LOG=warn "$BIN" serve & PID=$!
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz" && return 0; sleep 0.1; done
  echo "synedge did not become ready" >&2; exit 1
}

# Seeds PRODUCTS demo products and writes their full URLs to $W/urls.txt.
seed_urls() {
  "$BIN" seed --demo --products "$1" --paths "$W/paths.txt" >/dev/null
  sed "s#^#http://127.0.0.1:$PORT#" "$W/paths.txt" >"$W/urls.txt"
}
