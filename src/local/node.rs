//! One local node: its directories, rendered config, start (install included), readiness, stop
//! and status. Node `I` of `local.nodes` listens on 127.0.0.`I`.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use serde::{Deserialize, Serialize};

use crate::config::{CommitlogSync, LocalSettings, Secret, Settings};
use crate::tls::LocalCertificates;

use super::install::{self, check_java};
use super::ports;
use super::process;
use super::progress::Progress;
use super::ring::interleaved_tokens;

const YAML_TEMPLATE: &str = include_str!("../../assets/cassandra/cassandra.yaml");
const LOGBACK_XML: &str = include_str!("../../assets/cassandra/logback.xml");
const JVM_OPTIONS: &str = include_str!("../../assets/cassandra/jvm17.options");

/// What `up` did.
#[derive(Debug, Clone)]
pub struct UpReport {
    pub pid: u32,
    pub version: String,
    pub address: SocketAddr,
    /// Time spent downloading jars, when they were not cached yet.
    pub install_time: Option<Duration>,
    /// Time from launching the JVM to CQL answering; `None` when the node was already up.
    pub boot_time: Option<Duration>,
    /// What the running node requires of clients.
    pub options: NodeOptions,
    /// The CA certificate clients trust (`tls.ca_file`), when the node requires TLS.
    pub ca_file: Option<PathBuf>,
}

/// What the local node requires of its clients; rendered into its cassandra.yaml at each start
/// and recorded beside it, so readiness checks talk to a running node the way it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeOptions {
    /// PasswordAuthenticator and CassandraAuthorizer (superuser cassandra/cassandra).
    pub auth: bool,
    /// Client encryption required, with casstop's own certificates.
    pub tls: bool,
}

impl NodeOptions {
    pub fn of(settings: &LocalSettings) -> Self {
        NodeOptions {
            auth: settings.auth,
            tls: settings.tls,
        }
    }
}

impl std::fmt::Display for NodeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        write!(f, "auth {}, TLS {}", on(self.auth), on(self.tls))
    }
}

/// What `status` found.
#[derive(Debug, Clone)]
pub struct Status {
    pub pid: Option<u32>,
    pub version: Option<String>,
    pub answers_cql: bool,
    pub address: SocketAddr,
    pub data_dir: PathBuf,
    pub data_bytes: u64,
    pub installed: bool,
}

/// The local node as configured: node 1 of `local.nodes` (the only one by default).
#[derive(Debug, Clone)]
pub struct LocalNode {
    settings: LocalSettings,
    data_dir: PathBuf,
    cache_dir: PathBuf,
    /// 1-based: the node listens on 127.0.0.`index`.
    index: u8,
    /// How many nodes its cluster has (`local.nodes`).
    count: u8,
}

impl LocalNode {
    pub fn new(settings: &LocalSettings) -> Self {
        Self::member(settings, 1)
    }

    /// Node `index` (from 1) of the `local.nodes` nodes. A single node keeps `<data_dir>`; a
    /// cluster of N lives in `<data_dir>/cluster-N/node<I>`, so a single node's data never
    /// learns of peers that a later single start would wait for.
    pub fn member(settings: &LocalSettings, index: u8) -> Self {
        let count = settings.nodes.max(1);
        let data_dir = if count == 1 {
            settings.data_dir()
        } else {
            settings
                .data_dir()
                .join(format!("cluster-{count}"))
                .join(format!("node{index}"))
        };
        LocalNode {
            settings: settings.clone(),
            data_dir,
            cache_dir: settings.cache_dir(),
            index,
            count,
        }
    }

    /// 127.0.0.`index`: all of 127/8 is loopback, so every node keeps the same ports.
    pub fn ip(&self) -> std::net::IpAddr {
        std::net::IpAddr::from([127, 0, 0, self.index])
    }

    pub fn index(&self) -> u8 {
        self.index
    }

    /// How many nodes its cluster has.
    pub fn count(&self) -> u8 {
        self.count
    }

    /// Its directory: data, logs, pid file (and its latency hop's files, when it has one).
    pub fn dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.ip(), self.settings.cql_port)
    }

    pub fn lib_dir(&self) -> PathBuf {
        self.cache_dir
            .join(format!("cassandra-{}", self.settings.version))
            .join("lib")
    }

    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join("logs").join("system.log")
    }

    fn pid_file(&self) -> PathBuf {
        self.data_dir.join("node.pid")
    }

    fn options_file(&self) -> PathBuf {
        self.data_dir.join("conf").join("casstop-options.toml")
    }

    /// The node's TLS files (generated by the first start with `local.tls`).
    pub fn certificates(&self) -> LocalCertificates {
        LocalCertificates::new(&self.data_dir)
    }

    /// The options the node was last started with; none recorded (a node started by an older
    /// casstop) means neither auth nor TLS.
    pub fn running_options(&self) -> NodeOptions {
        fs::read_to_string(self.options_file())
            .ok()
            .and_then(|text| toml::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// The commit-log mode the node was last started with, from the cassandra.yaml rendered
    /// for it; `None` when there is none to read.
    pub fn running_commitlog_sync(&self) -> Option<CommitlogSync> {
        let yaml = fs::read_to_string(self.data_dir.join("conf/cassandra.yaml")).ok()?;
        let mode = yaml
            .lines()
            .find_map(|line| line.trim().strip_prefix("commitlog_sync:"))?;
        match mode.trim() {
            "periodic" => Some(CommitlogSync::Periodic),
            "group" => Some(CommitlogSync::Group),
            "batch" => Some(CommitlogSync::Batch),
            _ => None,
        }
    }

    /// Settings that reach the node at its address the way `options` say it expects: over TLS
    /// with its own CA, and with the configured login or else the default superuser's.
    pub fn client_settings(&self, settings: &Settings, options: NodeOptions) -> Settings {
        let mut probe = settings.clone();
        probe.cluster.hosts = vec![self.address().to_string()];
        probe.cluster.local_datacenter.clear();
        probe.tls = Default::default();
        if options.tls {
            probe.tls.enabled = true;
            probe.tls.ca_file = self.certificates().ca_file().display().to_string();
        }
        if options.auth && probe.auth.username.is_empty() {
            probe.auth.username = "cassandra".into();
            probe.auth.password = Secret::new("cassandra");
        }
        probe
    }

    /// The pid of the node casstop started, if that process still runs. The pid file is where
    /// to look first; when it is missing, corrupt or names a process that is gone (or is now some
    /// other program), the node is the JVM whose command line names this data directory, and
    /// the pid file is repaired to say so (or removed when there is none).
    pub fn running_pid(&self) -> Option<u32> {
        let pid_file = self.pid_file();
        if let Some(pid) = process::read_pid_file(&pid_file)
            && process::is_our_node(pid, &self.data_dir)
        {
            return Some(pid);
        }
        match process::find_our_node(&self.data_dir) {
            Some(pid) => {
                tracing::info!(
                    "the local node runs as pid {pid}; {} did not say so, repairing it",
                    pid_file.display()
                );
                if let Err(err) = process::write_pid_file(&pid_file, pid) {
                    tracing::warn!("repairing the pid file: {err:#}");
                }
                Some(pid)
            }
            None => {
                process::remove_stale(&pid_file);
                None
            }
        }
    }

    /// A node killed a moment ago still holds its ports while its threads end (a second or so
    /// for a 1 GiB heap): waits for them, so the new node does not find its own ports taken.
    fn wait_for_dying(&self, pid: u32, progress: &mut dyn Progress) -> Result<()> {
        if !process::dying(pid) {
            return Ok(());
        }
        progress.update(&format!(
            "the previous local node (pid {pid}) is still exiting; waiting"
        ));
        let limit = Duration::from_secs(30);
        if !process::wait_until_gone(pid, limit) {
            bail!(
                "the previous local node (pid {pid}) was still exiting after {}; try again once \
                 it is gone",
                humantime::format_duration(limit)
            );
        }
        Ok(())
    }

    /// Installs when needed, starts the node unless it already runs, and returns once CQL answers.
    /// Safe to call concurrently (from several test binaries): a file lock serialises callers.
    pub async fn up(&self, settings: &Settings, progress: &mut dyn Progress) -> Result<UpReport> {
        create_private_dir(&self.data_dir)?;
        let lock = File::create(self.data_dir.join("up.lock"))
            .with_context(|| format!("creating {}", self.data_dir.join("up.lock").display()))?;
        let lock = tokio::task::spawn_blocking(move || lock.lock().map(|_| lock))
            .await?
            .context("locking the local node's directory")?;

        let address = self.address();
        let options = NodeOptions::of(&self.settings);
        let recorded = process::read_pid_file(&self.pid_file());
        if let Some(pid) = self.running_pid() {
            let running = self.running_options();
            if running != options {
                return Err(crate::error::UsageError(format!(
                    "the local node on {address} (pid {pid}) runs with {running}, not {options} as \
                     asked; stop it with `casstop local down` first (its data stays)"
                ))
                .into());
            }
            progress.update(&format!(
                "local node already running (pid {pid}); checking CQL"
            ));
            match self.wait_for_cql(settings, pid, None, progress).await {
                Ok(version) => {
                    drop(lock);
                    return Ok(UpReport {
                        pid,
                        version,
                        address,
                        install_time: None,
                        boot_time: None,
                        options,
                        ca_file: self.ca_file(options),
                    });
                }
                // Killed while we looked (a `kill -9` just before `up`): start it again.
                Err(err) if !process::is_our_node(pid, &self.data_dir) => {
                    tracing::warn!("the running local node ended: {err:#}");
                    self.wait_for_dying(pid, progress)?;
                    process::remove_stale(&self.pid_file());
                }
                Err(err) => return Err(err),
            }
        }
        if let Some(pid) = recorded {
            self.wait_for_dying(pid, progress)?;
        }
        // A node of ours ran here a moment ago: its ports may take a moment more to close.
        let grace = if recorded.is_some() {
            Duration::from_secs(5)
        } else {
            Duration::ZERO
        };
        ports::check_port_free(address, "CQL (local.cql_port)", grace)?;
        ports::check_port_free(
            SocketAddr::new(self.ip(), self.settings.storage_port),
            "storage (local.storage_port)",
            grace,
        )?;
        let java = check_java()?;
        let install_time = self.install(progress).await?;

        self.render_config(options)?;
        let started = Instant::now();
        let mut child = process::launch(&java, &self.java_args(), &self.data_dir)?;
        let pid = child.id();
        process::write_pid_file(&self.pid_file(), pid)?;
        let version = self
            .wait_for_cql(settings, pid, Some(&mut child), progress)
            .await;
        let version = match version {
            Ok(version) => version,
            Err(err) => {
                // A node that did not come up is not left half-running.
                match process::terminate(pid, Duration::from_secs(10)) {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!("the failed node (pid {pid}) did not stop"),
                    Err(stop) => tracing::warn!("stopping the failed node: {stop:#}"),
                }
                if let Err(reap) = child.try_wait() {
                    tracing::warn!("reaping the failed node (pid {pid}): {reap}");
                }
                process::remove_stale(&self.pid_file());
                return Err(err);
            }
        };
        drop(lock);
        Ok(UpReport {
            pid,
            version,
            address,
            install_time,
            boot_time: Some(started.elapsed()),
            options,
            ca_file: self.ca_file(options),
        })
    }

    /// Downloads the jars unless they are cached; how long it took when it did.
    pub async fn install(&self, progress: &mut dyn Progress) -> Result<Option<Duration>> {
        if install::is_installed(&self.lib_dir(), &self.settings.version) {
            return Ok(None);
        }
        Ok(Some(
            install::install(&self.settings.version, &self.lib_dir(), progress).await?,
        ))
    }

    /// The yaml lines that place the node in the ring. One node allocates its own tokens; the
    /// nodes of a cluster get fixed, interleaved ones and skip bootstrap, so they can all start
    /// at once (nothing to stream into an empty cluster).
    fn token_yaml(&self) -> String {
        if self.count == 1 {
            return "num_tokens: 16\nallocate_tokens_for_local_replication_factor: 1\n".into();
        }
        let tokens = interleaved_tokens(self.index, self.count, 16)
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        format!("num_tokens: 16\ninitial_token: {tokens}\nauto_bootstrap: false\n")
    }

    fn ca_file(&self, options: NodeOptions) -> Option<PathBuf> {
        options.tls.then(|| self.certificates().ca_file())
    }

    /// Stops the node casstop started: SIGTERM (Cassandra drains; SIGKILL after 60 s). Returns
    /// its pid, or `None` when none was running.
    pub fn down(&self) -> Result<Option<u32>> {
        self.end(false)
    }

    /// Kills the node at once (SIGKILL: a crash, nothing drained or flushed).
    pub fn kill(&self) -> Result<Option<u32>> {
        self.end(true)
    }

    fn end(&self, crash: bool) -> Result<Option<u32>> {
        let Some(pid) = self.running_pid() else {
            return Ok(None);
        };
        let stopped = if crash {
            process::kill(pid)
        } else {
            process::terminate(pid, Duration::from_secs(60))
        }
        .with_context(|| format!("stopping the local node (pid {pid})"))?;
        if !stopped {
            bail!("local node (pid {pid}) did not stop after SIGTERM and SIGKILL");
        }
        process::remove_stale(&self.pid_file());
        Ok(Some(pid))
    }

    pub async fn status(&self, settings: &Settings) -> Status {
        let pid = self.running_pid();
        let address = self.address();
        let version = match pid {
            Some(_) => {
                let probe = self.client_settings(settings, self.running_options());
                probe_version(&probe, Duration::from_secs(3)).await.ok()
            }
            None => None,
        };
        Status {
            pid,
            answers_cql: version.is_some(),
            version,
            address,
            data_dir: self.data_dir.clone(),
            data_bytes: crate::files::dir_size(&self.data_dir),
            installed: install::is_installed(&self.lib_dir(), &self.settings.version),
        }
    }

    /// The last `lines` lines of the node's log.
    pub fn log_tail(&self, lines: usize) -> Result<Vec<String>> {
        let path = self.log_file();
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "no log at {} (has the node been started with `casstop local up`?)",
                path.display()
            )
        })?;
        let all: Vec<&str> = text.lines().collect();
        let start = all.len().saturating_sub(lines);
        Ok(all[start..].iter().map(|l| l.to_string()).collect())
    }

    fn render_config(&self, options: NodeOptions) -> Result<()> {
        let conf = self.data_dir.join("conf");
        // Created here rather than by the JVM (which would make them 0755), so everything of the
        // node is owner-only even if the top directory's mode is changed later.
        for dir in [
            "conf",
            "logs",
            "tmp",
            "data",
            "commitlog",
            "hints",
            "saved_caches",
            "cdc_raw",
        ] {
            create_private_dir(&self.data_dir.join(dir))?;
        }
        let authenticated = options.auth;
        let client_encryption = if options.tls {
            let certificates = self.certificates();
            certificates.ensure()?;
            // PEM files straight from casstop's generator: no keytool, no JKS, no passwords.
            // `optional: false` turns plain clients away.
            format!(
                "client_encryption_options:\n  enabled: true\n  optional: false\n  \
                 ssl_context_factory:\n    class_name: \
                 org.apache.cassandra.security.PEMBasedSslContextFactory\n  keystore: {}\n  \
                 truststore: {}\n  require_client_auth: false\n",
                certificates.node_keystore().display(),
                certificates.ca_file().display()
            )
        } else {
            String::new()
        };
        let yaml = YAML_TEMPLATE
            .replace("{{tokens}}", &self.token_yaml())
            .replace("{{address}}", &self.ip().to_string())
            // Node 1 is every node's seed.
            .replace("{{seed}}", "127.0.0.1")
            .replace("{{data_dir}}", &self.data_dir.display().to_string())
            .replace("{{cql_port}}", &self.settings.cql_port.to_string())
            .replace("{{storage_port}}", &self.settings.storage_port.to_string())
            .replace(
                "{{authenticator}}",
                if authenticated {
                    "PasswordAuthenticator"
                } else {
                    "AllowAllAuthenticator"
                },
            )
            .replace(
                "{{authorizer}}",
                if authenticated {
                    "CassandraAuthorizer"
                } else {
                    "AllowAllAuthorizer"
                },
            )
            .replace("{{client_encryption_options}}", &client_encryption)
            .replace("{{commitlog_sync}}", self.settings.commitlog_sync.yaml());
        fs::write(conf.join("cassandra.yaml"), yaml).context("writing cassandra.yaml")?;
        let recorded = toml::to_string(&options).context("recording the node's options")?;
        fs::write(self.options_file(), recorded)
            .with_context(|| format!("writing {}", self.options_file().display()))?;
        fs::write(conf.join("logback.xml"), LOGBACK_XML).context("writing logback.xml")?;
        Ok(())
    }

    fn java_args(&self) -> Vec<String> {
        let dir = |name: &str| self.data_dir.join(name).display().to_string();
        let lib = self.lib_dir();
        let heap = &self.settings.heap;
        let mut args = vec![format!("-Xms{heap}"), format!("-Xmx{heap}")];
        args.extend(
            JVM_OPTIONS
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_string),
        );
        let jamm = lib.join("jamm-0.4.0.jar");
        if jamm.exists() {
            args.push(format!("-javaagent:{}", jamm.display()));
        }
        args.extend([
            format!(
                "-Dcassandra.config=file://{}",
                self.data_dir.join("conf/cassandra.yaml").display()
            ),
            format!("-Dcassandra.storagedir={}", self.data_dir.display()),
            format!("-Dcassandra.logdir={}", dir("logs")),
            format!(
                "-Dlogback.configurationFile={}",
                self.data_dir.join("conf/logback.xml").display()
            ),
            format!("-Djava.io.tmpdir={}", dir("tmp")),
            format!("-Djna.tmpdir={}", dir("tmp")),
            format!("-XX:HeapDumpPath={}", dir("tmp")),
            "-cp".into(),
            format!("{}:{}/*", dir("conf"), lib.display()),
            "org.apache.cassandra.service.CassandraDaemon".into(),
        ]);
        args
    }

    /// Polls until a CQL login and `SELECT release_version` succeed, watching the process so a
    /// JVM that died is reported at once with the end of its log.
    async fn wait_for_cql(
        &self,
        settings: &Settings,
        pid: u32,
        mut child: Option<&mut std::process::Child>,
        progress: &mut dyn Progress,
    ) -> Result<String> {
        let started = Instant::now();
        let timeout = self.settings.boot_timeout;
        let address = self.address();
        let probe = self.client_settings(settings, self.running_options());
        let mut last_error = String::from("nothing listens yet");
        loop {
            let exited = match child.as_deref_mut() {
                Some(child) => child.try_wait().ok().flatten().map(|s| s.to_string()),
                None => (!process::is_our_node(pid, &self.data_dir)).then(|| "gone".to_string()),
            };
            if let Some(status) = exited {
                bail!(
                    "the local node (pid {pid}) exited ({status}) before CQL answered on {address}; \
                     its log ({}) ends with:\n{}",
                    self.log_file().display(),
                    self.failure_excerpt()
                );
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(300)).is_ok() {
                match probe_version(&probe, Duration::from_secs(5)).await {
                    Ok(version) => {
                        progress.clear();
                        return Ok(version);
                    }
                    Err(err) => last_error = format!("{err:#}"),
                }
            }
            if started.elapsed() > timeout {
                bail!(
                    "the local node (pid {pid}) did not answer CQL on {address} within {} \
                     (local.boot_timeout; last attempt: {last_error}); its log ({}) ends with:\n{}",
                    humantime::format_duration(timeout),
                    self.log_file().display(),
                    self.failure_excerpt()
                );
            }
            progress.update(&format!(
                "booting Apache Cassandra {} (pid {pid}) ... {}s",
                self.settings.version,
                started.elapsed().as_secs()
            ));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The end of the node's logs, errors first, for failure messages.
    fn failure_excerpt(&self) -> String {
        let mut lines = self.log_tail(15).unwrap_or_default();
        let stdout = self.data_dir.join("logs").join("stdout.log");
        if let Ok(text) = fs::read_to_string(&stdout) {
            let tail: Vec<&str> = text.lines().rev().take(10).collect();
            lines.extend(tail.into_iter().rev().map(|l| format!("stdout: {l}")));
        }
        lines.join("\n")
    }
}

/// Logs in over CQL with `probe` (see [`LocalNode::client_settings`]) and asks for the server
/// version, bounded by `timeout`.
async fn probe_version(probe: &Settings, timeout: Duration) -> Result<String> {
    let mut probe = probe.clone();
    probe.cluster.connect_timeout = timeout;
    let session = crate::cluster::connect(&probe).await?;
    crate::cluster::release_version(&session).await
}

/// Creates `dir` (and its parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} owner-only", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_nodes_allocate_tokens_and_a_clusters_nodes_get_theirs() {
        let single = LocalNode::new(&Settings::default().local);
        assert!(
            single
                .token_yaml()
                .contains("allocate_tokens_for_local_replication_factor")
        );
        let member = LocalNode::member(
            &LocalSettings {
                nodes: 3,
                ..Settings::default().local
            },
            2,
        );
        assert_eq!(member.address().ip().to_string(), "127.0.0.2");
        assert!(member.token_yaml().contains("auto_bootstrap: false"));
        assert!(member.data_dir.ends_with("cluster-3/node2"));
    }

    #[test]
    fn rendered_yaml_has_no_placeholders_left() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            local: LocalSettings {
                data_dir: dir.path().to_path_buf(),
                ..crate::config::Settings::default().local
            },
            ..Settings::default()
        };
        let node = LocalNode::new(&settings.local);
        node.render_config(NodeOptions::default()).unwrap();
        let yaml = fs::read_to_string(dir.path().join("conf/cassandra.yaml")).unwrap();
        assert!(!yaml.contains("{{"), "{yaml}");
        assert!(yaml.contains("native_transport_port: 9042"));
        assert!(yaml.contains(&format!("- {}/data", dir.path().display())));
        let mode = fs::metadata(dir.path().join("data"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn the_commit_log_mode_a_node_was_started_with_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [
            CommitlogSync::Periodic,
            CommitlogSync::Group,
            CommitlogSync::Batch,
        ] {
            let local = LocalSettings {
                data_dir: dir.path().to_path_buf(),
                commitlog_sync: mode,
                ..crate::config::Settings::default().local
            };
            let node = LocalNode::new(&local);
            node.render_config(NodeOptions::default()).unwrap();
            assert_eq!(node.running_commitlog_sync(), Some(mode));
        }
        let never_started = LocalSettings {
            data_dir: dir.path().join("none"),
            ..crate::config::Settings::default().local
        };
        assert_eq!(
            LocalNode::new(&never_started).running_commitlog_sync(),
            None
        );
    }

    #[test]
    fn auth_and_tls_render_into_the_yaml_and_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalSettings {
            data_dir: dir.path().to_path_buf(),
            auth: true,
            tls: true,
            ..crate::config::Settings::default().local
        };
        let node = LocalNode::new(&local);
        assert_eq!(node.running_options(), NodeOptions::default());
        node.render_config(NodeOptions::of(&local)).unwrap();
        let yaml = fs::read_to_string(dir.path().join("conf/cassandra.yaml")).unwrap();
        assert!(
            yaml.contains("authenticator: PasswordAuthenticator"),
            "{yaml}"
        );
        assert!(yaml.contains("authorizer: CassandraAuthorizer"), "{yaml}");
        assert!(yaml.contains("  optional: false\n"), "{yaml}");
        assert!(yaml.contains("PEMBasedSslContextFactory"), "{yaml}");
        let keystore = format!("  keystore: {}/tls/node.pem\n", dir.path().display());
        assert!(yaml.contains(&keystore), "{yaml}");
        assert_eq!(
            node.running_options(),
            NodeOptions {
                auth: true,
                tls: true
            }
        );

        let probe = node.client_settings(&Settings::default(), node.running_options());
        assert!(probe.tls.enabled);
        assert_eq!(
            probe.tls.ca_file,
            format!("{}/tls/ca.pem", dir.path().display())
        );
        assert_eq!(probe.auth.username, "cassandra");

        // A restart without the options renders them away again.
        node.render_config(NodeOptions::default()).unwrap();
        let yaml = fs::read_to_string(dir.path().join("conf/cassandra.yaml")).unwrap();
        assert!(
            yaml.contains("authenticator: AllowAllAuthenticator"),
            "{yaml}"
        );
        assert!(!yaml.contains("client_encryption_options"), "{yaml}");
        assert_eq!(node.running_options(), NodeOptions::default());
    }

    #[test]
    fn java_args_carry_the_jdk17_flags_and_paths() {
        let node = LocalNode::new(&LocalSettings {
            data_dir: "/d".into(),
            cache_dir: "/c".into(),
            ..crate::config::Settings::default().local
        });
        let args = node.java_args();
        assert_eq!(args[0], "-Xms1G");
        assert!(args.contains(&"--add-opens=java.base/java.lang=ALL-UNNAMED".to_string()));
        assert!(args.contains(&"-Dcassandra.config=file:///d/conf/cassandra.yaml".to_string()));
        assert!(args.contains(&"/d/conf:/c/cassandra-5.0.9/lib/*".to_string()));
        assert_eq!(
            args.last().map(String::as_str),
            Some("org.apache.cassandra.service.CassandraDaemon")
        );
        assert!(!args.iter().any(|a| a.starts_with('#')));
    }
}
