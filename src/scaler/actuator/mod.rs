//! Actuators: how the scaler's decision reaches the platform (DESIGN.md §6).
//!
//! The set is closed, chosen by `scaler.actuator.kind`:
//! - `log`: a dry run; the decision is logged and nothing changes.
//! - `webhook`: `POST` the [`ScaleRequest`] as JSON to a URL.
//! - `command`: run an argv with `{desired}` and `{current}` substituted, without a shell.
//! - `kubernetes`: `PATCH` the Deployment's `scale` subresource with the pod's service
//!   account, and read `spec.replicas` back as the current count.
//!
//! One file each (`log.rs`, `webhook.rs`, `command.rs`, `kubernetes.rs`); this module
//! holds what they share: the [`Actuator`] trait, [`ScaleRequest`], [`ActuatorError`],
//! [`build`] from the config, and how error details are shortened.
//!
//! [`build`] checks everything it can at startup (files, URLs, names) and names the config
//! key at fault; at run time every call is bounded by `scaler.actuator.timeout`, and every
//! failure is an [`ActuatorError`] whose message is a sentence an operator can act on.
//!
//! Invariants: no call panics; no secret (webhook token, service-account token) appears in
//! an error or a log line; URLs are shown without credentials or query strings.
//!
//! HTTP goes through [`crate::net::endpoint::Endpoint`]: one fresh connection per call,
//! bounded by `scaler.actuator.timeout`.

mod command;
mod kubernetes;
mod log;
mod webhook;

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use http::StatusCode;

use crate::config::{ActuatorConfig, ActuatorKind};
use crate::net::endpoint::CallError;

/// A boxed future, so that [`Actuator`] stays object-safe (the scaler holds a `dyn`).
/// The same type as `origin::BoxFuture`, spelled out so the scaler needs nothing from
/// `origin`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How much of an error body or of a command's stderr goes into an error message.
const MAX_DETAIL_CHARS: usize = 300;

/// What the scaler asks for. Serialized as the webhook's JSON body.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScaleRequest {
    /// The instance count the policy decided on.
    pub desired: u32,
    /// The instance count the decision started from, so receivers can tell out from in.
    pub current: u32,
    /// Why, in the policy's words (for the receiver's audit log).
    pub reason: String,
    /// The signals snapshot the decision was made on, for receivers that want to check.
    pub signals: serde_json::Value,
}

/// Why an actuation did not happen (or may not have). Every variant reads as a sentence.
#[derive(Debug, thiserror::Error)]
pub enum ActuatorError {
    /// An HTTP endpoint did not answer within `scaler.actuator.timeout`.
    #[error("{target} did not answer within {}", humantime::format_duration(*.after))]
    Timeout { target: String, after: Duration },
    /// Connecting, the TLS handshake or the HTTP exchange failed.
    #[error("could not reach {target}: {detail}")]
    Unreachable { target: String, detail: String },
    /// The endpoint answered with a status other than 2xx.
    #[error("{target} answered HTTP {status}: {detail}")]
    Status {
        target: String,
        status: StatusCode,
        detail: String,
    },
    /// A 2xx answer that is not what the API promises.
    #[error("{target} answered with something that is not a usable answer: {detail}")]
    BadAnswer { target: String, detail: String },
    /// A file the actuator needs on every call (the rotating token) could not be used.
    #[error("could not use {what} at {}: {detail}", .path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
    /// The command could not be started at all.
    #[error("could not start the command `{program}`: {error}")]
    Spawn { program: String, error: io::Error },
    /// The command ran and failed.
    #[error("the command `{program}` failed with {status}: {stderr}")]
    CommandFailed {
        program: String,
        status: String,
        stderr: String,
    },
    /// The command overran `scaler.actuator.timeout` and was killed.
    #[error("the command `{program}` did not finish within {} and was killed", humantime::format_duration(*.after))]
    CommandTimeout { program: String, after: Duration },
    /// The request cannot be expressed to this platform (e.g. more replicas than it counts).
    #[error("cannot ask for {desired} instances: {detail}")]
    Unsupported { desired: u32, detail: String },
}

impl From<CallError> for ActuatorError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Timeout { target, after } => Self::Timeout { target, after },
            CallError::Unreachable { target, detail } => Self::Unreachable { target, detail },
        }
    }
}

/// Something that changes the instance count.
pub trait Actuator: Send + Sync + fmt::Debug {
    /// `log`, `webhook`, `command` or `kubernetes`, for logs and metrics.
    fn name(&self) -> &'static str;

    /// The instance count the platform reports, when it can tell (kubernetes:
    /// `spec.replicas` of the scale subresource; the others: `None`).
    ///
    /// # Errors
    /// When the platform cannot be asked (unreachable, timeout, rejected, bad answer).
    fn current(&self) -> BoxFuture<'_, Result<Option<u32>, ActuatorError>>;

    /// Asks the platform for `req.desired` instances.
    ///
    /// # Errors
    /// When the request was not accepted; the message says why. After a timeout the
    /// platform may or may not have acted.
    fn apply<'a>(&'a self, req: &'a ScaleRequest) -> BoxFuture<'a, Result<(), ActuatorError>>;
}

/// Builds the configured actuator, checking what can be checked before the first tick.
///
/// # Errors
/// When the configuration cannot work: a missing or malformed key, an unreadable token,
/// namespace or CA file, or an https URL without trusted roots. The message names the key.
pub fn build(cfg: &ActuatorConfig) -> anyhow::Result<Arc<dyn Actuator>> {
    if cfg.timeout.is_zero() {
        bail!("scaler.actuator.timeout must be more than zero");
    }
    Ok(match cfg.kind {
        ActuatorKind::Log => Arc::new(log::LogActuator),
        ActuatorKind::Webhook => Arc::new(webhook::Webhook::build(cfg)?),
        ActuatorKind::Command => Arc::new(command::CommandActuator::build(cfg)?),
        ActuatorKind::Kubernetes => Arc::new(kubernetes::Kubernetes::build(cfg)?),
    })
}

/// The start of an error body, on one line, for an error message.
fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        "(empty body)".to_owned()
    } else {
        shorten(&one_line, MAX_DETAIL_CHARS)
    }
}

/// `s`, cut to at most `max` characters with an ellipsis.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}
