//! The knobs whose value is one of a few names. strum gives each its names once: parsing,
//! printing and the lists shown in help and errors all come from the variants.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString, IntoStaticStr, VariantNames};

/// How a worker schedules its writes; after the DataStax python-driver benchmark suite.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum Strategy {
    /// One write at a time: the next starts when the previous has finished.
    Sync,
    /// Issue `batch` writes at once, wait for all of them, repeat.
    Batches,
    /// A FIFO of `depth` writes in flight; when full, wait for the oldest.
    Pipeline,
    /// Issue writes without waiting for any, up to the safety cap in flight.
    Throttle,
    /// `depth` independent chains: each completion issues the next write of its chain.
    Callbacks,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [
        Strategy::Sync,
        Strategy::Batches,
        Strategy::Pipeline,
        Strategy::Throttle,
        Strategy::Callbacks,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// One line on what the strategy does, for help screens.
    pub fn describe(self) -> &'static str {
        match self {
            Strategy::Sync => "one write at a time; the next starts when the previous has finished",
            Strategy::Batches => "fire `batch` writes, wait for all of them, repeat",
            Strategy::Pipeline => "FIFO of `depth` in flight; when full, wait for the oldest",
            Strategy::Throttle => "fire everything without waiting, up to `throttle_cap` in flight",
            Strategy::Callbacks => "`depth` independent chains; each completion issues the next",
        }
    }

    /// The strategy after this one, for cycling with Tab.
    pub fn next(self) -> Strategy {
        let index = Strategy::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Strategy::ALL[(index + 1) % Strategy::ALL.len()]
    }
}

/// The async runtime the engine runs on (the python benchmarks' reactor choice).
/// Fixed for the life of a run: tokio cannot swap runtimes under running tasks.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
    VariantNames,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case", ascii_case_insensitive)]
pub enum Runtime {
    /// One OS thread for every worker and the driver: the seed's single Python process.
    CurrentThread,
    /// A tokio work-stealing pool of `threads` OS threads.
    MultiThread,
}

/// CQL consistency level of the writes.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
    VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", ascii_case_insensitive)]
pub enum Consistency {
    Any,
    One,
    Two,
    Three,
    Quorum,
    All,
    LocalQuorum,
    EachQuorum,
    LocalOne,
}

impl Consistency {
    pub fn to_driver(self) -> scylla::statement::Consistency {
        use scylla::statement::Consistency as C;
        match self {
            Consistency::Any => C::Any,
            Consistency::One => C::One,
            Consistency::Two => C::Two,
            Consistency::Three => C::Three,
            Consistency::Quorum => C::Quorum,
            Consistency::All => C::All,
            Consistency::LocalQuorum => C::LocalQuorum,
            Consistency::EachQuorum => C::EachQuorum,
            Consistency::LocalOne => C::LocalOne,
        }
    }
}

/// What the driver does when a write fails. Writes are not marked idempotent, so even the
/// driver's default policy retries only after errors that prove the write was not applied
/// (unavailable, bootstrapping, no stream id): the final error still tells whether a failed write
/// may be in the table.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum Retry {
    /// The driver's DefaultRetryPolicy (the Java driver's): retry on another node when the
    /// coordinator said it could not apply the write.
    #[default]
    Default,
    /// Never retry: every failed attempt is reported as it happened.
    Never,
    /// The default policy with the writes marked idempotent (an INSERT of a fixed row writes the
    /// same row however often it runs): a broken connection or an overloaded node is retried on
    /// the next node, so a node lost mid-run costs no write.
    Idempotent,
}

impl Retry {
    /// Whether the writes are sent as idempotent, which lets the driver retry them.
    pub fn marks_idempotent(self) -> bool {
        self == Retry::Idempotent
    }

    pub fn to_driver(self) -> std::sync::Arc<dyn scylla::policies::retry::RetryPolicy> {
        use scylla::policies::retry::{DefaultRetryPolicy, FallthroughRetryPolicy};
        match self {
            Retry::Default | Retry::Idempotent => std::sync::Arc::new(DefaultRetryPolicy::new()),
            Retry::Never => std::sync::Arc::new(FallthroughRetryPolicy::new()),
        }
    }
}

/// How a write reaches the node: as a prepared statement with bound values, as an unprepared
/// statement with bound values, or with its values inlined into the CQL text.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum Statement {
    /// Prepared once; each write sends the statement's id and its values (EXECUTE).
    #[default]
    Prepared,
    /// An unprepared statement with bound values. The Rust driver must know the markers' types
    /// to serialise values, so it prepares the text on the connection before each write: a
    /// PREPARE (answered from the node's cache) and an EXECUTE, two round trips per write.
    Unprepared,
    /// Values inlined into the CQL text, sent as a QUERY: the node parses every write, as with
    /// the python benchmarks' literal strings.
    Literal,
}

/// What a batch of rows (`rows_per_request` > 1) is sent as.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum BatchType {
    /// No batch log: the coordinator applies each row's mutation as it comes.
    #[default]
    Unlogged,
    /// Through the batch log: all rows or none, at the cost of writing the log first.
    Logged,
}

impl BatchType {
    pub fn to_driver(self) -> scylla::statement::batch::BatchType {
        match self {
            BatchType::Unlogged => scylla::statement::batch::BatchType::Unlogged,
            BatchType::Logged => scylla::statement::batch::BatchType::Logged,
        }
    }
}

/// Where a batch's rows fall, for a table with several rows per partition.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum BatchSpread {
    /// Each row in another partition: the coordinator sends mutations to many replicas.
    #[default]
    Scatter,
    /// The rows of one partition together: one mutation for the partition's replicas.
    Partition,
}

/// Which node coordinates each request. Fixed per run: it is the driver session's policy.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
    VariantNames,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case", ascii_case_insensitive)]
pub enum Routing {
    /// A replica of the row coordinates (the driver computes the token): no extra hop.
    #[default]
    TokenAware,
    /// Every node in turn, whatever the row: with fewer replicas than nodes, most requests
    /// take a hop from the coordinator to a replica.
    RoundRobin,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively_and_strategies_cycle() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
        }
        assert_eq!("LOCAL_QUORUM".parse(), Ok(Consistency::LocalQuorum));
        assert_eq!("multi-thread".parse(), Ok(Runtime::MultiThread));
        assert_eq!(Strategy::Callbacks.next(), Strategy::Sync);
        assert_eq!(Consistency::VARIANTS.len(), 9);
    }
}
