//! Actuators: how the scaler's decision reaches the platform (DESIGN.md §6).
//!
//! The set is closed, chosen by `scaler.actuator.kind`:
//! - `log`: a dry run; the decision is logged and nothing changes.
//! - `webhook`: `POST` the [`ScaleRequest`] as JSON to a URL.
//! - `command`: run an argv with `{desired}` and `{current}` substituted, without a shell.
//! - `kubernetes`: `PATCH` the Deployment's `scale` subresource with the pod's service
//!   account, and read `spec.replicas` back as the current count.
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

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};
use tokio::io::AsyncReadExt as _;

use crate::config::{ActuatorConfig, ActuatorKind, SERVICE_ACCOUNT_DIR, Secret};
use crate::net::endpoint::{CallError, Endpoint, bearer};
use crate::net::tls;

/// A boxed future, so that [`Actuator`] stays object-safe (the scaler holds a `dyn`).
pub type BoxFuture<'a, T> = crate::origin::BoxFuture<'a, T>;

/// How much of an error body or of a command's stderr goes into an error message.
const MAX_DETAIL_CHARS: usize = 300;
/// How much of a command's stderr we keep (its tail) while it runs.
const STDERR_TAIL_BYTES: usize = 8 * 1024;

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
        ActuatorKind::Log => Arc::new(LogActuator),
        ActuatorKind::Webhook => Arc::new(Webhook::build(cfg)?),
        ActuatorKind::Command => Arc::new(CommandActuator::build(cfg)?),
        ActuatorKind::Kubernetes => Arc::new(Kubernetes::build(cfg)?),
    })
}

// ---------------------------------------------------------------------------------------
// log

/// The dry run: says what it would do.
#[derive(Debug)]
struct LogActuator;

impl Actuator for LogActuator {
    fn name(&self) -> &'static str {
        "log"
    }

    fn current(&self) -> BoxFuture<'_, Result<Option<u32>, ActuatorError>> {
        Box::pin(async { Ok(None) })
    }

    fn apply<'a>(&'a self, req: &'a ScaleRequest) -> BoxFuture<'a, Result<(), ActuatorError>> {
        Box::pin(async move {
            tracing::info!(
                desired = req.desired,
                current = req.current,
                reason = %req.reason,
                "scale decision (log actuator: dry run, nothing changed)"
            );
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------
// webhook

/// POSTs the request as JSON.
#[derive(Debug)]
struct Webhook {
    endpoint: Endpoint,
    /// Sent as a bearer token; `Secret` keeps it out of `Debug`.
    token: Option<Secret>,
    timeout: Duration,
}

impl Webhook {
    fn build(cfg: &ActuatorConfig) -> anyhow::Result<Self> {
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

// ---------------------------------------------------------------------------------------
// command

/// Runs an argv, without a shell.
#[derive(Debug)]
struct CommandActuator {
    program: String,
    /// Arguments with `{desired}` / `{current}` placeholders, substituted per call.
    args: Vec<String>,
    timeout: Duration,
}

impl CommandActuator {
    fn build(cfg: &ActuatorConfig) -> anyhow::Result<Self> {
        const KEY: &str = "scaler.actuator.command";
        let (program, args) = cfg
            .command
            .split_first()
            .filter(|(p, _)| !p.is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "{KEY} must be an argv list, e.g. [\"/usr/local/bin/scale\", \"{{desired}}\"]"
                )
            })?;
        if !program_exists(program) {
            bail!("{KEY}: the program `{program}` was not found (give a path, or a name on PATH)");
        }
        Ok(Self {
            program: program.clone(),
            args: args.to_vec(),
            timeout: cfg.timeout,
        })
    }

    async fn run(&self, req: &ScaleRequest) -> Result<(), ActuatorError> {
        let args = substitute(&self.args, req.desired, req.current);
        // SECURITY: argv goes straight to execve; nothing is interpreted by a shell, so a
        // reason or count can never become code.
        let mut child = tokio::process::Command::new(&self.program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| ActuatorError::Spawn {
                program: self.program.clone(),
                error,
            })?;
        let stderr = child.stderr.take();
        let finished = tokio::time::timeout(self.timeout, async {
            tokio::join!(child.wait(), stderr_tail(stderr))
        })
        .await;
        let (status, tail) = match finished {
            Ok(done) => done,
            Err(_) => {
                // Only the direct child is killed: without a shell there is no process group
                // of ours to take down, and a command that forks must bound its own children.
                let _ = child.kill().await;
                return Err(ActuatorError::CommandTimeout {
                    program: self.program.clone(),
                    after: self.timeout,
                });
            }
        };
        let status = status.map_err(|error| ActuatorError::Spawn {
            program: self.program.clone(),
            error,
        })?;
        if status.success() {
            tracing::info!(
                desired = req.desired,
                current = req.current,
                reason = %req.reason,
                program = %self.program,
                "scale command succeeded"
            );
            return Ok(());
        }
        Err(ActuatorError::CommandFailed {
            program: self.program.clone(),
            status: describe_exit(status),
            stderr: last_line(&tail).unwrap_or_else(|| "it wrote nothing to stderr".to_owned()),
        })
    }
}

impl Actuator for CommandActuator {
    fn name(&self) -> &'static str {
        "command"
    }

    fn current(&self) -> BoxFuture<'_, Result<Option<u32>, ActuatorError>> {
        Box::pin(async { Ok(None) })
    }

    fn apply<'a>(&'a self, req: &'a ScaleRequest) -> BoxFuture<'a, Result<(), ActuatorError>> {
        Box::pin(self.run(req))
    }
}

/// Replaces `{desired}` and `{current}` in every argument.
fn substitute(args: &[String], desired: u32, current: u32) -> Vec<String> {
    let (d, c) = (desired.to_string(), current.to_string());
    args.iter()
        .map(|a| a.replace("{desired}", &d).replace("{current}", &c))
        .collect()
}

/// Whether `program` names an existing file, directly or through `PATH`.
fn program_exists(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Reads a child's stderr to the end, keeping the last [`STDERR_TAIL_BYTES`]. Reading it all
/// keeps a chatty command from blocking on a full pipe.
async fn stderr_tail(stderr: Option<tokio::process::ChildStderr>) -> Vec<u8> {
    let mut tail = Vec::new();
    let Some(mut stderr) = stderr else {
        return tail;
    };
    let mut buf = [0u8; 4096];
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > STDERR_TAIL_BYTES {
                    tail.drain(..tail.len() - STDERR_TAIL_BYTES);
                }
            }
        }
    }
    tail
}

/// The last non-blank line of `bytes`, trimmed and shortened for an error message.
fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| shorten(l, MAX_DETAIL_CHARS))
}

fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return format!("signal {signal}");
        }
    }
    status.to_string()
}

// ---------------------------------------------------------------------------------------
// kubernetes

/// Reads and patches `…/deployments/{name}/scale`.
#[derive(Debug)]
struct Kubernetes {
    endpoint: Endpoint,
    /// Re-read on every call: projected service-account tokens rotate (about hourly).
    token_file: PathBuf,
    timeout: Duration,
}

impl Kubernetes {
    fn build(cfg: &ActuatorConfig) -> anyhow::Result<Self> {
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

/// TLS verified against the system trust store (webhook), errors naming this key.
fn system_tls() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    tls::system_tls("scaler.actuator.url")
}

/// TLS verified against the CA bundle at `ca_file` only (the cluster's CA).
fn ca_tls(ca_file: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    tls::ca_file_tls(ca_file, "scaler.actuator.ca_file")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_placeholders_in_every_argument() {
        let args = vec![
            "--to={desired}".to_owned(),
            "{current}->{desired}".to_owned(),
            "x".to_owned(),
        ];
        assert_eq!(substitute(&args, 7, 3), ["--to=7", "3->7", "x"]);
    }

    #[test]
    fn last_line_skips_blank_lines_and_shortens() {
        assert_eq!(last_line(b"first\nsecond  \n\n").as_deref(), Some("second"));
        assert_eq!(last_line(b" \n"), None);
        let long = "x".repeat(1000);
        assert_eq!(
            last_line(long.as_bytes()).map(|l| l.chars().count()),
            Some(MAX_DETAIL_CHARS + 1)
        );
    }

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
