//! One HTTP(S) URL, called one request per fresh connection: the scaler's actuators
//! (webhook, Kubernetes API) and its reads of peers' signals.
//!
//! hyper's connection-level client over plain TCP or tokio-rustls. The scaler calls at
//! most once per tick per URL, seconds apart, so a connection pool would only keep idle
//! sockets to the API server; a fresh connection per call also picks up a rotated
//! API-server address at once. (The HTTP origin, which calls one host many times a
//! second, uses the pool in [`super::connector`].)
//!
//! Invariants: the whole call (connect, handshake, request, answer) is bounded by the
//! caller's timeout, and no socket outlives its call; URLs are shown without credentials
//! or query strings; an `Authorization` header is marked sensitive.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, HOST, USER_AGENT};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::error_chain;

/// The most of an HTTP answer we read: a `Scale` object, a `Status` or a signals
/// snapshot is well under 1 KiB; anything this large is not an answer we can use.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why a call got no answer. Every variant reads as a sentence naming the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No whole answer within the caller's timeout.
    #[error("{target} did not answer within {}", humantime::format_duration(*.after))]
    Timeout { target: String, after: Duration },
    /// Connecting, the TLS handshake or the HTTP exchange failed.
    #[error("could not reach {target}: {detail}")]
    Unreachable { target: String, detail: String },
}

/// One HTTP(S) URL, resolved at build time: where to connect, what to send as `Host`, and
/// how to show it in errors.
pub struct Endpoint {
    host: String,
    port: u16,
    host_header: HeaderValue,
    path_and_query: String,
    /// `Some` for https: the connector and the name the certificate must carry.
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    /// E.g. `the webhook at https://hooks.example/scale`: no credentials, no query.
    shown: String,
    /// The most of an answer read; [`MAX_ANSWER_BYTES`] unless the caller expects more.
    max_answer: usize,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("shown", &self.shown)
            .finish_non_exhaustive()
    }
}

/// An HTTP answer, read whole (up to [`MAX_ANSWER_BYTES`], or the endpoint's limit).
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Endpoint {
    /// Parses `url` (http or https); `key` names the setting and `noun` the endpoint in
    /// messages. `tls` is called only for https.
    ///
    /// # Errors
    /// Not an http(s) URL, no host, credentials in the URL, or `tls` failed.
    pub fn parse(
        url: &str,
        key: &str,
        noun: &str,
        tls: impl FnOnce() -> anyhow::Result<Arc<rustls::ClientConfig>>,
    ) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .map_err(|e| anyhow!("{key} is not a valid URL ({e})"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => bail!("{key} must start with http:// or https://"),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow!("{key} has no host"))?;
        // SECURITY: credentials in a URL end up in logs; there are keys for secrets.
        if authority.as_str().contains('@') {
            bail!("{key} must not carry credentials (user:password@); use the token settings");
        }
        let host = authority.host();
        if host.is_empty() {
            bail!("{key} has no host");
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        // `[::1]` is a host in a URL and `::1` an address to connect to.
        let bare_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| anyhow!("{key} has a host that cannot be sent in a Host header"))?;
        let path_and_query = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let tls = if https {
            let config = tls()?;
            let name = ServerName::try_from(bare_host.clone())
                .map_err(|_| anyhow!("{key}: `{host}` is not a valid TLS server name"))?;
            Some((tokio_rustls::TlsConnector::from(config), name))
        } else {
            None
        };
        let shown = format!(
            "{noun} at {}://{}{}",
            if https { "https" } else { "http" },
            authority,
            uri.path()
        );
        Ok(Self {
            host: bare_host,
            port,
            host_header,
            path_and_query,
            tls,
            shown,
            max_answer: MAX_ANSWER_BYTES,
        })
    }

    /// Reads answers of up to `bytes` (a peer's hot set) instead of [`MAX_ANSWER_BYTES`].
    #[must_use]
    pub fn with_answer_limit(mut self, bytes: usize) -> Self {
        self.max_answer = bytes;
        self
    }

    /// How the endpoint is named in messages: the noun and the URL without credentials
    /// or query.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Sends one request on a fresh connection and reads the whole answer, all within
    /// `timeout`. Any status is an `Ok` answer; the caller judges it.
    ///
    /// # Errors
    /// No whole answer within `timeout`, or none at all.
    pub async fn call(
        &self,
        method: Method,
        headers: Vec<(http::HeaderName, HeaderValue)>,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, CallError> {
        let mut req = Request::new(Full::new(body.clone()));
        *req.method_mut() = method;
        *req.uri_mut() = self
            .path_and_query
            .parse()
            .map_err(|_| self.unreachable("the request path is not valid".to_owned()))?;
        let h = req.headers_mut();
        h.insert(HOST, self.host_header.clone());
        h.insert(USER_AGENT, HeaderValue::from_static(super::USER_AGENT));
        h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        for (name, mut value) in headers {
            if name == AUTHORIZATION {
                value.set_sensitive(true);
            }
            h.insert(name, value);
        }
        match tokio::time::timeout(timeout, self.exchange(req)).await {
            Ok(answer) => answer,
            Err(_) => Err(CallError::Timeout {
                target: self.shown.clone(),
                after: timeout,
            }),
        }
    }

    async fn exchange(&self, req: Request<Full<Bytes>>) -> Result<Answer, CallError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                self.unreachable(format!("connecting to port {} failed: {e}", self.port))
            })?;
        let _ = tcp.set_nodelay(true);
        let answer = match &self.tls {
            None => send_on(tcp, req, self.max_answer).await,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| self.unreachable(format!("the TLS handshake failed: {e}")))?;
                send_on(tls, req, self.max_answer).await
            }
        };
        answer.map_err(|detail| self.unreachable(detail))
    }

    fn unreachable(&self, detail: String) -> CallError {
        CallError::Unreachable {
            target: self.shown.clone(),
            detail,
        }
    }
}

/// Aborts the connection task when the exchange ends or is dropped (timeout), so no socket
/// outlives its call.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// HTTP/1.1 over an established stream.
async fn send_on<T>(io: T, req: Request<Full<Bytes>>, limit: usize) -> Result<Answer, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("the HTTP handshake failed: {}", error_chain(&e)))?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("the HTTP exchange failed: {}", error_chain(&e)))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), limit)
        .collect()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?
        .to_bytes();
    Ok(Answer { status, body })
}

/// `Authorization: Bearer …`, marked sensitive so it is never logged by hyper.
///
/// # Errors
/// An empty token, or one that cannot be sent in a header; the message completes a
/// sentence starting with the setting's name.
pub fn bearer(token: &str) -> Result<HeaderValue, &'static str> {
    if token.is_empty() {
        return Err("is empty");
    }
    let mut value = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| "contains characters that cannot be sent in a header")?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_hides_query_and_refuses_credentials() {
        let e = Endpoint::parse(
            "http://hooks.example:8080/scale?key=s3cret",
            "k",
            "the webhook",
            || unreachable!("no TLS for http"),
        )
        .expect("valid URL");
        assert_eq!(e.shown(), "the webhook at http://hooks.example:8080/scale");
        assert_eq!(e.path_and_query, "/scale?key=s3cret");
        assert_eq!(e.port, 8080);
        let err = Endpoint::parse(
            "http://u:p@hooks.example/",
            "k",
            "the webhook",
            || unreachable!(),
        )
        .expect_err("credentials refused");
        assert!(err.to_string().contains("credentials"), "{err}");
        let v6 = Endpoint::parse("http://[::1]/", "k", "x", || unreachable!()).expect("v6");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 80));
    }

    #[test]
    fn bearer_refuses_header_breaking_tokens() {
        assert!(bearer("abc.def").is_ok());
        assert!(bearer("abc\r\nX-Evil: 1").is_err());
        assert!(bearer("").is_err());
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_named_in_the_error() {
        // Port 9 on loopback: nothing listens (the discard service is never enabled).
        let e = Endpoint::parse(
            "http://127.0.0.1:9/x?token=t",
            "k",
            "the peer",
            || unreachable!(),
        )
        .expect("valid URL");
        let err = e
            .call(
                Method::GET,
                Vec::new(),
                Bytes::new(),
                Duration::from_secs(5),
            )
            .await
            .err()
            .expect("nothing listens");
        let text = err.to_string();
        assert!(
            text.starts_with("could not reach the peer at http://127.0.0.1:9/x: "),
            "{text}"
        );
    }
}
