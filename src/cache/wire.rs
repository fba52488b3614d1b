//! The hot set on the wire: what `GET /admin/v1/cache/hot` sends and a warming peer
//! reads. A length-prefixed binary format, written and read here by hand:
//!
//! ```text
//! magic    8 bytes  "SYNHOT" 0x00 VERSION
//! count    u32      entries that follow
//! entry × count:
//!   len    u32      bytes of this entry, the fields below
//!   flags  u8       CONTENT | GZIP | BR | VALIDATOR | BRAND | PRODUCT
//!   key    str16    the cache key (the normalized request)
//!   age    u64      milliseconds since the origin answered, at export
//!   fresh, stale_while_revalidate, stale_if_error   u64 milliseconds each
//!   score  u32      the exporter's decayed hit count (the hot-set rank)
//!   retailer str16, [brand str16], [product str16]   surrogate keys
//!   [validator str16]   the origin's validator, for revalidation
//!   cache_control str16 the Cache-Control sent with the entry
//!   [version str16, identity bytes32, [gzip bytes32], [br bytes32]]   positive entries
//! ```
//!
//! Integers are big-endian; `str16` is a u16 length and UTF-8, `bytes32` a u32 length
//! and bytes. Negative entries ("no content", answered 204) travel too: they spare the
//! origin as much as positive ones, and weigh almost nothing.
//!
//! Freshness travels as an *age*, since `stored_at` is a monotonic instant that means
//! nothing in another process: the reader sets `stored_at = now − age`, so an entry has
//! as much life left on the new instance as on the old one (give or take the transfer).
//!
//! Invariants: reading checks every length against what is left, every field against
//! what the cache would have built itself (a retailer slug, header-safe ETag versions,
//! validators and `Cache-Control`, lifetimes within the config bounds), and that each
//! entry and the whole body are consumed exactly. A body that fails any check is
//! refused whole, with an error naming the entry and the reason: nothing from it is
//! stored, and nothing panics.

use std::time::Duration;

use bytes::{BufMut as _, Bytes, BytesMut};
use http::HeaderValue;
use tokio::time::Instant;

use super::entry::Lifetimes;
use super::hot::Heat;
use super::{CachedFragment, Content, HotEntry, Surrogates};
use crate::domain::Retailer;

/// The format's version; a reader refuses any other.
pub const VERSION: u8 = 1;
const MAGIC: [u8; 8] = [b'S', b'Y', b'N', b'H', b'O', b'T', 0, VERSION];

/// The most an export holds: entries past it are left out (the hottest come first).
/// Bounds the memory an export takes on the peer and a warm-up on the new instance.
pub const MAX_EXPORT_BYTES: usize = 64 << 20;

/// The media type of an export.
pub const CONTENT_TYPE: &str = "application/vnd.synedge.hot-set";

/// Longest cache key accepted: a fragment query is at most 2,048 bytes, and its key
/// is shorter than the query.
const MAX_KEY_LEN: usize = 4096;
/// Longest brand, product id, validator, version or `Cache-Control` accepted.
const MAX_TEXT_LEN: usize = 1024;
/// Longest lifetime accepted: an HTTP origin's `max-age` is capped at 2^31 seconds
/// (RFC 9111 §1.2.2), and `[cache]`'s lifetimes at far less.
const MAX_LIFETIME: Duration = Duration::from_secs(1 << 31);

const CONTENT: u8 = 1;
const GZIP: u8 = 1 << 1;
const BR: u8 = 1 << 2;
const VALIDATOR: u8 = 1 << 3;
const BRAND: u8 = 1 << 4;
const PRODUCT: u8 = 1 << 5;
const KNOWN: u8 = CONTENT | GZIP | BR | VALIDATOR | BRAND | PRODUCT;

/// What [`encode`] wrote.
#[derive(Debug)]
pub struct Encoded {
    pub body: Bytes,
    /// Entries written (those over the byte budget are left out).
    pub entries: usize,
}

/// Writes `hot` (hottest first) as of `now`, leaving out any entry that would take the
/// body past `max_bytes`.
pub fn encode(hot: &[HotEntry], now: Instant, max_bytes: usize) -> Encoded {
    let mut out = BytesMut::with_capacity(4096);
    out.put_slice(&MAGIC);
    out.put_u32(0); // patched below
    let mut entries: u32 = 0;
    let mut frame = BytesMut::new();
    for h in hot {
        frame.clear();
        if encode_entry(&mut frame, h, now).is_none() {
            continue;
        }
        if out.len() + 4 + frame.len() > max_bytes || frame.len() > u32::MAX as usize {
            continue;
        }
        out.put_u32(frame.len() as u32);
        out.put_slice(&frame);
        entries += 1;
    }
    out[8..12].copy_from_slice(&entries.to_be_bytes());
    Encoded {
        body: out.freeze(),
        entries: entries as usize,
    }
}

/// One entry's fields; `None` if one of them cannot be written (a length over its
/// prefix: not something the cache builds, so the entry is left out).
fn encode_entry(out: &mut BytesMut, h: &HotEntry, now: Instant) -> Option<()> {
    let e = &h.entry;
    let s = &e.surrogates;
    let mut flags = 0;
    let flag = |on: bool, bit: u8| if on { bit } else { 0 };
    if let Some(c) = &e.content {
        flags |= CONTENT | flag(c.gzip.is_some(), GZIP) | flag(c.br.is_some(), BR);
    }
    flags |= flag(e.validator.is_some(), VALIDATOR)
        | flag(s.brand.is_some(), BRAND)
        | flag(s.product.is_some(), PRODUCT);
    out.put_u8(flags);
    put_str(out, &h.key)?;
    out.put_u64(millis(now.saturating_duration_since(e.stored_at)));
    let l = &e.lifetimes;
    for d in [l.fresh, l.stale_while_revalidate, l.stale_if_error] {
        out.put_u64(millis(d));
    }
    out.put_u32(h.score);
    put_str(out, &s.retailer)?;
    for text in [&s.brand, &s.product, &e.validator].into_iter().flatten() {
        put_str(out, text)?;
    }
    put_str(out, e.cache_control.to_str().ok()?)?;
    if let Some(c) = &e.content {
        put_str(out, &c.version)?;
        for body in [Some(&c.identity), c.gzip.as_ref(), c.br.as_ref()]
            .into_iter()
            .flatten()
        {
            out.put_u32(u32::try_from(body.len()).ok()?);
            out.put_slice(body);
        }
    }
    Some(())
}

fn put_str(out: &mut BytesMut, s: &str) -> Option<()> {
    out.put_u16(u16::try_from(s.len()).ok()?);
    out.put_slice(s.as_bytes());
    Some(())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Why a body is not a hot set this instance can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("not a synedge hot set of format version {VERSION}")]
    NotAHotSet,
    #[error("the hot set ends before the {index}th of its {count} entries is complete")]
    Truncated { index: usize, count: usize },
    #[error("entry {index} of the hot set is corrupt: {why}")]
    Corrupt { index: usize, why: &'static str },
    #[error("the hot set has bytes after its last entry")]
    TrailingBytes,
}

/// An entry read from a hot set, ready for [`super::FragmentCache::warm`].
#[derive(Debug)]
pub struct Decoded {
    pub key: String,
    pub entry: CachedFragment,
}

/// Reads a hot set as of `now`, heats measured against `epoch`. Entries too old to
/// serve any more are left out; anything malformed refuses the whole body.
///
/// # Errors
/// See [`WireError`].
pub fn decode(body: &[u8], now: Instant, epoch: u32) -> Result<Vec<Decoded>, WireError> {
    let mut r = Reader(body);
    if r.take(MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(WireError::NotAHotSet);
    }
    let count = r.u32().ok_or(WireError::NotAHotSet)? as usize;
    // Each entry takes at least its length prefix: a count the body cannot hold is a
    // truncated body, found before allocating for it.
    let mut out = Vec::with_capacity(count.min(r.0.len() / 4));
    for index in 0..count {
        let truncated = WireError::Truncated { index, count };
        let len = r.u32().ok_or(truncated.clone())? as usize;
        let frame = r.take(len).ok_or(truncated)?;
        if let Some(d) =
            decode_entry(frame, now, epoch).map_err(|why| WireError::Corrupt { index, why })?
        {
            out.push(d);
        }
    }
    if !r.0.is_empty() {
        return Err(WireError::TrailingBytes);
    }
    Ok(out)
}

fn decode_entry(frame: &[u8], now: Instant, epoch: u32) -> Result<Option<Decoded>, &'static str> {
    const SHORT: &str = "a field runs past the end of the entry";
    let mut r = Reader(frame);
    let flags = r.u8().ok_or(SHORT)?;
    if flags & !KNOWN != 0 {
        return Err("unknown flags");
    }
    if flags & CONTENT == 0 && flags & (GZIP | BR) != 0 {
        return Err("compressed variants without content");
    }
    let key = r.str(MAX_KEY_LEN)?;
    if key.is_empty() {
        return Err("empty key");
    }
    let age = Duration::from_millis(r.u64().ok_or(SHORT)?);
    let mut lifetime = || -> Result<Duration, &'static str> {
        let d = Duration::from_millis(r.u64().ok_or(SHORT)?);
        if d > MAX_LIFETIME {
            return Err("a lifetime longer than 2^31 seconds");
        }
        Ok(d)
    };
    let lifetimes = Lifetimes {
        fresh: lifetime()?,
        stale_while_revalidate: lifetime()?,
        stale_if_error: lifetime()?,
    };
    let score = r.u32().ok_or(SHORT)?;
    let retailer = Retailer::parse(r.str(MAX_TEXT_LEN)?).map_err(|_| "not a retailer slug")?;
    let mut optional = |bit: u8| -> Result<Option<Box<str>>, &'static str> {
        if flags & bit == 0 {
            return Ok(None);
        }
        Ok(Some(r.str(MAX_TEXT_LEN)?.into()))
    };
    let brand = optional(BRAND)?;
    let product = optional(PRODUCT)?;
    let validator = optional(VALIDATOR)?;
    if validator
        .as_deref()
        .is_some_and(|v| HeaderValue::from_str(v).is_err())
    {
        return Err("a validator that cannot be sent in a header");
    }
    let cache_control =
        HeaderValue::from_str(r.str(MAX_TEXT_LEN)?).map_err(|_| "an invalid Cache-Control")?;
    let content = if flags & CONTENT == 0 {
        None
    } else {
        let version = r.str(MAX_TEXT_LEN)?;
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
            return Err("a content version that cannot make an ETag");
        }
        let identity = r.bytes()?;
        let gzip = if flags & GZIP != 0 {
            Some(r.bytes()?)
        } else {
            None
        };
        let br = if flags & BR != 0 {
            Some(r.bytes()?)
        } else {
            None
        };
        Some(Content::new(identity, gzip, br, version))
    };
    if !r.0.is_empty() {
        return Err("bytes after the last field");
    }
    // Dead on arrival (or older than this clock can express): nothing to store.
    let Some(stored_at) = now.checked_sub(age).filter(|_| age < lifetimes.longest()) else {
        return Ok(None);
    };
    let surrogates = Surrogates {
        retailer: retailer.as_str().into(),
        brand,
        product,
    };
    let entry = CachedFragment::rebuilt(
        content,
        surrogates,
        stored_at,
        lifetimes,
        validator,
        cache_control,
        key.len(),
        Heat::new(epoch, score),
    );
    Ok(Some(Decoded {
        key: key.to_owned(),
        entry,
    }))
}

/// Reads from the front of a slice; every read checks the length left.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self, max: usize) -> Result<&'a str, &'static str> {
        let len = usize::from(self.u16().ok_or("a field runs past the end of the entry")?);
        if len > max {
            return Err("a text field longer than allowed");
        }
        let b = self
            .take(len)
            .ok_or("a field runs past the end of the entry")?;
        std::str::from_utf8(b).map_err(|_| "a text field that is not UTF-8")
    }
    /// A body, copied out: a slice would keep the whole export alive for as long as
    /// any one of its entries stays cached.
    fn bytes(&mut self) -> Result<Bytes, &'static str> {
        let len = self.u32().ok_or("a field runs past the end of the entry")? as usize;
        let b = self
            .take(len)
            .ok_or("a body runs past the end of the entry")?;
        Ok(Bytes::copy_from_slice(b))
    }
}

#[cfg(test)]
mod tests;
