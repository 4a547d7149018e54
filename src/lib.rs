//! casstop: drive writes at Cassandra, steer the load live, and see why the client is not faster.
//!
//! `main.rs` only calls [`main_with_args`]; tests drive the same entry point in-process.
//!
//! The modules, bottom layer first; each imports only from those above it in this list:
//! ```text
//! knobs, units, error,      the knob registry; numbers as people read them; usage errors;
//! files, stdout             private directories; stdout that a closed pipe does not break
//! config                    layered settings, errors that name the culprit
//! tls, cluster, local, hop  TLS files, the driver session and schema, the local node, the hop
//! metrics, profiler, record interval aggregation and the verdict, pprof captures, run directories
//! engine                    strategies and workers, fed by the knobs, feeding the metrics
//! control                   the control API: status, knob changes, Prometheus metrics
//! report                    recordings to plots and report.md
//! target, run               where the load goes; running the engine to an end (signals, summary)
//! ui, commands, cli         the interactive session; the commands; the command line
//! ```

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod control;
pub mod engine;
mod error;
mod files;
pub mod hop;
pub mod knobs;
pub mod local;
pub mod metrics;
mod profiler;
pub mod record;
pub mod report;
pub mod run;
mod stdout;
mod target;
pub mod tls;
pub mod ui;
pub mod units;
pub mod workload;

pub use commands::{load_settings, main_with_args, run};
pub use error::UsageError;
