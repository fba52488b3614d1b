//! The HTTP upstream origin (`origin.url = "http(s)://host/prefix"`, DESIGN.md §5):
//! synedge becomes the cache of an existing content service, honouring its ETag and
//! Cache-Control.
//!
//! The upstream contract, one GET per candidate, paths built from normalized values with
//! every segment percent-encoded:
//!
//! ```text
//! {prefix}/{retailer}/{locale}/ean/{gtin14}
//! {prefix}/{retailer}/{locale}/mpn/{brand}/{mpn}
//! {prefix}/{retailer}/{locale}/sku/{sku}
//! ```
//!
//! `{locale}` is the BCP 47 tag in its canonical casing (`en-GB`, `de`, `zh-Hant-TW`),
//! whatever the casing the page asked with.
//!
//! - Identities are tried in the order of DESIGN.md §2 (ean, brand+mpn, sku), and for
//!   each the locale chain (exact, then language). `404`/`410` moves to the next
//!   candidate; after the last, [`Lookup::NoContent`]. `200` is the fragment. Anything
//!   else (3xx, other 4xx, 5xx, a bad body, connect errors) is [`OriginError::Unavailable`]
//!   and stops the chain: a failing upstream must not be read as "no content", which
//!   would be cached as a negative answer.
//! - Surrogate keys: from the request's brand+mpn when it has one, else from the
//!   upstream's `X-Synedge-Brand` (a brand) and `X-Synedge-Product` (`<brand>/<mpn>`, or
//!   an MPN of that brand) headers, normalized like everything else; else empty.
//! - The upstream's `ETag` is kept as [`Fragment::validator`]; [`Origin::revalidate`]
//!   walks the same chain sending it as `If-None-Match`, and a `304` is
//!   [`Lookup::NotModified`]. A candidate earlier in the chain that now exists answers
//!   `200` with its own ETag, so new content in the exact locale replaces the fallback.
//! - Caching headers become [`Directives`](super::Directives) (see [`directives`]).
//!
//! Invariants:
//! - The whole lookup (waiting for a slot, every candidate, every body) is bounded by
//!   `origin.timeout`; the cache bounds it again from outside.
//! - At most [`MAX_IN_FLIGHT`] lookups talk to the upstream at once, over a keep-alive
//!   pool (hyper-util's legacy client), so a surge of distinct misses queues here rather
//!   than opening a connection per miss on a content service that may already be slow.
//! - Bodies above [`MAX_BODY_BYTES`] (compressed or decoded) are refused.
//! - SECURITY: credentials in the URL's userinfo are sent as HTTP Basic authorization
//!   (a sensitive header value) and appear in no log line, error or `Debug` output.

pub mod directives;

use std::fmt;
use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::http::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, IF_NONE_MATCH,
    LAST_MODIFIED, USER_AGENT,
};
use ::http::uri::Authority;
use ::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use rustls::pki_types::ServerName;
use tokio::sync::Semaphore;

use super::{BoxFuture, Fragment, Lookup, Origin, OriginError, content_version};
use crate::domain::{BrandMpn, FragmentRequest, Gtin14, Sku, canonical_tag, normalize_brand};
use crate::net::connector::{Connector, pooled_client};
use crate::net::tls::system_tls;
use crate::net::{USER_AGENT as USER_AGENT_VALUE, error_chain};
use crate::store_url::StoreUrl;

/// Largest fragment body accepted from the upstream, as sent and after decoding. Real
/// fragments are tens of kilobytes; a bigger answer is a misrouted file or an attack on
/// the cache's memory.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// Lookups talking to the upstream at once; the rest wait (within `origin.timeout`).
/// Also the number of idle connections kept.
pub const MAX_IN_FLIGHT: usize = 64;

/// How long an idle pooled connection is kept. Servers close idle connections on their
/// own schedule (nginx after 75 s); hyper notices a close while the connection idles,
/// and the one race left (a close crossing our request) is retried once.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A body of a `404` is read (to keep the connection reusable) only up to this size.
const MAX_DISCARD_BYTES: usize = 64 << 10;

/// Gzip bodies up to this size are decoded on the async worker; bigger ones on the
/// blocking pool, so a large miss does not stall the hits sharing that worker.
const INLINE_DECODE_BYTES: usize = 64 << 10;

/// Upstream headers naming the product of an answer (for surrogate keys), used when the
/// request itself does not name a brand and MPN.
pub const BRAND_HEADER: &str = "x-synedge-brand";
pub const PRODUCT_HEADER: &str = "x-synedge-product";

/// The HTTP upstream. Cheap to share behind an `Arc`; clones of the client share one pool.
pub struct HttpOrigin {
    upstream: Upstream,
    client: Client<Connector, Empty<Bytes>>,
    /// Bounds one whole lookup (all candidates).
    timeout: Duration,
    /// See [`MAX_IN_FLIGHT`].
    slots: Semaphore,
}

impl fmt::Debug for HttpOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY: `shown` has no userinfo; the credentials header is not printed.
        f.debug_struct("HttpOrigin")
            .field("url", &self.upstream.shown())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpOrigin {
    /// An origin over `url` (`http://host[:port][/prefix]` or `https://…`), each lookup
    /// bounded by `timeout`. HTTPS trusts the system's root certificates. No connection
    /// is opened until the first lookup.
    ///
    /// # Errors
    /// A malformed URL, or `https` on a system without root certificates.
    pub fn connect(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let upstream = Upstream::parse(url).map_err(|why| anyhow::anyhow!("origin.url {why}"))?;
        let tls = upstream
            .https
            .then(|| system_tls("origin.url"))
            .transpose()?;
        Self::build(upstream, timeout, tls)
    }

    /// [`Self::connect`] with HTTPS trusting only `tls`'s roots (a private CA; tests).
    ///
    /// # Errors
    /// A malformed URL.
    pub fn with_tls(
        url: &str,
        timeout: Duration,
        tls: Arc<rustls::ClientConfig>,
    ) -> anyhow::Result<Self> {
        let upstream = Upstream::parse(url).map_err(|why| anyhow::anyhow!("origin.url {why}"))?;
        Self::build(upstream, timeout, Some(tls))
    }

    fn build(
        upstream: Upstream,
        timeout: Duration,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> anyhow::Result<Self> {
        let tls = match (upstream.https, tls) {
            (true, Some(config)) => {
                let name = ServerName::try_from(upstream.tls_name())
                    .map_err(|_| {
                        anyhow::anyhow!("origin.url: the host is not a valid TLS server name")
                    })?
                    .to_owned();
                Some((config, name))
            }
            _ => None,
        };
        let connector = Connector::new(timeout, tls);
        let client = pooled_client(connector, POOL_IDLE_TIMEOUT, MAX_IN_FLIGHT);
        tracing::debug!(url = %upstream.shown(), ?timeout, "http origin ready");
        Ok(Self {
            upstream,
            client,
            timeout,
            slots: Semaphore::new(MAX_IN_FLIGHT),
        })
    }

    /// The upstream URL without credentials, for logs.
    pub fn shown_url(&self) -> String {
        self.upstream.shown()
    }

    /// One whole lookup, bounded by the timeout.
    async fn lookup(
        &self,
        req: &FragmentRequest,
        validator: Option<&str>,
    ) -> Result<Lookup, OriginError> {
        tokio::time::timeout(self.timeout, self.walk(req, validator))
            .await
            .map_err(|_| OriginError::Timeout(self.timeout))?
    }

    /// Tries every candidate path in order until one answers.
    async fn walk(
        &self,
        req: &FragmentRequest,
        validator: Option<&str>,
    ) -> Result<Lookup, OriginError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| OriginError::Unavailable("the http origin is closed".into()))?;
        // What the upstream said about the product while answering "not here".
        let mut named: Option<(String, String)> = None;
        for target in targets(req) {
            for locale in req.locale.fallbacks() {
                let Some(rel) = relative_path(req.retailer.as_str(), locale, &target) else {
                    continue;
                };
                match self.exchange(&rel, validator).await? {
                    Answer::Found { headers, body } => {
                        return Ok(Lookup::Found(fragment(req, &headers, body)));
                    }
                    Answer::NotModified { headers } => {
                        return Ok(Lookup::NotModified {
                            directives: directives::from_headers(&headers, SystemTime::now()),
                        });
                    }
                    Answer::Missing { headers } => {
                        if let Some(n) = upstream_product(&headers) {
                            named = Some(n);
                        }
                    }
                }
            }
        }
        // The upstream's word on the product, else the product the request names: both
        // let a purge by brand or product reach the cached negative answer.
        let (brand, product_id) = match (named, &req.brand_mpn) {
            (Some((b, p)), _) => (Some(b), Some(p)),
            (None, Some(bm)) => (Some(bm.brand.clone()), Some(bm.product_id())),
            (None, None) => (None, None),
        };
        Ok(Lookup::NoContent { brand, product_id })
    }

    /// One GET of `{prefix}{rel}`, read whole. A request that fails because a pooled
    /// connection was closed under it is retried once (GET is idempotent).
    async fn exchange(&self, rel: &str, validator: Option<&str>) -> Result<Answer, OriginError> {
        let mut retried = false;
        loop {
            let req = self.request(rel, validator)?;
            match self.client.request(req).await {
                Ok(resp) => return self.answer(resp, rel, validator.is_some()).await,
                Err(e) if !retried && closed_under_us(&e) => {
                    tracing::debug!(path = rel, "pooled upstream connection closed; retrying");
                    retried = true;
                }
                Err(e) => {
                    let what = if e.is_connect() {
                        "connecting to the upstream failed"
                    } else {
                        "the upstream exchange failed"
                    };
                    return Err(OriginError::Unavailable(format!(
                        "{what} (GET …{rel}): {}",
                        error_chain(&e)
                    )));
                }
            }
        }
    }

    fn request(
        &self,
        rel: &str,
        validator: Option<&str>,
    ) -> Result<Request<Empty<Bytes>>, OriginError> {
        let u = &self.upstream;
        let uri: Uri = format!(
            "{}://{}{}{rel}",
            if u.https { "https" } else { "http" },
            u.authority,
            u.prefix
        )
        .parse()
        .map_err(|_| OriginError::Unavailable(format!("invalid upstream path …{rel}")))?;
        let mut req = Request::new(Empty::new());
        *req.uri_mut() = uri;
        let h = req.headers_mut();
        h.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        h.insert(ACCEPT, HeaderValue::from_static("text/html, */*;q=0.1"));
        // Gzip, decoded here: the upstream is a separate service, often in another network,
        // and HTML shrinks 5-10x, so cold-cache misses during a surge move far fewer bytes
        // and finish sooner; inflating is cheap next to the transfer, and the cache makes
        // its own gzip and brotli variants on insert anyway. Decoded size is bounded
        // (MAX_BODY_BYTES), so a gzip bomb costs at most that.
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        if let Some(auth) = &u.credentials {
            h.insert(AUTHORIZATION, auth.clone());
        }
        if let Some(v) = validator.and_then(|v| HeaderValue::from_str(v).ok()) {
            h.insert(IF_NONE_MATCH, v);
        }
        Ok(req)
    }

    /// Maps a response to an [`Answer`], reading the body it needs.
    async fn answer(
        &self,
        resp: Response<Incoming>,
        rel: &str,
        conditional: bool,
    ) -> Result<Answer, OriginError> {
        let (parts, body) = resp.into_parts();
        match parts.status {
            StatusCode::OK => {
                let raw = read_body(&parts.headers, body, rel).await?;
                let body = decode(&parts.headers, raw, rel).await?;
                Ok(Answer::Found {
                    headers: parts.headers,
                    body,
                })
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                // Read a small body to the end so the connection goes back to the pool;
                // a big or broken one just closes the connection.
                let _ = Limited::new(body, MAX_DISCARD_BYTES).collect().await;
                Ok(Answer::Missing {
                    headers: parts.headers,
                })
            }
            StatusCode::NOT_MODIFIED if conditional => Ok(Answer::NotModified {
                headers: parts.headers,
            }),
            status => Err(OriginError::Unavailable(format!(
                "the upstream answered {status} to GET …{rel}{}",
                if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                    " (redirects are not followed: point origin.url at the final location)"
                } else {
                    ""
                }
            ))),
        }
    }
}

impl Origin for HttpOrigin {
    fn fetch<'a>(&'a self, req: &'a FragmentRequest) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        Box::pin(self.lookup(req, None))
    }

    fn revalidate<'a>(
        &'a self,
        req: &'a FragmentRequest,
        validator: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, OriginError>> {
        Box::pin(self.lookup(req, Some(validator)))
    }

    fn kind(&self) -> &'static str {
        "http"
    }
}

/// What one candidate path answered.
enum Answer {
    Found { headers: HeaderMap, body: Bytes },
    Missing { headers: HeaderMap },
    NotModified { headers: HeaderMap },
}

/// One identity to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    Ean(&'a Gtin14),
    BrandMpn(&'a BrandMpn),
    Sku(&'a Sku),
}

/// The request's identities in the order DESIGN.md §2 tries them.
fn targets(req: &FragmentRequest) -> impl Iterator<Item = Target<'_>> {
    let ean = req.ean.as_ref().map(Target::Ean);
    let bm = req.brand_mpn.as_ref().map(Target::BrandMpn);
    let sku = req.sku.as_ref().map(Target::Sku);
    ean.into_iter().chain(bm).chain(sku)
}

/// `/{retailer}/{locale}/{kind}/{value…}`, each segment percent-encoded; `None` for an
/// identity that cannot be addressed safely.
fn relative_path(retailer: &str, locale: &str, target: &Target<'_>) -> Option<String> {
    let mut p = String::with_capacity(64);
    push_segment(&mut p, retailer);
    // Canonical casing (`en-GB`), as the embed attributes, the README and content
    // services write it; the cache key keeps the lowercase form.
    push_segment(&mut p, &canonical_tag(locale));
    match target {
        Target::Ean(g) => {
            push_segment(&mut p, "ean");
            push_segment(&mut p, g.as_str());
        }
        Target::BrandMpn(bm) => {
            push_segment(&mut p, "mpn");
            push_segment(&mut p, &bm.brand);
            push_segment(&mut p, &bm.mpn);
        }
        Target::Sku(s) => {
            // SECURITY: SKUs are free text from the page. `/` is percent-encoded, but many
            // servers (nginx among them) decode `%2F` before resolving dot-segments, so a
            // SKU such as `../../other-shop/en/ean/…` would address another retailer's
            // path. Such a SKU names no product we can ask for.
            if s.as_str()
                .split(['/', '\\'])
                .any(|part| part == "." || part == "..")
            {
                return None;
            }
            push_segment(&mut p, "sku");
            push_segment(&mut p, s.as_str());
        }
    }
    Some(p)
}

/// Appends `/` and `s` with everything but RFC 3986 unreserved characters
/// percent-encoded (UTF-8 bytes), so `/`, spaces, `%`, `?` and `#` stay inside the segment.
fn push_segment(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('/');
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Reads a body whole, refusing more than [`MAX_BODY_BYTES`] (early when announced).
async fn read_body(headers: &HeaderMap, body: Incoming, rel: &str) -> Result<Bytes, OriginError> {
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large(rel));
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(rel)),
        Err(e) => Err(OriginError::Unavailable(format!(
            "reading the upstream body of …{rel} failed: {}",
            error_chain(&*e)
        ))),
    }
}

fn too_large(rel: &str) -> OriginError {
    OriginError::Unavailable(format!(
        "the upstream body of …{rel} is larger than {} MiB",
        MAX_BODY_BYTES >> 20
    ))
}

/// Undoes `Content-Encoding`: none, `identity` or `gzip` (what we asked for).
async fn decode(headers: &HeaderMap, raw: Bytes, rel: &str) -> Result<Bytes, OriginError> {
    let encoding = headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v != "identity")
        .collect::<Vec<_>>();
    match encoding.as_slice() {
        [] => Ok(raw),
        [one] if one == "gzip" || one == "x-gzip" => {
            if raw.len() <= INLINE_DECODE_BYTES {
                gunzip(&raw, rel)
            } else {
                let rel = rel.to_owned();
                tokio::task::spawn_blocking(move || gunzip(&raw, &rel))
                    .await
                    .map_err(|e| OriginError::Unavailable(format!("decoding failed: {e}")))?
            }
        }
        _ => Err(OriginError::Unavailable(format!(
            "the upstream sent …{rel} with a content-encoding we did not ask for"
        ))),
    }
}

fn gunzip(raw: &[u8], rel: &str) -> Result<Bytes, OriginError> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(MAX_BODY_BYTES));
    flate2::read::MultiGzDecoder::new(raw)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            OriginError::Unavailable(format!("the upstream's gzip body of …{rel} is bad: {e}"))
        })?;
    if out.len() > MAX_BODY_BYTES {
        return Err(too_large(rel));
    }
    Ok(Bytes::from(out))
}

/// A `200` answer as a fragment.
fn fragment(req: &FragmentRequest, headers: &HeaderMap, html: Bytes) -> Fragment {
    let now = SystemTime::now();
    let updated_at = headers
        .get(LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
        .unwrap_or(now);
    let (brand, product_id) = match &req.brand_mpn {
        Some(bm) => (bm.brand.clone(), bm.product_id()),
        None => upstream_product(headers).unwrap_or_default(),
    };
    Fragment {
        version: content_version(&html),
        html,
        gzip: None,
        br: None,
        updated_at: unix_seconds(updated_at),
        brand,
        product_id,
        validator: headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        directives: directives::from_headers(headers, now),
    }
}

/// `(brand, product_id)` from the upstream's `X-Synedge-Brand` / `X-Synedge-Product`,
/// normalized as DESIGN.md §2 says. The product is `<brand>/<mpn>` (split at the first
/// `/`: a normalized brand has none), or an MPN of the named brand. `None` unless both
/// can be told; unusable values count as absent.
fn upstream_product(headers: &HeaderMap) -> Option<(String, String)> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let brand = text(BRAND_HEADER);
    let product = text(PRODUCT_HEADER);
    match (brand, product) {
        (b, Some(p)) => {
            let bm = match (p.split_once('/'), b) {
                (Some((pb, pm)), _) => BrandMpn::parse(pb, pm).ok()?,
                (None, Some(b)) => BrandMpn::parse(b, p).ok()?,
                (None, None) => return None,
            };
            Some((bm.brand.clone(), bm.product_id()))
        }
        // A brand alone: `brand:` purges reach it; the product key stays empty.
        (Some(b), None) => Some((normalize_brand(b).ok()?, String::new())),
        (None, None) => None,
    }
}

fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether a request failed because the pooled connection it went out on was closed by
/// the server at that moment (the keep-alive race), before any answer came.
fn closed_under_us(e: &hyper_util::client::legacy::Error) -> bool {
    !e.is_connect()
        && std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<hyper::Error>())
            .is_some_and(|h| h.is_incomplete_message() || h.is_canceled())
}

/// `origin.url`, taken apart. Holds the credentials, so it has no `Debug`.
struct Upstream {
    https: bool,
    /// `host[:port]`, without userinfo: what the request URI and `Host` carry.
    authority: Authority,
    /// `""` or `/a/b` (no trailing slash), percent-encoded as the operator wrote it.
    prefix: String,
    /// `Authorization: Basic …` from the userinfo, marked sensitive.
    credentials: Option<HeaderValue>,
}

impl Upstream {
    /// Parses `http(s)://[user[:password]@]host[:port][/prefix]` (see
    /// [`crate::store_url`], which checks it). Errors never contain the userinfo.
    fn parse(url: &str) -> Result<Self, String> {
        let parts = StoreUrl::parse(url)
            .map_err(|e| e.0)?
            .http()
            .ok_or("must start with http:// or https://")?;
        let credentials = parts.credentials.as_deref().map(basic_auth).transpose()?;
        Ok(Self {
            https: parts.https,
            authority: parts.authority,
            prefix: parts.prefix,
            credentials,
        })
    }

    /// The URL without credentials.
    fn shown(&self) -> String {
        format!(
            "{}://{}{}",
            if self.https { "https" } else { "http" },
            self.authority,
            self.prefix
        )
    }

    /// The host for TLS server-name checks: IPv6 literals without brackets.
    fn tls_name(&self) -> String {
        let host = self.authority.host();
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned()
    }
}

/// `Authorization: Basic base64(user:password)` from the decoded userinfo.
fn basic_auth(userinfo: &str) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::try_from(format!("Basic {}", base64(userinfo.as_bytes())))
        .map_err(|_| "has credentials that cannot be sent in a header".to_owned())?;
    v.set_sensitive(true);
    Ok(v)
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tls::client_tls;

    fn req(q: &str) -> FragmentRequest {
        FragmentRequest::from_query(q).unwrap()
    }

    fn paths(q: &str) -> Vec<String> {
        let r = req(q);
        targets(&r)
            .flat_map(|t| {
                r.locale
                    .fallbacks()
                    .filter_map(|l| relative_path(r.retailer.as_str(), l, &t))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn candidates_follow_identity_then_locale_order() {
        assert_eq!(
            paths("retailer=shop&locale=de-AT&sku=S1&brand=Acme&mpn=X-1&ean=4006381333931"),
            [
                "/shop/de-AT/ean/04006381333931",
                "/shop/de/ean/04006381333931",
                "/shop/de-AT/mpn/acme/x1",
                "/shop/de/mpn/acme/x1",
                "/shop/de-AT/sku/S1",
                "/shop/de/sku/S1",
            ]
        );
        assert_eq!(paths("retailer=shop&locale=fr&sku=S1"), ["/shop/fr/sku/S1"]);
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(
            paths("retailer=shop&locale=en&brand=B%C3%B6sch+Pro&mpn=X-100%2FB+%C3%BC"),
            ["/shop/en/mpn/b%C3%B6schpro/x100b%C3%BC"]
        );
        assert_eq!(
            paths("retailer=shop&locale=en&sku=AB+12%2F%C3%BC%3F%23%25"),
            ["/shop/en/sku/AB%2012%2F%C3%BC%3F%23%25"]
        );
    }

    #[test]
    fn dot_segment_skus_are_not_asked_for() {
        for sku in ["..", ".", "..%2F..%2Fother%2Fen", "a%2F..%2Fb", "..%5Cx"] {
            let q = format!("retailer=shop&locale=en&sku={sku}");
            assert_eq!(paths(&q), Vec::<String>::new(), "{sku}");
        }
        assert_eq!(
            paths("retailer=shop&locale=en&sku=a..b"),
            ["/shop/en/sku/a..b"]
        );
    }

    #[test]
    fn url_parsing_strips_credentials_from_everything_shown() {
        let u = Upstream::parse("https://us%40er:p%3Ass@content.example:8443/api/v2/").unwrap();
        assert!(u.https);
        assert_eq!(u.shown(), "https://content.example:8443/api/v2");
        assert_eq!(u.tls_name(), "content.example");
        let auth = u.credentials.unwrap();
        assert!(auth.is_sensitive());
        // base64("us@er:p:ss")
        assert_eq!(auth, "Basic dXNAZXI6cDpzcw==");

        let u = Upstream::parse("http://[::1]:8080").unwrap();
        assert_eq!(u.shown(), "http://[::1]:8080");
        assert_eq!(u.tls_name(), "::1");
        assert!(u.credentials.is_none());
    }

    #[test]
    fn url_errors_name_the_problem_without_the_secret() {
        for bad in [
            "ftp://host",
            "http://",
            "http://s3cret@",
            "http://user:s3cret@host/a?b=1",
            "http://user:s3cret@ho st/",
            "http://user:s3cret@host:0/",
            "http://user:s3cret@host:99999/",
            "http://user:s3cret@host:/",
            "http://user:s3cret@host/a b",
            "http://user:%ZZs3cret@host/",
            "host/prefix",
        ] {
            let e = Upstream::parse(bad).err().expect(bad);
            assert!(!e.contains("s3cret"), "{bad}: {e}");
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(Upstream::parse("http://localhost").is_ok());
        assert!(Upstream::parse("HTTP://localhost:80/p").is_ok());
    }

    #[test]
    fn debug_output_has_no_credentials() {
        let o = HttpOrigin::with_tls(
            "https://user:s3cret@example.com/x",
            Duration::from_secs(1),
            client_tls(rustls::RootCertStore::empty()).unwrap(),
        )
        .unwrap();
        let shown = format!("{o:?}");
        assert!(shown.contains("https://example.com/x"), "{shown}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("user"),
            "{shown}"
        );
        assert_eq!(o.kind(), "http");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn upstream_product_headers_are_normalized() {
        let p = |pairs: &[(&'static str, &str)]| upstream_product(&headers(pairs));
        assert_eq!(
            p(&[(PRODUCT_HEADER, "Acme/X-100/B")]),
            Some(("acme".into(), "acme/x100b".into()))
        );
        assert_eq!(
            p(&[(BRAND_HEADER, "ACME Corp."), (PRODUCT_HEADER, "X 9")]),
            Some(("acmecorp".into(), "acmecorp/x9".into()))
        );
        assert_eq!(
            p(&[(BRAND_HEADER, "Acme")]),
            Some(("acme".into(), String::new()))
        );
        assert_eq!(p(&[(PRODUCT_HEADER, "lonely-mpn")]), None);
        assert_eq!(p(&[(BRAND_HEADER, "--")]), None);
        assert_eq!(p(&[]), None);
    }

    #[test]
    fn fragment_takes_the_request_identity_first_then_upstream_headers() {
        let h = headers(&[
            (BRAND_HEADER, "Other"),
            (PRODUCT_HEADER, "other/p1"),
            ("etag", "\"v1\""),
            ("last-modified", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ("cache-control", "max-age=60"),
        ]);
        let body = Bytes::from_static(b"<p>x</p>");
        let f = fragment(
            &req("retailer=shop&locale=en&brand=Acme&mpn=X1"),
            &h,
            body.clone(),
        );
        assert_eq!(
            (f.brand.as_str(), f.product_id.as_str()),
            ("acme", "acme/x1")
        );
        assert_eq!(f.version, content_version(&body));
        assert_eq!(f.updated_at, 1_700_000_000);
        assert_eq!(f.validator.as_deref(), Some("\"v1\""));
        assert_eq!(f.directives.max_age, Some(Duration::from_secs(60)));
        assert!(f.gzip.is_none() && f.br.is_none());

        let f = fragment(&req("retailer=shop&locale=en&sku=S"), &h, body.clone());
        assert_eq!(
            (f.brand.as_str(), f.product_id.as_str()),
            ("other", "other/p1")
        );
        let f = fragment(
            &req("retailer=shop&locale=en&sku=S"),
            &HeaderMap::new(),
            body,
        );
        assert_eq!((f.brand.as_str(), f.product_id.as_str()), ("", ""));
        assert!(f.validator.is_none());
    }

    #[test]
    fn gzip_bodies_are_bounded() {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&vec![b'a'; MAX_BODY_BYTES + 1]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 64 << 10);
        let e = gunzip(&bomb, "/x").unwrap_err();
        assert!(e.to_string().contains("larger than 4 MiB"), "{e}");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"<p>hello</p>").unwrap();
        assert_eq!(
            gunzip(&enc.finish().unwrap(), "/x").unwrap(),
            "<p>hello</p>"
        );
        assert!(gunzip(b"not gzip", "/x").is_err());
    }
}
