//! The local nodes' lifecycle: Apache Cassandra 5.0 that casstop installs from Maven Central and
//! runs on the machine's JDK, for users without a cluster at hand and for our tests — one node
//! by default, or a cluster of `local.nodes` on 127.0.0.1 … 127.0.0.N.
//!
//! Layout: jars in `<cache_dir>/cassandra-<version>/lib` (shared, reused); everything of a running
//! node (rendered config, data, logs, pid file) in `<data_dir>` (a cluster's node I in
//! `<data_dir>/cluster-N/node<I>`), created owner-only.

mod cluster;
mod install;
mod node;
mod ports;
pub(crate) mod process;
mod progress;
mod ring;

pub use cluster::{LocalCluster, NodeAction};
pub use install::{check_java, check_maven};
pub use node::{LocalNode, NodeOptions, Status, UpReport, create_private_dir};
pub use progress::{Progress, StderrProgress};
