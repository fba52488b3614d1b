//! The connector under a keep-alive pool: hyper-util's `HttpConnector` for TCP (DNS,
//! connect timeout, `TCP_NODELAY`), with rustls on top for `https://`; and
//! [`pooled_client`], the hyper-util client over it.
//!
//! Written here rather than taken from hyper-rustls because a pool talks to exactly
//! one host (the HTTP origin's upstream): the TLS server name is fixed when the client
//! is built, and the rest is twenty lines over crates we already have (tokio-rustls on
//! the ring provider, configurations from [`super::tls`]). HTTP/1.1 only, announced by
//! ALPN.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ::http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens connections to the upstream; cloned by the pool for every new connection.
#[derive(Clone)]
pub struct Connector {
    tcp: HttpConnector,
    /// `Some` for `https://`: every connection is wrapped in TLS for this server name.
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Connector {
    /// A connector whose TCP connect is bounded by `connect_timeout`; with `tls`, every
    /// connection speaks TLS to that server name.
    pub fn new(
        connect_timeout: Duration,
        tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    ) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        // The scheme is ours to handle: https goes through TLS below.
        tcp.enforce_http(false);
        Self {
            tcp,
            tls: tls.map(|(config, name)| (TlsConnector::from(config), name)),
        }
    }
}

/// A keep-alive pool over `connector`: idle connections are closed after
/// `idle_timeout`, and at most `max_idle` are kept.
pub fn pooled_client<B>(
    connector: Connector,
    idle_timeout: Duration,
    max_idle: usize,
) -> Client<Connector, B>
where
    B: hyper::body::Body + Send,
    B::Data: Send,
{
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(idle_timeout)
        .pool_max_idle_per_host(max_idle)
        .build(connector)
}

impl tower::Service<Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.tcp.call(uri);
        let tls = self.tls.clone();
        Box::pin(async move {
            let tcp = connecting.await?;
            match tls {
                None => Ok(Stream::Plain(tcp)),
                Some((connector, name)) => {
                    let tls = connector.connect(name, tcp.into_inner()).await?;
                    Ok(Stream::Tls(Box::new(TokioIo::new(tls))))
                }
            }
        })
    }
}

/// A connection to the upstream, plain or TLS.
pub enum Stream {
    Plain(TokioIo<TcpStream>),
    /// Boxed: the TLS state is a kilobyte, the plain stream a few words.
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Self::Plain(s) => s.connected(),
            Self::Tls(s) => s.inner().get_ref().0.connected(),
        }
    }
}

impl Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }
}
