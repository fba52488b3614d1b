//! The scaler loop (DESIGN.md §6): every `scaler.interval`, collect signals (this
//! instance's, or every peer's over HTTP), [`decide`], actuate when the count changes,
//! record. `serve` runs it embedded when `scaler.enabled`; `synedge scaler` runs it alone
//! as the fleet's one controller.
//!
//! Invariants: a failing peer is a `None` in the decision's inputs (counted as fully
//! loaded), never an error of the loop; a failing actuator is retried with backoff and
//! recorded, never crashes anything; exactly the last [`LOG_CAPACITY`] decisions are kept.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION};
use http::{HeaderValue, Method};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::actuator::{Actuator, ScaleRequest};
use super::policy::{Decision, Direction, History, decide};
use crate::config::{ScalerConfig, Secret};
use crate::net::endpoint::Endpoint;
use crate::net::peers::resolve;
use crate::signals::{Metrics, Signals};

/// Decisions kept for `GET /admin/v1/scaler`.
pub const LOG_CAPACITY: usize = 100;
/// The window the scaler reads, seconds.
pub const SIGNALS_WINDOW_S: u64 = 10;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);

/// Where signals come from.
pub enum Source {
    /// This process: its own windows, taken as representative of every instance (a load
    /// balancer spreads traffic evenly).
    Local(Box<dyn Fn() -> Signals + Send + Sync>),
    /// Peers' admin listeners: URLs, or `dns://NAME:PORT` resolved each interval.
    Peers {
        peers: Vec<String>,
        token: Option<Secret>,
    },
}

/// One instance's contribution to a decision.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceReport {
    /// Which instance: a peer as configured with its credentials redacted, the address a
    /// `dns://` peer resolved to, or this instance's name. Shown in the admin JSON.
    pub instance: String,
    pub signals: Option<Signals>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One round of the loop, as `GET /admin/v1/scaler` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Unix seconds.
    pub ts: f64,
    #[serde(flatten)]
    pub decision: Decision,
    pub instances: Vec<InstanceReport>,
    /// Whether the actuator was called this round.
    pub actuated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actuator_error: Option<String>,
}

/// The decisions log, shared with the admin router.
#[derive(Debug, Default)]
pub struct ScalerLog {
    records: Mutex<VecDeque<Record>>,
    running: std::sync::atomic::AtomicBool,
    actuator: Mutex<Option<&'static str>>,
}

impl ScalerLog {
    fn push(&self, r: Record) {
        let mut q = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if q.len() == LOG_CAPACITY {
            q.pop_front();
        }
        q.push_back(r);
    }

    /// The JSON `GET /admin/v1/scaler` answers: newest decision first.
    pub fn to_json(&self) -> serde_json::Value {
        let q = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        serde_json::json!({
            "running": self.running.load(std::sync::atomic::Ordering::Relaxed),
            "actuator": *self.actuator.lock().unwrap_or_else(PoisonError::into_inner),
            "decisions": q.iter().rev().collect::<Vec<_>>(),
        })
    }
}

pub struct Controller {
    cfg: ScalerConfig,
    actuator: Arc<dyn Actuator>,
    source: Source,
    metrics: Arc<Metrics>,
    log: Arc<ScalerLog>,
    history: History,
    /// What the platform runs, as far as we know: the actuator's word, else our last ask.
    known: Option<u32>,
    /// Desired count not yet actuated successfully, and when to try again.
    pending: Option<(u32, tokio::time::Instant, Duration)>,
}

impl Controller {
    pub fn new(
        cfg: ScalerConfig,
        actuator: Arc<dyn Actuator>,
        source: Source,
        metrics: Arc<Metrics>,
        log: Arc<ScalerLog>,
    ) -> Self {
        *log.actuator.lock().unwrap_or_else(PoisonError::into_inner) = Some(actuator.name());
        Self {
            cfg,
            actuator,
            source,
            metrics,
            log,
            history: History::default(),
            known: None,
            pending: None,
        }
    }

    /// Runs until `stop`.
    pub async fn run(mut self, stop: CancellationToken) {
        self.log
            .running
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut tick = tokio::time::interval(self.cfg.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick fires at once; skip it so the first window has data.
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => break,
            }
            self.round().await;
        }
        self.log
            .running
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// One collect → decide → actuate → record round.
    pub async fn round(&mut self) {
        let reported_current = match self.actuator.current().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "scaler: reading the current instance count failed");
                None
            }
        };
        let known = reported_current.or(self.known);
        let instances = self.collect(known.unwrap_or(1).max(1)).await;
        // Without a count from the platform or an earlier ask: as many as answered the roll.
        let current = known
            .unwrap_or_else(|| u32::try_from(instances.len()).unwrap_or(u32::MAX))
            .max(1);
        let signals: Vec<Option<Signals>> = instances.iter().map(|i| i.signals.clone()).collect();
        let now = SystemTime::now();
        let decision = decide(&signals, current, &self.cfg, now, &self.history);
        self.history.record(now, &decision, &self.cfg);
        self.metrics.scaler_decision(
            decision.direction.as_str(),
            decision.reason.as_str(),
            decision.desired,
            current,
        );

        // Actuate on change only; a failed ask is retried with backoff while the policy
        // keeps asking for the same count, and dropped when it no longer does.
        self.pending = match self.pending {
            _ if decision.desired == current => None,
            Some(p) if p.0 == decision.desired => Some(p),
            _ => Some((decision.desired, tokio::time::Instant::now(), FIRST_RETRY)),
        };
        let (mut actuated, mut actuator_error) = (false, None);
        if let Some((desired, due, backoff)) = self.pending
            && tokio::time::Instant::now() >= due
        {
            actuated = true;
            let req = ScaleRequest {
                desired,
                current,
                reason: format!("{}: {}", decision.reason.as_str(), decision.detail),
                signals: serde_json::to_value(&signals).unwrap_or_default(),
            };
            match self.actuator.apply(&req).await {
                Ok(()) => {
                    tracing::info!(
                        desired,
                        current,
                        reason = decision.reason.as_str(),
                        detail = %decision.detail,
                        "scaler: asked for {desired} instances"
                    );
                    self.known = Some(desired);
                    self.pending = None;
                    self.metrics.scaler_actuation(true);
                }
                Err(e) => {
                    tracing::warn!(error = %e, ?backoff, "scaler: actuation failed; will retry");
                    actuator_error = Some(e.to_string());
                    self.pending = Some((
                        desired,
                        tokio::time::Instant::now() + backoff,
                        (backoff * 2).min(MAX_RETRY),
                    ));
                    self.metrics.scaler_actuation(false);
                }
            }
        }
        if decision.direction != Direction::None || actuated {
            tracing::debug!(?decision, "scaler decision");
        }
        self.log.push(Record {
            ts: now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            decision,
            instances,
            actuated,
            actuator_error,
        });
    }

    /// Every instance's report. `current` only matters for [`Source::Local`], whose one
    /// report stands for that many instances.
    async fn collect(&self, current: u32) -> Vec<InstanceReport> {
        match &self.source {
            Source::Local(snapshot) => {
                let s = snapshot();
                // Every instance behind the balancer carries what this one carries.
                (0..current)
                    .map(|i| InstanceReport {
                        instance: if i == 0 {
                            s.instance.clone()
                        } else {
                            format!("{} (assumed alike)", s.instance)
                        },
                        signals: Some(s.clone()),
                        error: None,
                    })
                    .collect()
            }
            Source::Peers { peers, token } => {
                let timeout = (self.cfg.interval / 2).max(Duration::from_millis(200));
                let mut set = tokio::task::JoinSet::new();
                for (i, (name, url)) in resolve(peers).await.into_iter().enumerate() {
                    let token = token.clone();
                    set.spawn(async move {
                        let got = match url {
                            Ok(url) => fetch_signals(&url, token.as_ref(), timeout).await,
                            Err(e) => Err(e),
                        };
                        let (signals, error) = match got {
                            Ok(s) => (Some(s), None),
                            Err(e) => (None, Some(e)),
                        };
                        (
                            i,
                            InstanceReport {
                                instance: name,
                                signals,
                                error,
                            },
                        )
                    });
                }
                let mut out: Vec<(usize, InstanceReport)> = set.join_all().await;
                out.sort_by_key(|(i, _)| *i);
                out.into_iter().map(|(_, r)| r).collect()
            }
        }
    }
}

/// `GET {base}/admin/v1/signals` over HTTP/1.1, bounded by `timeout`.
async fn fetch_signals(
    base: &str,
    token: Option<&Secret>,
    timeout: Duration,
) -> Result<Signals, String> {
    let url = format!("{base}/admin/v1/signals?window={SIGNALS_WINDOW_S}");
    let peer = Endpoint::parse(&url, "scaler.peers", "the peer", || {
        anyhow::bail!("scaler.peers are admin listeners, reached over http://")
    })
    .map_err(|e| e.to_string())?;
    let mut headers = vec![(ACCEPT, HeaderValue::from_static("application/json"))];
    if let Some(v) =
        token.and_then(|t| HeaderValue::try_from(format!("Bearer {}", t.expose())).ok())
    {
        headers.push((AUTHORIZATION, v));
    }
    let answer = peer
        .call(Method::GET, headers, Bytes::new(), timeout)
        .await
        .map_err(|e| e.to_string())?;
    if !answer.status.is_success() {
        return Err(format!("the peer answered HTTP {}", answer.status));
    }
    serde_json::from_slice(&answer.body)
        .map_err(|e| format!("the peer's answer is not a signals snapshot: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::scaler::actuator::{ActuatorError, BoxFuture};

    /// Fails its first `fail` asks; remembers every ask.
    #[derive(Debug, Default)]
    struct Flaky {
        fail: u32,
        calls: AtomicU32,
        asked: Mutex<Vec<u32>>,
    }

    impl Actuator for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn current(&self) -> BoxFuture<'_, Result<Option<u32>, ActuatorError>> {
            Box::pin(async { Ok(None) })
        }
        fn apply<'a>(&'a self, req: &'a ScaleRequest) -> BoxFuture<'a, Result<(), ActuatorError>> {
            Box::pin(async move {
                self.asked.lock().unwrap().push(req.desired);
                if self.calls.fetch_add(1, Ordering::SeqCst) < self.fail {
                    Err(ActuatorError::Unsupported {
                        desired: req.desired,
                        detail: "the platform said no".into(),
                    })
                } else {
                    Ok(())
                }
            })
        }
    }

    fn controller(actuator: Arc<Flaky>, rps: f64) -> (Controller, Arc<ScalerLog>) {
        let cfg = ScalerConfig {
            min_instances: 1,
            target_rps_per_instance: 100.0,
            ..ScalerConfig::default()
        };
        let log = Arc::new(ScalerLog::default());
        let source = Source::Local(Box::new(move || Signals {
            rps,
            ..Signals::idle("me")
        }));
        let c = Controller::new(cfg, actuator, source, Arc::new(Metrics::new()), log.clone());
        (c, log)
    }

    #[test]
    fn metric_labels_are_the_policys() {
        // signals lists the label values itself (it imports nothing from scaler), so
        // every decision series exists from the start; they must be the policy's.
        use crate::scaler::policy::Reason;
        use crate::signals::metrics::{SCALER_DIRECTIONS, SCALER_REASONS};
        assert_eq!(Direction::ALL.map(Direction::as_str), SCALER_DIRECTIONS);
        assert_eq!(Reason::ALL.map(Reason::as_str), SCALER_REASONS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_actuator_is_retried_with_backoff_and_reported() {
        let flaky = Arc::new(Flaky {
            fail: 2,
            ..Flaky::default()
        });
        let (mut c, log) = controller(flaky.clone(), 300.0);
        c.round().await; // asks for 3, fails
        c.round().await; // not due yet: no call
        assert_eq!(*flaky.asked.lock().unwrap(), [3]);
        tokio::time::advance(FIRST_RETRY).await;
        c.round().await; // due: fails again; next wait doubles
        tokio::time::advance(FIRST_RETRY).await;
        c.round().await; // 1 s later: not due (2 s backoff)
        assert_eq!(*flaky.asked.lock().unwrap(), [3, 3]);
        tokio::time::advance(FIRST_RETRY).await;
        c.round().await; // succeeds
        assert_eq!(*flaky.asked.lock().unwrap(), [3, 3, 3]);

        let j = log.to_json();
        let rounds = j["decisions"].as_array().unwrap();
        let flags: Vec<(bool, bool)> = rounds
            .iter()
            .rev()
            .map(|r| (r["actuated"] == true, r["actuator_error"].is_string()))
            .collect();
        assert_eq!(
            flags,
            [
                (true, true),
                (false, false),
                (true, true),
                (false, false),
                (true, false)
            ]
        );
        assert!(
            rounds[4]["actuator_error"]
                .as_str()
                .unwrap()
                .contains("the platform said no")
        );
    }

    #[tokio::test]
    async fn peers_are_named_without_their_credentials() {
        let peers = vec![
            "http://peer:peerSECRET@127.0.0.1:9/?token=tokSECRET&window=1".to_owned(),
            // No port: resolving fails at once, with no DNS query, naming the peer.
            "dns://dns:dnsSECRET@synedge-admin".to_owned(),
        ];
        let resolved = resolve(&peers).await;
        let names: Vec<&str> = resolved.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "http://peer:***@127.0.0.1:9/?token=***&window=1",
                "dns://dns:***@synedge-admin"
            ]
        );
        let dns_error = resolved[1].1.as_ref().unwrap_err();
        assert!(
            dns_error.starts_with("resolving dns:***@synedge-admin"),
            "{dns_error}"
        );

        // And through a whole round: nothing in the admin JSON holds a secret.
        let log = Arc::new(ScalerLog::default());
        let source = Source::Peers { peers, token: None };
        let mut c = Controller::new(
            ScalerConfig::default(),
            Arc::new(Flaky::default()),
            source,
            Arc::new(Metrics::new()),
            log.clone(),
        );
        c.round().await;
        let json = log.to_json().to_string();
        assert!(!json.contains("SECRET"), "{json}");
        assert!(json.contains("http://peer:***@127.0.0.1:9/"), "{json}");
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_actuated_while_the_count_is_right_and_the_log_is_bounded() {
        let flaky = Arc::new(Flaky::default());
        // One instance at target: on target, nothing to do.
        let (mut c, log) = controller(flaky.clone(), 100.0);
        for _ in 0..(LOG_CAPACITY + 5) {
            c.round().await;
        }
        assert!(flaky.asked.lock().unwrap().is_empty());
        let j = log.to_json();
        assert_eq!(j["decisions"].as_array().unwrap().len(), LOG_CAPACITY);
        assert_eq!(j["decisions"][0]["reason"], "on_target");
    }
}
