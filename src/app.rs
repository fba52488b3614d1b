//! Wiring: builds the shared state from a [`Config`], an origin and an events store,
//! and runs both listeners and the background tasks until shutdown; and
//! [`run_scaler`], the `synedge scaler` process. Both live here, above `server` and
//! `scaler`, because they put those together: nothing below this module imports
//! `server`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cache::{CacheSettings, FragmentCache};
use crate::config::{AccessLogFormat, Config};
use crate::events::{self, EventStore};
use crate::origin::Origin;
use crate::scaler::actuator;
use crate::scaler::controller::{Controller, ScalerLog, Source};
use crate::server::tls::{Tls, TlsError};
use crate::server::{self, AppState, ServeOptions};
use crate::shutdown::Readiness;
use crate::signals::Metrics;

/// How often metrics, cache, process and signal gauges are refreshed in the background:
/// once a second, the resolution of the signal windows' CPU samples.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A built application: state shared by both routers.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub state: Arc<AppState>,
    /// The events writer, until [`App::run`] takes it: there is one per queue, and `App`
    /// is cloned (tests keep a copy to look at the state while it runs).
    events_writer: Arc<Mutex<Option<events::Writer>>>,
    /// HTTPS for the public listener, when `tls.cert` and `tls.key` are set.
    tls: Option<Tls>,
}

impl App {
    /// # Errors
    /// The TLS certificate or key cannot be served (unreadable, not PEM, or a mismatch).
    pub fn build(
        config: Config,
        origin: Arc<dyn Origin>,
        events_store: Arc<dyn EventStore>,
    ) -> Result<Self, TlsError> {
        let tls = Tls::load(&config.tls)?;
        let metrics = Arc::new(Metrics::new());
        let (queue, writer) =
            events::channel(&config.events, Arc::clone(&events_store), metrics.clone());
        let settings = CacheSettings::new(&config.cache, config.origin.timeout);
        // Timeouts per attempt, retries and the circuit breaker, whatever the store.
        let origin: Arc<dyn Origin> = Arc::new(crate::origin::guard::Guarded::new(
            origin,
            config.origin.timeout,
            metrics.clone(),
        ));
        let state = Arc::new(AppState {
            cache: FragmentCache::new(settings, origin, metrics.clone()),
            metrics,
            readiness: Readiness::default(),
            request_timeout: config.server.request_timeout,
            body_read_timeout: config.server.body_read_timeout,
            admin_token: config.admin.token.clone(),
            events: queue,
            event_store: events_store,
            loader: server::embed::Asset::loader(),
            demo: server::embed::DemoAssets::build(),
            instance: instance_name(),
            limiter: Arc::new(server::shed::Limiter::new(config.server.max_connections)),
            scaler_log: Arc::default(),
            catalog_products: std::sync::atomic::AtomicI64::new(-1),
        });
        Ok(Self {
            config,
            state,
            events_writer: Arc::new(Mutex::new(Some(writer))),
            tls,
        })
    }

    pub fn public_router(&self) -> axum::Router {
        server::public::router(self.state.clone())
    }

    pub fn admin_router(&self) -> axum::Router {
        server::admin::router(self.state.clone())
    }

    /// Serves until `shutdown` is cancelled, then drains: readiness turns 503 at once,
    /// listeners keep accepting for `shutdown.pre_stop_delay` (load balancers need to see
    /// it), then stop; open requests get `shutdown.grace`; background tasks stop last,
    /// the events writer after writing everything still queued.
    ///
    /// # Errors
    /// A listener that fails outright, or a second `run` of the same app.
    pub async fn run(
        self,
        public: TcpListener,
        admin: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let writer = self
            .events_writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| anyhow::anyhow!("App::run called twice: the events writer is gone"))?;
        let tasks = TaskTracker::new();
        let stop_tasks = CancellationToken::new();
        let stop_serving = CancellationToken::new();
        tasks.spawn(upkeep(self.state.clone(), stop_tasks.clone()));
        let counting = self.state.clone();
        tasks.spawn(async move { count_products(&counting).await });
        if let Some(rx) = self.state.cache.origin().invalidations() {
            tasks.spawn(apply_invalidations(
                self.state.clone(),
                rx,
                stop_tasks.clone(),
            ));
        }
        if self.config.scaler.enabled {
            let scaler = self.scaler()?;
            tasks.spawn(scaler.run(stop_tasks.clone()));
        }
        if let Some(tls) = &self.tls {
            tasks.spawn(
                tls.clone()
                    .run(self.state.metrics.clone(), stop_tasks.clone()),
            );
        }
        // Cancelled only once both listeners are closed, so no 202 can follow its drain.
        tasks.spawn(writer.run(stop_tasks.clone()));

        // The admin listener stays plain HTTP: loopback by default, and in a cluster it is
        // scraped and polled from inside the pod network.
        let admin_opts = ServeOptions::new(&self.config);
        let access_log = match self.config.server.access_log {
            AccessLogFormat::Off => None,
            AccessLogFormat::Json => {
                Some(server::access_log::AccessLog::stdout().context("starting the access log")?)
            }
        };
        let state = self.state.clone();
        let public_opts = ServeOptions {
            tls: self.tls.as_ref().map(Tls::server_config),
            access_log,
            answer_now: Some(Arc::new(move |req| {
                server::fragment::answer_now(&state, req)
            })),
            ..admin_opts.clone()
        };
        let public = tokio::spawn(server::serve(
            public,
            self.public_router(),
            public_opts,
            stop_serving.clone(),
        ));
        let admin = tokio::spawn(server::serve(
            admin,
            self.admin_router(),
            admin_opts,
            stop_serving.clone(),
        ));
        // Warm the cache from peers first (bounded by cache.warm_timeout), unless asked to
        // stop meanwhile.
        let warmed = tokio::select! {
            w = self.warm_up() => Some(w),
            () = shutdown.cancelled() => None,
        };
        if let Some(w) = warmed {
            self.state.readiness.set(true);
            match w {
                Some(w) => tracing::info!(
                    warmed_entries = w.entries,
                    warmed_bytes = w.bytes,
                    peers = w.peers,
                    peers_answered = w.answered,
                    warm_ms = w.took.as_millis() as u64,
                    "ready"
                ),
                None => tracing::info!("ready"),
            }
        }

        shutdown.cancelled().await;
        self.state.readiness.set(false);
        let delay = self.config.shutdown.pre_stop_delay;
        if !delay.is_zero() {
            tracing::info!(
                ?delay,
                "draining: readiness is 503; still accepting for the pre-stop delay"
            );
            tokio::time::sleep(delay).await;
        }
        tracing::info!("draining: no longer accepting; finishing open requests");
        stop_serving.cancel();
        let (p, a) = tokio::join!(public, admin);
        // Even when a listener failed: the writer still owes the store every queued event.
        stop_tasks.cancel();
        tasks.close();
        tasks.wait().await;
        p??;
        a??;
        tracing::info!("stopped");
        Ok(())
    }
}

impl App {
    /// Loads peers' hot sets into the cache (`cache.warm_from`, else `scaler.peers`);
    /// `None` when there are none to ask.
    async fn warm_up(&self) -> Option<crate::warm::Warmed> {
        let peers = self.config.warm_peers();
        if peers.is_empty() {
            return None;
        }
        Some(
            crate::warm::run(
                &self.state.cache,
                peers,
                self.config.admin.token.as_ref(),
                self.config.cache.warm_timeout,
            )
            .await,
        )
    }

    /// The scaler loop over this instance's signals, or over `scaler.peers` when set.
    ///
    /// # Errors
    /// The actuator cannot be built from its config.
    pub fn scaler(&self) -> anyhow::Result<Controller> {
        use crate::scaler::controller::SIGNALS_WINDOW_S;
        let cfg = &self.config.scaler;
        let actuator = actuator::build(&cfg.actuator)?;
        let source = if cfg.peers.is_empty() {
            let state = self.state.clone();
            Source::Local(Box::new(move || state.signals(SIGNALS_WINDOW_S)))
        } else {
            Source::Peers {
                peers: cfg.peers.clone(),
                token: self.config.admin.token.clone(),
            }
        };
        Ok(Controller::new(
            cfg.clone(),
            actuator,
            source,
            self.state.metrics.clone(),
            self.state.scaler_log.clone(),
        ))
    }
}

/// This instance's name: `$HOSTNAME` (a pod's name on Kubernetes), else the kernel's
/// host name, else `synedge`.
fn instance_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "synedge".to_owned())
}

/// Applies purges and content changes made elsewhere (other instances, imports) to this
/// instance's cache, as the store reports them.
async fn apply_invalidations(
    state: Arc<AppState>,
    mut rx: tokio::sync::mpsc::Receiver<crate::origin::Invalidation>,
    stop: CancellationToken,
) {
    loop {
        let inv = tokio::select! {
            i = rx.recv() => match i {
                Some(i) => i,
                None => return,
            },
            () = stop.cancelled() => return,
        };
        match state.cache.apply(&inv).await {
            Ok(purged) => {
                tracing::info!(
                    keys = purged.keys,
                    surrogate_keys = purged.surrogate_keys,
                    entries = purged.entries,
                    all = inv.all,
                    "applied an invalidation from the store"
                );
                // Products are only ever added, and an import that adds one says so.
                if inv.all || inv.unidentified {
                    count_products(&state).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e.error.detail, list = e.field, index = e.index, "ignored an invalid invalidation from the store")
            }
        }
    }
}

/// Counts the catalog's products into `/readyz` and `synedge_catalog_products`.
async fn count_products(state: &AppState) {
    match state.cache.origin().product_count().await {
        Ok(Some(n)) => {
            state.catalog_products.store(
                i64::try_from(n).unwrap_or(i64::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
            state.metrics.catalog_products.set(n as f64);
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "counting the catalog's products failed"),
    }
}

/// Keeps metrics memory bounded and gauges current, even when nobody scrapes.
async fn upkeep(state: Arc<AppState>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        state.metrics.upkeep();
        state.cache.upkeep().await;
        state.metrics.process.refresh();
        state.metrics.publish_signals(state.events.depth() as u64);
        state.limiter.tick();
        state
            .metrics
            .concurrency_limit
            .set(state.limiter.limit() as f64);
    }
}

/// `synedge scaler`: the fleet's one controller, on its own. It reads every peer's
/// signals, decides and actuates, and serves `/metrics`, `/admin/v1/scaler` and
/// `/healthz` on `admin.listen` until `shutdown`.
///
/// # Errors
/// No peers configured, an actuator that cannot be built, or a broken listener.
pub async fn run_scaler(
    config: Config,
    admin: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        !config.scaler.peers.is_empty(),
        "synedge scaler controls a fleet: set scaler.peers to the instances' admin URLs \
         or to dns://NAME:PORT (serve runs the scaler for itself with scaler.enabled)"
    );
    let metrics = Arc::new(Metrics::new());
    let log = Arc::new(ScalerLog::default());
    let controller = Controller::new(
        config.scaler.clone(),
        actuator::build(&config.scaler.actuator)?,
        Source::Peers {
            peers: config.scaler.peers.clone(),
            token: config.admin.token.clone(),
        },
        metrics.clone(),
        log.clone(),
    );
    let loop_task = tokio::spawn(controller.run(shutdown.clone()));
    let opts = ServeOptions {
        max_connections: 64,
        ..ServeOptions::new(&config)
    };
    let served = server::serve(
        admin,
        server::admin::scaler_router(metrics, log),
        opts,
        shutdown,
    )
    .await;
    loop_task.await?;
    Ok(served?)
}
