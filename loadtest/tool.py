#!/usr/bin/env python3
"""Deterministic request mixes and compact oha summaries for the loadtest/*.sh scripts.

Every mix is written as request *paths*, one per line; lib.sh prefixes them with the
local server's address. oha's --urls-from-file picks one line uniformly at random for
each request (oha 1.16: `urls.choose(rng)` in src/url_generator.rs), so a product that
fills a fraction f of the lines gets a fraction f of the requests. Output depends only on
the arguments (fixed seeds, no clock), so two runs of a scenario send the same mix.

  tool.py zipf PATHS LINES S                  Zipf(S) popularity over the catalog
  tool.py hot PATHS LINES KEYS SHARE          KEYS products take SHARE of the lines
  tool.py nocontent-candidates PATHS COUNT    fragment paths that should answer 204
  tool.py mix FILE_A FILE_B SHARE_B LINES     LINES lines, SHARE_B of them from FILE_B
  tool.py beacons PATHS LINES                 one-event beacon bodies (sendBeacon's shape)
  tool.py sample-check URLS_FILE              popularity of a URL sample (oha --dump-urls)
  tool.py summary LABEL OHA_JSON              one line: rps, p50/p90/p99/p99.9, statuses
  tool.py server-latency METRICS_FILE         the server's own latency, from /metrics
  tool.py interference RUNS_DIR FRAG_RATE EVENT_RATE   mixed.sh's verdict (paired by round)

PATHS is the catalog's path list in product order (`synedge seed --paths`).
"""

import json
import os
import random
import re
import statistics
import sys
from collections import Counter

SEED = 1127  # the Black-Friday profile's seed; any fixed number would do


def read_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def ranked(paths):
    """The catalog in popularity order: a fixed shuffle, so popularity does not follow
    product index (and with it brand or fragment size)."""
    order = list(paths)
    random.Random(SEED).shuffle(order)
    return order


def counts_for(weights, lines):
    """Split `lines` over the weights exactly: cumulative rounding, so every item gets
    round(lines × its share) give or take one and the total is exactly `lines`."""
    total = sum(weights)
    out, acc, prev = [], 0.0, 0
    for w in weights:
        acc += w
        cur = round(lines * acc / total)
        out.append(cur - prev)
        prev = cur
    return out


def emit(lines):
    random.Random(SEED + 1).shuffle(lines)  # order does not matter to oha; it does to `head`
    sys.stdout.write("\n".join(lines) + "\n")


def zipf(paths_file, n_lines, s):
    order = ranked(read_lines(paths_file))
    weights = [1.0 / (k**s) for k in range(1, len(order) + 1)]
    lines = []
    for path, c in zip(order, counts_for(weights, n_lines)):
        lines.extend([path] * c)
    emit(lines)


def hot(paths_file, n_lines, keys, share):
    """`keys` products (the doorbusters) share `share` of the lines equally; the rest of
    the lines are spread evenly over the whole catalog (hot products included)."""
    order = ranked(read_lines(paths_file))
    hot_lines = round(n_lines * share)
    lines = []
    for path, c in zip(order[:keys], counts_for([1.0] * keys, hot_lines)):
        lines.extend([path] * c)
    for path, c in zip(order, counts_for([1.0] * len(order), n_lines - hot_lines)):
        lines.extend([path] * c)
    emit(lines)


def ean13(i):
    """The demo catalog's EAN for product i (src/catalog/seed.rs `ean13`), i > 0."""
    data = "29%010d" % (i % 10_000_000_000)
    total = sum(int(d) * (3 if k % 2 == 0 else 1) for k, d in enumerate(reversed(data)))
    return data + str((10 - total % 10) % 10)


def nocontent_candidates(paths_file, count):
    """Three kinds of request with no content, in equal parts:
    - a valid GTIN that no product has (the brand syndicates nothing for it);
    - a catalog product in a locale nobody wrote (it-IT: no exact match, no `it`);
    - a catalog product asked by `outlet-24`, which is granted only some brands: the
      products of granted brands answer 200, so the caller keeps only the 204s.
    """
    order = ranked(read_lines(paths_file))
    per = max(1, count // 3)
    out = []
    for j in range(per):
        out.append(f"/v1/fragment?retailer=shop-one&locale=en-GB&ean={ean13(9_000_000_000 + j)}")
    for path in order[:per]:
        out.append(path.replace("locale=en-GB", "locale=it-IT"))
    # Twice as many as needed: about half of them belong to brands outlet-24 may show.
    for path in order[per : 3 * per]:
        out.append(path.replace("retailer=shop-one", "retailer=outlet-24"))
    sys.stdout.write("\n".join(out) + "\n")


def mix(file_a, file_b, share_b, n_lines):
    a, b = read_lines(file_a), read_lines(file_b)
    n_b = round(n_lines * share_b)
    rng = random.Random(SEED + 2)
    lines = [a[rng.randrange(len(a))] for _ in range(n_lines - n_b)]
    lines += [b[i % len(b)] for i in range(n_b)]  # every no-content key about equally
    emit(lines)


def beacons(paths_file, n_lines):
    """One event per body, as the loader's `navigator.sendBeacon` posts it: the
    fragment's query plus a type. Products follow the same Zipf(1) popularity as page
    views; types in a plausible proportion (every shown fragment an impression, about
    half of them seen, a few clicked, no_match for pages without content)."""
    order = ranked(read_lines(paths_file))
    zipf_w = [1.0 / k for k in range(1, len(order) + 1)]
    rng = random.Random(SEED + 3)
    types = ["impression"] * 10 + ["view"] * 6 + ["click"] * 1 + ["no_match"] * 3
    retailers = ["shop-one", "shop-one", "shop-two", "megastore"]
    locales = ["en-GB", "en-GB", "de-DE"]
    out = []
    for path in rng.choices(order, weights=zipf_w, k=n_lines):
        ean = re.search(r"ean=(\d+)", path).group(1)
        out.append(
            json.dumps(
                {
                    "type": rng.choice(types),
                    "retailer": rng.choice(retailers),
                    "locale": rng.choice(locales),
                    "ean": ean,
                },
                separators=(",", ":"),
            )
        )
    sys.stdout.write("\n".join(out) + "\n")


def sample_check(urls_file):
    """How concentrated a sample of requested URLs is: the share of the top 1, 10 and
    100 keys and the number of distinct keys. Fed with `oha --dump-urls N`, it shows what
    oha will really send; on a mix file, what the file holds."""
    c = Counter(read_lines(urls_file))
    n = sum(c.values())
    top = [v for _, v in c.most_common(100)]
    share = lambda k: 100.0 * sum(top[:k]) / n
    print(f"{n:,} URLs, {len(c):,} distinct; top 1 {share(1):.1f}%, top 10 {share(10):.1f}%, top 100 {share(100):.1f}%")


def fmt_ms(seconds):
    ms = seconds * 1000.0
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 100:
        return f"{ms:.1f}"
    return f"{ms:.0f}"


def summary(label, json_file):
    with open(json_file) as f:
        r = json.load(f)
    s, p = r["summary"], r["latencyPercentiles"]
    statuses = " ".join(f"{k}={v:,}" for k, v in sorted(r["statusCodeDistribution"].items()))
    errors = r.get("errorDistribution") or {}
    n_err = sum(errors.values())
    err = f"errors={n_err:,}" + (" (" + "; ".join(f"{k}: {v}" for k, v in errors.items()) + ")" if errors else "")
    lat = "  ".join(f"p{q} {fmt_ms(p.get('p' + q) or 0.0)}" for q in ("50", "90", "99", "99.9"))
    print(f"{label:<28} {s['requestsPerSec']:>9,.0f} rps  {lat} ms  {statuses}  {err}")


def server_latency(metrics_file):
    """What the server measured itself (synedge_http_request_duration_seconds), per route:
    how many requests and which share finished within 1, 10 and 100 ms. Tells a slow
    server from a load generator that is short of CPU (its latency includes its own
    queueing)."""
    buckets = {}
    pat = re.compile(r'^synedge_http_request_duration_seconds_bucket\{(.*)\} (\S+)$')
    for line in open(metrics_file):
        m = pat.match(line.strip())
        if not m:
            continue
        labels = dict(kv.split("=", 1) for kv in m.group(1).split(","))
        route, le = labels.get("route", '""').strip('"'), labels["le"].strip('"')
        buckets.setdefault(route, {})[le] = float(m.group(2))
    for route in ("fragment", "events"):
        b = buckets.get(route)
        if not b or not b.get("+Inf"):
            continue
        total = b["+Inf"]
        share = lambda le: 100.0 * b.get(le, 0.0) / total
        print(f"  server-side {route}: {total:,.0f} requests, {share('0.001'):.2f}% within 1 ms, "
              f"{share('0.01'):.2f}% within 10 ms, {share('0.1'):.3f}% within 100 ms")


def interference(runs_dir, frag_rate, event_rate):
    """mixed.sh's verdict. The machine drifts between rounds, so every case is compared
    with the run next to it in the same round: per regime and case, the medians over
    rounds of fragment rps, p50 and p99, and the median of the per-round changes from
    fragments alone; then beacons against the control, which leaves only what accepting
    events costs beyond any second stream of requests."""
    runs = {}
    for name in sorted(os.listdir(runs_dir)):
        regime, case, rnd, _ = name.split(".")
        with open(os.path.join(runs_dir, name)) as f:
            r = json.load(f)
        p = r["latencyPercentiles"]
        runs.setdefault(regime, {}).setdefault(case, {})[int(rnd)] = (
            r["summary"]["requestsPerSec"], p.get("p50") or 0.0, p.get("p99") or 0.0)
    titles = {"same": f"same load (fragments at {int(frag_rate):,}/s)", "full": "full speed"}
    labels = {"alone": "alone", "beacons": f"+{int(event_rate):,} beacons/s (x10 events)",
              "healthz": f"+{int(event_rate):,} GET /healthz/s (control)"}

    def change(case, against):
        rounds = sorted(set(case) & set(against))
        return "  ".join(
            f"{name} {100.0 * statistics.median(case[k][i] / against[k][i] - 1 for k in rounds):+.1f}%"
            for i, name in enumerate(("rps", "p50", "p99")))

    for regime in ("same", "full"):
        cases = runs.get(regime, {})
        alone = cases.get("alone")
        if not alone:
            continue
        print(f"{titles[regime]}, {len(alone)} rounds (medians; changes paired by round):")
        for case, label in labels.items():
            rs = cases.get(case)
            if not rs:
                continue
            m = [statistics.median(x[i] for x in rs.values()) for i in range(3)]
            vs = "" if case == "alone" else "   vs alone: " + change(rs, alone)
            print(f"  {label:<36} {m[0]:>9,.0f} rps  p50 {fmt_ms(m[1])}  p99 {fmt_ms(m[2])} ms{vs}")
        if "beacons" in cases and "healthz" in cases:
            print(f"  {'beacons vs control':<36} {change(cases['beacons'], cases['healthz'])}")

def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "zipf":
        zipf(args[0], int(args[1]), float(args[2]))
    elif cmd == "hot":
        hot(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif cmd == "nocontent-candidates":
        nocontent_candidates(args[0], int(args[1]))
    elif cmd == "mix":
        mix(args[0], args[1], float(args[2]), int(args[3]))
    elif cmd == "beacons":
        beacons(args[0], int(args[1]))
    elif cmd == "sample-check":
        sample_check(args[0])
    elif cmd == "summary":
        summary(args[0], args[1])
    elif cmd == "server-latency":
        server_latency(args[0])
    elif cmd == "interference":
        interference(args[0], float(args[1]), float(args[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv)
