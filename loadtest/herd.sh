#!/usr/bin/env bash
# Cold herds, synedge beside nginx proxy_cache_lock, on one slow upstream (upstream.py,
# answering after DELAY_MS) on 127.0.0.1:
#
#   one key     CLIENTS concurrent requests (oha -c CLIENTS -n CLIENTS) for one key
#               nobody asked for before: a product launch
#   50 keys     KEYS_N cold keys, KEYS_REQUESTS requests over KEYS_CONNS connections,
#               spread evenly at random (oha --urls-from-file): a newsletter link
#
# Each round uses keys never asked before, for synedge then nginx, and prints per system:
# status counts, p50/p99 (oha's latency: connection set-up included, the same for both),
# and how many fetches reached the upstream (the herd's cost to the origin). After the
# one-key herd, the same burst on the now-cached key is the control: the difference of
# the two p99s is what the herd itself cost, to compare with DELAY_MS.
#
#   loadtest/herd.sh                      # 3 rounds, 2,000 clients, 100 ms upstream
#   ROUNDS=5 CLIENTS=1000 DELAY_MS=50 loadtest/herd.sh
#
# nginx: proxy_cache_lock on (lock_timeout 5 s), 2 workers, access log off; it re-checks
# its lock every 500 ms, which is what its waiters' latency shows. Needs oha, nginx,
# python3 and curl; everything stays on 127.0.0.1 (lib.sh's network namespace) and stops
# by itself. LOADTEST_BIN=path skips the build; NETNS=0 skips the namespace.
LOADTEST_TOOLS="oha python3 curl nginx"
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-3} CLIENTS=${CLIENTS:-2000} DELAY_MS=${DELAY_MS:-100}
KEYS_N=${KEYS_N:-50} KEYS_REQUESTS=${KEYS_REQUESTS:-10000} KEYS_CONNS=${KEYS_CONNS:-2000}
UP=$(free_port) NGX=$(free_port)

export SYNEDGE_ORIGIN__URL="http://127.0.0.1:$UP/fragments" SYNEDGE_EVENTS__STORE="sqlite://$W/events.db"
start_server
python3 "$LT/upstream.py" "$UP" "$DELAY_MS" & PID="$PID $!"
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$UP/_count" && break; sleep 0.1; done
fetches() { curl -fs "http://127.0.0.1:$UP/_count"; }

mkdir -p "$W/nginx/cache" "$W/nginx/tmp"
USER_LINE=; [ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat >"$W/nginx/nginx.conf" <<CONF
$USER_LINE
worker_processes 2;
daemon off;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 16384; }
http {
  access_log off; server_tokens off;
  keepalive_timeout 65; keepalive_requests 1000000;
  client_body_temp_path $W/nginx/tmp/body; proxy_temp_path $W/nginx/tmp/proxy;
  fastcgi_temp_path $W/nginx/tmp/fcgi; uwsgi_temp_path $W/nginx/tmp/uwsgi; scgi_temp_path $W/nginx/tmp/scgi;
  proxy_cache_path $W/nginx/cache levels=1:2 keys_zone=frag:64m max_size=1g inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:$NGX backlog=4096;
    location / {
      proxy_pass http://127.0.0.1:$UP;
      proxy_cache frag; proxy_cache_valid 200 1h;
      proxy_cache_lock on; proxy_cache_lock_timeout 5s; proxy_cache_lock_age 5s;
    }
  }
}
CONF
nginx -c "$W/nginx/nginx.conf" & PID="$PID $!"
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$NGX/_count" && break; sleep 0.1; done

# A fragment path for key K, the same on both (nginx passes it through to the upstream).
key_path() { echo "/v1/fragment?retailer=shop-one&locale=en-GB&sku=herd-$1"; }

herd_line() { # LABEL OHA_JSON FETCHES
  python3 - "$@" <<'PY'
import json, sys
label, path, fetches = sys.argv[1], sys.argv[2], sys.argv[3]
j = json.load(open(path))
p = j["latencyPercentiles"]
codes = " ".join(f"{k}={v}" for k, v in sorted(j["statusCodeDistribution"].items()))
errs = sum(j.get("errorDistribution", {}).values())
print(f"  {label:<22} {codes:<12} errors={errs:<3} p50 {p['p50']*1000:7.1f} ms  p99 {p['p99']*1000:7.1f} ms  upstream fetches {fetches}")
PY
}

run() { # LABEL BASE ROUND
  local label=$1 base=$2 r=$3 before
  before=$(fetches)
  oha_json "$W/one.json" -n "$CLIENTS" -c "$CLIENTS" "$base$(key_path "$label-$r-one")"
  herd_line "$label, 1 key" "$W/one.json" $(( $(fetches) - before ))
  # The control: the same burst again, now on a cached key. What it costs is the burst
  # itself (CLIENTS connections opened at once on this machine), not the herd.
  before=$(fetches)
  oha_json "$W/warm.json" -n "$CLIENTS" -c "$CLIENTS" "$base$(key_path "$label-$r-one")"
  herd_line "$label, 1 key, cached" "$W/warm.json" $(( $(fetches) - before ))
  for k in $(seq "$KEYS_N"); do key_path "$label-$r-many-$k"; done | sed "s#^#$base#" >"$W/many.txt"
  before=$(fetches)
  oha_json "$W/many.json" -n "$KEYS_REQUESTS" -c "$KEYS_CONNS" --urls-from-file "$W/many.txt"
  herd_line "$label, $KEYS_N keys" "$W/many.json" $(( $(fetches) - before ))
}

echo "cold herds: upstream answers in ${DELAY_MS} ms; 1 key x $CLIENTS clients; $KEYS_N keys x $KEYS_REQUESTS requests over $KEYS_CONNS connections"
for r in $(seq "$ROUNDS"); do
  echo "round $r"
  run synedge "$BASE" "$r"
  run nginx "http://127.0.0.1:$NGX" "$r"
done
