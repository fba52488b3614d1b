#!/usr/bin/env bash
# Events beside fragments (issue 3's interference check): what accepting beacons costs
# cached fragment serving. Cached fragment GETs over 10,000 demo products, in three cases
# run in turn, ROUNDS times:
#   alone      fragments only
#   +beacons   with EVENT_RATE beacon requests/s of 10 events each (20,000 events/s)
#   +healthz   with EVENT_RATE GET /healthz/s instead: a control, a second request stream
#              at the same rate that does no work, so what remains between it and
#              +beacons is the cost of the events themselves
# and in two regimes:
#   same load  fragments at a fixed FRAG_RATE/s over 64 connections, the same work in
#              every case: the change is in fragment latency
#   full speed fragments as fast as 64 connections go: the change is in fragment rps,
#              and it includes the CPU the second oha process takes from the same cores
# Prints every run, then per regime the medians of the rounds and the change from alone.
#
#   loadtest/mixed.sh        # DURATION=8 ROUNDS=3 FRAG_RATE=10000 EVENT_RATE=2000
#
# Everything stays on 127.0.0.1 (see lib.sh) and stops by itself. Needs oha
# (`cargo install oha --locked`).
PRODUCTS=${PRODUCTS:-10000} DURATION=${DURATION:-8} ROUNDS=${ROUNDS:-3}
FRAG_RATE=${FRAG_RATE:-10000} EVENT_RATE=${EVENT_RATE:-2000}
source "$(dirname "$0")/lib.sh"
seed_urls "$PRODUCTS"
python3 -c 'import json;print(json.dumps([{"type":["impression","view","click","no_match"][i%4],"retailer":"shop-one","locale":"en-GB","ean":"4006381333931"} for i in range(10)]))' >"$W/body.json"
start_server
warm "$W/urls.txt"
mkdir "$W/runs"
# run REGIME CASE ROUND: fragments (at FRAG_RATE for "same"), with CASE's side stream
run() {
  local out="$W/runs/$1.$2.$3.json" rate=() side=
  [ "$1" = same ] && rate=(-q "$FRAG_RATE")
  case $2 in
    beacons) oha_json "$W/side.json" -z "${DURATION}s" -c 16 -q "$EVENT_RATE" -m POST \
               -T text/plain -D "$W/body.json" "$BASE/v1/events" & side=$! ;;
    healthz) oha_json "$W/side.json" -z "${DURATION}s" -c 16 -q "$EVENT_RATE" "$BASE/healthz" & side=$! ;;
  esac
  oha_json "$out" -z "${DURATION}s" -c 64 "${rate[@]}" --urls-from-file "$W/urls.txt"
  summarize "$1 load, $2, round $3" "$out"
  if [ -n "$side" ]; then wait "$side"; summarize "  side stream ($2)" "$W/side.json"; fi
}
for regime in same full; do
  for round in $(seq "$ROUNDS"); do
    for c in alone beacons healthz; do run "$regime" "$c" "$round"; done
  done
done
echo
python3 "$LT/tool.py" interference "$W/runs" "$FRAG_RATE" "$EVENT_RATE"
