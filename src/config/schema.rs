//! The settings' shape: one struct per config section. Every key is in the shipped
//! `config.toml`, which is the base layer of every load, so nothing here has a default of its own.
//! The knobs (`[load]` and a few `[cluster]` keys) are the registry's ([`crate::knobs`]) and live
//! in [`Settings::knobs`].

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::secret::Secret;
use crate::knobs::{Knobs, duration_serde as duration};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub cluster: ClusterSettings,
    pub auth: AuthSettings,
    pub tls: TlsSettings,
    /// The registry's knobs, from `[load]` and their `[cluster]` keys; see [`super::load`].
    #[serde(skip)]
    pub knobs: Knobs,
    pub ui: UiSettings,
    pub profiler: ProfilerSettings,
    pub output: OutputSettings,
    pub control: ControlSettings,
    pub sweep: SweepSettings,
    pub local: LocalSettings,
    pub workload: WorkloadSettings,
    /// The profile `workload` names (or the built-in table), read at load: its keyspace and
    /// table are `cluster.keyspace` and `cluster.table`.
    #[serde(skip)]
    pub profile: std::sync::Arc<crate::workload::Profile>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSettings {
    /// A profile file; empty = a built-in table.
    pub file: PathBuf,
    /// The python benchmarks' table with this many columns (0 = casstop's own table).
    pub columns: u32,
    pub column_type: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// Contact points: host names or IP addresses, optionally with `:port`.
    #[serde(deserialize_with = "hosts::deserialize")]
    pub hosts: Vec<String>,
    pub port: u16,
    /// Data center the driver prefers; empty = no preference.
    pub local_datacenter: String,
    pub keyspace: String,
    pub table: String,
    pub replication_factor: u32,
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Set at run time (never from config) when the contact point is the local latency hop:
    /// every node address the driver discovers is then translated to the hop, so no connection
    /// bypasses it.
    #[serde(skip)]
    pub through_hop: Option<std::net::SocketAddr>,
    /// Set at run time: nodes whose connections go through a latency hop of their own, as
    /// (node's address, hop's address): one slow node among fast ones.
    #[serde(skip)]
    pub node_hops: Vec<(std::net::SocketAddr, std::net::SocketAddr)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Empty = no authentication.
    pub username: String,
    pub password: Secret,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub enabled: bool,
    /// PEM file of the CA that signed the node's certificate.
    pub ca_file: String,
    /// PEM client certificate and key, for nodes that require client authentication.
    pub cert_file: String,
    pub key_file: String,
    /// The node's certificate must name the address connected to; false checks the chain only.
    pub verify_hostname: bool,
}

impl TlsSettings {
    /// The keys naming files, with their values, in the order they are checked.
    pub fn files(&self) -> [(&'static str, &str); 3] {
        [
            ("tls.ca_file", &self.ca_file),
            ("tls.cert_file", &self.cert_file),
            ("tls.key_file", &self.key_file),
        ]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiSettings {
    /// Frames per second of the interactive session.
    pub fps: u32,
    /// Seconds of history the charts show.
    pub window_secs: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilerSettings {
    pub frequency_hz: u32,
    #[serde(with = "duration")]
    pub duration: Duration,
    /// Frame-name patterns that sort samples into categories; the first category whose pattern
    /// matches the frame nearest the leaf wins.
    pub categories: Vec<Category>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSettings {
    /// Where runs are recorded.
    pub dir: PathBuf,
    /// Appended to each run directory's name (`<dir>/<UTC time>-<label>`); empty = the command.
    pub label: String,
    /// Record every session, bench and sweep run into a run directory.
    pub record: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSettings {
    /// Address of the control API; empty = off.
    pub listen: String,
    /// PEM certificate chain the API serves HTTPS with; empty (with `key_file`) = plain HTTP.
    pub cert_file: String,
    /// PEM private key of `cert_file`.
    pub key_file: String,
    /// `attach`: the PEM CA the loaders' certificates chain to; set = HTTPS to the loaders.
    pub ca_file: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSettings {
    /// How long each step is measured, after its warm-up (whole intervals).
    #[serde(with = "duration")]
    pub step: Duration,
    /// How long after each change is not counted.
    #[serde(with = "duration")]
    pub warmup: Duration,
    /// The knee: the smallest setting past which throughput rises by less than this fraction.
    pub knee_gain: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSettings {
    /// Apache Cassandra version fetched from Maven Central.
    pub version: String,
    /// JVM heap of each node, as `-Xmx` takes it (`1G`, `512M`).
    pub heap: String,
    /// Nodes of the local cluster, on 127.0.0.1 … 127.0.0.N.
    pub nodes: u8,
    /// Node data, logs and pid file; empty = the per-user data directory.
    pub data_dir: PathBuf,
    /// Downloaded jars; empty = the per-user cache directory.
    pub cache_dir: PathBuf,
    pub cql_port: u16,
    pub storage_port: u16,
    /// Start the local node when nothing answers at the configured hosts.
    pub auto_start: bool,
    #[serde(with = "duration")]
    pub boot_timeout: Duration,
    /// When the node acknowledges a write relative to syncing its commit log.
    pub commitlog_sync: CommitlogSync,
    /// Port of the latency hop in front of the local node.
    pub hop_port: u16,
    /// Round trip the hop adds; "0s" = no hop unless `--rtt` asks for one or one already runs.
    #[serde(with = "duration")]
    pub rtt: Duration,
    /// Spread of each direction's delay: uniform ±jitter, or normal with σ = jitter.
    #[serde(with = "duration")]
    pub jitter: Duration,
    pub jitter_distribution: JitterDistribution,
    pub jitter_seed: u64,
    /// The node requires a login (PasswordAuthenticator; superuser cassandra/cassandra).
    pub auth: bool,
    /// The node accepts only TLS clients, with a certificate casstop generates for it.
    pub tls: bool,
}

/// Cassandra's `commitlog_sync`. With `periodic` a write is acknowledged before its commit-log
/// section is marked synced, so a `kill -9` loses up to the period's acknowledged writes (replay
/// stops at the last sync marker); `group` and `batch` sync before acknowledging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitlogSync {
    /// Sync every 10 s (Cassandra's default): fastest; a crash may lose acknowledged writes.
    Periodic,
    /// Sync within a 10 ms window before acknowledging: no acknowledged write is lost.
    Group,
    /// Sync before acknowledging each batch of writes: no acknowledged write is lost.
    Batch,
}

impl CommitlogSync {
    /// How far back a crash may reach into acknowledged writes: the sync period under
    /// `periodic`, nothing under `group` and `batch`.
    pub fn unsynced_window(self) -> Option<Duration> {
        match self {
            CommitlogSync::Periodic => Some(Duration::from_secs(10)),
            CommitlogSync::Group | CommitlogSync::Batch => None,
        }
    }

    /// The cassandra.yaml lines.
    pub fn yaml(self) -> &'static str {
        match self {
            CommitlogSync::Periodic => "commitlog_sync: periodic\ncommitlog_sync_period: 10000ms",
            CommitlogSync::Group => "commitlog_sync: group\ncommitlog_sync_group_window: 10ms",
            CommitlogSync::Batch => "commitlog_sync: batch",
        }
    }
}

impl LocalSettings {
    pub fn data_dir(&self) -> PathBuf {
        if self.data_dir.as_os_str().is_empty() {
            dirs::data_local_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("casstop")
                .join("node")
        } else {
            self.data_dir.clone()
        }
    }

    pub fn cache_dir(&self) -> PathBuf {
        if self.cache_dir.as_os_str().is_empty() {
            dirs::cache_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("casstop")
        } else {
            self.cache_dir.clone()
        }
    }
}

/// Hosts as a TOML list, or as one comma-separated string (handy in the environment).
pub(super) mod hosts {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Hosts {
        List(Vec<String>),
        One(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        Ok(match Hosts::deserialize(deserializer)? {
            Hosts::List(list) => list,
            Hosts::One(text) => text
                .split(',')
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .collect(),
        })
    }
}

/// A profile category: a name and substrings of frame names (or source paths) that belong to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub name: String,
    pub patterns: Vec<String>,
}

/// How the latency hop draws jitter, as `tc netem` does: uniform over ±amount, or normal with
/// σ = amount.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::Display,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum JitterDistribution {
    #[default]
    Uniform,
    Normal,
}
