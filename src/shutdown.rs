//! Shutdown and readiness: the SIGTERM sequence of STYLE.md ("Tasks and shutdown").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The readiness latch behind `/readyz`: false while starting and once draining.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }
}

/// SIGTERM and SIGINT (Ctrl-C), listened for from the moment this is made: a signal that
/// arrives before anyone awaits [`StopSignals::next`] is kept for it, instead of killing
/// the process by the default action. Install it before announcing that we listen.
#[derive(Debug)]
pub struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// # Errors
    /// When the signal handlers cannot be installed.
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next SIGTERM or SIGINT.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
