//! Metrics: what workers measure, how intervals are put together, and the snapshots readers see.
//!
//! Workers record each write into their own HDR histograms (no lock, no allocation, no message per
//! write) and hand them over once per interval on a bounded channel with `try_send`; when the
//! channel is full a worker keeps its numbers and adds them to the next hand-over, so nothing is
//! lost and the engine never waits. The aggregator thread merges the hand-overs at each interval
//! edge, samples `/proc`, and publishes a [`Snapshot`]: the latest on a `watch` (the UI), and every
//! one on a `broadcast` (headless printers, recorders).

pub mod aggregate;
mod bucket;
pub mod encoded;
pub mod evidence;
pub mod feed;
pub mod little;
mod measure;
pub mod nodes;
pub mod proc;
mod reads;
mod stats;
pub mod verdict;

pub use aggregate::{Aggregator, MetricsMessage};
pub use measure::*;
pub use proc::CpuSample;
pub use reads::*;
pub use stats::*;
