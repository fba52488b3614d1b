// Black Friday against one edge (or a fleet behind BASE_URL), with k6: the shape of
// loadtest/profiles/black-friday.toml as an arrival rate (ramping-arrival-rate): 750
// requests/s × SCALE for 10 minutes, 5× within 2 minutes, 15 minutes at the peak, a
// 30-minute decline and 18 minutes at the base again (75 minutes × TIME_SCALE). Requests
// follow Zipf popularity over the catalog, 10% of fragment requests have no content and
// 20% of iterations are beacons (knobs in lib.js). It passes when p99 stays under 100 ms
// and fewer than 1 request in 10,000 fails.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e PATHS_FILE=$PWD/paths.txt loadtest/k6/black-friday.js
//   k6 run -e SCALE=0.1 -e TIME_SCALE=0.2 loadtest/k6/black-friday.js    # 75-3750 rps → 75-375, 15 min
//   loadtest/k6/local.sh black-friday.js                                 # against a local seeded release build
//
// SCALE multiplies the rates (1: 750 → 3750 requests/s), TIME_SCALE the durations
// (1: 75 minutes; 0.4 is the 30 s smoke.js). PRE_VUS, MAX_VUS override the VU pool.
import { BLACK_FRIDAY, THRESHOLDS, SUMMARY_TREND_STATS, arrivalScenario, iteration } from './lib.js';

const SCALE = parseFloat(__ENV.SCALE || '1');
const TIME_SCALE = parseFloat(__ENV.TIME_SCALE || '1');

export const options = {
  scenarios: { black_friday: arrivalScenario(BLACK_FRIDAY, 750 * SCALE, 60 * TIME_SCALE) },
  thresholds: THRESHOLDS,
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export default iteration;
