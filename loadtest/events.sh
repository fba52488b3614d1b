#!/usr/bin/env bash
# Beacon write-path load test with oha: starts a release synedge on 127.0.0.1 over a
# throwaway store, POSTs one small JSON array of events (BATCH events per request) for
# DURATION seconds per concurrency level, then prints requests/s, events/s (accepted,
# from the 202 count) and what the writer stored.
#
#   loadtest/events.sh                 # 64 connections, 10 s, 10 events per request
#   CONCS="16 128" DURATION=20 BATCH=50 loadtest/events.sh
#
# One event per request, as browsers send them, is scenarios.sh's `beacons`.
#
# Everything stays on 127.0.0.1 (see lib.sh) and stops by itself. Needs oha
# (`cargo install oha --locked`).
CONCS=${CONCS:-64} DURATION=${DURATION:-10} BATCH=${BATCH:-10}
source "$(dirname "$0")/lib.sh"

# BATCH events over a few products, retailers and types: a realistic page's beacons.
python3 - "$BATCH" >"$W/body.json" <<'PY'
import json, sys
types = ["impression", "view", "click", "no_match"]
eans = ["4006381333931", "0012345678905", "96385074"]
n = int(sys.argv[1])
print(json.dumps([{"type": types[i % 4], "retailer": f"shop-{i % 3}", "locale": "en-GB",
                   "ean": eans[i % 3]} for i in range(n)]))
PY

start_server

for c in $CONCS; do
  oha_run "c=$c batch=$BATCH ${DURATION}s" -z "${DURATION}s" -c "$c" -m POST -T text/plain \
    -D "$W/body.json" "$BASE/v1/events"
  echo "accepted events/s: $(( $(status_count 202) * BATCH / DURATION ))"
done
sleep 2 # one flush interval, so the writer catches up
curl -fs "http://127.0.0.1:$ADMIN/metrics" | grep -E '^synedge_events_(accepted|written|rejected)_total|^synedge_events_queue_depth|^synedge_events_flush_duration_seconds_(sum|count)'
