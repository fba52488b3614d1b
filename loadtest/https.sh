#!/usr/bin/env bash
# HTTPS with HTTP/2 against plain HTTP/1.1 (issue 8): the same release binary twice over
# one store of 10,000 demo products, every key cached, driven in turn by h2load
# (Debian's nghttp2-client): plain h1, then TLS 1.3 + h2 with one stream per
# connection, then with STREAMS concurrent streams. Prints, per run, requests/s, mean
# latency and each server's CPU time per request, the figure that depends least on the
# load generator sharing the cores.
#
#   loadtest/https.sh        # PRODUCTS=10000 DURATION=8 CONNS=64 STREAMS=10 REPS=3
#
# Everything stays on 127.0.0.1 in a loopback-only namespace (see lib.sh) and stops by
# itself. Needs h2load and openssl (apt-get install nghttp2-client openssl).
PRODUCTS=${PRODUCTS:-10000} DURATION=${DURATION:-8} CONNS=${CONNS:-64} STREAMS=${STREAMS:-10} REPS=${REPS:-3}
LOADTEST_TOOLS="h2load openssl python3 curl"
source "$(dirname "$0")/lib.sh"
"$BIN" seed --demo --products "$PRODUCTS" --paths "$W/paths.txt" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -keyout "$W/tls.key" -out "$W/tls.crt" 2>/dev/null
start_server
TLS_PORT=$(free_port)
SYNEDGE_SERVER__LISTEN=127.0.0.1:$TLS_PORT SYNEDGE_ADMIN__LISTEN=127.0.0.1:$(free_port) \
  SYNEDGE_TLS__CERT=$W/tls.crt SYNEDGE_TLS__KEY=$W/tls.key RUST_LOG=warn "$BIN" serve & TLS_PID=$!
PID="$PID $TLS_PID"
for _ in $(seq 100); do "$BIN" --set tls.cert="$W/tls.crt" --set tls.key="$W/tls.key" \
  healthcheck --addr "127.0.0.1:$TLS_PORT" 2>/dev/null && break; sleep 0.1; done
to_urls "$W/paths.txt" "$W/h1.txt"
sed "s#^#https://127.0.0.1:$TLS_PORT#" "$W/paths.txt" >"$W/h2.txt"
h2load --h1 -n "$PRODUCTS" -c 8 -i "$W/h1.txt" >/dev/null   # fill the caches
h2load -n "$PRODUCTS" -c 8 -i "$W/h2.txt" >/dev/null
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
run() { # LABEL SERVER_PID H2LOAD_ARGS…
  local label=$1 pid=$2; shift 2
  local t0 t1; t0=$(ticks "$pid"); h2load -D "$DURATION" -c "$CONNS" -t 2 "$@" >"$W/h2load.txt" 2>&1; t1=$(ticks "$pid")
  python3 - "$label" "$((t1 - t0))" "$(getconf CLK_TCK)" "$W/h2load.txt" <<'PY'
import re, sys
label, ticks, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = open(sys.argv[4]).read()
rps = float(re.search(r"finished in [^,]+, ([\d.]+) req/s", out).group(1))
ok = int(re.search(r"requests: .* (\d+) succeeded", out).group(1))
mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out).group(1)
proto = re.search(r"Application protocol: (\S+)", out).group(1)
print(f"{label:<24} {proto:<9} {rps:>9.0f} req/s  mean {mean:>8}  server {ticks / hz * 1e6 / max(ok, 1):6.1f} us/req  {ok} ok")
PY
}
for r in $(seq "$REPS"); do
  echo "== round $r ($CONNS connections, ${DURATION}s each)"
  run "http/1.1 plain" "${PID%% *}" --h1 -i "$W/h1.txt"
  run "h2 over TLS, 1 stream" "$TLS_PID" -m 1 -i "$W/h2.txt"
  run "h2 over TLS, $STREAMS streams" "$TLS_PID" -m "$STREAMS" -i "$W/h2.txt"
done
