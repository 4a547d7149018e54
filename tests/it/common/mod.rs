//! Shared by the integration tests: the real local node, started once per test run through the
//! same code path as `casstop local up`. A test that needs it fails when it cannot come up.

#![allow(dead_code)]

use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use casstop::config::Settings;
use casstop::local::{LocalNode, Progress};

/// Progress of a node's start in a test: only the lines that stay.
pub struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _line: &str) {}
    fn finish(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

/// Blocks until the local node answers CQL (starting it if needed) and returns its pid.
/// Panics — failing the test — when it cannot come up.
pub fn node_pid() -> u32 {
    static PID: OnceLock<u32> = OnceLock::new();
    *PID.get_or_init(|| {
        let settings = Settings::default();
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let report = runtime
            .block_on(LocalNode::new(&settings.local).up(&settings, &mut Quiet))
            .unwrap_or_else(|err| panic!("the local Cassandra node did not come up: {err:#}"));
        eprintln!(
            "local node: Apache Cassandra {} pid {} (boot {:?}, install {:?})",
            report.version, report.pid, report.boot_time, report.install_time
        );
        report.pid
    })
}

/// Tests in one binary run in parallel on a machine with two cores, one of them mostly the node's.
/// A test whose assertions depend on the machine's speed (a rate, a verdict, a knee) holds
/// [`measuring`] so that no other test's load shares the machine with it; every other test that
/// sends load holds [`loading`], which such tests may share.
static LOAD: RwLock<()> = RwLock::new(());

/// Held by a test that sends load but measures nothing speed-dependent.
pub fn loading() -> RwLockReadGuard<'static, ()> {
    // A panicking test poisons the lock; the next test is still entitled to run.
    LOAD.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Held by a test whose assertions depend on the machine's speed: it runs alone.
pub fn measuring() -> RwLockWriteGuard<'static, ()> {
    LOAD.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Settings for a test writing into its own table of the test keyspace, with short intervals.
pub fn settings(table: &str) -> Settings {
    node_pid();
    let mut settings = Settings::default();
    settings.cluster.keyspace = "casstop_test".into();
    settings.cluster.table = table.into();
    settings.knobs.interval = Duration::from_millis(250);
    settings.output.dir = runs_dir();
    settings
}

/// Runs `f` on a small runtime with a session to the test cluster.
pub fn with_session<T>(
    settings: &Settings,
    f: impl AsyncFnOnce(&scylla::client::session::Session) -> anyhow::Result<T>,
) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime
        .block_on(async {
            let session = casstop::cluster::connect(settings).await?;
            f(&session).await
        })
        .unwrap_or_else(|err| panic!("{err:#}"))
}

/// Creates the test's table (if needed) and empties it.
pub fn fresh_table(settings: &Settings) {
    let owned = settings.clone();
    with_session(settings, async move |session| {
        casstop::cluster::create_schema(session, &owned).await?;
        casstop::cluster::truncate(session, &owned.cluster).await
    });
}

pub fn count_rows(settings: &Settings) -> i64 {
    let cluster = settings.cluster.clone();
    with_session(settings, async move |session| {
        casstop::cluster::count_rows(session, &cluster).await
    })
}

/// A TCP port nothing listens on at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A 64 KiB tmpfs, to fill up on purpose; unmounted when dropped. Mounting needs root, as on
/// the CI machines: a test that needs one fails without it.
pub struct TinyDisk {
    _dir: tempfile::TempDir,
    mount: std::path::PathBuf,
}

impl TinyDisk {
    pub fn mount() -> TinyDisk {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("tiny");
        std::fs::create_dir(&mount).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&mount)
            .status()
            .expect("mount runs");
        assert!(
            mounted.success(),
            "mounting a 64 KiB tmpfs (needs root, as on the CI machines)"
        );
        TinyDisk { _dir: dir, mount }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.mount
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.mount)
            .status();
    }
}

/// Where the tests' recordings go: the test run's own directory under `target/tmp`, never the
/// repository's `./runs`.
pub fn runs_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runs")
}

/// The casstop binary as a test runs it: no config file named by the environment, recordings
/// in [`runs_dir`] unless the test says otherwise.
pub fn casstop() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_casstop"));
    command
        .env_remove("CASSTOP_CONFIG")
        .env("CASSTOP_OUTPUT_DIR", runs_dir());
    command
}

/// Live (not zombie) JVMs whose command line names `data_dir` as their storage directory: the
/// nodes casstop started there.
pub fn jvms_on(data_dir: &std::path::Path) -> Vec<i32> {
    let storage = format!("-Dcassandra.storagedir={}", data_dir.display());
    procfs::process::all_processes()
        .expect("/proc lists processes")
        .flatten()
        .filter(|p| p.is_alive())
        .filter(|p| p.cmdline().is_ok_and(|args| args.contains(&storage)))
        .map(|p| p.pid())
        .collect()
}

/// Every `<text>` of an SVG, trimmed, joined as `>text<` lines so a test can look for exact labels.
pub fn svg_text(path: &std::path::Path) -> String {
    let source = std::fs::read_to_string(path).unwrap();
    let document = roxmltree::Document::parse(&source).expect("well-formed SVG");
    document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| format!(">{}<\n", n.text().unwrap_or_default().trim()))
        .collect()
}

/// Asks `check` once per `every` until it finds something, which it returns; fails the test
/// with `what` after `limit`.
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let started = std::time::Instant::now();
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(started.elapsed() < limit, "no {what} within {limit:?}");
        std::thread::sleep(every);
    }
}

/// A latency hop of this test's own, on a free port, in front of the shared node.
pub fn start_hop(settings: casstop::hop::HopSettings) -> casstop::hop::Hop {
    let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], Settings::default().local.cql_port));
    casstop::hop::Hop::start("127.0.0.1:0".parse().unwrap(), upstream, settings)
        .expect("the hop starts")
}

/// `settings` with the driver going through `hop` (contact point and every discovered node).
pub fn through(mut settings: Settings, hop: &casstop::hop::Hop) -> Settings {
    settings.cluster.hosts = vec![hop.listen().to_string()];
    settings.cluster.through_hop = Some(hop.listen());
    settings
}
