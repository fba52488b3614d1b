//! An upstream answer's caching headers (`Cache-Control`, `Expires`, `Age`, `Vary`) read
//! into [`Directives`], as a shared cache reads them (RFC 9111, RFC 5861).
//!
//! Pure functions of the headers and the clock, so every rule is unit-tested here.
//!
//! Rules, in the order they apply:
//! - freshness: `s-maxage` (we are a shared cache) wins over `max-age`, which wins over
//!   `Expires` − `Date`; an invalid value of any of them means "already stale" (0), as
//!   RFC 9111 §4.2.1 and §5.3 ask. `Age` is subtracted, so `max_age` is the freshness
//!   left from now: an upstream behind another cache hands out partly used lifetimes.
//! - `no-cache` (qualified or not): reusable only after revalidation → `max_age` 0.
//! - `no-store`, `private` (qualified or not) and `Vary: *` → `no_store`.
//! - `stale-while-revalidate=N`, `stale-if-error=N` (RFC 5861) are taken as given.
//! - `must-revalidate` / `proxy-revalidate` forbid serving stale content: both stale
//!   windows become 0, unless the upstream also gave that window explicitly (the more
//!   specific instruction wins).
//! - Directive names are case-insensitive; values may be quoted; unknown directives are
//!   ignored; of a repeated directive the first counts. Delta-seconds beyond 2^31 are
//!   capped there (RFC 9111 §1.2.2).

use std::time::{Duration, SystemTime};

use ::http::HeaderMap;
use ::http::header::{AGE, CACHE_CONTROL, DATE, EXPIRES, VARY};

use crate::origin::Directives;

/// RFC 9111 §1.2.2: delta-seconds too large to represent count as 2^31.
const MAX_DELTA_SECONDS: u64 = 1 << 31;

/// Reads the caching headers of an upstream answer received at `now`.
pub fn from_headers(headers: &HeaderMap, now: SystemTime) -> Directives {
    let mut cc = CacheControl::default();
    for value in headers.get_all(CACHE_CONTROL) {
        // A header that is not visible ASCII is unreadable; ignore it rather than guess.
        if let Ok(v) = value.to_str() {
            cc.add(v);
        }
    }
    let freshness = cc.s_maxage.or(cc.max_age).or_else(|| {
        headers
            .get(EXPIRES)
            .map(|expires| expires_freshness(expires.to_str().ok(), headers.get(DATE), now))
    });
    let age = headers
        .get(AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(delta_seconds)
        .unwrap_or(Duration::ZERO);
    let mut max_age = freshness.map(|f| f.saturating_sub(age));
    if cc.no_cache {
        max_age = Some(Duration::ZERO);
    }
    let revalidate = cc.must_revalidate.then_some(Duration::ZERO);
    let vary_star = headers.get_all(VARY).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|f| f.trim() == "*"))
    });
    Directives {
        max_age,
        stale_while_revalidate: cc.stale_while_revalidate.or(revalidate),
        stale_if_error: cc.stale_if_error.or(revalidate),
        no_store: cc.no_store || vary_star,
    }
}

/// The `Cache-Control` directives that matter to us, over every header line.
#[derive(Debug, Default)]
struct CacheControl {
    max_age: Option<Duration>,
    s_maxage: Option<Duration>,
    stale_while_revalidate: Option<Duration>,
    stale_if_error: Option<Duration>,
    no_cache: bool,
    no_store: bool,
    must_revalidate: bool,
}

impl CacheControl {
    fn add(&mut self, header: &str) {
        for (name, value) in directives(header) {
            let name = name.to_ascii_lowercase();
            match name.as_str() {
                // Invalid freshness means stale (RFC 9111 §4.2.1); an invalid stale
                // window grants nothing, so it is ignored.
                "max-age" => {
                    set_first(&mut self.max_age, value.and_then(delta_seconds), true);
                }
                "s-maxage" => {
                    set_first(&mut self.s_maxage, value.and_then(delta_seconds), true);
                }
                "stale-while-revalidate" => set_first(
                    &mut self.stale_while_revalidate,
                    value.and_then(delta_seconds),
                    false,
                ),
                "stale-if-error" => set_first(
                    &mut self.stale_if_error,
                    value.and_then(delta_seconds),
                    false,
                ),
                "no-cache" => self.no_cache = true,
                "no-store" | "private" => self.no_store = true,
                "must-revalidate" | "proxy-revalidate" => self.must_revalidate = true,
                _ => {}
            }
        }
    }
}

/// Keeps the first occurrence of a directive. A missing or bad value counts as 0 when
/// `invalid_is_zero`, else it is skipped (a later valid occurrence may still count).
fn set_first(slot: &mut Option<Duration>, value: Option<Duration>, invalid_is_zero: bool) {
    if slot.is_some() {
        return;
    }
    *slot = match value {
        Some(v) => Some(v),
        None if invalid_is_zero => Some(Duration::ZERO),
        None => None,
    };
}

/// Splits one header value into `(name, value)` pairs at commas outside quoted strings;
/// quoted values are unquoted (backslash escapes kept simple: the next char is literal).
fn directives(header: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in header.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts.into_iter().filter_map(|part| {
        let part = part.trim();
        if part.is_empty() {
            return None;
        }
        Some(match part.split_once('=') {
            Some((name, value)) => {
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                (name.trim(), Some(value))
            }
            None => (part, None),
        })
    })
}

/// `delta-seconds`: ASCII digits only; huge values are capped at 2^31 seconds.
fn delta_seconds(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = s
        .parse::<u64>()
        .map_or(MAX_DELTA_SECONDS, |n| n.min(MAX_DELTA_SECONDS));
    Some(Duration::from_secs(secs))
}

/// `Expires` − `Date` (or − `now` without a usable `Date`); an unreadable `Expires`
/// (`0`, `-1`, garbage) means already expired.
fn expires_freshness(
    expires: Option<&str>,
    date: Option<&::http::HeaderValue>,
    now: SystemTime,
) -> Duration {
    let Some(expires) = expires.and_then(|e| httpdate::parse_http_date(e.trim()).ok()) else {
        return Duration::ZERO;
    };
    let date = date
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
        .unwrap_or(now);
    expires.duration_since(date).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::HeaderValue;

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    fn parse(pairs: &[(&str, &str)]) -> Directives {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                ::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        from_headers(
            &h,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
    }

    fn cc(v: &str) -> Directives {
        parse(&[("cache-control", v)])
    }

    #[test]
    fn no_headers_leave_every_decision_to_the_config() {
        assert_eq!(parse(&[]), Directives::default());
        assert_eq!(cc("public"), Directives::default());
    }

    #[test]
    fn max_age_and_stale_windows() {
        let d = cc("public, max-age=60, stale-while-revalidate=30, stale-if-error=86400");
        assert_eq!(d.max_age, secs(60));
        assert_eq!(d.stale_while_revalidate, secs(30));
        assert_eq!(d.stale_if_error, secs(86400));
        assert!(!d.no_store);
    }

    #[test]
    fn s_maxage_wins_over_max_age_in_either_order() {
        assert_eq!(cc("max-age=10, s-maxage=300").max_age, secs(300));
        assert_eq!(cc("s-maxage=300, max-age=10").max_age, secs(300));
        assert_eq!(cc("s-maxage=0, max-age=10").max_age, secs(0));
    }

    #[test]
    fn no_store_and_private_mean_keep_nothing() {
        assert!(cc("no-store").no_store);
        assert!(cc("private, max-age=60").no_store);
        assert!(cc("private=\"set-cookie\"").no_store);
        assert!(cc("NO-STORE").no_store);
        assert!(parse(&[("vary", "Accept-Encoding, *")]).no_store);
        assert!(!parse(&[("vary", "Accept-Encoding")]).no_store);
    }

    #[test]
    fn no_cache_means_revalidate_every_time() {
        assert_eq!(cc("no-cache").max_age, secs(0));
        assert_eq!(cc("max-age=600, no-cache").max_age, secs(0));
        assert_eq!(
            cc("no-cache=\"set-cookie, x-foo\", max-age=5").max_age,
            secs(0)
        );
    }

    #[test]
    fn names_are_case_insensitive_values_may_be_quoted_and_spacing_is_free() {
        let d = cc("Max-Age=\"120\" ,  Stale-If-Error = 5,,");
        assert_eq!(d.max_age, secs(120));
        assert_eq!(d.stale_if_error, secs(5));
    }

    #[test]
    fn several_header_lines_combine_and_the_first_occurrence_counts() {
        let d = parse(&[
            ("cache-control", "max-age=30"),
            ("cache-control", "stale-while-revalidate=7, max-age=999"),
        ]);
        assert_eq!(d.max_age, secs(30));
        assert_eq!(d.stale_while_revalidate, secs(7));
    }

    #[test]
    fn invalid_freshness_is_stale_and_invalid_windows_grant_nothing() {
        assert_eq!(cc("max-age=abc").max_age, secs(0));
        assert_eq!(cc("max-age").max_age, secs(0));
        assert_eq!(cc("max-age=-5").max_age, secs(0));
        assert_eq!(cc("stale-if-error=soon").stale_if_error, None);
        assert_eq!(
            cc("max-age=99999999999999999999999").max_age,
            secs(MAX_DELTA_SECONDS)
        );
    }

    #[test]
    fn must_revalidate_forbids_stale_unless_a_window_is_explicit() {
        let d = cc("max-age=60, must-revalidate");
        assert_eq!(d.stale_while_revalidate, secs(0));
        assert_eq!(d.stale_if_error, secs(0));
        let d = cc("max-age=60, proxy-revalidate, stale-if-error=30");
        assert_eq!(d.stale_while_revalidate, secs(0));
        assert_eq!(d.stale_if_error, secs(30));
    }

    #[test]
    fn expires_counts_only_without_max_age() {
        let d = parse(&[
            ("date", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ("expires", "Tue, 14 Nov 2023 22:15:20 GMT"),
        ]);
        assert_eq!(d.max_age, secs(120));
        // Without Date, against the clock (1_700_000_000 is 22:13:20).
        let d = parse(&[("expires", "Tue, 14 Nov 2023 22:14:20 GMT")]);
        assert_eq!(d.max_age, secs(60));
        let d = parse(&[
            ("cache-control", "max-age=5"),
            ("expires", "Tue, 14 Nov 2023 22:15:20 GMT"),
        ]);
        assert_eq!(d.max_age, secs(5));
        assert_eq!(parse(&[("expires", "0")]).max_age, secs(0));
        assert_eq!(
            parse(&[("expires", "Mon, 01 Jan 2001 00:00:00 GMT")]).max_age,
            secs(0)
        );
    }

    #[test]
    fn age_is_subtracted_from_freshness() {
        let d = parse(&[("cache-control", "max-age=60"), ("age", "45")]);
        assert_eq!(d.max_age, secs(15));
        let d = parse(&[("cache-control", "max-age=60"), ("age", "600")]);
        assert_eq!(d.max_age, secs(0));
        let d = parse(&[("cache-control", "max-age=60"), ("age", "bogus")]);
        assert_eq!(d.max_age, secs(60));
        // Age alone says nothing about freshness.
        assert_eq!(parse(&[("age", "5")]).max_age, None);
    }

    #[test]
    fn commas_inside_quotes_do_not_split() {
        let pairs: Vec<_> = directives("a=\"x, y\", b, c=\"q\\\"z\"").collect();
        assert_eq!(
            pairs,
            [("a", Some("x, y")), ("b", None), ("c", Some("q\\\"z"))]
        );
    }
}
