//! Bad input, as a user types it: every case ends with one line on stderr that names the
//! culprit, and a non-zero exit — 2 for a usage or configuration mistake, 1 for a failure of the
//! world (nothing listens, no JDK). The table in README.md ("When something is wrong") lists them.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// One bad input: what is run, and what it must say.
struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Replaces PATH (for "no JDK" and "no Maven").
    path: Option<String>,
    code: i32,
    says: Vec<String>,
}

impl Case {
    fn new(name: &'static str, args: &[&str], code: i32, says: &[&str]) -> Case {
        Case {
            name,
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            path: None,
            code,
            says: says.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn env(mut self, key: &str, value: &str) -> Case {
        self.env.push((key.into(), value.into()));
        self
    }

    fn run(&self) -> Output {
        let mut command = crate::common::casstop();
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(path) = &self.path {
            command.env("PATH", path).env_remove("JAVA_HOME");
        }
        command.output().expect("casstop runs")
    }

    fn check(&self) {
        let started = Instant::now();
        let output = self.run();
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            output.status.code(),
            Some(self.code),
            "{}: exit code; stderr:\n{text}",
            self.name
        );
        // Progress lines of `local up` may come first; the error is the last line, alone.
        let last = lines.last().copied().unwrap_or_default();
        assert!(
            last.starts_with("casstop: "),
            "{}: the error is one line starting `casstop: `; stderr:\n{text}",
            self.name
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("casstop: ")).count(),
            1,
            "{}: one error line; stderr:\n{text}",
            self.name
        );
        for needle in &self.says {
            assert!(
                last.contains(needle.as_str()),
                "{}: the message names `{needle}`; it says:\n{last}",
                self.name
            );
        }
        eprintln!("ok  {:<40} {:>6.2}s  {last}", self.name, took.as_secs_f64());
    }
}

/// A listener that answers every connection with an HTTP error, like a web server would.
fn not_cql_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 512];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    port
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A directory whose PATH has `java` but not `mvn` (or nothing at all).
fn path_with(dir: &Path, programs: &[&str]) -> String {
    let bin = dir.join(format!("bin-{}", programs.join("-")));
    std::fs::create_dir_all(&bin).unwrap();
    for program in programs {
        let real = which(program).unwrap_or_else(|| panic!("{program} is installed"));
        std::os::unix::fs::symlink(real, bin.join(program)).unwrap();
    }
    bin.display().to_string()
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[test]
fn config_file_mistakes_exit_2_naming_the_file_and_line() {
    let _load = crate::common::loading();
    let dir = tempfile::tempdir().unwrap();
    let typo = write(
        dir.path(),
        "typo.toml",
        "[load]\nstrategy = \"sync\"\ndepht = 4\n",
    );
    let wrong_type = write(dir.path(), "type.toml", "[load]\ndepth = \"lots\"\n");
    let broken = write(dir.path(), "broken.toml", "[load\ndepth = 4\n");
    let missing = dir.path().join("missing.toml").display().to_string();
    let cases = [
        Case::new(
            "unknown config key",
            &["--config", &typo, "bench"],
            2,
            &[&format!("{typo}:3"), "unknown key `load.depht`"],
        ),
        Case::new(
            "wrong type in the config file",
            &["--config", &wrong_type, "bench"],
            2,
            &[&format!("{wrong_type}:2"), "load.depth"],
        ),
        Case::new(
            "config file that is not TOML",
            &["--config", &broken, "bench"],
            2,
            &[&broken],
        ),
        Case::new(
            "config file that does not exist",
            &["--config", &missing, "bench"],
            2,
            &[&missing],
        ),
    ];
    for case in &cases {
        case.check();
    }
}

#[test]
fn usage_mistakes_exit_2_naming_the_culprit() {
    let _load = crate::common::loading();
    let cases = [
        Case::new(
            "depth 0",
            &["bench", "--depth", "0"],
            2,
            &["--depth", "load.depth", "between 1"],
        ),
        Case::new(
            "negative depth",
            &["bench", "--depth", "-5"],
            2,
            &["--depth", "-5"],
        ),
        Case::new(
            "batch bigger than the in-flight cap",
            &["bench", "--batch", "500", "--throttle-cap", "100"],
            2,
            &["load.batch", "load.throttle_cap"],
        ),
        Case::new(
            "rate that is not a number (flag)",
            &["bench", "--rate", "fast"],
            2,
            &["--rate", "fast"],
        ),
        Case::new(
            "rate that is not a number (environment)",
            &["bench"],
            2,
            &["CASSTOP_LOAD_RATE"],
        )
        .env("CASSTOP_LOAD_RATE", "fast"),
        Case::new(
            "unknown strategy",
            &["bench", "--strategy", "fastest"],
            2,
            &["--strategy", "fastest"],
        ),
        Case::new(
            "unknown consistency (environment)",
            &["bench"],
            2,
            &["CASSTOP_CLUSTER_CONSISTENCY", "most"],
        )
        .env("CASSTOP_CLUSTER_CONSISTENCY", "\"most\""),
        Case::new(
            "invalid keyspace name",
            &["bench"],
            2,
            &["cluster.keyspace", "my-keyspace"],
        )
        .env("CASSTOP_CLUSTER_KEYSPACE", "\"my-keyspace\""),
        Case::new(
            "duration that is not a duration",
            &["bench", "--duration", "5 parsecs"],
            2,
            &["--duration", "5 parsecs"],
        ),
        Case::new(
            "payload above the limit",
            &["bench", "--payload-bytes", "999999999"],
            2,
            &["load.payload_bytes"],
        ),
        Case::new(
            "request timeout of zero",
            &["bench", "--request-timeout", "0s"],
            2,
            &["cluster.request_timeout"],
        ),
        Case::new("unknown flag", &["bench", "--deep", "4"], 2, &["--deep"]),
        Case::new(
            "a host's port past 65535",
            &["--hosts", "127.0.0.1:70000", "bench"],
            2,
            &["--hosts", "cluster.hosts", "70000"],
        ),
        Case::new(
            "a profile of no length",
            &["bench", "--profile", "0s"],
            2,
            &["--profile", "profiler.duration", "between 100ms"],
        ),
        Case::new(
            "an API certificate without its key",
            &["bench", "--listen", "127.0.0.1:0"],
            2,
            &["CASSTOP_CONTROL_CERT_FILE", "control.key_file"],
        )
        .env("CASSTOP_CONTROL_CERT_FILE", "/etc/hostname"),
        Case::new(
            "an API certificate file with no certificate in it",
            &["bench", "--listen", "127.0.0.1:0"],
            2,
            &["control.cert_file", "/etc/hostname", "no PEM certificate"],
        )
        .env("CASSTOP_CONTROL_CERT_FILE", "/etc/hostname")
        .env("CASSTOP_CONTROL_KEY_FILE", "/etc/hostname"),
        Case::new(
            "interactive session with stdout not a terminal",
            &["tui"],
            2,
            &["terminal", "casstop bench"],
        ),
    ];
    for case in &cases {
        case.check();
    }
}

#[test]
fn unreachable_wrong_and_foreign_endpoints_fail_naming_the_address() {
    let _load = crate::common::loading();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_address = silent.local_addr().unwrap().to_string();
    let closed = format!("127.0.0.1:{}", common::free_port());
    let http = format!("127.0.0.1:{}", not_cql_listener());
    let cases = [
        Case::new(
            "unreachable host (accepts, never answers)",
            &["bench", "--hosts", &silent_address, "--duration", "1s"],
            1,
            &[
                &format!("cannot connect to {silent_address}"),
                "cluster.connect_timeout",
            ],
        )
        .env("CASSTOP_CLUSTER_CONNECT_TIMEOUT", "\"2s\""),
        Case::new(
            "wrong port (nothing listens)",
            &["bench", "--hosts", &closed, "--duration", "1s"],
            1,
            &[&format!("cannot connect to {closed}")],
        ),
        Case::new(
            "a port that is not CQL",
            &["bench", "--hosts", &http, "--duration", "1s"],
            1,
            &[&format!("cannot connect to {http}"), "does not speak CQL"],
        )
        .env("CASSTOP_CLUSTER_CONNECT_TIMEOUT", "\"3s\""),
    ];
    for case in &cases {
        let started = Instant::now();
        case.check();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}: gave up only after {:?}",
            case.name,
            started.elapsed()
        );
    }
    drop(silent);
}

#[test]
fn replication_factor_above_the_node_count_is_refused_before_writing() {
    let _load = crate::common::loading();
    common::node_pid();
    Case::new(
        "replication factor above the node count",
        &["bench", "--duration", "1s"],
        2,
        &["cluster.replication_factor", "3", "1 node"],
    )
    .env("CASSTOP_CLUSTER_KEYSPACE", "\"casstop_rf3\"")
    .env("CASSTOP_CLUSTER_REPLICATION_FACTOR", "3")
    .check();
}

#[test]
fn local_up_without_jdk_or_maven_or_with_its_port_taken_says_what_is_missing() {
    let _load = crate::common::loading();
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let node_dir = dir.path().join("node").display().to_string();
    let cache_dir = dir.path().join("cache").display().to_string();
    let local = |case: Case, cql_port: &str| {
        case.env("CASSTOP_LOCAL_DATA_DIR", &format!("\"{node_dir}\""))
            .env("CASSTOP_LOCAL_CACHE_DIR", &format!("\"{cache_dir}\""))
            .env("CASSTOP_LOCAL_CQL_PORT", cql_port)
            .env(
                "CASSTOP_LOCAL_STORAGE_PORT",
                &common::free_port().to_string(),
            )
    };
    let free = common::free_port().to_string();

    let mut no_jdk = local(
        Case::new(
            "local up without a JDK",
            &["local", "up"],
            1,
            &["no `java` on PATH", "openjdk-17"],
        ),
        &free,
    );
    no_jdk.path = Some(path_with(dir.path(), &[]));
    no_jdk.check();

    let mut no_maven = local(
        Case::new(
            "local up without Maven",
            &["local", "up"],
            1,
            &["no `mvn` on PATH", "apt-get install maven"],
        ),
        &free,
    );
    no_maven.path = Some(path_with(dir.path(), &["java"]));
    no_maven.check();

    local(
        Case::new(
            "local up with another process on its CQL port",
            &["local", "up"],
            1,
            &[
                &format!("127.0.0.1:{taken_port}"),
                "another process already listens",
                "local.cql_port",
            ],
        ),
        &taken_port,
    )
    .check();
    drop(taken);
}

#[test]
fn the_interactive_session_refuses_a_terminal_too_small_to_draw() {
    let _load = crate::common::loading();
    let socket = format!("casstop-test-small-{}", std::process::id());
    let command = format!(
        "{} tui; echo CASSTOP_EXIT=$?; sleep 30",
        env!("CARGO_BIN_EXE_casstop")
    );
    let status = Command::new("tmux")
        .args(["-L", &socket, "new-session", "-d", "-x", "40", "-y", "10"])
        .arg(command)
        .status()
        .expect("tmux must be installed (apt-get install tmux)");
    assert!(status.success());
    let started = Instant::now();
    let screen = loop {
        let output = Command::new("tmux")
            .args(["-L", &socket, "capture-pane", "-p", "-J"])
            .output()
            .unwrap();
        let screen = String::from_utf8_lossy(&output.stdout).into_owned();
        if screen.contains("CASSTOP_EXIT=") || started.elapsed() > Duration::from_secs(30) {
            break screen;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .status();
    let joined = screen.replace('\n', "");
    assert!(screen.contains("CASSTOP_EXIT=2"), "{screen}");
    assert!(joined.contains("the terminal is 40×10"), "{screen}");
    assert!(joined.contains("at least 60×16"), "{screen}");
}

#[test]
fn a_run_directory_that_cannot_be_made_is_refused_before_running() {
    let _load = crate::common::loading();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let output_dir = file.join("runs").display().to_string();
    Case::new(
        "unwritable run directory",
        &["bench", "--duration", "1s"],
        2,
        &["output.dir", &output_dir, "--no-record"],
    )
    .env("CASSTOP_OUTPUT_DIR", &format!("\"{output_dir}\""))
    .check();
}

/// A small tmpfs fills up during the run: the recording fails with the kernel's own ENOSPC, the
/// run stops gracefully (summary printed), the exit is 1 with one line saying why and where the
/// recording is, and what was recorded until then reads back.
#[test]
fn a_full_disk_while_recording_stops_the_run_and_keeps_the_recording() {
    let _load = crate::common::loading();
    common::node_pid();
    let disk = common::TinyDisk::mount();
    let mount = disk.path().to_path_buf();

    let started = Instant::now();
    let output = crate::common::casstop()
        .args(["bench", "--duration", "120s", "--rate", "2000"])
        .env("CASSTOP_OUTPUT_DIR", format!("\"{}\"", mount.display()))
        .env("CASSTOP_LOAD_INTERVAL", "\"100ms\"")
        .env("CASSTOP_CLUSTER_KEYSPACE", "\"casstop_test\"")
        .env("CASSTOP_CLUSTER_TABLE", "\"disk_full\"")
        .stdin(Stdio::null())
        .output()
        .expect("casstop runs");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = stderr
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(last.starts_with("casstop: recording failed ("), "{stderr}");
    assert!(last.contains("No space left on device"), "{last}");
    assert!(
        stdout.contains("throughput"),
        "the summary is printed: {stdout}"
    );
    assert!(
        took < Duration::from_secs(100),
        "the run stopped early: {took:?}"
    );
    let run_dir = std::fs::read_dir(&mount)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("the run directory is kept");
    assert!(last.contains(&run_dir.display().to_string()), "{last}");
    let intervals = std::fs::read_to_string(run_dir.join("intervals.jsonl")).unwrap();
    let lines: Vec<&str> = intervals.lines().collect();
    let complete = lines
        .iter()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    assert!(complete > 0, "some intervals were recorded");
    assert!(complete + 1 >= lines.len(), "at most the last line is cut");
    eprintln!(
        "disk full after {took:?}: {complete} intervals kept in {}",
        run_dir.display()
    );
}

/// A sweep whose disk fills up: its steps are read from its recording, so it ends early, exit 1,
/// with one line saying why and where what was written is, in bounded time.
#[test]
fn a_full_disk_during_a_sweep_ends_it_saying_where_the_recording_is() {
    let _load = crate::common::loading();
    common::node_pid();
    let disk = common::TinyDisk::mount();
    let started = Instant::now();
    let output = crate::common::casstop()
        .args([
            "sweep",
            "--depth",
            "1,2,...,1024",
            "--step",
            "2s",
            "--warmup",
            "1s",
        ])
        .args(["--rate", "2000", "--quiet"])
        .env(
            "CASSTOP_OUTPUT_DIR",
            format!("\"{}\"", disk.path().display()),
        )
        .env("CASSTOP_LOAD_INTERVAL", "\"100ms\"")
        .env("CASSTOP_CLUSTER_KEYSPACE", "\"casstop_test\"")
        .env("CASSTOP_CLUSTER_TABLE", "\"disk_full_sweep\"")
        .stdin(Stdio::null())
        .output()
        .expect("casstop runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = stderr
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(last.contains("No space left on device"), "{stderr}");
    assert!(last.contains(&disk.path().display().to_string()), "{last}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the sweep stopped at the full disk, not after all its steps"
    );
}
