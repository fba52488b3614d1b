#!/usr/bin/env bash
# Cached-fragment load test with oha: seeds 10,000 demo products into a throwaway store,
# starts a release synedge on 127.0.0.1, warms every key, then drives GETs spread over
# all 10,000 products, each equally likely (identity and brotli), printing one line per
# run: rps, p50/p90/p99/p99.9 latency and status counts. For skewed popularity, no-content
# answers and beacons see scenarios.sh.
#
#   loadtest/fragments.sh            # 64 and 256 connections, 10 s each
#   CONCS="32 128" DURATION=20 PRODUCTS=5000 loadtest/fragments.sh
#
# Everything stays on 127.0.0.1 (see lib.sh) and stops by itself. Needs oha
# (`cargo install oha --locked`).
PRODUCTS=${PRODUCTS:-10000} CONCS=${CONCS:-64 256} DURATION=${DURATION:-10}
source "$(dirname "$0")/lib.sh"

seed_urls "$PRODUCTS"
start_server
echo "warming $PRODUCTS keys..."
warm "$W/urls.txt"

for c in $CONCS; do
  for enc in identity br; do
    oha_run "c=$c $enc ${DURATION}s" -z "${DURATION}s" -c "$c" -H "Accept-Encoding: $enc" \
      --urls-from-file "$W/urls.txt"
  done
done
curl -fs "http://127.0.0.1:$ADMIN/metrics" | grep -E '^synedge_cache_requests_total|^synedge_cache_entries|^synedge_cache_bytes'
