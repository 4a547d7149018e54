//! Layered settings: built-in defaults < `config.toml` (or `--config PATH`) < `CASSTOP_*`
//! environment < command-line flags.
//!
//! Every layer is turned into TOML values and merged into one table before a single typed
//! deserialisation, so a wrong key, a wrong type or an out-of-range value is reported the same way
//! whichever layer it came from, naming the culprit: `config.toml:12`, `CASSTOP_LOAD_DEPTH` or `--depth`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::knobs::{Consistency, Knobs, Retry, Runtime, Strategy, limits};

/// The documented default configuration, shipped at the repo root. A test keeps it equal to
/// [`Settings::default`].
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../config.toml");

/// Environment variables with the `CASSTOP_` prefix that are not settings.
const NON_SETTING_VARS: &[&str] = &["CASSTOP_CONFIG", "CASSTOP_LOG"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub cluster: ClusterSettings,
    pub auth: AuthSettings,
    pub tls: TlsSettings,
    pub load: LoadSettings,
    pub ui: UiSettings,
    pub profiler: ProfilerSettings,
    pub output: OutputSettings,
    pub sweep: SweepSettings,
    pub local: LocalSettings,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
    pub consistency: Consistency,
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Client-side deadline of one request (a live knob, like `consistency` and `retry`).
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// `default` (the driver's DefaultRetryPolicy) or `never`.
    pub retry: Retry,
    /// Set at run time (never from config) when the contact point is the local latency hop:
    /// every node address the driver discovers is then translated to the hop, so no connection
    /// bypasses it.
    #[serde(skip)]
    pub through_hop: Option<std::net::SocketAddr>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Empty = no authentication.
    pub username: String,
    pub password: Secret,
}

/// A password: readable only through [`Secret::expose`]. Debug, Display and Serialize show
/// `***` (or nothing when it is empty), so settings can be logged, printed and recorded safely.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The password itself, for the driver's login and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn redacted(&self) -> &'static str {
        if self.0.is_empty() { "" } else { "***" }
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// Comparing with a plain string (in tests: "was the password dropped?") reveals nothing.
impl PartialEq<&str> for Secret {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.redacted())
    }
}

// Only a string is a password; anything else is refused without echoing it, as serde's own
// "invalid type: integer `123456`" would.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a password in quotes")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Secret, E> {
                Ok(Secret(value.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(E::custom(NOT_TEXT))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(E::custom(NOT_TEXT))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(E::custom(NOT_TEXT))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom(NOT_TEXT))
            }
        }
        const NOT_TEXT: &str = "must be a string in quotes (value not shown)";
        deserializer.deserialize_str(Text)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.redacted())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            enabled: false,
            ca_file: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            verify_hostname: true,
        }
    }
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
#[serde(deny_unknown_fields, default)]
pub struct LoadSettings {
    pub strategy: Strategy,
    pub depth: u32,
    pub batch: u32,
    pub workers: u32,
    pub runtime: Runtime,
    /// OS threads of the multi-thread runtime.
    pub threads: u32,
    /// Target requests per second over all workers; 0 = open.
    pub rate: f64,
    pub payload_bytes: u32,
    pub cpu_work_us: u32,
    pub rows_per_request: u32,
    /// Safety cap on writes in flight per worker for `throttle`.
    pub throttle_cap: u32,
    /// How long `bench` runs; 0s = until `ops` are done (or forever in the interactive session).
    #[serde(with = "duration")]
    pub duration: Duration,
    /// Requests `bench` issues in total; 0 = no limit.
    pub ops: u64,
    /// Length of a metrics interval.
    #[serde(with = "duration")]
    pub interval: Duration,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSettings {
    /// Frames per second of the interactive session.
    pub fps: u32,
    /// Seconds of history the charts show.
    pub window_secs: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfilerSettings {
    pub frequency_hz: u32,
    #[serde(with = "duration")]
    pub duration: Duration,
    /// Frame-name patterns that sort samples into categories; the first category whose pattern
    /// matches the frame nearest the leaf wins.
    pub categories: Vec<crate::profiler::Category>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSettings {
    /// Where runs are recorded.
    pub dir: PathBuf,
    /// Appended to each run directory's name (`<dir>/<UTC time>-<label>`); empty = the command.
    pub label: String,
    /// Record every session, bench and sweep run into a run directory.
    pub record: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepSettings {
    /// Seconds each step is measured for, after its warm-up.
    pub step_secs: f64,
    /// Seconds after each change that are not counted.
    pub warmup_secs: f64,
    /// The knee: the smallest setting past which throughput rises by less than this fraction.
    pub knee_gain: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalSettings {
    /// Apache Cassandra version fetched from Maven Central.
    pub version: String,
    /// JVM heap, as `-Xmx` takes it (`1G`, `512M`).
    pub heap: String,
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
    pub jitter_distribution: crate::hop::JitterDistribution,
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
    /// The cassandra.yaml lines.
    pub fn yaml(self) -> &'static str {
        match self {
            CommitlogSync::Periodic => "commitlog_sync: periodic\ncommitlog_sync_period: 10000ms",
            CommitlogSync::Group => "commitlog_sync: group\ncommitlog_sync_group_window: 10ms",
            CommitlogSync::Batch => "commitlog_sync: batch",
        }
    }
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            hosts: vec!["127.0.0.1".into()],
            port: 9042,
            local_datacenter: "datacenter1".into(),
            keyspace: "casstop".into(),
            table: "writes".into(),
            replication_factor: 1,
            consistency: Consistency::LocalQuorum,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(12),
            retry: Retry::Default,
            through_hop: None,
        }
    }
}

impl Default for LoadSettings {
    fn default() -> Self {
        LoadSettings {
            strategy: Strategy::Callbacks,
            depth: 128,
            batch: 120,
            workers: 1,
            runtime: Runtime::CurrentThread,
            threads: 2,
            rate: 0.0,
            payload_bytes: 100,
            cpu_work_us: 0,
            rows_per_request: 1,
            throttle_cap: 100_000,
            duration: Duration::ZERO,
            ops: 0,
            interval: Duration::from_secs(1),
        }
    }
}

impl Default for UiSettings {
    fn default() -> Self {
        UiSettings {
            fps: 10,
            window_secs: 120,
        }
    }
}

impl Default for ProfilerSettings {
    fn default() -> Self {
        ProfilerSettings {
            frequency_hz: 99,
            duration: Duration::from_secs(5),
            categories: crate::profiler::categories::defaults(),
        }
    }
}

impl Default for OutputSettings {
    fn default() -> Self {
        OutputSettings {
            dir: "runs".into(),
            label: String::new(),
            record: true,
        }
    }
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            step_secs: 5.0,
            warmup_secs: 2.0,
            knee_gain: 0.1,
        }
    }
}

impl Default for LocalSettings {
    fn default() -> Self {
        LocalSettings {
            version: "5.0.9".into(),
            heap: "1G".into(),
            data_dir: PathBuf::new(),
            cache_dir: PathBuf::new(),
            cql_port: 9042,
            storage_port: 7000,
            auto_start: true,
            boot_timeout: Duration::from_secs(180),
            commitlog_sync: CommitlogSync::Periodic,
            hop_port: 9043,
            rtt: Duration::ZERO,
            jitter: Duration::ZERO,
            jitter_distribution: crate::hop::JitterDistribution::Uniform,
            jitter_seed: 1,
            auth: false,
            tls: false,
        }
    }
}

impl LoadSettings {
    /// The live knobs the engine starts with.
    pub fn initial_knobs(&self, cluster: &ClusterSettings) -> Knobs {
        Knobs {
            strategy: self.strategy,
            depth: self.depth,
            batch: self.batch,
            workers: self.workers,
            rate: self.rate,
            payload_bytes: self.payload_bytes,
            cpu_work_us: self.cpu_work_us,
            rows_per_request: self.rows_per_request,
            consistency: cluster.consistency,
            request_timeout: cluster.request_timeout,
            retry: cluster.retry,
            throttle_cap: self.throttle_cap,
            paused: false,
        }
    }
}

impl LoadSettings {
    /// OS threads the load runs on: one for the current-thread runtime, else `threads`.
    pub fn os_threads(&self) -> u32 {
        match self.runtime {
            Runtime::CurrentThread => 1,
            Runtime::MultiThread => self.threads,
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

/// Where a setting's value came from, so an error can point at it.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    Default,
    File { path: PathBuf, line: usize },
    Env(String),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("built-in default"),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(var) => f.write_str(var),
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// A setting that could not be taken, with where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: {message}")]
    Invalid { origin: Origin, message: String },
    #[error("cannot read config file {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// A value given on the command line, by its config key (`load.depth`) and flag (`--depth`).
#[derive(Clone, Debug)]
pub struct FlagOverride {
    pub key: &'static str,
    pub flag: &'static str,
    pub value: toml::Value,
}

impl FlagOverride {
    pub fn new(key: &'static str, flag: &'static str, value: impl Serialize) -> Self {
        let value = toml::Value::try_from(value)
            .unwrap_or_else(|_| unreachable!("flag values are plain scalars or lists"));
        FlagOverride { key, flag, value }
    }
}

/// Settings with the origin of each value that did not come from the defaults.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub file: Option<PathBuf>,
    origins: BTreeMap<String, Origin>,
}

impl Loaded {
    pub fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin::Default)
    }

    /// An error about a setting, naming where its value came from.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin(key),
            message: message.into(),
        }
    }
}

/// Which config file to read: `--config PATH`, else `$CASSTOP_CONFIG`, else `./config.toml` when
/// present, else none (built-in defaults only).
pub fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("CASSTOP_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let local = PathBuf::from("config.toml");
    local.exists().then_some(local)
}

/// Loads settings from every layer: `path` (see [`config_path`]), then `env`, then `flags`.
/// The environment is passed in, not read here, so tests stay hermetic.
pub fn load(
    path: Option<&Path>,
    env: &[(String, String)],
    flags: &[FlagOverride],
) -> Result<Loaded, ConfigError> {
    let mut table = toml::Table::new();
    let mut origins = BTreeMap::new();
    let mut file = None;

    if let Some(path) = path {
        let source = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        table = parse_file(&source, path, &mut origins)?;
        file = Some(path.to_path_buf());
    }

    for (var, raw) in env {
        let Some(rest) = var.strip_prefix("CASSTOP_") else {
            continue;
        };
        if NON_SETTING_VARS.contains(&var.as_str()) {
            continue;
        }
        let key = env_key(rest).ok_or_else(|| ConfigError::Invalid {
            origin: Origin::Env(var.clone()),
            message: format!(
                "not a casstop setting: expected CASSTOP_<SECTION>_<KEY> with a section of {}",
                SECTIONS.join(", ")
            ),
        })?;
        // A password is taken as written: `123456` or `true` is a password, not a number.
        let value = if key == "auth.password" {
            toml::Value::String(raw.clone())
        } else {
            env_value(raw)
        };
        set_path(&mut table, &key, value);
        origins.insert(key, Origin::Env(var.clone()));
    }

    for flag in flags {
        set_path(&mut table, flag.key, flag.value.clone());
        origins.insert(flag.key.to_string(), Origin::Flag(flag.flag.to_string()));
    }

    let settings: Settings = serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|err| deserialize_error(err, &origins))?;
    let loaded = Loaded {
        settings,
        file,
        origins,
    };
    validate(&loaded)?;
    Ok(loaded)
}

const SECTIONS: &[&str] = &[
    "cluster", "auth", "tls", "load", "ui", "profiler", "output", "sweep", "local",
];

/// `LOAD_PAYLOAD_BYTES` → `load.payload_bytes`: sections are single words, keys may hold `_`.
fn env_key(rest: &str) -> Option<String> {
    let lower = rest.to_ascii_lowercase();
    let (section, key) = lower.split_once('_')?;
    (SECTIONS.contains(&section) && !key.is_empty()).then(|| format!("{section}.{key}"))
}

/// An environment value is read as a TOML value when it is one (`5`, `true`, `["a","b"]`), else
/// as a plain string (`callbacks`, `127.0.0.1,127.0.0.2`).
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            unreachable!("just made a table")
        };
        current = next;
    }
    current.insert(last.to_string(), value);
}

fn parse_file(
    source: &str,
    path: &Path,
    origins: &mut BTreeMap<String, Origin>,
) -> Result<toml::Table, ConfigError> {
    let line_of = |offset: usize| source[..offset.min(source.len())].matches('\n').count() + 1;
    let spanned = toml::de::DeTable::parse(source).map_err(|err| ConfigError::Invalid {
        origin: Origin::File {
            path: path.to_path_buf(),
            line: err.span().map(|s| line_of(s.start)).unwrap_or(1),
        },
        message: format!("not valid TOML: {}", err.message().trim()),
    })?;
    record_lines(spanned.get_ref(), "", &line_of, path, origins);
    source
        .parse::<toml::Table>()
        .map_err(|err| ConfigError::Invalid {
            origin: Origin::File {
                path: path.to_path_buf(),
                line: err.span().map(|s| line_of(s.start)).unwrap_or(1),
            },
            message: format!("not valid TOML: {}", err.message().trim()),
        })
}

fn record_lines(
    table: &toml::de::DeTable<'_>,
    prefix: &str,
    line_of: &dyn Fn(usize) -> usize,
    path: &Path,
    origins: &mut BTreeMap<String, Origin>,
) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        origins.insert(
            full.clone(),
            Origin::File {
                path: path.to_path_buf(),
                line: line_of(key.span().start),
            },
        );
        if let Some(inner) = value.get_ref().as_table() {
            record_lines(inner, &full, line_of, path, origins);
        }
    }
}

fn deserialize_error(
    err: serde_path_to_error::Error<toml::de::Error>,
    origins: &BTreeMap<String, Origin>,
) -> ConfigError {
    let path = err.path().to_string();
    let message = err.inner().message().trim().to_string();
    // For an unknown field the path already ends with the field's own name.
    let (key, message) = match unknown_field(&message) {
        Some((field, expected)) => {
            let key = if path == "." || path.is_empty() {
                field.to_string()
            } else {
                path.clone()
            };
            let message = match expected {
                Some(expected) => format!("unknown key `{key}` (known keys here: {expected})"),
                None => format!("unknown key `{key}`"),
            };
            (key, message)
        }
        None => (path.clone(), format!("`{path}`: {message}")),
    };
    let origin = origins
        .get(&key)
        .or_else(|| origins.get(key.rsplit_once('.').map(|(p, _)| p).unwrap_or("")))
        .cloned()
        .unwrap_or(Origin::Default);
    ConfigError::Invalid { origin, message }
}

fn unknown_field(message: &str) -> Option<(&str, Option<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, tail) = rest.split_once('`')?;
    let expected = tail
        .split_once("expected one of ")
        .map(|(_, list)| list.replace('`', ""))
        .or_else(|| {
            tail.split_once("expected ")
                .map(|(_, one)| one.replace('`', ""))
        });
    Some((field, expected))
}

/// Range checks the types alone cannot express.
fn validate(loaded: &Loaded) -> Result<(), ConfigError> {
    let s = &loaded.settings;
    let check = |ok: bool, key: &str, message: String| -> Result<(), ConfigError> {
        if ok {
            Ok(())
        } else {
            Err(loaded.error(key, format!("`{key}` {message}")))
        }
    };
    let within = |value: u64, min: u64, max: u64, key: &str| {
        check(
            (min..=max).contains(&value),
            key,
            format!("must be between {min} and {max}, got {value}"),
        )
    };
    check(
        !s.cluster.hosts.is_empty() && s.cluster.hosts.iter().all(|h| !h.trim().is_empty()),
        "cluster.hosts",
        "needs at least one non-empty host".into(),
    )?;
    check(s.cluster.port > 0, "cluster.port", "must not be 0".into())?;
    check(
        is_cql_identifier(&s.cluster.keyspace),
        "cluster.keyspace",
        format!(
            "must be 1-48 letters, digits or underscores starting with a letter, got `{}`",
            s.cluster.keyspace
        ),
    )?;
    check(
        is_cql_identifier(&s.cluster.table),
        "cluster.table",
        format!(
            "must be 1-48 letters, digits or underscores starting with a letter, got `{}`",
            s.cluster.table
        ),
    )?;
    within(
        s.cluster.replication_factor.into(),
        1,
        100,
        "cluster.replication_factor",
    )?;
    check(
        !s.cluster.connect_timeout.is_zero(),
        "cluster.connect_timeout",
        "must be more than 0s".into(),
    )?;
    check(
        (limits::MIN_REQUEST_TIMEOUT..=limits::MAX_REQUEST_TIMEOUT)
            .contains(&s.cluster.request_timeout),
        "cluster.request_timeout",
        format!(
            "must be between 1ms and 10m, got {}",
            humantime::format_duration(s.cluster.request_timeout)
        ),
    )?;
    if s.tls.enabled {
        if s.tls.ca_file.is_empty() {
            // Blame where TLS was switched on: the empty CA file is only the default.
            return Err(loaded.error(
                "tls.enabled",
                "`tls.enabled` is true but `tls.ca_file` is empty: give the PEM file of the CA \
                 that signed the node's certificate",
            ));
        }
        check(
            s.tls.cert_file.is_empty() == s.tls.key_file.is_empty(),
            if s.tls.cert_file.is_empty() {
                "tls.key_file"
            } else {
                "tls.cert_file"
            },
            "is set without its pair: a client certificate needs both `tls.cert_file` and \
             `tls.key_file`"
                .into(),
        )?;
        if let Err(err) = crate::tls::client_config(&s.tls) {
            return Err(loaded.error(err.key, err.to_string()));
        }
    }
    check(
        s.auth.password.is_empty() || !s.auth.username.is_empty(),
        "auth.password",
        "is set but `auth.username` is empty".into(),
    )?;
    let l = &s.load;
    within(l.depth.into(), 1, limits::MAX_DEPTH.into(), "load.depth")?;
    within(l.batch.into(), 1, limits::MAX_BATCH.into(), "load.batch")?;
    within(
        l.workers.into(),
        1,
        limits::MAX_WORKERS.into(),
        "load.workers",
    )?;
    within(
        l.threads.into(),
        1,
        limits::MAX_THREADS.into(),
        "load.threads",
    )?;
    check(
        l.rate.is_finite() && l.rate >= 0.0,
        "load.rate",
        format!(
            "must be 0 (open) or a positive number of writes/s, got {}",
            l.rate
        ),
    )?;
    within(
        l.payload_bytes.into(),
        0,
        limits::MAX_PAYLOAD_BYTES.into(),
        "load.payload_bytes",
    )?;
    within(
        l.cpu_work_us.into(),
        0,
        limits::MAX_CPU_WORK_US.into(),
        "load.cpu_work_us",
    )?;
    within(
        l.rows_per_request.into(),
        1,
        limits::MAX_ROWS_PER_REQUEST.into(),
        "load.rows_per_request",
    )?;
    within(
        l.throttle_cap.into(),
        1,
        limits::MAX_THROTTLE_CAP.into(),
        "load.throttle_cap",
    )?;
    check(
        l.batch <= l.throttle_cap,
        "load.batch",
        format!(
            "({}) is bigger than the in-flight cap `load.throttle_cap` ({})",
            l.batch, l.throttle_cap
        ),
    )?;
    check(
        l.depth <= l.throttle_cap,
        "load.depth",
        format!(
            "({}) is bigger than the in-flight cap `load.throttle_cap` ({})",
            l.depth, l.throttle_cap
        ),
    )?;
    check(
        l.interval >= Duration::from_millis(100) && l.interval <= Duration::from_secs(60),
        "load.interval",
        format!(
            "must be between 100ms and 60s, got {}",
            humantime::format_duration(l.interval)
        ),
    )?;
    within(s.ui.fps.into(), 1, 60, "ui.fps")?;
    within(s.ui.window_secs.into(), 10, 3600, "ui.window_secs")?;
    within(
        s.profiler.frequency_hz.into(),
        1,
        10_000,
        "profiler.frequency_hz",
    )?;
    check(
        s.profiler
            .categories
            .iter()
            .all(|c| !c.name.is_empty() && c.patterns.iter().all(|p| !p.is_empty())),
        "profiler.categories",
        "needs a name and non-empty patterns for every category".into(),
    )?;
    check(
        !s.profiler.duration.is_zero(),
        "profiler.duration",
        "must be more than 0s".into(),
    )?;
    check(
        s.output
            .label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "output.label",
        format!(
            "may hold only letters, digits, `-`, `_` and `.` (it names a directory), got `{}`",
            s.output.label
        ),
    )?;
    check(
        s.sweep.step_secs.is_finite() && s.sweep.step_secs >= 0.1,
        "sweep.step_secs",
        format!("must be at least 0.1, got {}", s.sweep.step_secs),
    )?;
    check(
        s.sweep.warmup_secs.is_finite() && s.sweep.warmup_secs >= 0.0,
        "sweep.warmup_secs",
        format!("must be 0 or more, got {}", s.sweep.warmup_secs),
    )?;
    check(
        s.sweep.knee_gain.is_finite() && s.sweep.knee_gain > 0.0 && s.sweep.knee_gain < 10.0,
        "sweep.knee_gain",
        format!(
            "must be a fraction above 0 (0.1 = 10 %), got {}",
            s.sweep.knee_gain
        ),
    )?;
    check(
        s.local.version.starts_with("5.0."),
        "local.version",
        format!(
            "must be an Apache Cassandra 5.0.x release, got `{}`",
            s.local.version
        ),
    )?;
    check(
        is_heap_size(&s.local.heap),
        "local.heap",
        format!(
            "must be a JVM size such as 1G or 768M, got `{}`",
            s.local.heap
        ),
    )?;
    check(
        s.local.cql_port != s.local.storage_port,
        "local.storage_port",
        "must differ from `local.cql_port`".into(),
    )?;
    check(
        s.local.hop_port != s.local.cql_port && s.local.hop_port != s.local.storage_port,
        "local.hop_port",
        "must differ from `local.cql_port` and `local.storage_port`".into(),
    )?;
    check(
        s.local.rtt <= Duration::from_secs(10) && s.local.jitter <= Duration::from_secs(10),
        "local.rtt",
        "and `local.jitter` must be at most 10s (a hop emulates network distance, not outages)"
            .into(),
    )?;
    Ok(())
}

/// An unquoted CQL name: a letter, then letters, digits and underscores; at most 48 characters.
pub fn is_cql_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 48
}

fn is_heap_size(text: &str) -> bool {
    let digits = text.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G']);
    !digits.is_empty()
        && digits.len() + 1 >= text.len()
        && digits.chars().all(|c| c.is_ascii_digit())
        && digits.parse::<u64>().is_ok_and(|n| n > 0)
}

/// Durations as humans write them: `5s`, `250ms`, `2m`.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(D::Error::custom)
    }

    pub fn parse(text: &str) -> Result<Duration, String> {
        if text.trim() == "0" {
            return Ok(Duration::ZERO);
        }
        humantime::parse_duration(text.trim()).map_err(|err| {
            format!("`{text}` is not a duration ({err}); write it like 500ms, 10s or 2m")
        })
    }
}

/// Hosts as a TOML list, or as one comma-separated string (handy in the environment).
mod hosts {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casstop.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn load_text(text: &str) -> Result<Loaded, ConfigError> {
        let (_dir, path) = write_config(text);
        load(Some(&path), &[], &[])
    }

    fn message(result: Result<Loaded, ConfigError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn shipped_config_toml_equals_built_in_defaults() {
        let parsed: Settings = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        assert_eq!(parsed, Settings::default());
    }

    #[test]
    fn layers_override_in_order() {
        let (_dir, path) = write_config("[load]\ndepth = 10\nbatch = 20\nworkers = 3\n");
        let env = vec![
            ("CASSTOP_LOAD_BATCH".to_string(), "30".to_string()),
            ("CASSTOP_LOAD_WORKERS".to_string(), "4".to_string()),
            (
                "CASSTOP_CLUSTER_HOSTS".to_string(),
                "10.0.0.1, 10.0.0.2".to_string(),
            ),
            ("CASSTOP_LOAD_STRATEGY".to_string(), "pipeline".to_string()),
            ("HOME".to_string(), "/root".to_string()),
            ("CASSTOP_CONFIG".to_string(), "ignored".to_string()),
        ];
        let flags = vec![FlagOverride::new("load.workers", "--workers", 5u32)];
        let loaded = load(Some(&path), &env, &flags).unwrap();
        let load = &loaded.settings.load;
        assert_eq!(load.depth, 10, "file beats default");
        assert_eq!(load.batch, 30, "environment beats file");
        assert_eq!(load.workers, 5, "flag beats environment");
        assert_eq!(load.strategy, Strategy::Pipeline);
        assert_eq!(load.payload_bytes, 100, "default stays");
        assert_eq!(loaded.settings.cluster.hosts, vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(
            loaded.origin("load.depth"),
            Origin::File {
                path: path.clone(),
                line: 2
            }
        );
        assert_eq!(
            loaded.origin("load.batch"),
            Origin::Env("CASSTOP_LOAD_BATCH".into())
        );
        assert_eq!(
            loaded.origin("load.workers"),
            Origin::Flag("--workers".into())
        );
        assert_eq!(loaded.origin("load.rate"), Origin::Default);
    }

    #[test]
    fn misspelt_key_names_key_file_and_line() {
        let (_dir, path) = write_config("[cluster]\nport = 9042\n\n[load]\ndepht = 5\n");
        let text = message(load(Some(&path), &[], &[]));
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with(&format!("{}:5: unknown key `load.depht`", path.display())),
            "{text}"
        );
        assert!(text.contains("depth"), "lists the known keys: {text}");
    }

    #[test]
    fn unknown_section_is_named() {
        let text = message(load_text("[laod]\ndepth = 5\n"));
        assert!(text.contains(":1: unknown key `laod`"), "{text}");
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let text = message(load_text("[load]\nstrategy = \"sync\"\ndepth = \"deep\"\n"));
        assert!(text.contains(":3: `load.depth`"), "{text}");
        assert!(text.contains("integer") || text.contains("u32"), "{text}");
    }

    #[test]
    fn unknown_enum_value_is_named() {
        let text = message(load_text("[load]\nstrategy = \"fastest\"\n"));
        assert!(text.contains(":2: `load.strategy`"), "{text}");
        assert!(
            text.contains("callbacks"),
            "lists the accepted values: {text}"
        );
    }

    #[test]
    fn out_of_range_values_name_key_and_line() {
        let text = message(load_text("[load]\n\ndepth = 0\n"));
        assert!(
            text.ends_with(":3: `load.depth` must be between 1 and 1000000, got 0"),
            "{text}"
        );
        let text = message(load_text("[load]\nrate = -5.0\n"));
        assert!(text.contains(":2: `load.rate` must be 0 (open)"), "{text}");
        let text = message(load_text("[load]\nbatch = 500\nthrottle_cap = 100\n"));
        assert!(
            text.contains("`load.batch` (500) is bigger than the in-flight cap"),
            "{text}"
        );
    }

    #[test]
    fn bad_duration_is_explained() {
        let text = message(load_text("[cluster]\nconnect_timeout = \"soon\"\n"));
        assert!(text.contains(":2: `cluster.connect_timeout`"), "{text}");
        assert!(text.contains("500ms"), "{text}");
    }

    #[test]
    fn syntax_error_names_line() {
        let text = message(load_text("[load]\ndepth = = 3\n"));
        assert!(text.contains(":2: not valid TOML"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn invalid_keyspace_name_is_refused() {
        let text = message(load_text("[cluster]\nkeyspace = \"my-keyspace\"\n"));
        assert!(text.contains(":2: `cluster.keyspace` must be"), "{text}");
    }

    #[test]
    fn env_and_flag_errors_name_their_source() {
        let env = vec![("CASSTOP_LOAD_DEPTH".to_string(), "0".to_string())];
        let text = message(load(None, &env, &[]));
        assert!(
            text.starts_with("CASSTOP_LOAD_DEPTH: `load.depth`"),
            "{text}"
        );

        let env = vec![("CASSTOP_LOAD_DEPHT".to_string(), "5".to_string())];
        let text = message(load(None, &env, &[]));
        assert!(
            text.starts_with("CASSTOP_LOAD_DEPHT: unknown key `load.depht`"),
            "{text}"
        );

        let env = vec![("CASSTOP_NOPE".to_string(), "5".to_string())];
        let text = message(load(None, &env, &[]));
        assert!(
            text.starts_with("CASSTOP_NOPE: not a casstop setting"),
            "{text}"
        );

        let flags = vec![FlagOverride::new("load.batch", "--batch", 0u32)];
        let text = message(load(None, &[], &flags));
        assert!(
            text.starts_with("--batch: `load.batch` must be between 1"),
            "{text}"
        );
    }

    #[test]
    fn tls_needs_a_ca_file_that_exists_and_parses() {
        let text = message(load_text("[tls]\nenabled = true\n"));
        assert!(
            text.contains(":2: `tls.enabled` is true but `tls.ca_file` is empty"),
            "{text}"
        );

        let text = message(load_text(
            "[tls]\nenabled = true\nca_file = \"/nonexistent/ca.pem\"\n",
        ));
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains(":3: `tls.ca_file` /nonexistent/ca.pem: cannot read"),
            "{text}"
        );

        let (_dir, path) = write_config("not a certificate\n");
        let env = vec![
            ("CASSTOP_TLS_ENABLED".to_string(), "true".to_string()),
            (
                "CASSTOP_TLS_CA_FILE".to_string(),
                path.display().to_string(),
            ),
        ];
        let text = message(load(None, &env, &[]));
        assert!(
            text.starts_with(&format!(
                "CASSTOP_TLS_CA_FILE: `tls.ca_file` {}: no PEM certificate",
                path.display()
            )),
            "{text}"
        );
    }

    #[test]
    fn client_certificate_needs_its_key() {
        let (_dir, ca) = write_config("");
        let text = message(load_text(&format!(
            "[tls]\nenabled = true\nca_file = \"{}\"\ncert_file = \"client.pem\"\n",
            ca.display()
        )));
        assert!(
            text.contains(":4: `tls.cert_file` is set without its pair"),
            "{text}"
        );
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = load(Some(Path::new("/nonexistent/casstop.toml")), &[], &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/casstop.toml"));
    }

    #[test]
    fn password_never_shows_in_debug_display_or_serialised_settings() {
        let env = vec![
            ("CASSTOP_AUTH_USERNAME".to_string(), "cassandra".to_string()),
            ("CASSTOP_AUTH_PASSWORD".to_string(), "s3cret".to_string()),
        ];
        let loaded = load(None, &env, &[]).unwrap();
        let auth = &loaded.settings.auth;
        assert_eq!(auth.password.expose(), "s3cret", "the driver still gets it");
        assert_eq!(auth.password.to_string(), "***");
        for text in [
            format!("{loaded:?}"),
            format!("{:#?}", loaded.settings),
            toml::to_string(&loaded.settings).unwrap(),
            serde_json::to_string(&loaded.settings).unwrap(),
        ] {
            assert!(!text.contains("s3cret"), "{text}");
            assert!(text.contains("***"), "{text}");
        }
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
    }

    #[test]
    fn a_password_is_never_echoed_and_digits_from_the_environment_are_a_password() {
        let env = vec![
            ("CASSTOP_AUTH_USERNAME".to_string(), "u".to_string()),
            ("CASSTOP_AUTH_PASSWORD".to_string(), "987654".to_string()),
        ];
        let loaded = load(None, &env, &[]).unwrap();
        assert_eq!(loaded.settings.auth.password.expose(), "987654");

        for value in ["987654", "true", "1.5"] {
            let text = message(load_text(&format!(
                "[auth]\nusername = \"u\"\npassword = {value}\n"
            )));
            assert!(
                text.contains(":3: `auth.password`: must be a string in quotes"),
                "{text}"
            );
            assert!(!text.contains(value), "{text}");
        }
    }

    #[test]
    fn heap_sizes() {
        assert!(is_heap_size("1G") && is_heap_size("768M") && is_heap_size("1048576k"));
        assert!(
            !is_heap_size("G") && !is_heap_size("1GB") && !is_heap_size("0G") && !is_heap_size("")
        );
    }
}
