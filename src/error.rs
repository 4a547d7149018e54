//! Errors every layer may raise.

/// A mistake in how casstop was invoked or configured (as opposed to a failure while running):
/// exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
