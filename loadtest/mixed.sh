#!/usr/bin/env bash
# Events beside fragments (issue 3's interference check): cached fragment GETs over
# 10,000 demo products at full speed, alone and then with a fixed 2,000 beacon
# requests/s of 10 events each (20,000 events/s) running at the same time; prints the
# fragments' rps and latency for both, twice, so the slowdown can be read off.
#
#   loadtest/mixed.sh        # DURATION=8 PRODUCTS=10000 EVENT_RATE=2000
#
# Everything stays on 127.0.0.1 and stops by itself. Needs oha (`cargo install oha`).
PRODUCTS=${PRODUCTS:-10000} DURATION=${DURATION:-8} EVENT_RATE=${EVENT_RATE:-2000}
source "$(dirname "$0")/lib.sh"
seed_urls "$PRODUCTS"
python3 -c 'import json;print(json.dumps([{"type":["impression","view","click","no_match"][i%4],"retailer":"shop-one","locale":"en-GB","ean":"4006381333931"} for i in range(10)]))' >"$W/body.json"
start_server
xargs -P 8 -n 50 curl -fs -o /dev/null <"$W/urls.txt"
frag() { oha --no-tui -z "${DURATION}s" -c 64 --urls-from-file "$W/urls.txt" | grep -E 'Requests/sec|(50|99)\.00% in'; }
for round in 1 2; do
  echo "== round $round: fragments alone"; frag
  echo "== round $round: fragments + $EVENT_RATE beacon requests/s x 10 events"
  oha --no-tui -z "${DURATION}s" -c 16 -q "$EVENT_RATE" -m POST -T text/plain -D "$W/body.json" \
    "http://127.0.0.1:$PORT/v1/events" >"$W/events.txt" & EP=$!
  frag; wait $EP
  grep -E 'Requests/sec|^ *\[[0-9]{3}\]' "$W/events.txt" | sed 's/^/  events: /'
done
