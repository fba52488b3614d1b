#!/usr/bin/env bash
# Catalog import throughput and peak memory: generates catalogs of SIZES products (one
# fragment each, 2–16 KiB, ~6.8 KiB on average: gen-catalog.py) and times, with
# /usr/bin/time -v, a release `synedge import` of each into a new SQLite store, then the
# same file again into that store (nothing changed: nothing is written). Then
# `seed --demo --products SEED` (the demo catalog, ~2.7 fragments per product).
# Prints fragments/s, wall time, CPU and peak RSS per run.
#
#   loadtest/import.sh                                # 100,000 and 1,000,000 fragments
#   SIZES=100000 SEED=10000 loadtest/import.sh
#   CATALOGS=/var/tmp/synedge-catalogs loadtest/import.sh   # keep the generated files
#
# The 1,000,000-fragment catalog is 7 GB and takes minutes to generate; with CATALOGS
# set it is generated once and reused. Nothing here uses the network.
SIZES=${SIZES:-100000 1000000} SEED=${SEED:-100000}
LOADTEST_TOOLS="python3 /usr/bin/time"
source "$(dirname "$0")/lib.sh"
CATALOGS=${CATALOGS:-$W/catalogs}

# measure LABEL COMMAND…: runs COMMAND under /usr/bin/time -v, prints one line.
measure() {
  local label=$1; shift
  if ! /usr/bin/time -v -o "$W/time.txt" "$@" >"$W/out.txt" 2>"$W/err.txt"; then
    cat "$W/err.txt" "$W/out.txt" >&2; echo "$label: failed" >&2; exit 1
  fi
  python3 - "$label" "$W/time.txt" "$W/out.txt" <<'PY'
import re, sys
label, time_file, out_file = sys.argv[1:]
t = open(time_file).read()
said = open(out_file).read().strip().splitlines()[-1]
def field(name):
    return re.search(re.escape(name) + r": (.*)", t).group(1).strip()
wall = 0.0
for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
    wall = wall * 60 + float(part)
cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
rss_mib = int(field("Maximum resident set size (kbytes)")) / 1024
fragments = int(re.search(r"imported (\d+) fragments?", said).group(1))
print(f"{label:<34} {fragments:>9,} fragments {wall:7.1f} s {fragments / wall:9,.0f} fragments/s "
      f"CPU {cpu / wall * 100:4.0f}%  peak RSS {rss_mib:6.0f} MiB")
print(f"{'':<34} {said}")
PY
}

echo "synedge $("$BIN" --version 2>/dev/null | awk '{print $2}'), $(nproc) cores"
for n in $SIZES; do
  dir=$CATALOGS/$n
  if [ ! -s "$dir/catalog.ndjson" ]; then
    echo "generating $n products into $dir ..."
    python3 "$LT/gen-catalog.py" "$dir" "$n" >/dev/null
  fi
  rm -f "$W"/catalog.db*
  measure "import $n (new store)" "$BIN" import "$dir/catalog.ndjson"
  measure "import $n again (unchanged)" "$BIN" import "$dir/catalog.ndjson"
done
rm -f "$W"/catalog.db*
measure "seed --demo --products $SEED" "$BIN" seed --demo --products "$SEED"
