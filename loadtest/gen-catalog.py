#!/usr/bin/env python3
"""Deterministic benchmark catalog for synedge: N products, one locale, one retailer.

Writes OUT/catalog.ndjson (the `synedge import` format) and OUT/paths.txt (one
/v1/fragment request path per product). Fragment sizes are log-normal, median ~6 KiB,
clipped to 2..16 KiB, like real product-content fragments.

A copy of ../shared/bench/gen-catalog.py, so loadtest/import.sh runs from this repository
alone; the same seed gives the same catalog.

usage: gen-catalog.py OUT_DIR [N=10000] [RETAILER=bench-shop] [LOCALE=en-GB]
"""
import json, math, os, random, sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
retailer = sys.argv[3] if len(sys.argv) > 3 else "bench-shop"
locale = sys.argv[4] if len(sys.argv) > 4 else "en-GB"
rng = random.Random(20261122)
WORDS = ("premium organic cotton stretch slim fit breathable waterproof lightweight recycled "
         "merino wool classic modern ergonomic wireless rechargeable compact stainless steel "
         "ceramic bamboo leather durable adjustable portable foldable insulated quick-dry").split()

def words(k): return " ".join(rng.choice(WORDS) for _ in range(k))

def ean13(i):
    body = f"40{i:010d}"
    s = sum(int(d) * (3 if k % 2 else 1) for k, d in enumerate(body))
    return body + str((10 - s % 10) % 10)

def fragment(i, target):
    parts = [f'<div class="product-content" id="pc-{i}"><h2>{words(5).title()}</h2>']
    size = len(parts[0]) + 6
    while size < target:
        b = rng.choice([
            lambda: f'<section><h3>{words(4).title()}</h3><p>{words(rng.randint(20, 60))}.</p></section>',
            lambda: '<table class="specs">' + "".join(
                f'<tr><th>{words(2)}</th><td>{words(3)}</td></tr>' for _ in range(rng.randint(3, 8))) + '</table>',
            lambda: f'<figure><img src="/img/{rng.randint(1, 999999)}.webp" width="480" height="320" '
                    f'loading="lazy" alt="{words(3)}"><figcaption>{words(8)}</figcaption></figure>',
        ])()
        parts.append(b)
        size += len(b)
    html = "".join(parts)[: target - 6] + "</div>"
    return html

os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "catalog.ndjson"), "w") as cat, open(os.path.join(out, "paths.txt"), "w") as paths:
    for i in range(n):
        target = int(min(16384, max(2048, math.exp(rng.gauss(math.log(6144), 0.5)))))
        e = ean13(i)
        cat.write(json.dumps({"brand": f"Brand{i % 50}", "mpn": f"M-{i:06d}", "ean": [e],
                              "locale": locale, "html": fragment(i, target),
                              "retailers": [retailer]}) + "\n")
        paths.write(f"/v1/fragment?retailer={retailer}&locale={locale}&ean={e}\n")
print(f"wrote {n} products to {out}/catalog.ndjson and {out}/paths.txt")
