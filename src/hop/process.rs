//! The hop as a process of its own beside the local node: `casstop local up --rtt 2ms` starts it
//! detached (own process group, like the node), so it outlives the command and its CPU never
//! counts as the client's. Its pid file, control socket and log live in the node's directory.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rustix::process::Signal;

use super::control::{self, HopState, Request, SettingsChange};
use super::{Hop, HopSettings};
use crate::config::Settings;
use crate::local::{LocalCluster, LocalNode, process};

/// The subcommand the detached hop process runs (hidden from help).
pub const SERVE_SUBCOMMAND: &str = "hop-serve";

/// Where a node directory's hop keeps its files.
#[derive(Clone, Debug)]
pub struct HopFiles {
    pub dir: PathBuf,
}

impl HopFiles {
    pub fn new(dir: &Path) -> Self {
        HopFiles {
            dir: dir.to_path_buf(),
        }
    }

    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("hop.pid")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("hop.sock")
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("logs").join("hop.log")
    }

    /// The pid of the hop serving this directory, if it still runs. As for the node, the pid
    /// file is only where to look first: a missing, corrupt or stale one is repaired from the
    /// process whose command line serves this directory, or removed when there is none.
    pub fn running_pid(&self) -> Option<u32> {
        let pid_file = self.pid_file();
        if let Some(pid) = process::read_pid_file(&pid_file)
            && is_our_hop(pid, &self.dir)
        {
            return Some(pid);
        }
        match process::find_own_process(|args| is_hop_command_line(args, &self.dir)) {
            Some(pid) => {
                tracing::info!(
                    "the hop runs as pid {pid}; {} did not say so, repairing it",
                    pid_file.display()
                );
                if let Err(err) = process::write_pid_file(&pid_file, pid) {
                    tracing::warn!("repairing the hop's pid file: {err:#}");
                }
                Some(pid)
            }
            None => {
                process::remove_stale(&pid_file);
                None
            }
        }
    }

    /// The running hop's state, or `None` when no hop serves this directory.
    pub fn state(&self) -> Option<HopState> {
        self.running_pid()?;
        control::request(&self.socket(), &Request::State).ok()
    }
}

/// True when `pid` is a live casstop hop process serving `dir`: a recycled pid is never taken
/// for the hop, and never signalled.
fn is_our_hop(pid: u32, dir: &Path) -> bool {
    process::live_command_line(pid).is_some_and(|args| is_hop_command_line(&args, dir))
}

/// Whether `args` are those of a hop (`casstop local hop-serve ... --dir DIR`) serving `dir`.
fn is_hop_command_line(args: &[String], dir: &Path) -> bool {
    let dir = dir.display().to_string();
    args.iter().any(|a| a == SERVE_SUBCOMMAND)
        && args.windows(2).any(|w| w[0] == "--dir" && w[1] == dir)
}

/// Sends each node of the local cluster that has a hop of its own (`local up --rtt node3=5ms`)
/// through it; the others stay direct.
fn route_node_hops(settings: &mut Settings) {
    let cluster = LocalCluster::in_use(&settings.local);
    if cluster.nodes.len() < 2 {
        return;
    }
    for node in &cluster.nodes {
        if let Some(state) = HopFiles::new(node.dir()).state() {
            eprintln!(
                "node {} through its latency hop on {} ({})",
                node.index(),
                state.listen,
                state.settings
            );
            settings
                .cluster
                .node_hops
                .push((node.address(), state.listen));
        }
    }
}

/// Changes the round trip of node `index`'s own hop live (`:rtt node3 5ms`).
pub fn set_node_rtt(settings: &Settings, index: u8, rtt: Duration) -> Result<HopState> {
    let cluster = LocalCluster::in_use(&settings.local);
    let node = cluster.member(index).map_err(anyhow::Error::msg)?;
    let files = HopFiles::new(node.dir());
    if files.running_pid().is_none() {
        bail!(
            "node {index} has no latency hop of its own; start one before the run with \
             `casstop local up --rtt node{index}=5ms` (the run's connections are made at its start)"
        );
    }
    control::request(&files.socket(), &Request::Set(SettingsChange::rtt(rtt)))
        .with_context(|| format!("changing node {index}'s hop"))
}

/// What the detached process runs: the hop, and its control channel on this thread, until it is
/// signalled.
pub fn serve(
    listen: SocketAddr,
    upstream: SocketAddr,
    settings: HopSettings,
    dir: &Path,
) -> Result<()> {
    let hop = Hop::start(listen, upstream, settings)?;
    control::serve(&hop, &HopFiles::new(dir).socket())
}

/// Makes the kernel send this process SIGTERM when `parent` ends (the hop of one run), and ends
/// at once when it already has.
pub fn exit_with_parent(parent: u32) -> Result<()> {
    rustix::process::set_parent_process_death_signal(Some(Signal::TERM))
        .map_err(std::io::Error::from)
        .context("asking to end with the parent (prctl PR_SET_PDEATHSIG)")?;
    // Checked after asking: a parent that ended before the request would never be noticed.
    let ppid = rustix::process::getppid().map(|pid| pid.as_raw_pid());
    if ppid.and_then(|pid| u32::try_from(pid).ok()) != Some(parent) {
        bail!("the run that started this hop (pid {parent}) has already ended");
    }
    Ok(())
}

/// The hop settings the configuration asks for, at `rtt`.
pub fn configured(settings: &Settings, rtt: Duration) -> HopSettings {
    HopSettings {
        rtt,
        jitter: settings.local.jitter,
        jitter_distribution: settings.local.jitter_distribution,
        seed: settings.local.jitter_seed,
    }
}

/// Where a hop sits: the directory of its files, where it listens, the node it forwards to.
#[derive(Clone, Debug)]
pub struct HopPlace {
    pub dir: PathBuf,
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
}

impl HopPlace {
    /// In front of the single local node: 127.0.0.1, `local.hop_port`.
    pub fn single(settings: &Settings) -> Self {
        HopPlace {
            dir: settings.local.data_dir(),
            listen: SocketAddr::from(([127, 0, 0, 1], settings.local.hop_port)),
            upstream: SocketAddr::from(([127, 0, 0, 1], settings.local.cql_port)),
        }
    }

    /// In front of one node of a local cluster, on that node's own address.
    pub fn of_node(node: &LocalNode, settings: &Settings) -> Self {
        HopPlace {
            dir: node.dir().to_path_buf(),
            listen: SocketAddr::new(node.ip(), settings.local.hop_port),
            upstream: node.address(),
        }
    }
}

/// Makes sure a hop serves `place` with `wanted`: changes the running one live, or starts one
/// (`exe` is casstop's own binary) that outlives this process when `outlive`, else ends with
/// it. Returns its state and whether this call started it.
pub fn ensure(
    place: &HopPlace,
    wanted: HopSettings,
    exe: &Path,
    outlive: bool,
) -> Result<(HopState, bool)> {
    let dir = place.dir.clone();
    let files = HopFiles::new(&dir);
    if files.running_pid().is_some() {
        let change = SettingsChange {
            rtt: Some(wanted.rtt),
            jitter: Some(wanted.jitter),
            jitter_distribution: Some(wanted.jitter_distribution),
            seed: Some(wanted.seed),
        };
        let state = control::request(&files.socket(), &Request::Set(change))
            .context("changing the running hop's RTT")?;
        return Ok((state, false));
    }
    let (listen, upstream) = (place.listen, place.upstream);
    if std::net::TcpStream::connect_timeout(&listen, Duration::from_millis(300)).is_ok() {
        bail!(
            "another process already listens on {listen}, the hop's port (local.hop_port), and \
             it is not a hop casstop started; set another `local.hop_port`"
        );
    }
    fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("creating {}", dir.join("logs").display()))?;
    let log = fs::File::create(files.log_file())
        .with_context(|| format!("creating {}", files.log_file().display()))?;
    use std::os::unix::process::CommandExt;
    let mut args = serve_args(listen, upstream, &wanted, &dir);
    if !outlive {
        args.extend(["--parent".into(), std::process::id().to_string()]);
    }
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting the hop ({})", exe.display()))?;
    let pid = child.id();
    process::write_pid_file(&files.pid_file(), pid)?;
    let started = Instant::now();
    loop {
        if let Ok(state) = control::request(&files.socket(), &Request::State) {
            return Ok((state, true));
        }
        if let Ok(Some(status)) = child.try_wait() {
            process::remove_stale(&files.pid_file());
            bail!(
                "the hop exited ({status}) before it answered; {} says: {}",
                files.log_file().display(),
                fs::read_to_string(files.log_file())
                    .unwrap_or_default()
                    .trim()
            );
        }
        if started.elapsed() > Duration::from_secs(5) {
            stop(&files)?;
            bail!(
                "the hop (pid {pid}) did not answer on {} within 5s",
                files.socket().display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The command line of the detached hop (`casstop local hop-serve ...`): `cli` parses it back.
pub(crate) fn serve_args(
    listen: SocketAddr,
    upstream: SocketAddr,
    s: &HopSettings,
    dir: &Path,
) -> Vec<String> {
    let duration = |d: Duration| humantime::format_duration(d).to_string();
    vec![
        "local".into(),
        SERVE_SUBCOMMAND.into(),
        "--listen".into(),
        listen.to_string(),
        "--upstream".into(),
        upstream.to_string(),
        "--rtt".into(),
        duration(s.rtt),
        "--jitter".into(),
        duration(s.jitter),
        "--jitter-distribution".into(),
        s.jitter_distribution.to_string(),
        "--seed".into(),
        s.seed.to_string(),
        "--dir".into(),
        dir.display().to_string(),
    ]
}

/// Stops the hop serving `files.dir`. Returns its pid, or `None` when none ran.
pub fn stop(files: &HopFiles) -> Result<Option<u32>> {
    let Some(pid) = files.running_pid() else {
        return Ok(None);
    };
    process::signal(pid, Signal::TERM).context("stopping the hop")?;
    if !process::wait_until_gone(pid, Duration::from_secs(5)) {
        bail!("the hop (pid {pid}) did not stop after SIGTERM");
    }
    process::remove_stale(&files.pid_file());
    process::remove_stale(&files.socket());
    Ok(Some(pid))
}

/// A hop this run started for itself: stopped when the run ends, so the next run is direct again.
pub struct StartedHop(pub HopFiles);

impl Drop for StartedHop {
    fn drop(&mut self) {
        if let Err(err) = stop(&self.0) {
            tracing::warn!("stopping the hop: {err:#}");
        }
    }
}

/// The hop a run goes through: its control socket, what it emulated when the run started, and
/// the hop itself when this run started it (stopped when the route is dropped).
pub struct HopRoute {
    pub socket: PathBuf,
    pub state: HopState,
    started: Option<StartedHop>,
}

impl HopRoute {
    /// The hop's state now (settings and counters).
    pub fn state(&self) -> Result<HopState> {
        control::request(&self.socket, &Request::State)
    }

    /// Changes the RTT live; the run's connections stay.
    pub fn set_rtt(&self, rtt: Duration) -> Result<HopState> {
        control::request(&self.socket, &Request::Set(SettingsChange::rtt(rtt)))
    }

    /// Whether this run started the hop (and stops it at its end).
    pub fn started_here(&self) -> bool {
        self.started.is_some()
    }

    /// Stops the hop now if this run started it (for exits that skip destructors).
    pub fn stop_if_started(&self) {
        if let Some(started) = &self.started
            && let Err(err) = stop(&started.0)
        {
            tracing::warn!("stopping the hop: {err:#}");
        }
    }

    /// `hop :9043`, for headers.
    pub fn label(&self) -> String {
        format!("hop :{}", self.state.listen.port())
    }
}

/// Sends the run through the local node's hop when `--rtt` was given (`rtt_flag`), when
/// `local.rtt` is above zero, or when a hop already runs (`local up --rtt`): starts or adjusts
/// the hop, then points the contact point at it and translates every node address to it. The
/// caller has checked that the run targets the local node.
pub fn route(settings: &mut Settings, rtt_flag: bool, exe: &Path) -> Result<Option<HopRoute>> {
    let files = HopFiles::new(&settings.local.data_dir());
    let (state, started) = if rtt_flag || !settings.local.rtt.is_zero() {
        let wanted = configured(settings, settings.local.rtt);
        let (state, started) = ensure(&HopPlace::single(settings), wanted, exe, false)?;
        (state, started.then(|| StartedHop(files.clone())))
    } else if let Some(state) = files.state() {
        (state, None)
    } else {
        route_node_hops(settings);
        return Ok(None);
    };
    settings.cluster.hosts = vec![state.listen.to_string()];
    settings.cluster.through_hop = Some(state.listen);
    Ok(Some(HopRoute {
        socket: files.socket(),
        state,
        started,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::JitterDistribution;

    fn wanted() -> HopSettings {
        HopSettings {
            rtt: Duration::from_millis(2),
            jitter: Duration::ZERO,
            jitter_distribution: JitterDistribution::Uniform,
            seed: 7,
        }
    }

    fn place(dir: &Path, listen: SocketAddr) -> HopPlace {
        HopPlace {
            dir: dir.to_path_buf(),
            listen,
            upstream: SocketAddr::from(([127, 0, 0, 1], 9)),
        }
    }

    fn free_addr() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    #[test]
    fn a_hop_is_known_by_its_subcommand_and_its_exact_directory() {
        let dir = Path::new("/data/node1");
        let args = serve_args(free_addr(), free_addr(), &wanted(), dir);
        let mut line = vec!["casstop".to_string()];
        line.extend(args.iter().cloned());
        assert!(is_hop_command_line(&line, dir));
        // Another node's hop, a directory that only starts the same, or no hop at all.
        assert!(!is_hop_command_line(&line, Path::new("/data/node2")));
        assert!(!is_hop_command_line(&line, Path::new("/data")));
        let not_serving: Vec<String> = line
            .iter()
            .filter(|a| *a != SERVE_SUBCOMMAND)
            .cloned()
            .collect();
        assert!(!is_hop_command_line(&not_serving, dir));
    }

    #[test]
    fn a_pid_file_naming_a_live_process_that_is_not_the_hop_is_removed_never_believed() {
        let dir = tempfile::tempdir().unwrap();
        let files = HopFiles::new(dir.path());
        // This test process is alive and is no hop: a recycled pid must not be taken for one.
        process::write_pid_file(&files.pid_file(), std::process::id()).unwrap();
        assert_eq!(files.running_pid(), None);
        assert!(!files.pid_file().exists());
        fs::write(files.pid_file(), "not a pid\n").unwrap();
        assert_eq!(files.running_pid(), None);
        assert!(!files.pid_file().exists());
        assert!(files.state().is_none());
        assert_eq!(
            stop(&files).unwrap(),
            None,
            "nothing to stop, nothing signalled"
        );
    }

    #[test]
    fn a_hop_that_exits_before_it_answers_is_reported_with_its_log_and_leaves_no_pid_file() {
        let dir = tempfile::tempdir().unwrap();
        // A "casstop" that writes one line and fails, as a hop that cannot listen would.
        let exe = dir.path().join("fake-casstop");
        fs::write(
            &exe,
            "#!/bin/sh\necho 'cannot listen: address in use' >&2\nexit 3\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        let err = ensure(&place(dir.path(), free_addr()), wanted(), &exe, true)
            .map(|_| ())
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("the hop exited (exit status: 3)"), "{text}");
        assert!(
            text.contains("says: cannot listen: address in use"),
            "{text}"
        );
        assert!(!HopFiles::new(dir.path()).pid_file().exists());
    }

    #[test]
    fn a_port_someone_else_listens_on_is_refused_before_anything_is_started() {
        let dir = tempfile::tempdir().unwrap();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let listen = taken.local_addr().unwrap();
        let err = ensure(
            &place(dir.path(), listen),
            wanted(),
            Path::new("/nonexistent/casstop"),
            true,
        )
        .map(|_| ())
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!("another process already listens on {listen}"))
                && text.contains("local.hop_port"),
            "{text}"
        );
        assert!(!dir.path().join("logs").exists(), "nothing was made");
    }

    #[test]
    fn the_configured_hop_takes_the_local_sections_jitter_and_seed_at_the_rtt_asked() {
        let mut settings = Settings::default();
        settings.local.jitter = Duration::from_micros(300);
        settings.local.jitter_distribution = JitterDistribution::Normal;
        settings.local.jitter_seed = 42;
        settings.local.rtt = Duration::from_millis(9);
        let hop = configured(&settings, Duration::from_millis(3));
        assert_eq!(
            hop.rtt,
            Duration::from_millis(3),
            "the rtt asked, not local.rtt"
        );
        assert_eq!(hop.jitter, Duration::from_micros(300));
        assert_eq!(hop.jitter_distribution, JitterDistribution::Normal);
        assert_eq!(hop.seed, 42);
    }
}
