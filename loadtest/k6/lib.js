// Shared by the k6 scripts in this folder: where to send, which products, how popular
// each one is, and what one iteration sends (a fragment GET or a beacon POST).
//
// Environment (k6 -e NAME=value, or the process environment):
//   BASE_URL          the edge to load, default http://127.0.0.1:8080
//   PATHS_FILE        fragment paths, one per line (`synedge seed --demo --products N
//                     --paths FILE` writes them); absolute path. Without it, the demo
//                     catalog's paths for PRODUCTS products are generated here, the same
//                     ones `synedge seed --demo --products PRODUCTS` serves
//   PRODUCTS          catalog size when generating paths, default 10000
//   ZIPF_S            popularity: the k-th most popular product gets a share ∝ 1/k^ZIPF_S,
//                     default 1.0 (0 is uniform)
//   NO_CONTENT_SHARE  share of fragment requests that have no content (204), default 0.1
//   BEACON_SHARE      share of iterations that POST a beacon instead, default 0.2
//   ACCEPT_ENCODING   default "gzip, deflate, br", what browsers send
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const PRODUCTS = parseInt(__ENV.PRODUCTS || '10000', 10);
const ZIPF_S = parseFloat(__ENV.ZIPF_S || '1.0');
const NO_CONTENT_SHARE = parseFloat(__ENV.NO_CONTENT_SHARE || '0.1');
const BEACON_SHARE = parseFloat(__ENV.BEACON_SHARE || '0.2');
const ACCEPT_ENCODING = __ENV.ACCEPT_ENCODING || 'gzip, deflate, br';

// The Black-Friday shape of loadtest/profiles/black-friday.toml as [minute, × base rate]:
// ten ordinary minutes, 5× within two minutes, fifteen at the peak, a half-hour decline,
// and the base again.
export const BLACK_FRIDAY = [
  [0, 1],
  [10, 1],
  [12, 5],
  [27, 5],
  [57, 1],
  [75, 1],
];

// A `ramping-arrival-rate` scenario that follows `points` at `baseRps` × factor, with
// `secondsPerMinute` seconds of run time for each profile minute. Arrival rate, not
// virtual users: requests keep arriving at the profile's rate however slow the server
// gets (as real page views do), and a slow server shows as latency and, past maxVUs,
// as dropped_iterations.
export function arrivalScenario(points, baseRps, secondsPerMinute) {
  const rate = (f) => Math.max(1, Math.round(baseRps * f));
  const stages = [];
  for (let i = 1; i < points.length; i++) {
    const secs = Math.max(1, Math.round((points[i][0] - points[i - 1][0]) * secondsPerMinute));
    stages.push({ duration: `${secs}s`, target: rate(points[i][1]) });
  }
  const peak = rate(Math.max(...points.map((p) => p[1])));
  return {
    executor: 'ramping-arrival-rate',
    startRate: rate(points[0][1]),
    timeUnit: '1s',
    // Each VU does one request at a time: peak × 10 ms of latency in flight to start
    // with, and room for peak × 200 ms before iterations are dropped.
    preAllocatedVUs: parseInt(__ENV.PRE_VUS || String(Math.max(10, Math.ceil(peak * 0.01))), 10),
    maxVUs: parseInt(__ENV.MAX_VUS || String(Math.max(50, Math.ceil(peak * 0.2))), 10),
    stages,
  };
}

// The thresholds every profile is held to: the SLO of DESIGN.md (p99 under 100 ms) and
// at most one failed request in 10,000. Per-kind p99s are listed so the summary shows them.
export const THRESHOLDS = {
  http_req_duration: ['p(99)<100'],
  http_req_failed: ['rate<0.0001'],
  'http_req_duration{kind:fragment}': ['p(99)<100'],
  'http_req_duration{kind:no_content}': ['p(99)<100'],
  'http_req_duration{kind:beacon}': ['p(99)<100'],
};
export const SUMMARY_TREND_STATS = ['avg', 'med', 'p(90)', 'p(99)', 'p(99.9)', 'max'];

// The demo catalog's EAN-13 for product i (src/catalog/seed.rs `ean13`).
function ean13(i) {
  if (i === 0) return '4006381333931';
  const data = '29' + String(i % 1e10).padStart(10, '0');
  let sum = 0;
  for (let k = 0; k < data.length; k++) {
    sum += Number(data[data.length - 1 - k]) * (k % 2 === 0 ? 3 : 1);
  }
  return data + String((10 - (sum % 10)) % 10);
}

// Fragment paths, shared read-only by every VU. Shuffled with a fixed seed so that
// popularity (by position) does not follow product index, brand or fragment size.
const PATHS = new SharedArray('paths', () => {
  let paths;
  if (__ENV.PATHS_FILE) {
    paths = open(__ENV.PATHS_FILE).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/'));
  } else {
    paths = [];
    for (let i = 0; i < PRODUCTS; i++) {
      paths.push(`/v1/fragment?retailer=shop-one&locale=en-GB&ean=${ean13(i)}`);
    }
  }
  let seed = 1127;
  const rnd = () => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = paths.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [paths[i], paths[j]] = [paths[j], paths[i]];
  }
  return paths;
});
if (PATHS.length === 0) throw new Error('no fragment paths (PATHS_FILE empty?)');

// Cumulative Zipf weights over PATHS, for drawing a rank by binary search.
const CUM = new Float64Array(PATHS.length);
{
  let acc = 0;
  for (let k = 0; k < PATHS.length; k++) {
    acc += 1 / Math.pow(k + 1, ZIPF_S);
    CUM[k] = acc;
  }
}

function zipfIndex() {
  const u = Math.random() * CUM[CUM.length - 1];
  let lo = 0;
  let hi = CUM.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CUM[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// A request with no content, in two kinds that answer 204 on the demo catalog: a valid
// GTIN no product has (one of 500), and a product in a locale nobody wrote (it-IT).
function noContentPath() {
  if (Math.random() < 0.5) {
    return `/v1/fragment?retailer=shop-one&locale=en-GB&ean=${ean13(9e9 + Math.floor(Math.random() * 500))}`;
  }
  return PATHS[zipfIndex()].replace(/locale=[^&]*/, 'locale=it-IT');
}

// Beacon types as tool.py mixes them: 50% impression, 30% view, 5% click, 15% no_match.
const TYPES = [].concat(
  Array(10).fill('impression'),
  Array(6).fill('view'),
  Array(1).fill('click'),
  Array(3).fill('no_match'),
);
const HEADERS = { 'Accept-Encoding': ACCEPT_ENCODING };
const BEACON_HEADERS = { 'Content-Type': 'text/plain' }; // what navigator.sendBeacon sends

// One page view's worth of traffic: a fragment GET (Zipf-popular, NO_CONTENT_SHARE of
// them without content), or, BEACON_SHARE of the time, one beacon as the loader sends it.
export function iteration() {
  if (Math.random() < BEACON_SHARE) {
    const path = PATHS[zipfIndex()];
    const q = {};
    for (const kv of path.split('?')[1].split('&')) {
      const [k, v] = kv.split('=');
      q[k] = decodeURIComponent(v);
    }
    const body = JSON.stringify({ type: TYPES[Math.floor(Math.random() * TYPES.length)], ...q });
    const res = http.post(`${BASE_URL}/v1/events`, body, {
      headers: BEACON_HEADERS,
      tags: { name: 'POST /v1/events', kind: 'beacon' },
    });
    check(res, { 'beacon 202': (r) => r.status === 202 });
    return;
  }
  const noContent = Math.random() < NO_CONTENT_SHARE;
  const path = noContent ? noContentPath() : PATHS[zipfIndex()];
  const res = http.get(`${BASE_URL}${path}`, {
    headers: HEADERS,
    tags: { name: 'GET /v1/fragment', kind: noContent ? 'no_content' : 'fragment' },
  });
  if (noContent) check(res, { 'no content 204': (r) => r.status === 204 });
  else check(res, { 'fragment 200': (r) => r.status === 200 });
}
