//! How a request ended: its times, its node, and why it failed, sorted into the kinds casstop
//! counts. The bottom of the engine's requests: writes and reads both end in a [`Completion`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use scylla::errors::{DbError, ExecutionError, RequestAttemptError};

use crate::metrics::ErrorKind;

/// How one write ended.
#[derive(Debug)]
pub struct Completion {
    pub seq: u64,
    pub rows: u32,
    /// When the write was due (the pacer's schedule), when it was sent, when it finished.
    pub intended: Instant,
    pub sent: Instant,
    pub done: Instant,
    pub outcome: Result<(), Failure>,
    /// The node that coordinated it (the last attempt's, for a failure); `None` when no attempt
    /// was sent (no connection to any node).
    pub coordinator: Option<SocketAddr>,
    /// `Some(i)`: it was read `i` of the mix, not a write, and found `found` rows.
    pub read: Option<u8>,
    pub found: u64,
}

/// Why a write failed, and whether it may be in the table anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    /// The driver's message, for the event log.
    pub detail: String,
    /// The write reached a node and its fate is unknown (a timeout, a connection that broke
    /// while it was in flight): it may have been applied. Counted as "maybe written", never as ok.
    pub maybe_applied: bool,
}

impl Failure {
    /// `err` sorted and described; `maybe_applied` as the caller judges it (a read writes
    /// nothing, so it never is).
    pub fn of(err: &ExecutionError, maybe_applied: bool) -> Self {
        Failure {
            kind: classify(err),
            detail: describe(err),
            maybe_applied,
        }
    }
}

impl Completion {
    pub fn service_time(&self) -> Duration {
        self.done.saturating_duration_since(self.sent)
    }

    /// From when the write was due, or from its send when the pacer's slack let it leave
    /// early: never shorter than the service time.
    pub fn response_time(&self) -> Duration {
        self.done
            .saturating_duration_since(self.intended.min(self.sent))
    }
}

/// The driver's message, with what to do where the message alone does not say it.
fn describe(err: &ExecutionError) -> String {
    match err {
        ExecutionError::LastAttemptError(RequestAttemptError::UnableToAllocStreamId) => format!(
            "{err}: every request slot of the driver's connections is taken (32,768 each); \
             fewer writes in flight (depth, load.throttle_cap) or more nodes"
        ),
        _ => err.to_string(),
    }
}

/// Sorts a driver error into the kinds casstop counts.
pub fn classify(err: &ExecutionError) -> ErrorKind {
    match err {
        ExecutionError::RequestTimeout(_) => ErrorKind::Timeout,
        ExecutionError::ConnectionPoolError(_) | ExecutionError::EmptyPlan => ErrorKind::Connection,
        ExecutionError::LastAttemptError(attempt) => match attempt {
            RequestAttemptError::DbError(db, _) => match db {
                DbError::WriteTimeout { .. } | DbError::ReadTimeout { .. } => ErrorKind::Timeout,
                DbError::Overloaded | DbError::RateLimitReached { .. } => ErrorKind::Overloaded,
                DbError::Unavailable { .. } | DbError::IsBootstrapping => ErrorKind::Unavailable,
                _ => ErrorKind::Other,
            },
            RequestAttemptError::BrokenConnectionError(_)
            | RequestAttemptError::UnableToAllocStreamId => ErrorKind::Connection,
            _ => ErrorKind::Other,
        },
        _ => ErrorKind::Other,
    }
}

/// Whether a failed write may still have been applied. Only errors that prove the write never
/// reached a replica's commit log count as "not applied": no connection, a coordinator that
/// refused it (unavailable, overloaded, bootstrapping), or a request that was never sent.
/// Anything else (timeouts, broken connections, unknown errors) is "maybe".
pub fn may_have_applied(err: &ExecutionError) -> bool {
    match err {
        ExecutionError::BadQuery(_)
        | ExecutionError::EmptyPlan
        | ExecutionError::ConnectionPoolError(_)
        | ExecutionError::PrepareError(_)
        | ExecutionError::UseKeyspaceError(_) => false,
        ExecutionError::LastAttemptError(attempt) => match attempt {
            RequestAttemptError::SerializationError(_)
            | RequestAttemptError::CqlRequestSerialization(_)
            | RequestAttemptError::UnableToAllocStreamId => false,
            RequestAttemptError::DbError(db, _) => !matches!(
                db,
                DbError::Unavailable { .. }
                    | DbError::Overloaded
                    | DbError::IsBootstrapping
                    | DbError::RateLimitReached { .. }
                    | DbError::SyntaxError
                    | DbError::Invalid
                    | DbError::AlreadyExists { .. }
                    | DbError::Unauthorized
                    | DbError::AuthenticationError
                    | DbError::ConfigError
                    | DbError::ProtocolError
                    | DbError::Unprepared { .. }
            ),
            _ => true,
        },
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_that_prove_the_write_was_refused_are_not_maybe() {
        use scylla::errors::{BrokenConnectionErrorKind, WriteType};
        let unavailable = ExecutionError::LastAttemptError(RequestAttemptError::DbError(
            DbError::Unavailable {
                consistency: scylla::statement::Consistency::One,
                required: 1,
                alive: 0,
            },
            "no replicas".into(),
        ));
        assert!(!may_have_applied(&unavailable));
        assert_eq!(classify(&unavailable), ErrorKind::Unavailable);
        assert!(!may_have_applied(&ExecutionError::EmptyPlan));
        let timeout = ExecutionError::RequestTimeout(Duration::from_secs(1));
        assert!(may_have_applied(&timeout));
        assert_eq!(classify(&timeout), ErrorKind::Timeout);
        let write_timeout = ExecutionError::LastAttemptError(RequestAttemptError::DbError(
            DbError::WriteTimeout {
                consistency: scylla::statement::Consistency::One,
                received: 0,
                required: 1,
                write_type: WriteType::Simple,
            },
            "timed out".into(),
        ));
        assert!(may_have_applied(&write_timeout));
        let broken = ExecutionError::LastAttemptError(RequestAttemptError::BrokenConnectionError(
            BrokenConnectionErrorKind::ChannelError.into(),
        ));
        assert!(may_have_applied(&broken));
        assert_eq!(classify(&broken), ErrorKind::Connection);
    }
}
