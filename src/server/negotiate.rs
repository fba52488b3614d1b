//! Content negotiation for `Accept-Encoding` (RFC 9110 §12.5.3), without allocating:
//! the highest q-value among the variants we have wins; ties go br > gzip > identity.
//! And [`send`], the answer for stored content: the chosen variant, or 304.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::cache::{Content, Encoding};

const VARY: HeaderValue = HeaderValue::from_static("Accept-Encoding");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// A 200 with the variant of `content` that `Accept-Encoding` asks for, or a 304 when
/// `If-None-Match` matches it; with `ETag`, `Cache-Control`, `Vary` and `nosniff` set.
/// `spare` reserves room for the caller's own headers.
pub fn send(
    content: &Content,
    req_headers: &HeaderMap,
    content_type: HeaderValue,
    cache_control: HeaderValue,
    spare: usize,
) -> Response {
    let ae = req_headers
        .get(header::ACCEPT_ENCODING)
        .map(HeaderValue::as_bytes);
    let wanted = choose(ae, content.gzip.is_some(), content.br.is_some());
    let (encoding, body, etag) = content.variant(wanted);
    let not_modified = req_headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|inm| content.matches_if_none_match(inm.as_bytes()));
    let mut res = if not_modified {
        // Not `Body::empty()`: that would make the answer to `HEAD` claim `Content-Length: 0`.
        let mut r = Response::new(super::protocol::empty_body());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::from(body.clone()))
    };
    let h = res.headers_mut();
    h.reserve(6 + spare);
    if !not_modified {
        h.insert(header::CONTENT_TYPE, content_type);
        if let Some(ce) = encoding.header() {
            h.insert(header::CONTENT_ENCODING, ce);
        }
    }
    h.insert(header::ETAG, etag.clone());
    h.insert(header::CACHE_CONTROL, cache_control);
    h.insert(header::VARY, VARY);
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    res
}

/// Picks the encoding to send, given which variants exist.
pub fn choose(accept_encoding: Option<&[u8]>, has_gzip: bool, has_br: bool) -> Encoding {
    let Some(ae) = accept_encoding else {
        return Encoding::Identity;
    };
    // q in thousandths; None = not mentioned.
    let (mut br, mut gzip, mut identity, mut star) = (None, None, None, None);
    for item in ae.split(|&c| c == b',') {
        let mut parts = item.split(|&c| c == b';');
        let coding = parts.next().unwrap_or_default().trim_ascii();
        let q = parts
            .find_map(|p| {
                let p = p.trim_ascii();
                (p.len() > 2 && p[..2].eq_ignore_ascii_case(b"q=")).then(|| parse_q(&p[2..]))
            })
            .unwrap_or(1000);
        let slot = if coding.eq_ignore_ascii_case(b"br") {
            &mut br
        } else if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            &mut gzip
        } else if coding.eq_ignore_ascii_case(b"identity") {
            &mut identity
        } else if coding == b"*" {
            &mut star
        } else {
            continue;
        };
        *slot = Some(q);
    }
    let br_q = if has_br { br.or(star).unwrap_or(0) } else { 0 };
    let gzip_q = if has_gzip {
        gzip.or(star).unwrap_or(0)
    } else {
        0
    };
    // Identity is acceptable unless excluded explicitly (or by `*;q=0` without it).
    let id_q = identity.or(star.filter(|&q| q == 0)).unwrap_or(1);
    if br_q > 0 && br_q >= gzip_q && br_q >= id_q {
        Encoding::Br
    } else if gzip_q > 0 && gzip_q >= id_q {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Parses a qvalue (`0`, `0.5`, `1`, `1.000`) into thousandths; garbage counts as 0.
fn parse_q(v: &[u8]) -> u16 {
    let v = v.trim_ascii();
    let (int, frac) = match v.iter().position(|&c| c == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    match int {
        b"1" => 1000,
        b"0" => {
            let mut q = 0u16;
            for (i, d) in frac.iter().take(3).enumerate() {
                if !d.is_ascii_digit() {
                    return 0;
                }
                q += u16::from(d - b'0') * [100, 10, 1][i];
            }
            q
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Encoding::*;

    fn pick(ae: &str) -> Encoding {
        choose(Some(ae.as_bytes()), true, true)
    }

    #[test]
    fn prefers_br_then_gzip() {
        assert_eq!(pick("gzip, deflate, br, zstd"), Br);
        assert_eq!(pick("gzip, deflate"), Gzip);
        assert_eq!(pick("identity"), Identity);
        assert_eq!(pick(""), Identity);
        assert_eq!(choose(None, true, true), Identity);
        assert_eq!(pick("*"), Br);
    }

    #[test]
    fn honours_q_values() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Gzip);
        assert_eq!(pick("br;q=0, gzip"), Gzip);
        assert_eq!(pick("br;q=0, gzip;q=0"), Identity);
        assert_eq!(pick("gzip;q=0.2, identity;q=0.5"), Identity);
        assert_eq!(pick("BR;Q=1.0, GZIP"), Br);
        assert_eq!(pick("*;q=0, gzip"), Gzip);
        assert_eq!(pick("br;q=garbage, gzip"), Gzip);
    }

    #[test]
    fn only_offers_variants_that_exist() {
        assert_eq!(choose(Some(b"br, gzip"), true, false), Gzip);
        assert_eq!(choose(Some(b"br"), true, false), Identity);
        assert_eq!(choose(Some(b"gzip"), false, false), Identity);
    }
}
