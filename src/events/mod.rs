//! The beacon write path (DESIGN.md §7): parsing and validating beacons, a bounded
//! in-memory queue, and one batch writer that folds events into daily rollup counts in
//! the origin store.
//!
//! Flow: the `POST /v1/events` handler parses a body with [`parse_batch`] and hands the
//! events to [`EventQueue::try_enqueue`], which queues all of them or none. The
//! [`Writer`] (one task, spawned by `App::run`) takes events off the queue, counts them
//! per [`RollupKey`] and writes a batch every `events.flush_interval` or every
//! `events.batch_size` events, whichever comes first, in one transaction
//! ([`EventStore::write_rollup`]).
//!
//! Invariants:
//! - A batch is queued completely or not at all: a client that got 202 had every event
//!   of its body queued, and one that got an error had none.
//! - A queued event is written exactly once: a failed write is retried with backoff, with
//!   the same counts, until it succeeds; on shutdown the writer drains the queue (pause or
//!   not) before it returns.
//! - Products are keyed as fragment lookups key them ([`crate::domain`]): `ean=0012…` and
//!   `ean=12…` count as one product.
//! - An event is counted on the day of its `ts`, which must lie from a week before the
//!   time its body arrived to ten minutes after ([`parse_batch`]); without `ts`, on the
//!   day the body arrived. Any refusal of one event names its index.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::EventsConfig;
use crate::domain::{BrandMpn, Gtin14, Identities, InputError, Locale, Retailer, Sku, present};
use crate::signals::Metrics;

/// Largest `POST /v1/events` body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// First wait after a failed write; doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Latest time a [`Day`] is made from: 9999-12-31T23:59:59.999Z, so days always have
/// four-digit years.
const MAX_TS_MILLIS: i64 = 253_402_300_799_999;
const MILLIS_PER_DAY: i64 = 86_400_000;
/// How long before the time a body arrives its events' `ts` may be, in milliseconds:
/// browsers hold beacons a while (offline, back/forward cache), but a count for a
/// week-old day is a bug, a replay or a forgery, and it would rewrite a closed report.
pub const MAX_TS_AGE_MILLIS: i64 = 7 * MILLIS_PER_DAY;
/// How long after the time a body arrives its events' `ts` may be, in milliseconds:
/// client clocks run a little fast.
pub const MAX_TS_AHEAD_MILLIS: i64 = 10 * 60 * 1000;

/// What happened, as the loader reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    Impression,
    View,
    Click,
    NoMatch,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Impression => "impression",
            Self::View => "view",
            Self::Click => "click",
            Self::NoMatch => "no_match",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "impression" => Self::Impression,
            "view" => Self::View,
            "click" => Self::Click,
            "no_match" => Self::NoMatch,
            _ => return None,
        })
    }
}

/// A UTC calendar day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(i64);

impl Day {
    /// The day a unix timestamp in milliseconds falls on (UTC).
    pub fn from_unix_millis(ms: i64) -> Self {
        Self(ms.div_euclid(MILLIS_PER_DAY))
    }

    /// Today, UTC.
    pub fn today() -> Self {
        Self::from_unix_millis(unix_millis(SystemTime::now()))
    }

    /// Parses `YYYY-MM-DD`, refusing dates that do not exist (`2023-02-29`).
    ///
    /// # Errors
    /// When `s` is not such a date.
    pub fn parse(s: &str) -> Result<Self, InputError> {
        const ERR: InputError = InputError {
            code: "invalid_day",
            detail: "days must be dates written YYYY-MM-DD",
        };
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(ERR);
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, InputError> {
            b[r].iter().try_fold(0i64, |acc, c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + i64::from(c - b'0'))
                } else {
                    Err(ERR)
                }
            })
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return Err(ERR);
        }
        let day = Self(days_from_civil(y, m, d));
        // A day past the month's end (Feb 30) comes back as another date.
        if day.civil() == (y, m, d) {
            Ok(day)
        } else {
            Err(ERR)
        }
    }

    /// (year, month 1–12, day 1–31).
    pub fn civil(self) -> (i64, i64, i64) {
        civil_from_days(self.0)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// `t` in unix epoch milliseconds, within 1970 to [`MAX_TS_MILLIS`].
fn unix_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(MAX_TS_MILLIS))
        .min(MAX_TS_MILLIS)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`: eras of 400 years, years starting in March so leap days come last).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The product an event names, by the first identity present in the order of
/// [`crate::domain::FragmentRequest`]: EAN, then brand + MPN, then SKU.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Product {
    Ean(Gtin14),
    BrandMpn(BrandMpn),
    Sku(Sku),
}

impl Product {
    /// The stored product key: `ean:<gtin14>`, `mpn:<brand>/<mpn>` or `sku:<sku>`.
    pub fn key(&self) -> String {
        match self {
            Self::Ean(g) => format!("ean:{g}"),
            Self::BrandMpn(bm) => format!("mpn:{}/{}", bm.brand, bm.mpn),
            Self::Sku(s) => format!("sku:{}", s.as_str()),
        }
    }
}

/// One validated event, which is also its rollup row: events with equal keys add up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    pub day: Day,
    pub retailer: Retailer,
    pub product: Product,
    pub locale: Locale,
    pub kind: EventType,
}

/// A stored count, as `GET /admin/v1/stats` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsRow {
    pub day: String,
    pub retailer: String,
    pub product: String,
    pub locale: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub count: u64,
}

/// Which stored counts to return; every bound is optional and inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsFilter {
    pub retailer: Option<Retailer>,
    pub from: Option<Day>,
    pub to: Option<Day>,
}

/// The last day a [`Day`] can be written as (`MAX_TS_MILLIS`'s): the upper bound of a
/// filter without `to`, so the stores' range always has an end.
const LAST_DAY: &str = "9999-12-31";

impl StatsFilter {
    /// The key a page starts after: `after`, or the key just before `from`'s first row,
    /// whichever is later. Every stored retailer is non-empty, so `(from, "", "", "", "")`
    /// sorts before every row of `from` and after every row of the days before it.
    ///
    /// The stores read `key > start AND day <= end` in primary-key order, so one index
    /// range serves the page whatever the filter (byte order here, `BINARY` in SQLite,
    /// `COLLATE "C"` in PostgreSQL: one order everywhere).
    pub fn start_after(&self, after: Option<&StatsCursor>) -> StatsCursor {
        let from = StatsCursor {
            day: self.from.map(|d| d.to_string()).unwrap_or_default(),
            ..StatsCursor::default()
        };
        match after {
            Some(after) if *after > from => after.clone(),
            _ => from,
        }
    }

    /// The last day a page may hold: `to`, or the last day there is.
    pub fn last_day(&self) -> String {
        self.to
            .map_or_else(|| LAST_DAY.to_owned(), |d| d.to_string())
    }
}

/// Rows per stats page when the caller does not say.
pub const DEFAULT_STATS_LIMIT: usize = 1_000;
/// Most rows per stats page. A row costs a few hundred bytes in memory and about 130 in
/// JSON, so one call stays within a few MiB however many rows are stored.
pub const MAX_STATS_LIMIT: usize = 10_000;

/// How many rows a stats page holds: 1 to [`MAX_STATS_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsLimit(usize);

impl StatsLimit {
    pub const DEFAULT: Self = Self(DEFAULT_STATS_LIMIT);
    pub const MAX: Self = Self(MAX_STATS_LIMIT);

    /// `n` rows, when `n` is from 1 to [`MAX_STATS_LIMIT`].
    pub fn new(n: usize) -> Option<Self> {
        (1..=MAX_STATS_LIMIT).contains(&n).then_some(Self(n))
    }

    /// Parses the `limit` parameter: a whole number from 1 to [`MAX_STATS_LIMIT`].
    ///
    /// # Errors
    /// When `s` is not such a number.
    pub fn parse(s: &str) -> Result<Self, InputError> {
        const ERR: InputError = InputError {
            code: "invalid_limit",
            detail: "limit must be a whole number of rows from 1 to 10000",
        };
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ERR);
        }
        s.parse().ok().and_then(Self::new).ok_or(ERR)
    }

    pub fn get(self) -> usize {
        self.0
    }
}

impl Default for StatsLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where a stats page ended: the primary key of its last row. The next page holds the
/// rows after it (keyset pagination, no OFFSET): while events are written no row comes
/// twice and none that existed throughout is missed, and no page costs more than its rows.
///
/// The default (every field empty) sorts before every stored row. Field order is the
/// primary key's, so the derived `Ord` is the stores' order.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatsCursor {
    pub day: String,
    pub retailer: String,
    pub product: String,
    pub locale: String,
    pub kind: String,
}

/// Format of [`StatsCursor::encode`]; a new layout gets a new version.
const CURSOR_VERSION: u8 = 1;
/// Longest cursor [`StatsCursor::decode`] reads, in characters: far more than any stored
/// key needs, and bounds what a crafted one costs.
const MAX_CURSOR_LEN: usize = 4096;
const E_CURSOR: InputError = InputError {
    code: "invalid_cursor",
    detail: "cursor must be the next value of an earlier stats answer, unchanged",
};

impl StatsCursor {
    /// The cursor of a page that ends with `row`.
    pub fn after(row: &StatsRow) -> Self {
        Self {
            day: row.day.clone(),
            retailer: row.retailer.clone(),
            product: row.product.clone(),
            locale: row.locale.clone(),
            kind: row.kind.clone(),
        }
    }

    fn fields(&self) -> [&str; 5] {
        [
            &self.day,
            &self.retailer,
            &self.product,
            &self.locale,
            &self.kind,
        ]
    }

    /// The cursor as clients see it: lowercase hex (URL-safe, no escaping needed) of a
    /// version byte and each key field as a LEB128 length and its UTF-8 bytes. Opaque to
    /// clients: only [`Self::decode`] reads it.
    pub fn encode(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = vec![CURSOR_VERSION];
        for field in self.fields() {
            let mut n = field.len();
            loop {
                let low = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    bytes.push(low);
                    break;
                }
                bytes.push(low | 0x80);
            }
            bytes.extend_from_slice(field.as_bytes());
        }
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }

    /// Reads a cursor [`Self::encode`] wrote.
    ///
    /// # Errors
    /// When `s` is not one: not hex, truncated, trailing bytes, another version, or a key
    /// that no stored row can have (a day or type that does not parse).
    pub fn decode(s: &str) -> Result<Self, InputError> {
        if s.len() > MAX_CURSOR_LEN || s.len() % 2 != 0 {
            return Err(E_CURSOR);
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(E_CURSOR),
        };
        let bytes = s
            .as_bytes()
            .chunks_exact(2)
            .map(|pair| Ok((nibble(pair[0])? << 4) | nibble(pair[1])?))
            .collect::<Result<Vec<u8>, InputError>>()?;
        let (&version, mut rest) = bytes.split_first().ok_or(E_CURSOR)?;
        if version != CURSOR_VERSION {
            return Err(E_CURSOR);
        }
        let mut field = || -> Result<String, InputError> {
            let mut len = 0usize;
            let mut shift = 0;
            loop {
                let (&b, tail) = rest.split_first().ok_or(E_CURSOR)?;
                rest = tail;
                // Lengths fit in 21 bits here (MAX_CURSOR_LEN), so three bytes at most.
                if shift > 14 {
                    return Err(E_CURSOR);
                }
                len |= usize::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            if len > rest.len() {
                return Err(E_CURSOR);
            }
            let (text, tail) = rest.split_at(len);
            rest = tail;
            String::from_utf8(text.to_vec()).map_err(|_| E_CURSOR)
        };
        let cursor = Self {
            day: field()?,
            retailer: field()?,
            product: field()?,
            locale: field()?,
            kind: field()?,
        };
        if !rest.is_empty()
            || Day::parse(&cursor.day).is_err()
            || Retailer::parse(&cursor.retailer).is_err()
            || cursor.product.is_empty()
            || cursor.locale.is_empty()
            || EventType::parse(&cursor.kind).is_none()
        {
            return Err(E_CURSOR);
        }
        Ok(cursor)
    }
}

/// One page of stored counts, in primary-key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsPage {
    pub rows: Vec<StatsRow>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<StatsCursor>,
}

impl StatsPage {
    /// A page from `rows` read with one row more than `limit`: that extra row only says
    /// whether another page follows, and is dropped.
    pub fn from_rows(mut rows: Vec<StatsRow>, limit: StatsLimit) -> Self {
        let next = if rows.len() > limit.get() {
            rows.truncate(limit.get());
            rows.last().map(StatsCursor::after)
        } else {
            None
        };
        Self { rows, next }
    }
}

/// Where rollups are kept. Methods block: call them from `spawn_blocking`.
/// Why an event store could not write or read counts. The text names the store (its URL
/// redacted) and the cause, for logs; clients are never shown it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventStoreError {
    /// The store could not be reached or refused the work; worth retrying.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// The store holds something this build cannot read.
    #[error("event store returned unreadable data: {0}")]
    Corrupt(String),
}

pub trait EventStore: Send + Sync + fmt::Debug + 'static {
    /// Adds `rows` to the stored counts, in one transaction.
    ///
    /// # Errors
    /// The write failed; nothing of `rows` was added.
    fn write_rollup(&self, rows: &[(RollupKey, u64)]) -> Result<(), EventStoreError>;

    /// One page of the stored counts matching `filter`, ordered by day, retailer,
    /// product, locale, type: at most `limit` rows, the first ones after `after` (from
    /// the start without it). Reads at most `limit + 1` rows, whatever is stored, so
    /// memory stays bounded.
    ///
    /// # Errors
    /// The read failed.
    fn stats(
        &self,
        filter: &StatsFilter,
        after: Option<&StatsCursor>,
        limit: StatsLimit,
    ) -> Result<StatsPage, EventStoreError>;
}

/// Why a body was refused: the index of the first bad event (if any) and a fixed reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadEvent {
    /// Position in the array (0 for a single object); `None` when the body as a whole
    /// is not JSON or not an object or array.
    pub index: Option<usize>,
    pub error: InputError,
}

const E_NOT_JSON: InputError = InputError {
    code: "invalid_body",
    detail: "the body must be a JSON object or an array of objects",
};
const E_EMPTY: InputError = InputError {
    code: "invalid_body",
    detail: "the body holds no events",
};
const E_SHAPE: InputError = InputError {
    code: "invalid_event",
    detail: "an event must be an object of strings: type, retailer, locale, and ean, or brand and mpn, or sku; with an optional integer ts",
};
const E_TYPE: InputError = InputError {
    code: "invalid_type",
    detail: "type must be one of impression, view, click, no_match",
};
const E_TS: InputError = InputError {
    code: "invalid_ts",
    detail: "ts must be unix epoch milliseconds from 7 days before now to 10 minutes after",
};
const E_UNREADABLE: InputError = InputError {
    code: "invalid_event",
    detail: "the event holds a value that cannot be read, such as a number out of range",
};
const E_MISSING: InputError = InputError {
    code: "missing_field",
    detail: "type, retailer and locale are required, and a product identity: ean, or brand and mpn together, or sku",
};
const E_HALF_BRAND_MPN: InputError = InputError {
    code: "missing_field",
    detail: "brand and mpn must be given together",
};

/// An event as sent; strings borrow from the parsed body.
#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
    #[serde(borrow)]
    retailer: Option<&'a str>,
    #[serde(borrow)]
    locale: Option<&'a str>,
    #[serde(borrow)]
    ean: Option<&'a str>,
    #[serde(borrow)]
    brand: Option<&'a str>,
    #[serde(borrow)]
    mpn: Option<&'a str>,
    #[serde(borrow)]
    sku: Option<&'a str>,
    ts: Option<i64>,
}

/// What the time a body arrived allows: the `ts` range, and the day of events without one.
#[derive(Debug, Clone, Copy)]
struct Window {
    today: Day,
    earliest: i64,
    latest: i64,
}

impl Window {
    fn at(now: SystemTime) -> Self {
        let now = unix_millis(now);
        Self {
            today: Day::from_unix_millis(now),
            earliest: (now - MAX_TS_AGE_MILLIS).max(0),
            latest: now + MAX_TS_AHEAD_MILLIS,
        }
    }

    /// The day an event's `ts` counts on, if `ts` is within the window.
    fn day(&self, ts: Option<i64>) -> Result<Day, InputError> {
        match ts {
            None => Ok(self.today),
            Some(ts) if (self.earliest..=self.latest).contains(&ts) => {
                Ok(Day::from_unix_millis(ts))
            }
            Some(_) => Err(E_TS),
        }
    }
}

/// Parses and validates a body: one event object or an array of them. `now` is when the
/// body arrived (the handler passes the clock, tests a fixed time): an event's `ts` must
/// lie from [`MAX_TS_AGE_MILLIS`] before it to [`MAX_TS_AHEAD_MILLIS`] after it, and its
/// day stands in for events without `ts`.
///
/// # Errors
/// The first problem found; then no event of the body is valid for queueing.
pub fn parse_batch(body: &[u8], now: SystemTime) -> Result<Vec<RollupKey>, BadEvent> {
    let window = Window::at(now);
    parse_valid(body, &window).map_or_else(|| parse_and_explain(body, &window), Ok)
}

/// The common case in one pass: straight from the bytes into borrowed fields, with no
/// JSON tree in between. `None` on any problem at all, including strings with escapes
/// (which cannot be borrowed): [`parse_and_explain`] then finds and names it.
fn parse_valid(body: &[u8], window: &Window) -> Option<Vec<RollupKey>> {
    let raws = match body.iter().find(|b| !b.is_ascii_whitespace())? {
        b'[' => serde_json::from_slice::<Vec<RawEvent<'_>>>(body).ok()?,
        _ => vec![serde_json::from_slice::<RawEvent<'_>>(body).ok()?],
    };
    if raws.is_empty() {
        return None;
    }
    let mut seen = Seen::default();
    raws.into_iter()
        .map(|raw| validate_raw(raw, window, &mut seen).ok())
        .collect()
}

/// The retailer and locale of a body's previous event: a page's beacons nearly always
/// share them, so each is validated and allocated once per body, not once per event.
#[derive(Default)]
struct Seen<'a> {
    retailer: Option<(&'a str, Retailer)>,
    locale: Option<(&'a str, Locale)>,
}

/// `parse` of `raw`, or a clone of the last value when `raw` is the same text again.
fn reuse<'a, T: Clone>(
    last: &mut Option<(&'a str, T)>,
    raw: &'a str,
    parse: impl FnOnce(&str) -> Result<T, InputError>,
) -> Result<T, InputError> {
    match last {
        Some((text, value)) if *text == raw => Ok(value.clone()),
        _ => {
            let value = parse(raw)?;
            *last = Some((raw, value.clone()));
            Ok(value)
        }
    }
}

/// The body event by event, each through a JSON tree, to say which one is wrong and why.
///
/// The body is split into its events first, each kept as text: serde_json reads numbers
/// only when it builds a tree, so a number out of range (`"ts": 1e400`) fails the event
/// that holds it, which is named, and not the body as a whole.
fn parse_and_explain(body: &[u8], window: &Window) -> Result<Vec<RollupKey>, BadEvent> {
    let whole = |error| BadEvent { index: None, error };
    let body: &RawValue = serde_json::from_slice(body).map_err(|_| whole(E_NOT_JSON))?;
    let items: Vec<&RawValue> = match body.get().as_bytes().first() {
        Some(b'[') => serde_json::from_str(body.get()).map_err(|_| whole(E_NOT_JSON))?,
        Some(b'{') => vec![body],
        _ => return Err(whole(E_NOT_JSON)),
    };
    if items.is_empty() {
        return Err(whole(E_EMPTY));
    }
    // Every tree first, since events borrow their strings from them; then checked in
    // order, so the first bad event is named whichever way it is bad.
    let trees: Vec<Option<serde_json::Value>> = items
        .iter()
        .map(|item| serde_json::from_str(item.get()).ok())
        .collect();
    let mut seen = Seen::default();
    trees
        .iter()
        .enumerate()
        .map(|(i, tree)| {
            tree.as_ref()
                .ok_or(E_UNREADABLE)
                .and_then(|tree| validate(tree, window, &mut seen))
                .map_err(|error| BadEvent {
                    index: Some(i),
                    error,
                })
        })
        .collect()
}

fn validate<'a>(
    item: &'a serde_json::Value,
    window: &Window,
    seen: &mut Seen<'a>,
) -> Result<RollupKey, InputError> {
    validate_raw(
        RawEvent::deserialize(item).map_err(|_| E_SHAPE)?,
        window,
        seen,
    )
}

fn validate_raw<'a>(
    raw: RawEvent<'a>,
    window: &Window,
    seen: &mut Seen<'a>,
) -> Result<RollupKey, InputError> {
    let kind = EventType::parse(present(raw.kind).ok_or(E_MISSING)?).ok_or(E_TYPE)?;
    let retailer = reuse(
        &mut seen.retailer,
        present(raw.retailer).ok_or(E_MISSING)?,
        Retailer::parse,
    )?;
    let locale = reuse(
        &mut seen.locale,
        present(raw.locale).ok_or(E_MISSING)?,
        Locale::parse,
    )?;
    // Every identity given is validated, as `/v1/fragment` does; the first one names
    // the product.
    let ids = Identities::parse(raw.ean, raw.brand, raw.mpn, raw.sku, E_HALF_BRAND_MPN)?;
    let product = match ids {
        Identities { ean: Some(e), .. } => Product::Ean(e),
        Identities {
            brand_mpn: Some(bm),
            ..
        } => Product::BrandMpn(bm),
        Identities { sku: Some(s), .. } => Product::Sku(s),
        _ => return Err(E_MISSING),
    };
    Ok(RollupKey {
        day: window.day(raw.ts)?,
        retailer,
        product,
        locale,
        kind,
    })
}

/// The queue had no room for the whole batch; nothing was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the events queue is full")]
pub struct QueueFull;

/// What the handlers and the writer share.
#[derive(Debug)]
struct Shared {
    /// One permit per event of room: taken by an accepted body, given back once its
    /// events are written. Closed when the writer drains for shutdown.
    room: Semaphore,
    capacity: usize,
    /// Events queued and not yet taken by the writer: tells a producer when its body
    /// completes a batch.
    queued: AtomicUsize,
    batch_size: usize,
    /// Wakes the writer when a whole batch is queued; between batches it sleeps until
    /// the flush interval ends, so beacons do not wake it one by one.
    batch_ready: Notify,
}

/// The handlers' side of the queue. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventQueue {
    /// One message per accepted body; room is counted per event by [`Shared::room`].
    tx: mpsc::UnboundedSender<Vec<RollupKey>>,
    shared: Arc<Shared>,
    /// `true` while paused; the writer watches it.
    paused: Arc<watch::Sender<bool>>,
}

impl EventQueue {
    /// Queues every event of `events`, or none when they do not all fit.
    ///
    /// # Errors
    /// [`QueueFull`] when the free room is smaller than the batch (or the writer is gone).
    pub fn try_enqueue(&self, events: Vec<RollupKey>) -> Result<(), QueueFull> {
        let n = events.len();
        let s = &self.shared;
        let permits = u32::try_from(n)
            .ok()
            .and_then(|n| s.room.try_acquire_many(n).ok())
            .ok_or(QueueFull)?;
        // Counted before sending, so the writer never takes events not yet counted.
        let before = s.queued.fetch_add(n, Ordering::Relaxed);
        if self.tx.send(events).is_err() {
            s.queued.fetch_sub(n, Ordering::Relaxed);
            return Err(QueueFull);
        }
        // Given back by the writer once these events are written.
        permits.forget();
        if before < s.batch_size && before + n >= s.batch_size {
            s.batch_ready.notify_one();
        }
        Ok(())
    }

    /// Events accepted and not yet written: queued, or in the batch being written.
    pub fn depth(&self) -> usize {
        self.shared.capacity - self.shared.room.available_permits()
    }

    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Stops writing; the queue keeps filling until it is full.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Writes again, starting with what queued up meanwhile.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }
}

/// The one task that writes batches.
pub struct Writer {
    rx: mpsc::UnboundedReceiver<Vec<RollupKey>>,
    shared: Arc<Shared>,
    /// The rest of a body that did not fit in the last batch; taken first.
    carry: Vec<RollupKey>,
    paused: watch::Receiver<bool>,
    store: Arc<dyn EventStore>,
    metrics: Arc<Metrics>,
    flush_interval: Duration,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("batch_size", &self.shared.batch_size)
            .field("flush_interval", &self.flush_interval)
            .finish_non_exhaustive()
    }
}

/// Builds the queue and its writer from `[events]`.
pub fn channel(
    config: &EventsConfig,
    store: Arc<dyn EventStore>,
    metrics: Arc<Metrics>,
) -> (EventQueue, Writer) {
    let capacity = config.queue_capacity.clamp(1, Semaphore::MAX_PERMITS);
    let (tx, rx) = mpsc::unbounded_channel();
    let (paused_tx, paused) = watch::channel(false);
    let shared = Arc::new(Shared {
        room: Semaphore::new(capacity),
        capacity,
        queued: AtomicUsize::new(0),
        batch_size: config.batch_size.max(1),
        batch_ready: Notify::new(),
    });
    let queue = EventQueue {
        tx,
        shared: Arc::clone(&shared),
        paused: Arc::new(paused_tx),
    };
    let writer = Writer {
        rx,
        shared,
        carry: Vec::new(),
        paused,
        store,
        metrics,
        flush_interval: config.flush_interval,
    };
    (queue, writer)
}

impl Writer {
    /// Writes batches until `shutdown` is cancelled, then stops taking new events, writes
    /// everything still queued (even when paused), and returns.
    ///
    /// A batch is written as soon as `batch_size` events are queued, and whatever is
    /// queued is written when `flush_interval` has passed since the last write, so an
    /// event waits at most that long (unless paused).
    ///
    /// A store that keeps failing keeps this from returning: accepted events are not
    /// dropped to make shutdown quicker. A second SIGTERM (see `cli`) exits at once.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let batch_size = self.shared.batch_size;
        let mut batch: Vec<RollupKey> = Vec::with_capacity(batch_size);
        let mut due = tokio::time::Instant::now() + self.flush_interval;
        // The last write took a whole batch: more may be queued, so take before waiting.
        let mut backlog = false;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if *self.paused.borrow_and_update() {
                tokio::select! {
                    changed = self.paused.changed() => {
                        if changed.is_err() {
                            break; // the queue handle is gone: nobody can resume
                        }
                    }
                    () = shutdown.cancelled() => {}
                }
                continue;
            }
            if !backlog {
                tokio::select! {
                    () = tokio::time::sleep_until(due) => {}
                    () = self.shared.batch_ready.notified() => {}
                    changed = self.paused.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        continue;
                    }
                    () = shutdown.cancelled() => break,
                }
            }
            let full = self.take(&mut batch) == batch_size;
            // Woken by a notification a write already served: keep what was taken.
            if !full && tokio::time::Instant::now() < due {
                backlog = false;
                continue;
            }
            self.flush(&mut batch).await;
            due = tokio::time::Instant::now() + self.flush_interval;
            backlog = full;
        }
        // Drain: refuse new events, then write everything that is queued.
        self.shared.room.close();
        self.rx.close();
        while self.take(&mut batch) > 0 {
            self.flush(&mut batch).await;
        }
        tracing::info!("events queue drained");
    }

    /// Moves queued events into `batch`, up to `batch_size`; how many it holds.
    fn take(&mut self, batch: &mut Vec<RollupKey>) -> usize {
        let batch_size = self.shared.batch_size;
        let before = batch.len();
        loop {
            let room = batch_size - batch.len();
            if self.carry.len() > room {
                let rest = self.carry.split_off(room);
                batch.append(&mut self.carry);
                self.carry = rest;
            } else {
                batch.append(&mut self.carry);
            }
            if batch.len() == batch_size {
                break;
            }
            match self.rx.try_recv() {
                Ok(events) => self.carry = events,
                Err(_) => break,
            }
        }
        self.shared
            .queued
            .fetch_sub(batch.len() - before, Ordering::Relaxed);
        batch.len()
    }

    /// Writes `batch` as one transaction, retrying with backoff until it is stored, then
    /// empties it and gives its room back to the queue.
    async fn flush(&self, batch: &mut Vec<RollupKey>) {
        if batch.is_empty() {
            return;
        }
        let events = batch.len();
        let mut counts: HashMap<RollupKey, u64, foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(events, foldhash::fast::RandomState::default());
        for key in batch.drain(..) {
            *counts.entry(key).or_default() += 1;
        }
        let rows: Arc<[(RollupKey, u64)]> = counts.into_iter().collect();
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            let started = Instant::now();
            let store = Arc::clone(&self.store);
            let job = Arc::clone(&rows);
            let result = tokio::task::spawn_blocking(move || store.write_rollup(&job)).await;
            self.metrics
                .events_flush_duration
                .record(started.elapsed().as_secs_f64());
            let error = match result {
                Ok(Ok(())) => break,
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            // The batch stays in memory and is retried: an accepted event is never dropped.
            tracing::warn!(error = %error, events, retry_in = ?delay, "writing events failed; will retry");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RETRY_DELAY);
        }
        self.shared.room.add_permits(events);
        self.metrics.events_written.increment(events as u64);
        self.metrics
            .events_queue_depth
            .set((self.shared.capacity - self.shared.room.available_permits()) as f64);
    }
}

#[cfg(test)]
mod tests;
