//! `kubernetes`: `PATCH` the Deployment's `scale` subresource with the pod's service
//! account (token re-read on every call), verified against the cluster CA
//! (`scaler.actuator.ca_file`), and read `spec.replicas` back as the current count.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};

use super::{
    Actuator, ActuatorError, BoxFuture, MAX_DETAIL_CHARS, ScaleRequest, body_excerpt, shorten,
};
use crate::config::{ActuatorConfig, SERVICE_ACCOUNT_DIR};
use crate::net::endpoint::{Endpoint, bearer};
use crate::net::tls;

/// Reads and patches `…/deployments/{name}/scale`.
#[derive(Debug)]
pub(super) struct Kubernetes {
    endpoint: Endpoint,
    /// Re-read on every call: projected service-account tokens rotate (about hourly).
    token_file: PathBuf,
    timeout: Duration,
}

impl Kubernetes {
    pub(super) fn build(cfg: &ActuatorConfig) -> anyhow::Result<Self> {
        let deployment = cfg
            .deployment
            .as_deref()
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                anyhow!("scaler.actuator.deployment is required for the kubernetes actuator")
            })?;
        // SECURITY: both names go into the request path; Kubernetes' own name rules keep
        // them from carrying `/`, `..` or `?`.
        if !is_dns1123_subdomain(deployment) {
            bail!(
                "scaler.actuator.deployment `{deployment}` is not a valid Deployment name \
                 (lowercase letters, digits, '-' and '.', at most 253 characters)"
            );
        }
        let namespace = match cfg.namespace.as_deref() {
            Some(ns) => ns.to_owned(),
            None => own_namespace(&cfg.token_file)?,
        };
        if !is_dns1123_label(&namespace) {
            bail!(
                "scaler.actuator.namespace `{namespace}` is not a valid namespace \
                 (lowercase letters, digits and '-', at most 63 characters)"
            );
        }
        check_token(&cfg.token_file).map_err(|e| anyhow!("scaler.actuator.token_file: {e}"))?;

        let base = cfg.api_url.trim_end_matches('/');
        let url =
            format!("{base}/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}/scale");
        let ca_file = &cfg.ca_file;
        let endpoint = Endpoint::parse(
            &url,
            "scaler.actuator.api_url",
            "the Kubernetes API",
            || ca_tls(ca_file),
        )?;
        Ok(Self {
            endpoint,
            token_file: cfg.token_file.clone(),
            timeout: cfg.timeout,
        })
    }

    /// One authenticated call; non-2xx answers become [`ActuatorError::Status`] with the
    /// Kubernetes `Status.message` when there is one.
    async fn call(
        &self,
        method: Method,
        content_type: Option<&'static str>,
        body: Bytes,
    ) -> Result<Bytes, ActuatorError> {
        let token = tokio::fs::read_to_string(&self.token_file)
            .await
            .map_err(|e| ActuatorError::File {
                what: "the service-account token",
                path: self.token_file.clone(),
                detail: e.to_string(),
            })?;
        let auth = bearer(token.trim()).map_err(|detail| ActuatorError::File {
            what: "the service-account token",
            path: self.token_file.clone(),
            detail: format!("the token {detail}"),
        })?;
        let mut headers = vec![
            (AUTHORIZATION, auth),
            (ACCEPT, HeaderValue::from_static("application/json")),
        ];
        if let Some(ct) = content_type {
            headers.push((CONTENT_TYPE, HeaderValue::from_static(ct)));
        }
        let answer = self
            .endpoint
            .call(method, headers, body, self.timeout)
            .await?;
        if !answer.status.is_success() {
            return Err(ActuatorError::Status {
                target: self.endpoint.shown().to_owned(),
                status: answer.status,
                detail: status_message(&answer.body).unwrap_or_else(|| body_excerpt(&answer.body)),
            });
        }
        Ok(answer.body)
    }
}

impl Actuator for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn current(&self) -> BoxFuture<'_, Result<Option<u32>, ActuatorError>> {
        Box::pin(async move {
            let body = self.call(Method::GET, None, Bytes::new()).await?;
            let replicas = scale_replicas(&body).map_err(|detail| ActuatorError::BadAnswer {
                target: self.endpoint.shown().to_owned(),
                detail,
            })?;
            Ok(Some(replicas))
        })
    }

    fn apply<'a>(&'a self, req: &'a ScaleRequest) -> BoxFuture<'a, Result<(), ActuatorError>> {
        Box::pin(async move {
            // Kubernetes counts replicas in an int32.
            let replicas = i32::try_from(req.desired).map_err(|_| ActuatorError::Unsupported {
                desired: req.desired,
                detail: "Kubernetes counts replicas in a 32-bit signed integer".to_owned(),
            })?;
            let patch = format!(r#"{{"spec":{{"replicas":{replicas}}}}}"#);
            self.call(
                Method::PATCH,
                Some("application/merge-patch+json"),
                Bytes::from(patch),
            )
            .await?;
            tracing::info!(
                desired = req.desired,
                current = req.current,
                reason = %req.reason,
                "Deployment scale patched"
            );
            Ok(())
        })
    }
}

/// The pod's own namespace: the `namespace` file beside the token (the service-account
/// directory), then the standard service-account directory.
fn own_namespace(token_file: &Path) -> anyhow::Result<String> {
    let standard = Path::new(SERVICE_ACCOUNT_DIR).join("namespace");
    let mut candidates = Vec::new();
    if let Some(dir) = token_file.parent() {
        candidates.push(dir.join("namespace"));
    }
    if !candidates.contains(&standard) {
        candidates.push(standard);
    }
    let mut tried = Vec::new();
    for path in &candidates {
        match std::fs::read_to_string(path) {
            Ok(ns) if !ns.trim().is_empty() => return Ok(ns.trim().to_owned()),
            Ok(_) => tried.push(format!("{} is empty", path.display())),
            Err(e) => tried.push(format!("{}: {e}", path.display())),
        }
    }
    bail!(
        "scaler.actuator.namespace is not set and the pod's namespace could not be read \
         ({}); set scaler.actuator.namespace",
        tried.join("; ")
    )
}

/// Checks that a bearer token file is readable and holds a usable token.
fn check_token(path: &Path) -> Result<(), String> {
    let token = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the token at {}: {e}", path.display()))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(format!("the token file {} is empty", path.display()));
    }
    bearer(token).map_err(|detail| format!("the token in {} {detail}", path.display()))?;
    Ok(())
}

/// `spec.replicas` of an `autoscaling/v1` Scale. Kubernetes omits the field when it is
/// zero (`omitempty`), so a present `spec` without it means zero.
fn scale_replicas(body: &[u8]) -> Result<u32, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let spec = value
        .get("spec")
        .and_then(serde_json::Value::as_object)
        .ok_or("the Scale object has no spec")?;
    match spec.get("replicas") {
        None | Some(serde_json::Value::Null) => Ok(0),
        Some(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("spec.replicas is {n}, not a replica count")),
    }
}

/// The `message` of a Kubernetes `Status` body, if that is what `body` is.
fn status_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if value.get("kind")?.as_str()? != "Status" {
        return None;
    }
    let message = value.get("message")?.as_str()?.trim();
    (!message.is_empty()).then(|| shorten(message, MAX_DETAIL_CHARS * 2))
}

/// A DNS-1123 label: a namespace name.
fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A DNS-1123 subdomain: a Deployment name.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// TLS verified against the CA bundle at `ca_file` only (the cluster's CA).
fn ca_tls(ca_file: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    tls::ca_file_tls(ca_file, "scaler.actuator.ca_file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_names() {
        assert!(is_dns1123_label("shop-prod"));
        assert!(!is_dns1123_label("-shop"));
        assert!(!is_dns1123_label("Shop"));
        assert!(!is_dns1123_label(""));
        assert!(is_dns1123_subdomain("synedge.v2"));
        assert!(!is_dns1123_subdomain("a/../b"));
        assert!(!is_dns1123_subdomain("web?x=1"));
    }

    #[test]
    fn scale_replicas_reads_spec_and_treats_missing_as_zero() {
        assert_eq!(
            scale_replicas(br#"{"kind":"Scale","spec":{"replicas":4}}"#),
            Ok(4)
        );
        assert_eq!(scale_replicas(br#"{"kind":"Scale","spec":{}}"#), Ok(0));
        assert!(scale_replicas(br#"{"kind":"Scale"}"#).is_err());
        assert!(scale_replicas(br#"{"spec":{"replicas":-1}}"#).is_err());
        assert!(scale_replicas(b"<html>").is_err());
    }

    #[test]
    fn status_message_only_from_status_objects() {
        let status = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"nope","code":403}"#;
        assert_eq!(status_message(status).as_deref(), Some("nope"));
        assert_eq!(status_message(br#"{"kind":"Scale","message":"x"}"#), None);
        assert_eq!(status_message(b"forbidden"), None);
    }
}
