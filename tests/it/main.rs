//! The integration tests, one binary: a release test binary takes about two minutes to build
//! here, so fifteen of them cost CI most of its time. One binary also lets [`common::measuring`]
//! keep every other test's load off the machine while a speed-dependent test runs.
//!
//! Each module is one area; `cargo test --release --test it faults::` runs one of them.

mod common;

mod bad_input;
mod bad_input_generated;
mod cli;
mod cluster;
mod control;
mod engine;
mod fault_matrix;
mod faults;
mod hop;
mod knobs;
mod layers;
mod loaders;
mod local_node;
mod pacing;
mod profiler;
mod record;
mod report;
mod security;
mod shutdown;
mod tui_tmux;
mod workload;
