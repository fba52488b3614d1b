//! `log`: the dry run. The decision is logged and nothing changes.

use super::{Actuator, ActuatorError, BoxFuture, ScaleRequest};

/// The dry run: says what it would do.
#[derive(Debug)]
pub(super) struct LogActuator;

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
