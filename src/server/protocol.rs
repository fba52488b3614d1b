//! HTTP message rules that hyper and axum leave to the application.
//!
//! - [`check_host`]: RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host`
//!   header, and any `Host` header holds a valid `host[:port]`; otherwise 400. hyper
//!   parses requests without looking at `Host`. The public listener calls it first thing
//!   in its request layer (so the refusal is counted); other routers take it as the
//!   [`require_host`] layer.
//! - [`empty_body`]: the body of a 204 or 304. axum writes `Content-Length: 0` for any
//!   body of exactly known size, and hyper sends that header on answers to `HEAD`, where
//!   it would claim the representation is empty (RFC 9110 §8.6: a 304 carries no
//!   `Content-Length` unless it is the 200's, a 204 never one). This body claims no size.

use std::net::Ipv6Addr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Version, header};

use super::error::ApiError;
use crate::domain::InputError;

const E_NO_HOST: InputError = InputError {
    code: "invalid_host",
    detail: "an HTTP/1.1 request needs a Host header",
};
const E_HOSTS: InputError = InputError {
    code: "invalid_host",
    detail: "the request has more than one Host header",
};
const E_BAD_HOST: InputError = InputError {
    code: "invalid_host",
    detail: "the Host header must be a host name, an IPv4 address or a bracketed IPv6 address, with an optional :port",
};

/// Checks the request's `Host` header lines (RFC 9112 §3.2): HTTP/1.1 needs exactly
/// one; HTTP/1.0 may omit it, and so may HTTP/2, which names the authority in its
/// `:authority` pseudo-header (hyper puts that in the URI); whichever the version, there
/// may not be two, and the one there must be a valid `uri-host [":" port]`.
///
/// # Errors
/// [`ApiError::BadRequest`] with code `invalid_host` and a sentence saying which rule
/// the request broke.
pub fn check_host<B>(req: &http::Request<B>) -> Result<(), ApiError> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if req.version() == Version::HTTP_11 => Err(ApiError::BadRequest(E_NO_HOST)),
        (None, _) => Ok(()),
        (Some(_), Some(_)) => Err(ApiError::BadRequest(E_HOSTS)),
        (Some(host), None) if is_valid_host(host.as_bytes()) => Ok(()),
        (Some(_), None) => Err(ApiError::BadRequest(E_BAD_HOST)),
    }
}

/// [`check_host`] as a layer: `Router::layer(axum::middleware::from_fn(require_host))`.
pub async fn require_host(req: Request, next: Next) -> Response {
    match check_host(&req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// `Host = uri-host [ ":" port ]`, `uri-host = IP-literal / IPv4address / reg-name`
/// (RFC 9110 §7.2, RFC 3986 §3.2.2). An IPv4 address is also a reg-name, and a reg-name
/// may be empty, as may the port. No userinfo: `@` is in none of these.
fn is_valid_host(v: &[u8]) -> bool {
    let (host_ok, port) = match v.strip_prefix(b"[") {
        Some(literal) => match literal.iter().position(|&c| c == b']') {
            Some(end) => (is_ip_literal(&literal[..end]), &literal[end + 1..]),
            None => return false,
        },
        None => {
            let end = v.iter().position(|&c| c == b':').unwrap_or(v.len());
            (is_reg_name(&v[..end]), &v[end..])
        }
    };
    host_ok
        && match port.split_first() {
            None => true,
            Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
            Some(_) => false,
        }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`.
fn is_reg_name(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
            }
            c if is_unreserved(c) || is_sub_delim(c) => i += 1,
            _ => return false,
        }
    }
    true
}

/// Inside the brackets: `IPv6address / IPvFuture`, where
/// `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`. No zone id.
fn is_ip_literal(s: &[u8]) -> bool {
    if let Some(future) = s.strip_prefix(b"v").or_else(|| s.strip_prefix(b"V")) {
        let Some(dot) = future.iter().position(|&c| c == b'.') else {
            return false;
        };
        let (version, rest) = (&future[..dot], &future[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !rest.is_empty()
            && rest
                .iter()
                .all(|&c| is_unreserved(c) || is_sub_delim(c) || c == b':');
    }
    std::str::from_utf8(s).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(c: u8) -> bool {
    matches!(
        c,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// A body for answers that have none (204, 304): it ends at once but does not claim a
/// size, so axum adds no `Content-Length: 0` and neither HTTP/1.1 (even for `HEAD`) nor
/// HTTP/2 sends one.
pub fn empty_body() -> Body {
    Body::new(NoBody)
}

/// See [`empty_body`].
struct NoBody;

impl HttpBody for NoBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }
    // `size_hint` stays the default, "unknown": an exact 0 is what makes axum write
    // the header.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(version: Version, hosts: &[&str]) -> http::Request<()> {
        let mut b = http::Request::get("/v1/fragment").version(version);
        for h in hosts {
            b = b.header(header::HOST, *h);
        }
        b.body(()).unwrap()
    }

    fn refusal(r: Result<(), ApiError>) -> Option<&'static str> {
        match r {
            Ok(()) => None,
            Err(ApiError::BadRequest(e)) => Some(e.detail),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn http11_needs_exactly_one_host() {
        assert_eq!(
            refusal(check_host(&req(Version::HTTP_11, &["example.com"]))),
            None
        );
        assert_eq!(
            refusal(check_host(&req(Version::HTTP_11, &[]))),
            Some(E_NO_HOST.detail)
        );
        assert_eq!(
            refusal(check_host(&req(
                Version::HTTP_11,
                &["a.example", "b.example"]
            ))),
            Some(E_HOSTS.detail)
        );
        // Two identical lines are still two.
        assert_eq!(
            refusal(check_host(&req(
                Version::HTTP_11,
                &["a.example", "a.example"]
            ))),
            Some(E_HOSTS.detail)
        );
    }

    #[test]
    fn http10_and_http2_may_omit_host_but_not_send_a_bad_one() {
        for v in [Version::HTTP_10, Version::HTTP_2] {
            assert_eq!(refusal(check_host(&req(v, &[]))), None, "{v:?}");
            assert_eq!(refusal(check_host(&req(v, &["example.com:8080"]))), None);
            assert_eq!(
                refusal(check_host(&req(v, &["a b"]))),
                Some(E_BAD_HOST.detail),
                "{v:?}"
            );
            assert_eq!(
                refusal(check_host(&req(v, &["a", "b"]))),
                Some(E_HOSTS.detail),
                "{v:?}"
            );
        }
    }

    #[test]
    fn host_values_follow_the_uri_grammar() {
        for good in [
            "example.com",
            "example.com:8080",
            "EXAMPLE.com.",
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:9901",
            "[2001:db8::ffff:192.0.2.1]",
            "[v1.fe80::a+en1]",
            "xn--bcher-kva.example",
            "a%2Db",
            "localhost:",
            "",
            "under_score~and!sub$delims&'()*+,;=",
        ] {
            assert!(is_valid_host(good.as_bytes()), "{good:?} should be valid");
        }
        for bad in [
            "a b",
            "user@example.com",
            "user:pass@example.com",
            "example.com:80:80",
            "example.com:http",
            "example.com/path",
            "[::1",
            "::1",
            "[::1]x",
            "[::1]:8o",
            "[fe80::1%25eth0]",
            "[127.0.0.1]",
            "[v.x]",
            "[v1.]",
            "a%2",
            "a%zz",
            "exa\tmple",
            "ex\u{e9}mple.com",
        ] {
            assert!(!is_valid_host(bad.as_bytes()), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn an_empty_body_claims_no_length() {
        let b = empty_body();
        assert!(b.is_end_stream());
        assert_eq!(b.size_hint().exact(), None);
        assert_eq!(b.size_hint().lower(), 0);
    }
}
