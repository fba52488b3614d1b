# Shared setup for the loadtest scripts; source it, don't run it.
#
# Builds the release binary (or takes LOADTEST_BIN, absolute or from the repo root), then
# re-runs the calling script in a network namespace of its own with only a loopback
# interface (`unshare --net`), so no request can leave this machine whatever a URL says
# (NETNS=0 turns that off; without unshare and ip it says so and stays on the host's
# loopback). The build comes first, as cargo may need the network. Then it makes a
# throwaway work dir $W (removed on exit, with the server), picks free loopback ports
# $PORT and $ADMIN, and points synedge at a store in $W through SYNEDGE_* variables;
# $BASE is the public listener's URL. Functions:
#   start_server        start `synedge serve`, wait for /readyz
#   seed_urls N         seed N demo products; $W/paths.txt (one path per product, in
#                       product order) and $W/urls.txt (the same as URLs)
#   to_urls IN OUT      paths → URLs on $BASE; refuses anything that is not a local path
#   fetch_all FILE      GET every distinct URL of FILE once; prints "status url" lines
#   warm FILE           the same, printing only the status counts (fills the cache)
#   oha_json OUT ARGS…  run oha (no TUI) with ARGS, JSON results into OUT
#   summarize LABEL J   one summary line from oha's JSON J
#   oha_run LABEL ARGS… both: oha_json into $W/oha.json, then summarize
#   status_count CODE [J]  how many answers had status CODE in J (default $W/oha.json)
# Everything stays on 127.0.0.1. The scripts' own variables are never named SYNEDGE_*:
# synedge reads every SYNEDGE_ variable as configuration and refuses unknown ones.
set -euo pipefail
LOADTEST_SELF=$(realpath "$0")
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LT=$PWD/loadtest
LOADTEST_TOOLS=${LOADTEST_TOOLS:-oha python3 curl}

if [ -z "${LOADTEST_IN_NETNS:-}" ]; then
  for t in $LOADTEST_TOOLS; do
    case $t in
      oha) hint="cargo install oha --locked" ;;
      *k6*) hint="see loadtest/README.md (k6)" ;;
      *) hint="" ;;
    esac
    command -v "$t" >/dev/null || { echo "needs $t${hint:+: $hint}" >&2; exit 2; }
  done
  [ -n "${LOADTEST_BIN:-}" ] || cargo build --release --quiet
  if [ "${NETNS:-1}" != 0 ]; then
    if command -v unshare >/dev/null && command -v ip >/dev/null; then
      for u in "unshare --net" "unshare --net --map-root-user"; do
        if $u true 2>/dev/null; then
          export LOADTEST_IN_NETNS=1
          # shellcheck disable=SC2016
          exec $u -- bash -c 'ip link set lo up && exec bash "$@"' loadtest "$LOADTEST_SELF" "$@"
        fi
      done
    fi
    echo "note: no network namespace (needs unshare and ip); staying on the host's 127.0.0.1" >&2
  fi
fi

BIN=${LOADTEST_BIN:-target/release/synedge}
[ -x "$BIN" ] || { echo "no synedge binary at $BIN" >&2; exit 2; }
W=$(mktemp -d /tmp/synedge-load.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null || true; rm -rf "$W"; }  # PID: one or more
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port) ADMIN=$(free_port)
BASE="http://127.0.0.1:$PORT"
export SYNEDGE_ORIGIN__URL="sqlite://$W/catalog.db" SYNEDGE_SERVER__LISTEN="127.0.0.1:$PORT" SYNEDGE_ADMIN__LISTEN="127.0.0.1:$ADMIN"

start_server() {
  RUST_LOG=warn "$BIN" serve & PID=$!
  for _ in $(seq 100); do curl -fs -o /dev/null "$BASE/readyz" && return 0; sleep 0.1; done
  echo "synedge did not become ready" >&2; exit 1
}

seed_urls() {
  "$BIN" seed --demo --products "$1" --paths "$W/paths.txt" >/dev/null
  to_urls "$W/paths.txt" "$W/urls.txt"
}

to_urls() {
  if grep -qv '^/[^/]' "$1"; then
    echo "$1: every line must be a path starting with a single /; refusing to build URLs" >&2; exit 2
  fi
  sed "s#^#$BASE#" "$1" >"$2"
}

# Every distinct URL of FILE once, 8 at a time over kept-alive connections; prints
# "status url" per URL. warm does the same quietly and prints the status counts.
fetch_all() {
  sort -u "$1" | awk '{ printf "url = \"%s\"\noutput = \"/dev/null\"\n", $0 }' >"$W/curl.cfg"
  # stderr dropped: curl 7.88 draws its parallel progress meter there even with -s;
  # a failed transfer still shows, as status 000
  curl -s --parallel --parallel-max 8 -K "$W/curl.cfg" -w '%{http_code} %{url_effective}\n' 2>/dev/null
}
warm() {
  fetch_all "$1" | awk '{ n[$1]++ } END { printf "  warmed:"; for (c in n) printf " %s=%d", c, n[c]; print "" }'
}

oha_json() {
  local out=$1; shift
  oha --no-tui --output-format json -o "$out" "$@"
}

summarize() { python3 "$LT/tool.py" summary "$1" "$2"; }

oha_run() {
  local label=$1; shift
  oha_json "$W/oha.json" "$@"
  summarize "$label" "$W/oha.json"
}

status_count() {
  python3 -c 'import json,sys;print(json.load(open(sys.argv[2]))["statusCodeDistribution"].get(sys.argv[1],0))' \
    "$1" "${2:-$W/oha.json}"
}
