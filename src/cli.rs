//! The command line (DESIGN.md §8):
//! `synedge [--config FILE] [--set section.key=value]… <serve [--demo] | import FILE |
//! seed --demo --products N | simulate --profile FILE [--out DIR] | check-config |
//! healthcheck>`.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 usage error (clap), 78 bad configuration
//! (`EX_CONFIG`), reported before anything is bound.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::catalog::import;
use crate::config::{self, Config, Sources};
use crate::events::EventStore;
use crate::origin;
use crate::store_url::StoreUrl;

/// Exit code for a configuration that does not validate (sysexits.h `EX_CONFIG`).
pub const EXIT_CONFIG: u8 = 78;
/// Products `serve --demo` seeds into an empty store.
pub const DEMO_PRODUCTS: usize = 1000;
/// Listen backlog: clients beyond `server.max_connections` wait here during a surge.
const LISTEN_BACKLOG: u32 = 4096;

#[derive(Debug, Parser)]
#[command(name = "synedge", version, about = "Content-syndication edge server")]
pub struct Cli {
    /// Config file (TOML). Without it, config/default.toml is read when present.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one key, after the file and SYNEDGE_* variables. Repeatable.
    #[arg(long = "set", global = true, value_name = "SECTION.KEY=VALUE")]
    set: Vec<String>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve fragments on server.listen and the admin API on admin.listen.
    Serve {
        /// Fill an empty store with the demo catalog first.
        #[arg(long)]
        demo: bool,
        /// Shorthand for --set server.listen=ADDR.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Shorthand for --set admin.listen=ADDR.
        #[arg(long, value_name = "ADDR")]
        admin_listen: Option<SocketAddr>,
    },
    /// Import an NDJSON catalog file into the origin store, all or nothing.
    Import {
        /// One product-locale per line: {"brand","mpn","ean":[…],"locale","html","retailers":[…]}
        file: PathBuf,
        /// Let an EAN move to another brand's product (refused by default: EANs are
        /// owned by the brand that first imported them).
        #[arg(long)]
        reassign_gtins: bool,
    },
    /// Write a deterministic synthetic catalog into the origin store.
    Seed {
        /// The demo catalog (the only kind there is; required for clarity).
        #[arg(long, required = true)]
        demo: bool,
        /// How many products.
        #[arg(long, default_value_t = DEMO_PRODUCTS)]
        products: usize,
        /// Also write one /v1/fragment request path per product to FILE (for load tests).
        #[arg(long, value_name = "FILE")]
        paths: Option<PathBuf>,
    },
    /// Replay a traffic profile through the scaling policy (and an HPA-style and a
    /// static baseline) on a model of instances; write timeline.csv, chart.svg and
    /// summary.json into --out, and print the summary.
    Simulate {
        /// Traffic profile (TOML): points = [[minute, rps], …] and [instance].
        #[arg(long, value_name = "FILE")]
        profile: PathBuf,
        /// Directory for the outputs (created).
        #[arg(long, value_name = "DIR", default_value = crate::scaler::simulate::DEFAULT_OUT_DIR)]
        out: PathBuf,
    },
    /// Run the fleet's scaler on its own: read every peer in scaler.peers, decide,
    /// actuate; admin.listen serves /metrics and /admin/v1/scaler.
    Scaler,
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig,
    /// Exit 0 when this instance's /readyz answers 200 (for container health checks).
    Healthcheck {
        /// Address to probe; default: server.listen, with 0.0.0.0 read as 127.0.0.1.
        #[arg(long, value_name = "ADDR")]
        addr: Option<SocketAddr>,
    },
}

/// Parses the command line, runs the command, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let mut overrides = cli.set.clone();
    if let Command::Serve {
        listen,
        admin_listen,
        ..
    } = &cli.command
    {
        overrides.extend(listen.map(|a| format!("server.listen={a}")));
        overrides.extend(admin_listen.map(|a| format!("admin.listen={a}")));
    }
    let config = match config::load(&Sources {
        file: cli.config.as_deref(),
        env: config::process_env(),
        overrides,
    }) {
        Ok(c) => c,
        Err(errors) => {
            eprint!("synedge: {errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synedge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let url = config.origin.url.clone();
    let timeout = config.origin.timeout;
    match command {
        Command::Serve { demo, .. } => serve(config, demo),
        Command::Import {
            file,
            reassign_gtins,
        } => {
            let options = crate::catalog::write::Options { reassign_gtins };
            let summary = import::run_import(&url, &file, timeout, options)?;
            println!("{summary}");
            Ok(())
        }
        Command::Seed {
            products, paths, ..
        } => {
            let summary = import::run_seed(&url, products, paths.as_deref(), timeout)?;
            println!("{summary}");
            Ok(())
        }
        Command::Simulate { profile, out } => {
            let table = crate::scaler::simulate::simulate(&profile, &config.scaler, &out)?;
            print!("{table}");
            eprintln!(
                "synedge: wrote timeline.csv, chart.svg and summary.json into {}",
                out.display()
            );
            Ok(())
        }
        Command::Scaler => scaler(config),
        Command::CheckConfig => {
            print!("{}", config.to_toml());
            eprintln!("synedge: configuration is valid");
            Ok(())
        }
        Command::Healthcheck { addr } => healthcheck(
            addr.unwrap_or(config.server.listen),
            config.tls.cert.is_some(),
        ),
    }
}

fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("synedge-worker")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let (origin, events_store) = open_stores(&config, demo).await?;
        // Built before binding, so an unusable certificate stops the start with nothing bound.
        let app = App::build(config, origin, events_store)?;
        let config = &app.config;
        // Before the listening line: a SIGTERM sent as soon as it shows is not lost.
        let mut signals = crate::shutdown::StopSignals::install().context("listening for SIGTERM and SIGINT")?;
        let public = bind(config.server.listen).with_context(|| format!("binding server.listen {}", config.server.listen))?;
        let admin = bind(config.admin.listen).with_context(|| format!("binding admin.listen {}", config.admin.listen))?;
        let scheme = if config.tls.cert.is_some() { "https" } else { "http" };
        tracing::info!(public = %public.local_addr()?, scheme, admin = %admin.local_addr()?, origin = %crate::url::redact(&config.origin.url), "listening");
        if demo {
            let mut at = public.local_addr()?;
            if at.ip().is_unspecified() {
                at.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            tracing::info!("the demo is at {scheme}://{at}/demo");
        }
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            let sig = signals.next().await;
            tracing::info!(signal = sig, "shutting down");
            trigger.cancel();
            // A second signal means "now": skip the drain.
            signals.next().await;
            tracing::warn!("second signal: exiting at once");
            std::process::exit(1);
        });
        app.run(public, admin, shutdown).await
    })
}

fn scaler(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("synedge-scaler")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut signals = crate::shutdown::StopSignals::install()
            .context("listening for SIGTERM and SIGINT")?;
        let admin = bind(config.admin.listen)
            .with_context(|| format!("binding admin.listen {}", config.admin.listen))?;
        tracing::info!(admin = %admin.local_addr()?, peers = ?config.shown_peers(), "scaler running");
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            let sig = signals.next().await;
            tracing::info!(signal = sig, "shutting down");
            trigger.cancel();
        });
        crate::app::run_scaler(config, admin, shutdown).await
    })
}

/// Opens the fragment origin and the events store (the same store unless `events.store`
/// names another, as it must for an HTTP origin); with `demo`, seeds an empty catalog.
/// Stores are connected to here (PostgreSQL is migrated too), so an unreachable or
/// foreign database stops the start before anything is bound.
async fn open_stores(
    config: &Config,
    demo: bool,
) -> anyhow::Result<(Arc<dyn origin::Origin>, Arc<dyn EventStore>)> {
    let timeout = config.origin.timeout;
    // Validated already; parsing again cannot fail.
    let url = StoreUrl::parse(&config.origin.url).map_err(|e| anyhow::anyhow!("origin.url {e}"))?;
    let store = origin::open(&url, timeout).await?;
    if demo {
        let catalog = store
            .catalog
            .clone()
            .context("--demo seeds a catalog store; an http(s) origin has none")?;
        let started = std::time::Instant::now();
        let seeded = tokio::task::spawn_blocking(move || {
            if catalog.is_empty()? {
                // Instances started together may all seed: imports are idempotent.
                import::seed_store(catalog.as_ref(), DEMO_PRODUCTS).map(Some)
            } else {
                Ok(None)
            }
        })
        .await
        .context("seeding the demo catalog")??;
        if let Some(summary) = seeded {
            tracing::info!(%summary, elapsed = ?started.elapsed(), "seeded the demo catalog");
        }
    }
    if store.catalog.is_some() {
        warn_if_empty(&url, store.origin.as_ref()).await;
    }
    let events = if config.events.store.is_empty() || config.events.store == config.origin.url {
        store.events.clone()
    } else {
        let url = StoreUrl::parse(&config.events.store)
            .map_err(|e| anyhow::anyhow!("events.store {e}"))?;
        origin::open(&url, timeout).await?.events
    };
    let events = events.context(
        "an http(s) origin keeps no event counts: set events.store to sqlite://PATH or postgres://USER@HOST/DATABASE",
    )?;
    Ok((store.origin, events))
}

/// A store with no products answers 204 to everything, which looks like a working
/// server: say so at start, naming the store (a SQLite file by its absolute path, so a
/// relative default run from another directory shows) and how to fill it.
async fn warn_if_empty(url: &StoreUrl, origin: &dyn origin::Origin) {
    let store = match url.sqlite_path() {
        Some(path) => {
            std::path::absolute(path).map_or_else(|_| path.to_owned(), |p| p.display().to_string())
        }
        None => url.redacted(),
    };
    match origin.product_count().await {
        Ok(Some(0)) => tracing::warn!(
            %store,
            "the catalog holds no products, so every fragment request answers 204 (no content); \
             fill it with `synedge import FILE.ndjson` (same configuration), or start with \
             `synedge serve --demo` for the demo catalog"
        ),
        Ok(Some(products)) => tracing::info!(%store, products, "catalog"),
        Ok(None) => {}
        Err(e) => tracing::warn!(%store, error = %e, "counting the catalog's products failed"),
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Probes `/readyz` of the instance listening on `addr` (`0.0.0.0` and `::` mean this
/// host's loopback): the runtime image has no curl.
fn healthcheck(mut addr: SocketAddr, https: bool) -> anyhow::Result<()> {
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    crate::net::probe::readyz(addr, https, Duration::from_secs(2))
}
