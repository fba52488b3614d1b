#!/usr/bin/env bash
# synedge against nginx proxy_cache, Varnish and the framework ceiling, on the very same
# bodies, side by side in one run: the figures of the README's Performance section.
#
#   loadtest/compare.sh                    # builds target/release/synedge first
#   loadtest/compare.sh SYNEDGE_BINARY
#   MODE=both CONCS="64 256" REPS=3 loadtest/compare.sh
#
# It writes a catalog with gen-catalog.py (N products, 2-16 KiB fragments), imports it into
# a fresh SQLite store, starts synedge on it, copies every fragment body out of synedge
# (identity encoding), serves those bodies from nginx proxy_cache and from Varnish (each over
# an nginx origin) and from the ceiling (loadtest/ceiling: axum/hyper doing nothing but a
# HashMap lookup of a prebuilt body), warms all four, then runs wrk against each in turn
# (synedge, nginx, varnish, ceiling, synedge, ...) with uniformly random paths.
#
# MODE=pinned (the default) gives every server CPU 1 alone (taskset; tokio and nginx then
# run one worker) and the load generator CPU 0 alone (wrk -t1): requests/s is then what one
# server core delivers, whatever the load generator costs. MODE=unpinned lets servers and
# wrk -t2 share both cores, as a user's laptop would. MODE=both runs both.
#
# Per system and connection count it prints median requests/s, p99, and server CPU per
# request (utime+stime of the server processes / requests served), then the ratios that
# matter: synedge vs nginx and synedge vs the ceiling. The last line is one summary.
# Everything listens on 127.0.0.1 inside a loopback-only network namespace (when run as
# root) and stops by itself. Needs nginx, Varnish, wrk and a Rust toolchain (nginx,
# varnish and wrk are installed with apt-get when missing).
# Knobs: MODE CONCS="64 256" REPS=3 DURATION=10 N=10000
#        SYSTEMS="synedge nginx varnish ceiling".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${1:-}" ]; then
  (cd "$HERE/.." && cargo build --release --quiet)
  set -- "$HERE/../target/release/synedge"
fi
BIN=$(readlink -f "$1")
[ -x "$BIN" ] || { echo "compare.sh: $BIN is not an executable" >&2; exit 2; }
MODE=${MODE:-pinned} CONCS=${CONCS:-64 256} REPS=${REPS:-3} DURATION=${DURATION:-10}
N=${N:-10000} SYSTEMS=${SYSTEMS:-synedge nginx varnish ceiling}

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need nginx nginx; need varnishd varnish; need wrk wrk; need taskset util-linux
# The Debian package may have started its own varnishd on :6081; this script runs its own.
pkill -x varnishd 2>/dev/null || true
# The ceiling is built outside any namespace (cargo may need the registry).
CEIL_TARGET=${CEIL_TARGET:-/tmp/synedge-bench-ceiling}
CEIL=$CEIL_TARGET/release/synedge-bench-ceiling
if [ ! -x "$CEIL" ] || [ "$HERE/ceiling/src/main.rs" -nt "$CEIL" ]; then
  echo "building the ceiling (loadtest/ceiling) ..."
  (cd "$HERE/ceiling" && CARGO_TARGET_DIR=$CEIL_TARGET cargo build --release --quiet)
fi
# No request can leave the machine: re-run inside a namespace with loopback alone.
if [ "${COMPARE_NETNS:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  exec env COMPARE_NETNS=1 unshare --net --fork -- bash -c 'ip link set lo up && exec "$@"' bash "$0" "$@"
fi

W=$(mktemp -d /tmp/synedge-compare.XXXXXX)
PIDS=()
stop_all() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }
trap 'stop_all; rm -rf "$W"' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; return 1; }
cpu_ticks() { # utime+stime of a process (all its threads) and its direct children
  local t=0 q v
  for q in "$1" $(pgrep -P "$1" 2>/dev/null); do
    v=$(sed 's/.*) //' "/proc/$q/stat" 2>/dev/null | awk '{print $12+$13}') || continue
    t=$((t + ${v:-0}))
  done
  echo $t
}

# 1. Catalog and store.
python3 "$HERE/gen-catalog.py" "$W/cat" "$N" >/dev/null
SP=$(free_port); SA=$(free_port); NO=$(free_port); NP=$(free_port); CP=$(free_port); VP=$(free_port)
cat >"$W/synedge.toml" <<EOF
[server]
listen = "127.0.0.1:$SP"
[admin]
listen = "127.0.0.1:$SA"
[origin]
url = "sqlite://$W/synedge.db"
[cache]
max_bytes = "2GiB"
ttl = "1h"
EOF
"$BIN" --config "$W/synedge.toml" import "$W/cat/catalog.ndjson" >"$W/import.log" 2>&1 || { tail -3 "$W/import.log"; exit 1; }

start() { # start SYSTEM MODE -> pid in START_PID
  local pin=(); [ "$2" = pinned ] && pin=(taskset -c 1)
  case $1 in
    synedge) "${pin[@]}" "$BIN" --config "$W/synedge.toml" serve >"$W/synedge.log" 2>&1 &
             START_PID=$!; wait_up "http://127.0.0.1:$SP/readyz" ;;
    nginx)   sed "s/@WORKERS@/$([ "$2" = pinned ] && echo 1 || echo 2)/" "$W/nginx.conf.in" >"$W/nginx.conf"
             rm -rf "$W/cache"; mkdir -p "$W/cache"
             "${pin[@]}" nginx -c "$W/nginx.conf" & START_PID=$!
             wait_up "http://127.0.0.1:$NP/f/0.html" ;;
    varnish) # In front of the nginx origin alone (not pinned: after the warm-up it serves
             # nothing, every request being a Varnish hit).
             if ! curl -fs -o /dev/null "http://127.0.0.1:$NO/f/0.html"; then
               nginx -c "$W/origin.conf" & PIDS+=("$!")
               wait_up "http://127.0.0.1:$NO/f/0.html"
             fi
             rm -rf "$W/varnish"; mkdir -p "$W/varnish"; chmod 755 "$W" "$W/varnish"
             # thread_pools = worker cores; -F keeps it in the foreground, as our child.
             "${pin[@]}" varnishd -F -n "$W/varnish" -a "127.0.0.1:$VP" -b "127.0.0.1:$NO" \
               -s "malloc,2g" -p "thread_pools=$([ "$2" = pinned ] && echo 1 || echo 2)" \
               -p default_ttl=3600 >"$W/varnish.log" 2>&1 &
             START_PID=$!; wait_up "http://127.0.0.1:$VP/f/0.html" ;;
    ceiling) "${pin[@]}" "$CEIL" "127.0.0.1:$CP" "$W/manifest.tsv" 2>"$W/ceiling.log" &
             START_PID=$!; wait_up "http://127.0.0.1:$CP$(head -1 "$W/cat/paths.txt")" ;;
  esac
  PIDS+=("$START_PID")
}
url_of() { case $1 in synedge) echo "http://127.0.0.1:$SP";; nginx) echo "http://127.0.0.1:$NP";; varnish) echo "http://127.0.0.1:$VP";; ceiling) echo "http://127.0.0.1:$CP";; esac; }
paths_of() { case $1 in nginx|varnish) echo "$W/nginx-paths.txt";; *) echo "$W/cat/paths.txt";; esac; }

# 2. The same bodies, copied out of synedge, for nginx's origin and the ceiling.
start synedge unpinned
mkdir -p "$W/origin/f" "$W/tmp"; : >"$W/nginx-paths.txt"; : >"$W/manifest.tsv"; n=0
while IFS= read -r p; do
  [ -n "$p" ] || continue
  curl -fsS -H 'Accept-Encoding: identity' -o "$W/origin/f/$n.html" "http://127.0.0.1:$SP$p"
  echo "/f/$n.html" >>"$W/nginx-paths.txt"; printf '%s\t%s\n' "$p" "$W/origin/f/$n.html" >>"$W/manifest.tsv"; n=$((n+1))
done <"$W/cat/paths.txt"
stop_all
echo "corpus: $n bodies, $(du -sh "$W/origin" | cut -f1); machine: $(nproc) CPUs, $(uname -r)"
USER_LINE=; [ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat >"$W/nginx.conf.in" <<CONF
$USER_LINE
worker_processes @WORKERS@;
daemon off;
pid $W/nginx.pid;
error_log $W/error.log warn;
events { worker_connections 8192; }
http {
  default_type text/html;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 65; keepalive_requests 1000000;
  access_log off; gzip off; server_tokens off;
  client_body_temp_path $W/tmp/body; proxy_temp_path $W/tmp/proxy;
  fastcgi_temp_path $W/tmp/fcgi; uwsgi_temp_path $W/tmp/uwsgi; scgi_temp_path $W/tmp/scgi;
  proxy_cache_path $W/cache levels=1:2 keys_zone=frag:64m max_size=2g inactive=24h use_temp_path=off;
  upstream origin { server 127.0.0.1:$NO; keepalive 64; }
  server { listen 127.0.0.1:$NO; root $W/origin; add_header Cache-Control "public, max-age=3600"; }
  server {
    listen 127.0.0.1:$NP backlog=4096;
    location / {
      proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache frag; proxy_cache_valid 200 1h; proxy_cache_lock on;
      proxy_cache_use_stale error timeout updating; proxy_cache_background_update on;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
CONF
cat >"$W/origin.conf" <<CONF
$USER_LINE
worker_processes 1;
daemon off;
pid $W/origin.pid;
error_log $W/origin-error.log warn;
events { worker_connections 1024; }
http {
  default_type text/html; access_log off; server_tokens off;
  client_body_temp_path $W/tmp/obody; proxy_temp_path $W/tmp/oproxy;
  fastcgi_temp_path $W/tmp/ofcgi; uwsgi_temp_path $W/tmp/ouwsgi; scgi_temp_path $W/tmp/oscgi;
  server { listen 127.0.0.1:$NO; root $W/origin; add_header Cache-Control "public, max-age=3600"; }
}
CONF
cat >"$W/paths.lua" <<'LUA'
local paths = {}
function init(args) for l in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = l end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end
function request() return wrk.format(nil, paths[math.random(#paths)]) end
LUA

run() { # run SYSTEM MODE CONC PID
  local lg=(wrk -t2); [ "$2" = pinned ] && lg=(taskset -c 0 wrk -t1)
  local c0 c1 out reqs us rps p99 bad
  c0=$(cpu_ticks "$4")
  out=$(WRK_PATHS=$(paths_of "$1") "${lg[@]}" -c"$3" -d"${DURATION}s" --latency -s "$W/paths.lua" "$(url_of "$1")" 2>&1)
  c1=$(cpu_ticks "$4")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  us=$(python3 -c "print(round(($c1-$c0)/$(getconf CLK_TCK)*1e6/max(1,${reqs:-0}),2))")
  bad=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
  echo "$2 $1 $3 ${rps:-0} ${p99:-0} $us $bad" >>"$W/runs.txt"
}

# 3. Per mode: start, warm (every path twice), measure in turn.
modes=$MODE; [ "$MODE" = both ] && modes="pinned unpinned"
for mode in $modes; do
  declare -A PID_OF=()
  for s in $SYSTEMS; do
    start "$s" "$mode"; PID_OF[$s]=$START_PID
    sed "s|^\(.*\)$|url = \"$(url_of "$s")\1\"\noutput = \"/dev/null\"|" "$(paths_of "$s")" >"$W/warm.curl"
    for _ in 1 2; do curl -s -K "$W/warm.curl"; done
  done
  for c in $CONCS; do for r in $(seq "$REPS"); do
    for s in $SYSTEMS; do run "$s" "$mode" "$c" "${PID_OF[$s]}"; done
  done; done
  stop_all; unset PID_OF
done

python3 - "$W/runs.txt" <<'PY'
import sys, statistics as st, collections
g = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    g[(f[0], f[1], int(f[2]))].append((float(f[3]), float(f[4]), float(f[5]), " ".join(f[6:])))
summary = []
print(f"{'mode':<9} {'conc':>4} {'system':<8} {'rps':>9} {'p99 ms':>8} {'cpu us/req':>10}")
for mode in ("pinned", "unpinned"):
    for c in sorted({k[2] for k in g if k[0] == mode}):
        med = {}
        for s in ("synedge", "nginx", "varnish", "ceiling"):
            runs = g.get((mode, s, c))
            if not runs: continue
            med[s] = [st.median(x[i] for x in runs) for i in range(3)]
            print(f"{mode:<9} {c:>4} {s:<8} {med[s][0]:>9.0f} {med[s][1]:>8.2f} {med[s][2]:>10.1f}")
            for x in runs:
                if x[3]: print(f"  {s}: {x[3]}")
        if "synedge" in med:
            se = med["synedge"]; parts = []
            if "nginx" in med:
                n = med["nginx"]; parts.append(f"vs nginx {se[0]/n[0]:.2f}x rps, {se[2]/n[2]:.2f}x cpu, p99 {se[1]:.1f}/{n[1]:.1f}")
            if "varnish" in med:
                v = med["varnish"]; parts.append(f"vs varnish {se[0]/v[0]:.2f}x rps, {se[2]/v[2]:.2f}x cpu, p99 {se[1]:.1f}/{v[1]:.1f}")
            if "ceiling" in med:
                cl = med["ceiling"]; parts.append(f"vs ceiling {se[0]/cl[0]:.2f}x rps, {se[2]/cl[2]:.2f}x cpu")
            print(f"{'':<14} synedge {'; '.join(parts)}")
            summary.append(f"{mode} c{c}: " + "; ".join(parts))
print("summary: " + " | ".join(summary))
PY
