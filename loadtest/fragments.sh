#!/usr/bin/env bash
# Cached-fragment load test with oha: seeds 10,000 demo products into a throwaway store,
# starts a release synedge on 127.0.0.1, warms every key, then drives GETs spread over
# all 10,000 products (identity and brotli) and prints rps and latency percentiles.
#
#   loadtest/fragments.sh            # 64 and 256 connections, 10 s each
#   CONCS="32 128" DURATION=20 PRODUCTS=5000 loadtest/fragments.sh
#
# Everything stays on 127.0.0.1 and stops by itself. Needs oha (`cargo install oha`).
PRODUCTS=${PRODUCTS:-10000} CONCS=${CONCS:-64 256} DURATION=${DURATION:-10}
source "$(dirname "$0")/lib.sh"

seed_urls "$PRODUCTS"
start_server
echo "warming $PRODUCTS keys..."
xargs -P 8 -n 50 curl -fs -o /dev/null <"$W/urls.txt"

for c in $CONCS; do
  for enc in identity br; do
    echo "== $c connections, Accept-Encoding: $enc, ${DURATION}s"
    oha --no-tui -z "${DURATION}s" -c "$c" -H "Accept-Encoding: $enc" --urls-from-file "$W/urls.txt" \
      | grep -E 'Requests/sec|Slowest|Fastest|Average|(50|90|99)\.[0-9]+% in|^ *\[[0-9]{3}\]|Error'
  done
done
curl -fs "http://127.0.0.1:$ADMIN/metrics" | grep -E '^synedge_cache_requests_total|^synedge_cache_entries|^synedge_cache_bytes'
