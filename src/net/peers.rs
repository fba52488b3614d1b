//! Peers' admin listeners as configured: URLs, or `dns://NAME:PORT` expanded to every
//! address the name resolves to (a Kubernetes headless Service lists the ready pods).
//! The scaler reads their signals; a starting instance warms its cache from them.

use std::net::SocketAddr;

use crate::url::redact;

/// Expands `dns://NAME:PORT` entries to one admin URL per address. Each comes with the
/// name it is shown by (in logs and `GET /admin/v1/scaler`): the peer as configured,
/// credentials redacted, or the address it resolved to.
pub async fn resolve(peers: &[String]) -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    for p in peers {
        if let Some(hostport) = p.strip_prefix("dns://") {
            match tokio::net::lookup_host(hostport).await {
                Ok(addrs) => {
                    let mut addrs: Vec<SocketAddr> = addrs.collect();
                    addrs.sort();
                    addrs.dedup();
                    out.extend(
                        addrs
                            .into_iter()
                            .map(|a| (a.to_string(), Ok(format!("http://{a}")))),
                    );
                }
                Err(e) => out.push((
                    redact(p),
                    Err(format!("resolving {}: {e}", redact(hostport))),
                )),
            }
        } else {
            out.push((redact(p), Ok(p.trim_end_matches('/').to_owned())));
        }
    }
    out
}
