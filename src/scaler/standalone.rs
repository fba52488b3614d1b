//! `synedge scaler`: the fleet's one controller, on its own. It reads every peer's
//! signals, decides and actuates, and serves `/metrics`, `/admin/v1/scaler` and
//! `/healthz` on `admin.listen`.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::actuator;
use super::controller::{Controller, ScalerLog, Source};
use crate::config::Config;
use crate::server::{self, ServeOptions};
use crate::signals::Metrics;

/// Runs the controller and its admin listener until `shutdown`.
///
/// # Errors
/// No peers configured, an actuator that cannot be built, or a broken listener.
pub async fn run(
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
