#!/usr/bin/env bash
# Events beside fragments (issue 3's interference check): cached fragment GETs over
# 10,000 demo products at full speed, alone and then with a fixed 2,000 beacon
# requests/s of 10 events each (20,000 events/s) running at the same time; prints the
# fragments' rps and latency for both, twice, so the slowdown can be read off.
#
#   loadtest/mixed.sh        # DURATION=8 PRODUCTS=10000 EVENT_RATE=2000
#
# Everything stays on 127.0.0.1 (see lib.sh) and stops by itself. Needs oha
# (`cargo install oha --locked`).
PRODUCTS=${PRODUCTS:-10000} DURATION=${DURATION:-8} EVENT_RATE=${EVENT_RATE:-2000}
source "$(dirname "$0")/lib.sh"
seed_urls "$PRODUCTS"
python3 -c 'import json;print(json.dumps([{"type":["impression","view","click","no_match"][i%4],"retailer":"shop-one","locale":"en-GB","ean":"4006381333931"} for i in range(10)]))' >"$W/body.json"
start_server
warm "$W/urls.txt"
frag() { oha_run "$1" -z "${DURATION}s" -c 64 --urls-from-file "$W/urls.txt"; }
for round in 1 2; do
  frag "round $round: fragments alone"
  oha_json "$W/events.json" -z "${DURATION}s" -c 16 -q "$EVENT_RATE" -m POST -T text/plain \
    -D "$W/body.json" "$BASE/v1/events" & EP=$!
  frag "round $round: +${EVENT_RATE}/s beacons"; wait $EP
  summarize "  + beacons (10 events each)" "$W/events.json"
done
