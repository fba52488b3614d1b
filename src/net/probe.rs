//! `synedge healthcheck`'s probe: one blocking HTTP/1.0 `GET /readyz` to the process's
//! own listener, over TLS when it is HTTPS. Blocking and minimal on purpose: it runs as
//! a container HEALTHCHECK in an image without curl, once, with no runtime to start.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

/// Asks `addr` for `/readyz`; each step (connect, write, read) is bounded by `timeout`.
///
/// # Errors
/// Connecting, the TLS handshake or the exchange failed, or the answer is not 200.
pub fn readyz(addr: SocketAddr, https: bool, timeout: Duration) -> anyhow::Result<()> {
    let tcp = std::net::TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    let mut stream: Box<dyn ReadWrite> = if https {
        // SECURITY: the probe asks this very process whether it is ready; the
        // certificate is made for the public name, not for 127.0.0.1, so it is not
        // verified (as a Kubernetes HTTPS probe does not verify it either).
        let client = Arc::new(super::tls::unverified_tls()?);
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let conn =
            rustls::ClientConnection::new(client, name).context("starting the TLS handshake")?;
        Box::new(rustls::StreamOwned::new(conn, tcp))
    } else {
        Box::new(tcp)
    };
    stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    stream.flush()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).context("reading the answer")?;
    anyhow::ensure!(
        &head[9..12] == b"200",
        "/readyz answered {}",
        String::from_utf8_lossy(&head[9..12])
    );
    Ok(())
}

trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot listener on port 0 that answers `status_line` to whatever it reads.
    fn answering(status_line: &'static str) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 256];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(status_line.as_bytes());
        });
        addr
    }

    #[test]
    fn readyz_passes_on_200_only() {
        let t = Duration::from_secs(2);
        readyz(answering("HTTP/1.1 200 OK\r\n\r\n"), false, t).expect("ready");
        let e = readyz(
            answering("HTTP/1.1 503 Service Unavailable\r\n\r\n"),
            false,
            t,
        )
        .expect_err("not ready");
        assert_eq!(e.to_string(), "/readyz answered 503");
    }
}
