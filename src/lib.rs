//! synedge: a content-syndication edge server.
//!
//! Module map (dependency direction `server → cache → origin`; everything may record
//! into `signals`; nothing imports `server`):
//! - [`config`]: configuration layers, validation.
//! - [`domain`]: retailers, locales, GTINs, identities: pure parsing and normalizing.
//! - [`origin`]: fragment stores behind the [`origin::Origin`] trait (SQLite, PostgreSQL,
//!   an HTTP upstream); [`origin::open`] is the one scheme dispatch, and
//!   [`origin::import`] the narrow write interface the stores implement for imports.
//! - [`catalog`]: the NDJSON import format, its streaming check, the one import algorithm
//!   (`catalog::write`), the import command, the demo catalog. Above `origin`.
//! - [`cache`]: the byte-bounded fragment cache with stale-while-revalidate; its hot
//!   set (`cache::hot`) and the hot set's wire format (`cache::wire`).
//! - [`warm`]: warm start, the client that loads peers' hot sets into the cache before
//!   the instance reports ready; above `cache` and `net` (so the cache stays free of
//!   HTTP), used by `app`, and by `server` for its names (header, error code).
//! - [`compress`]: the gzip and brotli variants of a body, made once; a leaf.
//! - [`events`]: beacons: validation, the bounded queue, the batch writer into daily
//!   rollups ([`events::EventStore`], implemented by the SQLite and PostgreSQL stores).
//! - [`signals`]: the metrics every module records into; imports nothing of the crate
//!   (labels are `&'static str` values its callers pass).
//! - [`server`]: routers, handlers, the accept loop; [`app`] wires it all (`serve`, and
//!   the standalone `scaler` in [`app::run_scaler`]); nothing below them imports either.
//! - [`scaler`]: the scaling policy, its loop, actuators (`scaler::actuator`, one file
//!   each) and simulator; it imports config, net, signals and url.
//! - [`shutdown`]: readiness and signals; [`cli`]: the command line.
//! - [`store_url`]: [`store_url::StoreUrl`], what a store URL names, checked once; a leaf
//!   (it uses only [`url`]) that config, the command line and the catalog share.
//! - [`url`]: [`url::redact`], how every URL is shown (credentials hidden); a leaf that
//!   imports nothing of the crate, so everything may use it.
//! - [`net`]: the client side of the network: TLS client configurations, the HTTP
//!   origin's pooled client, the scaler's one-shot endpoints, peers' addresses
//!   (`dns://` resolved), the health probe, error chains; a leaf that imports nothing of
//!   the crate but [`url`], used by `origin`, `scaler`, `warm` and `cli`.
//!
//! Invariants: a cache hit touches no lock a miss holds and formats nothing; request
//! input is never echoed into a response; no panics on input.
#![forbid(unsafe_code)]

pub mod app;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod compress;
pub mod config;
pub mod domain;
pub mod events;
pub mod net;
pub mod origin;
pub mod scaler;
pub mod server;
pub mod shutdown;
pub mod signals;
pub mod store_url;
pub mod url;
pub mod warm;
