#!/usr/bin/env bash
# Runs one of the k6 scripts here against a local release synedge: seeds PRODUCTS demo
# products into a throwaway store, starts the server on 127.0.0.1 (in a loopback-only
# network namespace, see ../lib.sh), warms every key unless WARM=0, and runs k6 with
# BASE_URL and PATHS_FILE pointing at it. Other knobs of the scripts (SCALE, TIME_SCALE,
# RATE, ZIPF_S, BEACON_SHARE, NO_CONTENT_SHARE…) pass through the environment; extra
# arguments go to `k6 run`. After k6's summary it prints the server's own latency (from
# /metrics), then exits with k6's status (99 when a threshold failed).
#
#   loadtest/k6/local.sh smoke.js
#   SCALE=0.2 TIME_SCALE=0.1 loadtest/k6/local.sh black-friday.js --quiet
#   K6=/path/to/k6 loadtest/k6/local.sh smoke.js
SCRIPT=${1:?usage: local.sh SCRIPT.js [k6 run args...]}
K6=${K6:-k6} PRODUCTS=${PRODUCTS:-10000} WARM=${WARM:-1}
LOADTEST_TOOLS="$K6 python3 curl" # read by lib.sh
source "$(dirname "$0")/../lib.sh"
shift
case $SCRIPT in /*) ;; *) SCRIPT=$LT/k6/$(basename "$SCRIPT") ;; esac

seed_urls "$PRODUCTS"
start_server
[ "$WARM" = 1 ] && warm "$W/urls.txt"
echo "k6 $(basename "$SCRIPT") against $BASE ($PRODUCTS products)"
rc=0
"$K6" run -e BASE_URL="$BASE" -e PATHS_FILE="$W/paths.txt" "$@" "$SCRIPT" || rc=$?
# The server's own view: k6's latencies include k6's queueing when it is short of CPU.
curl -fs "http://127.0.0.1:$ADMIN/metrics" >"$W/metrics.txt"
python3 "$LT/tool.py" server-latency "$W/metrics.txt"
exit $rc
