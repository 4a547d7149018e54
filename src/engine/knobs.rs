//! The knobs a user turns: their names, their values and their limits.
//!
//! One name per knob everywhere: config key, flag, `:` command, JSON field and screen label all use
//! the names defined here (`depth`, `batch`, `cpu_work_us`, ...).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a worker schedules its writes; after the DataStax python-driver benchmark suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
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
        match self {
            Strategy::Sync => "sync",
            Strategy::Batches => "batches",
            Strategy::Pipeline => "pipeline",
            Strategy::Throttle => "throttle",
            Strategy::Callbacks => "callbacks",
        }
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

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown strategy `{text}` (expected one of: sync, batches, pipeline, throttle, callbacks)"
                )
            })
    }
}

/// The async runtime the engine runs on (the python benchmarks' reactor choice).
/// Fixed for the life of a session: tokio cannot swap runtimes under running tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// One OS thread for every worker and the driver: the seed's single Python process.
    CurrentThread,
    /// A tokio work-stealing pool of `threads` OS threads.
    MultiThread,
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runtime::CurrentThread => "current-thread",
            Runtime::MultiThread => "multi-thread",
        })
    }
}

/// CQL consistency level of the writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
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
    pub const ALL: [Consistency; 9] = [
        Consistency::Any,
        Consistency::One,
        Consistency::Two,
        Consistency::Three,
        Consistency::Quorum,
        Consistency::All,
        Consistency::LocalQuorum,
        Consistency::EachQuorum,
        Consistency::LocalOne,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Consistency::Any => "any",
            Consistency::One => "one",
            Consistency::Two => "two",
            Consistency::Three => "three",
            Consistency::Quorum => "quorum",
            Consistency::All => "all",
            Consistency::LocalQuorum => "local_quorum",
            Consistency::EachQuorum => "each_quorum",
            Consistency::LocalOne => "local_one",
        }
    }

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

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Consistency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Consistency::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown consistency `{text}` (expected one of: any, one, two, three, quorum, all, local_quorum, each_quorum, local_one)"
                )
            })
    }
}

/// What the driver does when a write fails. Writes are not marked idempotent, so even the
/// driver's default policy retries only after errors that prove the write was not applied
/// (unavailable, bootstrapping, no stream id): the final error still tells whether a failed write
/// may be in the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Retry {
    /// The driver's DefaultRetryPolicy (the Java driver's): retry on another node when the
    /// coordinator said it could not apply the write.
    #[default]
    Default,
    /// Never retry: every failed attempt is reported as it happened.
    Never,
}

impl Retry {
    pub const ALL: [Retry; 2] = [Retry::Default, Retry::Never];

    pub fn name(self) -> &'static str {
        match self {
            Retry::Default => "default",
            Retry::Never => "never",
        }
    }

    pub fn to_driver(self) -> std::sync::Arc<dyn scylla::policies::retry::RetryPolicy> {
        use scylla::policies::retry::{DefaultRetryPolicy, FallthroughRetryPolicy};
        match self {
            Retry::Default => std::sync::Arc::new(DefaultRetryPolicy::new()),
            Retry::Never => std::sync::Arc::new(FallthroughRetryPolicy::new()),
        }
    }
}

impl fmt::Display for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Retry {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Retry::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| format!("unknown retry policy `{text}` (expected default or never)"))
    }
}

/// Limits shared by config validation, the engine and the `:` command line.
pub mod limits {
    pub const MAX_DEPTH: u32 = 1_000_000;
    pub const MAX_BATCH: u32 = 1_000_000;
    pub const MAX_WORKERS: u32 = 256;
    pub const MAX_THREADS: u32 = 256;
    pub const MAX_PAYLOAD_BYTES: u32 = 64 << 20;
    pub const MAX_CPU_WORK_US: u32 = 1_000_000;
    /// Cassandra rejects batches of more than 65,535 statements.
    pub const MAX_ROWS_PER_REQUEST: u32 = 65_535;
    pub const MAX_THROTTLE_CAP: u32 = 10_000_000;
    pub const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(1);
    pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
    use std::time::Duration;
}

fn default_request_timeout() -> std::time::Duration {
    crate::config::ClusterSettings::default().request_timeout
}

/// The knobs the engine reads live, at the top of every scheduling step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Knobs {
    pub strategy: Strategy,
    /// Writes in flight for `pipeline` and chains for `callbacks`.
    pub depth: u32,
    /// Writes per round for `batches`.
    pub batch: u32,
    pub workers: u32,
    /// Target writes (requests) per second over all workers; 0 = as fast as the strategy allows.
    pub rate: f64,
    pub payload_bytes: u32,
    /// Microseconds of client CPU burnt per write, by the load thread's own CPU clock.
    pub cpu_work_us: u32,
    /// 1 = one INSERT per request; more = one UNLOGGED BATCH of that many rows.
    pub rows_per_request: u32,
    pub consistency: Consistency,
    /// Client-side deadline of one request; a write that misses it is a timeout error.
    /// (Defaults let recordings made before these knobs existed be read.)
    #[serde(with = "crate::config::duration", default = "default_request_timeout")]
    pub request_timeout: std::time::Duration,
    #[serde(default)]
    pub retry: Retry,
    /// Safety cap on writes in flight per worker, for `throttle`.
    pub throttle_cap: u32,
    pub paused: bool,
}

impl Knobs {
    /// The most writes a worker may have in flight under these knobs.
    pub fn in_flight_limit(&self) -> u32 {
        match self.strategy {
            Strategy::Sync => 1,
            Strategy::Batches => self.batch,
            Strategy::Pipeline | Strategy::Callbacks => self.depth,
            Strategy::Throttle => self.throttle_cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_names_round_trip_and_cycle() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
        }
        assert_eq!(Strategy::Callbacks.next(), Strategy::Sync);
        assert!("fast".parse::<Strategy>().unwrap_err().contains("`fast`"));
    }

    #[test]
    fn consistency_names_round_trip() {
        for level in Consistency::ALL {
            assert_eq!(level.name().parse::<Consistency>(), Ok(level));
        }
        assert_eq!("LOCAL_QUORUM".parse(), Ok(Consistency::LocalQuorum));
    }
}

/// One change to one knob, as the UI, the `:` command line or a test asks for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "knob", content = "value", rename_all = "snake_case")]
pub enum KnobChange {
    Strategy(Strategy),
    Depth(u32),
    Batch(u32),
    Workers(u32),
    Rate(f64),
    PayloadBytes(u32),
    CpuWorkUs(u32),
    RowsPerRequest(u32),
    Consistency(Consistency),
    #[serde(with = "crate::config::duration")]
    RequestTimeout(std::time::Duration),
    Retry(Retry),
    ThrottleCap(u32),
    Paused(bool),
}

impl fmt::Display for KnobChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KnobChange::Strategy(s) => write!(f, "strategy {s}"),
            KnobChange::Depth(v) => write!(f, "depth {v}"),
            KnobChange::Batch(v) => write!(f, "batch {v}"),
            KnobChange::Workers(v) => write!(f, "workers {v}"),
            KnobChange::Rate(v) if *v == 0.0 => write!(f, "rate open"),
            KnobChange::Rate(v) => write!(f, "rate {v}/s"),
            KnobChange::PayloadBytes(v) => write!(f, "payload_bytes {v}"),
            KnobChange::CpuWorkUs(v) => write!(f, "cpu_work_us {v}"),
            KnobChange::RowsPerRequest(v) => write!(f, "rows_per_request {v}"),
            KnobChange::Consistency(c) => write!(f, "consistency {c}"),
            KnobChange::RequestTimeout(d) => {
                write!(f, "request_timeout {}", humantime::format_duration(*d))
            }
            KnobChange::Retry(r) => write!(f, "retry {r}"),
            KnobChange::ThrottleCap(v) => write!(f, "throttle_cap {v}"),
            KnobChange::Paused(true) => f.write_str("paused"),
            KnobChange::Paused(false) => f.write_str("resumed"),
        }
    }
}

impl Knobs {
    /// The knobs after `change`, or a message naming the knob and what it accepts.
    pub fn apply(&self, change: &KnobChange) -> Result<Knobs, String> {
        fn within(name: &str, value: u32, min: u32, max: u32) -> Result<u32, String> {
            if (min..=max).contains(&value) {
                Ok(value)
            } else {
                Err(format!(
                    "{name} must be between {min} and {max}, got {value}"
                ))
            }
        }
        let mut next = self.clone();
        match *change {
            KnobChange::Strategy(s) => next.strategy = s,
            KnobChange::Depth(v) => {
                next.depth = within("depth", v, 1, limits::MAX_DEPTH.min(self.throttle_cap))?
            }
            KnobChange::Batch(v) => {
                next.batch = within("batch", v, 1, limits::MAX_BATCH.min(self.throttle_cap))?
            }
            KnobChange::Workers(v) => next.workers = within("workers", v, 1, limits::MAX_WORKERS)?,
            KnobChange::Rate(v) => {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(format!(
                        "rate must be 0 (open) or a positive number of writes/s, got {v}"
                    ));
                }
                next.rate = v;
            }
            KnobChange::PayloadBytes(v) => {
                next.payload_bytes = within("payload_bytes", v, 0, limits::MAX_PAYLOAD_BYTES)?
            }
            KnobChange::CpuWorkUs(v) => {
                next.cpu_work_us = within("cpu_work_us", v, 0, limits::MAX_CPU_WORK_US)?
            }
            KnobChange::RowsPerRequest(v) => {
                next.rows_per_request =
                    within("rows_per_request", v, 1, limits::MAX_ROWS_PER_REQUEST)?
            }
            KnobChange::Consistency(c) => next.consistency = c,
            KnobChange::RequestTimeout(d) => {
                let (min, max) = (limits::MIN_REQUEST_TIMEOUT, limits::MAX_REQUEST_TIMEOUT);
                if !(min..=max).contains(&d) {
                    return Err(format!(
                        "request_timeout must be between {} and {}, got {}",
                        humantime::format_duration(min),
                        humantime::format_duration(max),
                        humantime::format_duration(d)
                    ));
                }
                next.request_timeout = d;
            }
            KnobChange::Retry(r) => next.retry = r,
            KnobChange::ThrottleCap(v) => {
                let min = self.depth.max(self.batch);
                next.throttle_cap = within("throttle_cap", v, min, limits::MAX_THROTTLE_CAP)?
            }
            KnobChange::Paused(p) => next.paused = p,
        }
        Ok(next)
    }
}

#[cfg(test)]
mod change_tests {
    use super::*;

    fn knobs() -> Knobs {
        crate::config::LoadSettings::default()
            .initial_knobs(&crate::config::ClusterSettings::default())
    }

    #[test]
    fn changes_apply_and_out_of_range_is_refused_with_the_knob_name() {
        let k = knobs().apply(&KnobChange::Depth(384)).unwrap();
        assert_eq!(k.depth, 384);
        assert_eq!(k.in_flight_limit(), 384, "callbacks: depth chains");
        let k = k.apply(&KnobChange::Strategy(Strategy::Batches)).unwrap();
        assert_eq!(k.in_flight_limit(), 120);
        assert_eq!(
            knobs().apply(&KnobChange::Depth(0)),
            Err("depth must be between 1 and 100000, got 0".to_string())
        );
        assert!(
            knobs()
                .apply(&KnobChange::Rate(-1.0))
                .unwrap_err()
                .contains("rate")
        );
        assert!(knobs().apply(&KnobChange::Rate(f64::NAN)).is_err());
        assert!(
            knobs()
                .apply(&KnobChange::Workers(1000))
                .unwrap_err()
                .contains("workers")
        );
        assert!(
            knobs()
                .apply(&KnobChange::ThrottleCap(10))
                .unwrap_err()
                .contains("between 128")
        );
    }
}
