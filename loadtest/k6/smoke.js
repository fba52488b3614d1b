// A 30-second smoke run of the Black-Friday profile: the same shape as black-friday.js
// (base, 5× surge, plateau, decline, base) compressed to 30 s, at RATE requests/s at the
// base (default 100, so 500 at the peak), with the same request mix and thresholds.
// For checking that a deployment, a change or these scripts work, not for capacity.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 loadtest/k6/smoke.js
//   loadtest/k6/local.sh smoke.js          # against a local seeded release build
import { BLACK_FRIDAY, THRESHOLDS, SUMMARY_TREND_STATS, arrivalScenario, iteration } from './lib.js';

const RATE = parseFloat(__ENV.RATE || '100');

export const options = {
  // 75 profile minutes × 0.4 s = 30 s
  scenarios: { smoke: arrivalScenario(BLACK_FRIDAY, RATE, 0.4) },
  thresholds: THRESHOLDS,
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export default iteration;
