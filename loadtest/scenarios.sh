#!/usr/bin/env bash
# Traffic shapes with oha against a release synedge on 127.0.0.1, seeded with PRODUCTS
# demo products into a throwaway store. Each scenario runs DURATION seconds per
# concurrency level and prints one line: rps, p50/p90/p99/p99.9 latency (ms), status
# counts and errors.
#
#   hot-key     HOT_SHARE of the requests on HOT_KEYS products (a doorbuster), the rest
#               spread evenly over the catalog
#   zipf        popularity over the whole catalog: the k-th most popular product gets a
#               share proportional to 1/k^ZIPF_S
#   no-content  zipf, plus NO_CONTENT_SHARE of requests that answer 204: GTINs no product
#               has, a locale nobody wrote (it-IT), and a retailer without the brand's grant
#   beacons     POST /v1/events with one event per request, text/plain, as the loader's
#               navigator.sendBeacon sends them (products Zipf-popular, mixed types)
#
#   loadtest/scenarios.sh                       # all four: 64 connections, 12 s each
#   loadtest/scenarios.sh zipf no-content       # some of them, in this order
#   DURATION=30 CONCS="64 256" ZIPF_S=0.8 loadtest/scenarios.sh zipf
#   RATE=20000 loadtest/scenarios.sh zipf       # fixed arrival rate instead of flat out
#
# Knobs (environment): PRODUCTS=10000 DURATION=12 CONCS=64 LINES=100000 (lines in a mix
# file) ZIPF_S=1.0 HOT_KEYS=3 HOT_SHARE=0.9 NO_CONTENT_SHARE=0.1
# ACCEPT_ENCODING="gzip, deflate, br" RATE= (requests/s for oha -q, with latency
# correction; empty: as fast as the server answers) WARM=1 (0: no warm-up, so the first
# requests of a scenario miss; run one scenario per call to see a cold cache).
# LOADTEST_BIN=path skips the build; NETNS=0 skips the network namespace (lib.sh).
#
# The mix files are deterministic (loadtest/tool.py); oha picks a line uniformly at
# random per request, so a file's proportions are the traffic's. Before each run, a
# sample of the URLs oha would send (--dump-urls) is checked to be local and its
# popularity printed. Everything stays on 127.0.0.1 and stops by itself. Needs oha
# (`cargo install oha --locked`) and python3.
ALL="hot-key zipf no-content beacons"
PRODUCTS=${PRODUCTS:-10000} DURATION=${DURATION:-12} CONCS=${CONCS:-64} LINES=${LINES:-100000}
ZIPF_S=${ZIPF_S:-1.0} HOT_KEYS=${HOT_KEYS:-3} HOT_SHARE=${HOT_SHARE:-0.9}
NO_CONTENT_SHARE=${NO_CONTENT_SHARE:-0.1} ACCEPT_ENCODING=${ACCEPT_ENCODING:-gzip, deflate, br}
RATE=${RATE:-} WARM=${WARM:-1}
SCENARIOS=${*:-$ALL}
for s in $SCENARIOS; do
  case " $ALL " in *" $s "*) ;; *) echo "unknown scenario '$s' (one of: $ALL)" >&2; exit 2 ;; esac
done
source "$(dirname "$0")/lib.sh"

seed_urls "$PRODUCTS"
start_server
TOOL="python3 $LT/tool.py"
RATE_ARGS=(); [ -n "$RATE" ] && RATE_ARGS=(-q "$RATE" --latency-correction)

# Refuses a URL file unless every URL oha would draw from it is on this server; prints
# the popularity of a 100,000-URL sample drawn by oha itself.
check_sample() {
  oha --urls-from-file "$1" --dump-urls 100000 >"$W/sample.txt"
  if grep -qv "^$BASE/" "$W/sample.txt"; then echo "$1: a URL is not on $BASE; stopping" >&2; exit 2; fi
  echo "  oha sample: $($TOOL sample-check "$W/sample.txt")"
}

run_get() { # label urls-file
  [ "$WARM" = 1 ] && warm "$2"
  check_sample "$2"
  for c in $CONCS; do
    oha_run "$1 c=$c" -z "${DURATION}s" -w -c "$c" "${RATE_ARGS[@]}" \
      -H "Accept-Encoding: $ACCEPT_ENCODING" --urls-from-file "$2"
  done
}

zipf_paths() { [ -s "$W/zipf.paths" ] || $TOOL zipf "$W/paths.txt" "$LINES" "$ZIPF_S" >"$W/zipf.paths"; }

for s in $SCENARIOS; do
  echo "== $s (${DURATION}s per run, $PRODUCTS products${RATE:+, $RATE requests/s})"
  case $s in
    hot-key)
      $TOOL hot "$W/paths.txt" "$LINES" "$HOT_KEYS" "$HOT_SHARE" >"$W/hot.paths"
      to_urls "$W/hot.paths" "$W/hot.urls"
      run_get hot-key "$W/hot.urls" ;;
    zipf)
      zipf_paths; to_urls "$W/zipf.paths" "$W/zipf.urls"
      run_get "zipf s=$ZIPF_S" "$W/zipf.urls" ;;
    no-content)
      # Candidates are asked once (which also warms them); only the 204s are kept.
      $TOOL nocontent-candidates "$W/paths.txt" 1500 >"$W/nc-cand.paths"
      to_urls "$W/nc-cand.paths" "$W/nc-cand.urls"
      fetch_all "$W/nc-cand.urls" | awk '$1 == 204 { print $2 }' | sed "s#^$BASE##" >"$W/nc.paths"
      echo "  $(wc -l <"$W/nc.paths") distinct no-content keys (of $(wc -l <"$W/nc-cand.paths") candidates)"
      zipf_paths
      $TOOL mix "$W/zipf.paths" "$W/nc.paths" "$NO_CONTENT_SHARE" "$LINES" >"$W/mix.paths"
      to_urls "$W/mix.paths" "$W/mix.urls"
      run_get "no-content ${NO_CONTENT_SHARE}" "$W/mix.urls" ;;
    beacons)
      $TOOL beacons "$W/paths.txt" 10000 >"$W/beacons.ndjson"
      for c in $CONCS; do
        oha_run "beacons c=$c" -z "${DURATION}s" -w -c "$c" "${RATE_ARGS[@]}" -m POST \
          -T text/plain -Z "$W/beacons.ndjson" "$BASE/v1/events"
      done
      sleep 2 # one flush interval, so the writer catches up
      curl -fs "http://127.0.0.1:$ADMIN/metrics" \
        | grep -E '^synedge_events_(accepted|written|rejected)_total|^synedge_events_queue_depth' | sort | sed 's/^/  /' ;;
  esac
done
echo "== cache"
curl -fs "http://127.0.0.1:$ADMIN/metrics" | grep -E '^synedge_cache_requests_total|^synedge_cache_entries' | sort | sed 's/^/  /'
