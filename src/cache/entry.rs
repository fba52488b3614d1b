//! A cache entry, stored ready to send: body bytes for each encoding and prebuilt
//! header values, so a hit copies nothing and formats nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use tokio::time::Instant;

use crate::domain::{BrandMpn, InputError, Retailer, normalize_brand};
use crate::origin::{Directives, Fragment, Lookup};

/// A content coding we store a variant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Br,
}

impl Encoding {
    /// The `Content-Encoding` header value, `None` for identity.
    pub fn header(self) -> Option<HeaderValue> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some(HeaderValue::from_static("gzip")),
            Self::Br => Some(HeaderValue::from_static("br")),
        }
    }
}

/// The body of a positive entry, in every encoding we have. Clones share the bodies.
#[derive(Debug, Clone)]
pub struct Content {
    pub identity: Bytes,
    pub gzip: Option<Bytes>,
    pub br: Option<Bytes>,
    /// Content version (unquoted hash); the ETag of each variant derives from it.
    pub version: Box<str>,
    /// Strong ETags per variant: `"v"`, `"v-gzip"`, `"v-br"`. Different representations
    /// get different tags (RFC 9110 §8.8.3), so shared caches never mix them up.
    etags: [HeaderValue; 3],
}

impl Content {
    pub fn new(identity: Bytes, gzip: Option<Bytes>, br: Option<Bytes>, version: &str) -> Self {
        let tag = |suffix: &str| {
            HeaderValue::try_from(format!("\"{version}{suffix}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("\"invalid-version\""))
        };
        Self {
            etags: [tag(""), tag("-gzip"), tag("-br")],
            identity,
            gzip,
            br,
            version: version.into(),
        }
    }

    /// Whether a variant exists for `enc`.
    pub fn has(&self, enc: Encoding) -> bool {
        match enc {
            Encoding::Identity => true,
            Encoding::Gzip => self.gzip.is_some(),
            Encoding::Br => self.br.is_some(),
        }
    }

    /// The body and ETag for `enc`, falling back to identity when we have no such variant.
    pub fn variant(&self, enc: Encoding) -> (Encoding, &Bytes, &HeaderValue) {
        match (enc, &self.gzip, &self.br) {
            (Encoding::Br, _, Some(b)) => (Encoding::Br, b, &self.etags[2]),
            (Encoding::Gzip, Some(g), _) => (Encoding::Gzip, g, &self.etags[1]),
            _ => (Encoding::Identity, &self.identity, &self.etags[0]),
        }
    }

    /// Whether an `If-None-Match` value matches any variant of this content (a client
    /// that got the gzip variant may revalidate asking for br: the content is the same).
    pub fn matches_if_none_match(&self, inm: &[u8]) -> bool {
        inm.split(|&c| c == b',').any(|tag| {
            let tag = tag.trim_ascii();
            if tag == b"*" {
                return true;
            }
            let tag = tag.strip_prefix(b"W/").unwrap_or(tag);
            let Some(inner) = tag.strip_prefix(b"\"").and_then(|t| t.strip_suffix(b"\"")) else {
                return false;
            };
            let base = inner
                .strip_suffix(b"-gzip")
                .or_else(|| inner.strip_suffix(b"-br"))
                .unwrap_or(inner);
            base == self.version.as_bytes()
        })
    }

    fn weight(&self) -> usize {
        self.identity.len()
            + self.gzip.as_ref().map_or(0, Bytes::len)
            + self.br.as_ref().map_or(0, Bytes::len)
            + self.version.len() * 4
    }
}

/// What a purge by surrogate key names (DESIGN.md §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SurrogateKey {
    Brand(String),
    Product(String),
    Retailer(String),
}

impl SurrogateKey {
    /// Parses `brand:<b>`, `product:<brand>/<mpn>` or `retailer:<slug>`, normalizing the
    /// value the way content is keyed (`brand:ACME` = `brand:acme`).
    ///
    /// # Errors
    /// An unknown prefix or an invalid value.
    pub fn parse(s: &str) -> Result<Self, InputError> {
        const BAD: InputError = InputError {
            code: "invalid_surrogate_key",
            detail: "surrogate keys look like brand:<brand>, product:<brand>/<mpn> or retailer:<slug>",
        };
        match s.split_once(':') {
            Some(("brand", b)) => Ok(Self::Brand(normalize_brand(b)?)),
            Some(("product", p)) => {
                let (b, m) = p.split_once('/').ok_or(BAD)?;
                // The id as printed (normalized) or as written in the catalog: both work.
                let id = BrandMpn::parse(b, m)?;
                Ok(Self::Product(id.product_id()))
            }
            Some(("retailer", r)) => Ok(Self::Retailer(Retailer::parse(r)?.as_str().to_owned())),
            _ => Err(BAD),
        }
    }
}

/// The surrogate keys an entry answers to.
#[derive(Debug, Clone)]
pub struct Surrogates {
    pub retailer: Box<str>,
    pub brand: Option<Box<str>>,
    pub product: Option<Box<str>>,
}

impl Surrogates {
    pub fn matches(&self, key: &SurrogateKey) -> bool {
        match key {
            SurrogateKey::Retailer(r) => *self.retailer == **r,
            SurrogateKey::Brand(b) => self.brand.as_deref() == Some(b.as_str()),
            SurrogateKey::Product(p) => self.product.as_deref() == Some(p.as_str()),
        }
    }
}

/// One cached answer: content, or "no content" (`content: None`, served as 204).
#[derive(Debug)]
pub struct CachedFragment {
    pub content: Option<Content>,
    pub surrogates: Surrogates,
    /// When the origin answered; freshness is measured from here (tokio's clock, so
    /// tests can pause time).
    pub stored_at: Instant,
    /// How long this entry is fresh, and served stale while refreshing or when the origin
    /// fails: `[cache]`, unless the origin's directives said otherwise.
    pub lifetimes: Lifetimes,
    /// The origin's validator, sent when this entry is revalidated.
    pub validator: Option<Box<str>>,
    /// The `Cache-Control` sent with this entry, built once from its own lifetimes (or
    /// `no-store`, when the origin said so).
    pub cache_control: HeaderValue,
    /// Set while one background refresh runs, so a stale entry triggers exactly one.
    refreshing: AtomicBool,
    weight: u32,
    /// How often it was requested lately: ranks the hot set peers warm from.
    pub heat: super::hot::Heat,
}

/// An entry's timing, fixed when it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub fresh: Duration,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
}

impl Lifetimes {
    /// `[cache]`'s timing for an answer, overridden by the origin's `directives`.
    pub fn new(settings: &super::CacheSettings, positive: bool, d: &Directives) -> Self {
        let default_fresh = if positive {
            settings.ttl
        } else {
            settings.negative_ttl
        };
        Self {
            fresh: d.max_age.unwrap_or(default_fresh),
            stale_while_revalidate: d
                .stale_while_revalidate
                .unwrap_or(settings.stale_while_revalidate),
            stale_if_error: d.stale_if_error.unwrap_or(settings.stale_if_error),
        }
    }

    /// After this long nothing may serve the entry: the cache can let it go.
    pub fn longest(&self) -> Duration {
        self.fresh + self.stale_while_revalidate.max(self.stale_if_error)
    }

    /// The `Cache-Control` that tells caches in front these same lifetimes; `no-store`
    /// when the origin forbade keeping the answer.
    ///
    /// Nearly every entry has `[cache]`'s lifetimes, so the first few distinct values
    /// are made once and kept as static values: sending one then touches no shared
    /// reference count (an atomic on a cache line of its own, per hit). Values past
    /// those (an HTTP origin's varied `max-age`s) are made per entry as usual.
    pub fn cache_control(&self, no_store: bool) -> HeaderValue {
        const INTERNED: usize = 64;
        static KNOWN: std::sync::Mutex<Vec<(Lifetimes, HeaderValue)>> =
            std::sync::Mutex::new(Vec::new());
        if no_store {
            return HeaderValue::from_static("no-store");
        }
        let mut known = KNOWN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, v)) = known.iter().find(|(l, _)| l == self) {
            return v.clone();
        }
        let text = format!(
            "public, max-age={}, stale-while-revalidate={}, stale-if-error={}",
            self.fresh.as_secs(),
            self.stale_while_revalidate.as_secs(),
            self.stale_if_error.as_secs()
        );
        if known.len() >= INTERNED {
            return HeaderValue::try_from(text)
                .expect("invariant: digits and ASCII make a valid header value");
        }
        let v = HeaderValue::from_static(Box::leak(text.into_boxed_str()));
        known.push((*self, v.clone()));
        v
    }
}

/// Fixed per-entry overhead counted by the weigher: the map node, the `Arc`, the key.
const ENTRY_OVERHEAD: usize = 256;

impl CachedFragment {
    /// Builds an entry from an origin answer. Variants missing from the origin are made
    /// here, once: call this off the async workers when `needs_compression` says so.
    ///
    /// `Lookup::NotModified` builds nothing ([`Self::restamped`] answers a 304); it is
    /// treated as no content should a caller pass it anyway.
    pub fn from_lookup(
        lookup: Lookup,
        retailer: &Retailer,
        key_len: usize,
        stored_at: Instant,
        settings: &super::CacheSettings,
    ) -> Self {
        let (content, brand, product, validator, directives) = match lookup {
            Lookup::Found(Fragment {
                html,
                mut gzip,
                mut br,
                version,
                brand,
                product_id,
                validator,
                directives,
                ..
            }) => {
                if gzip.is_none() && br.is_none() {
                    (gzip, br) = crate::compress::compress(&html);
                }
                (
                    Some(Content::new(html, gzip, br, &version)),
                    Some(brand),
                    Some(product_id),
                    validator,
                    directives,
                )
            }
            Lookup::NoContent { brand, product_id } => {
                (None, brand, product_id, None, Directives::default())
            }
            Lookup::NotModified { directives } => (None, None, None, None, directives),
        };
        let weight = ENTRY_OVERHEAD + key_len + content.as_ref().map_or(0, Content::weight);
        let lifetimes = Lifetimes::new(settings, content.is_some(), &directives);
        Self {
            cache_control: lifetimes.cache_control(directives.no_store),
            lifetimes,
            content,
            surrogates: Surrogates {
                retailer: retailer.as_str().into(),
                brand: brand.map(Into::into),
                product: product.map(Into::into),
            },
            stored_at,
            validator: validator.map(Into::into),
            refreshing: AtomicBool::new(false),
            weight: u32::try_from(weight).unwrap_or(u32::MAX),
            heat: super::hot::Heat::default(),
        }
    }

    /// An entry rebuilt from its parts (a peer's export): weighed like one built from
    /// an origin answer, ETags rebuilt from `content`'s version.
    #[allow(clippy::too_many_arguments)]
    pub fn rebuilt(
        content: Option<Content>,
        surrogates: Surrogates,
        stored_at: Instant,
        lifetimes: Lifetimes,
        validator: Option<Box<str>>,
        cache_control: HeaderValue,
        key_len: usize,
        heat: super::hot::Heat,
    ) -> Self {
        let weight = ENTRY_OVERHEAD + key_len + content.as_ref().map_or(0, Content::weight);
        Self {
            content,
            surrogates,
            stored_at,
            lifetimes,
            validator,
            cache_control,
            refreshing: AtomicBool::new(false),
            weight: u32::try_from(weight).unwrap_or(u32::MAX),
            heat,
        }
    }

    /// The same answer, confirmed by the origin (HTTP 304) at `stored_at`, reusable as
    /// `directives` now say. Bodies are shared, not copied.
    pub fn restamped(
        &self,
        stored_at: Instant,
        settings: &super::CacheSettings,
        directives: &Directives,
    ) -> Self {
        let lifetimes = Lifetimes::new(settings, self.content.is_some(), directives);
        Self {
            content: self.content.clone(),
            surrogates: self.surrogates.clone(),
            stored_at,
            cache_control: lifetimes.cache_control(directives.no_store),
            lifetimes,
            validator: self.validator.clone(),
            refreshing: AtomicBool::new(false),
            weight: self.weight,
            heat: self.heat.clone(),
        }
    }

    /// Whether building an entry from `lookup` would compress (CPU work worth moving off
    /// the async workers).
    pub fn needs_compression(lookup: &Lookup) -> bool {
        matches!(lookup, Lookup::Found(f) if f.gzip.is_none() && f.br.is_none()
            && f.html.len() >= crate::compress::MIN_COMPRESS_LEN)
    }

    /// The weight the cache is bounded by (`cache.max_bytes`), in bytes.
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Claims the one background refresh of this entry; false if it is already claimed.
    pub fn claim_refresh(&self) -> bool {
        !self.refreshing.swap(true, Ordering::AcqRel)
    }

    /// Gives the claim back after a failed refresh, so a later request may try again.
    pub fn release_refresh(&self) {
        self.refreshing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Content {
        Content::new(
            Bytes::from_static(b"<p>x</p>"),
            Some(Bytes::from_static(b"gz")),
            None,
            "abc",
        )
    }

    #[test]
    fn variants_fall_back_to_identity() {
        let c = content();
        assert_eq!(c.variant(Encoding::Br).0, Encoding::Identity);
        let (enc, body, etag) = c.variant(Encoding::Gzip);
        assert_eq!(
            (enc, &body[..], etag.to_str().unwrap()),
            (Encoding::Gzip, &b"gz"[..], "\"abc-gzip\"")
        );
    }

    #[test]
    fn if_none_match_forms() {
        let c = content();
        for yes in [
            "\"abc\"",
            "W/\"abc\"",
            "\"zzz\", \"abc-br\"",
            "*",
            " \"abc-gzip\" ",
        ] {
            assert!(c.matches_if_none_match(yes.as_bytes()), "{yes}");
        }
        for no in ["abc", "\"ab\"", "\"abc-zstd\"", ""] {
            assert!(!c.matches_if_none_match(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn surrogate_keys_normalize() {
        assert_eq!(
            SurrogateKey::parse("brand:ACME Corp").unwrap(),
            SurrogateKey::Brand("acmecorp".into())
        );
        assert_eq!(
            SurrogateKey::parse("product:Acme/X-100/B").unwrap(),
            SurrogateKey::Product("acme/x100b".into())
        );
        assert_eq!(
            SurrogateKey::parse("retailer:shop-one").unwrap(),
            SurrogateKey::Retailer("shop-one".into())
        );
        for bad in [
            "acme",
            "brand:",
            "colour:red",
            "retailer:Shop One",
            "product:acme",
        ] {
            assert!(SurrogateKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_control_states_each_entrys_own_lifetimes_past_the_interned_ones() {
        // More distinct lifetimes than are kept as static values: every one still gets
        // its own numbers, and asking twice gives the same answer.
        for n in 0..200u64 {
            let l = Lifetimes {
                fresh: Duration::from_secs(n),
                stale_while_revalidate: Duration::from_secs(2 * n),
                stale_if_error: Duration::from_secs(7),
            };
            let want = format!(
                "public, max-age={n}, stale-while-revalidate={}, stale-if-error=7",
                2 * n
            );
            assert_eq!(l.cache_control(false), want.as_str());
            assert_eq!(l.cache_control(false), want.as_str());
            assert_eq!(l.cache_control(true), "no-store");
        }
    }
}
