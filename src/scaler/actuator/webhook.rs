//! `webhook`: `POST` the [`ScaleRequest`] as JSON to `scaler.actuator.url`, with
//! `Authorization: Bearer scaler.actuator.token` when set.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};

use super::{Actuator, ActuatorError, BoxFuture, ScaleRequest, body_excerpt};
use crate::config::{ActuatorConfig, Secret};
use crate::net::endpoint::{Endpoint, bearer};
use crate::net::tls;

/// POSTs the request as JSON.
#[derive(Debug)]
pub(super) struct Webhook {
    endpoint: Endpoint,
    /// Sent as a bearer token; `Secret` keeps it out of `Debug`.
    token: Option<Secret>,
    timeout: Duration,
}

impl Webhook {
    pub(super) fn build(cfg: &ActuatorConfig) -> anyhow::Result<Self> {
        const KEY: &str = "scaler.actuator.url";
        let url = cfg
            .url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| anyhow!("{KEY} is required for the webhook actuator"))?;
        // The webhook is any HTTPS service the operator runs, so it is verified against the
        // system's trust store (the container's ca-certificates, honouring SSL_CERT_FILE and
        // SSL_CERT_DIR): rustls-native-certs only reads PEM files on Linux, whereas
        // webpki-roots would freeze a root list into the binary and ignore internal CAs.
        let endpoint = Endpoint::parse(url, KEY, "the webhook", system_tls)?;
        if let Some(token) = &cfg.token {
            bearer(token.expose()).map_err(|detail| anyhow!("scaler.actuator.token {detail}"))?;
        }
        Ok(Self {
            endpoint,
            token: cfg.token.clone(),
            timeout: cfg.timeout,
        })
    }
}

impl Actuator for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn current(&self) -> BoxFuture<'_, Result<Option<u32>, ActuatorError>> {
        Box::pin(async { Ok(None) })
    }

    fn apply<'a>(&'a self, req: &'a ScaleRequest) -> BoxFuture<'a, Result<(), ActuatorError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(req).map_err(|e| ActuatorError::Unsupported {
                desired: req.desired,
                detail: format!("the request does not serialize as JSON: {e}"),
            })?;
            let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
            if let Some(token) = &self.token {
                // Checked in `build`, so this only fails if the secret changed underneath.
                let value =
                    bearer(token.expose()).map_err(|detail| ActuatorError::Unsupported {
                        desired: req.desired,
                        detail: format!("scaler.actuator.token {detail}"),
                    })?;
                headers.push((AUTHORIZATION, value));
            }
            let answer = self
                .endpoint
                .call(Method::POST, headers, Bytes::from(body), self.timeout)
                .await?;
            if !answer.status.is_success() {
                return Err(ActuatorError::Status {
                    target: self.endpoint.shown().to_owned(),
                    status: answer.status,
                    detail: body_excerpt(&answer.body),
                });
            }
            tracing::info!(
                desired = req.desired,
                current = req.current,
                reason = %req.reason,
                status = answer.status.as_u16(),
                "scale request sent to the webhook"
            );
            Ok(())
        })
    }
}

/// TLS verified against the system trust store (webhook), errors naming this key.
fn system_tls() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    tls::system_tls("scaler.actuator.url")
}
