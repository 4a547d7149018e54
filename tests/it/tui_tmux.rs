//! End to end: the real binary in a real terminal (tmux) against the local node. Keys change the
//! strategy and depth, the screen shows it and a rising count; quitting and SIGTERM give the
//! terminal back (no alternate screen, cursor visible) and print the summary. A closed terminal
//! or SIGHUP ends the session the same way: writes drain, the recording's summary is written.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    /// casstop in a shell that prints its exit status and stays, so the screen can be read after.
    fn start(name: &str, table: &str) -> Tmux {
        let command = format!(
            "{} --config config.toml; echo CASSTOP_EXIT=$?; sleep 120",
            env!("CARGO_BIN_EXE_casstop")
        );
        Tmux::launch(name, table, &command, &[])
    }

    /// As [`Tmux::start`], recording into `runs`.
    fn start_recording(name: &str, table: &str, runs: &Path) -> Tmux {
        let command = format!(
            "{} --config config.toml; echo CASSTOP_EXIT=$?; sleep 120",
            env!("CARGO_BIN_EXE_casstop")
        );
        let output = format!("CASSTOP_OUTPUT_DIR={}", runs.display());
        Tmux::launch(name, table, &command, &[&output])
    }

    /// casstop as the pane's own process (no shell around it), recording into `runs`.
    fn start_alone(name: &str, table: &str, runs: &Path) -> Tmux {
        let command = format!(
            "exec {} --config config.toml",
            env!("CARGO_BIN_EXE_casstop")
        );
        let output = format!("CASSTOP_OUTPUT_DIR={}", runs.display());
        Tmux::launch(name, table, &command, &[&output])
    }

    fn launch(name: &str, table: &str, command: &str, env: &[&str]) -> Tmux {
        let socket = format!("casstop-test-{name}-{}", std::process::id());
        let tmux = Tmux { socket };
        let mut new_session = Command::new("tmux");
        new_session
            .args([
                "-L",
                &tmux.socket,
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "36",
            ])
            .args(["-e", "CASSTOP_CLUSTER_KEYSPACE=casstop_test"])
            .args(["-e", &format!("CASSTOP_CLUSTER_TABLE={table}")])
            .args(["-e", "CASSTOP_LOAD_INTERVAL=\"250ms\""])
            .args([
                "-e",
                &format!("CASSTOP_OUTPUT_DIR={}", common::runs_dir().display()),
            ]);
        for variable in env {
            new_session.args(["-e", variable]);
        }
        let status = new_session.arg(command).status().expect(
            "tmux must be installed to test the interactive session (apt-get install tmux)",
        );
        assert!(status.success(), "tmux new-session");
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits (up to 60 s) for the screen to satisfy `check`; fails the test with the screen if not.
    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            if started.elapsed() > Duration::from_secs(60) {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn casstop_pid(&self) -> u32 {
        let shell = self.run(&["display", "-p", "#{pane_pid}"]);
        let output = Command::new("pgrep")
            .args(["-P", shell.trim(), "casstop"])
            .output()
            .expect("pgrep runs");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("casstop runs in the pane")
    }

    /// The pid of the pane's own process.
    fn pane_pid(&self) -> u32 {
        let pid = self.run(&["display", "-p", "#{pane_pid}"]);
        pid.trim().parse().expect("a pane pid")
    }

    /// The terminal is back to normal: no alternate screen, cursor shown.
    fn assert_terminal_restored(&self) {
        let state = self.run(&["display", "-p", "#{alternate_on} #{cursor_flag}"]);
        assert_eq!(state.trim(), "0 1", "alternate_on cursor_flag");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn ok_count(screen: &str) -> u64 {
    screen
        .lines()
        .find_map(|line| line.split("│ok").nth(1))
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == ' ')
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}

#[test]
fn keys_steer_the_load_and_quitting_restores_the_terminal() {
    let _load = crate::common::loading();
    common::node_pid();
    let tmux = Tmux::start("keys", "tui_keys");
    let first = tmux.wait_for("writes flowing", |s| {
        s.contains("running") && ok_count(s) > 0
    });
    let _casstop = Casstop::new(tmux.casstop_pid());
    assert!(first.contains("strategy callbacks"), "{first}");
    assert!(first.contains("depth 128"), "{first}");

    // Two presses in one burst double twice: the second starts from the first one's result,
    // not from the snapshot that has not caught up yet.
    tmux.keys(&["+", "+"]);
    tmux.wait_for("depth 512", |s| s.contains("depth 512"));

    tmux.keys(&["1"]);
    tmux.wait_for("strategy sync", |s| s.contains("strategy sync"));
    tmux.keys(&[":", "depth 300", "Enter"]);
    let screen = tmux.wait_for("depth 300", |s| s.contains("depth 300"));
    let before = ok_count(&screen);
    tmux.keys(&["3"]);
    // Keys sent within one interval put every knob event before the first-write notes, which
    // may then fill the panel: either line shows the change was logged.
    tmux.wait_for("pipeline, event logged", |s| {
        s.contains("strategy pipeline")
            && (s.contains("s strategy pipeline") || s.contains("pipeline` "))
    });
    let after = tmux.wait_for("a rising count", |s| ok_count(s) > before);
    assert!(after.contains("depth 300"), "{after}");

    tmux.keys(&[":", "depth zero", "Enter"]);
    tmux.wait_for("a message for a bad value", |s| {
        s.contains("`:depth` takes a whole number")
    });

    // A profile still capturing at the quit is cut short and written, not lost.
    tmux.keys(&["f"]);
    tmux.wait_for("a capture running", |s| {
        s.contains("capturing a CPU profile")
    });
    tmux.keys(&["q"]);
    let end = tmux.wait_for("exit", |s| s.contains("CASSTOP_EXIT="));
    assert!(end.contains("CASSTOP_EXIT=0"), "{end}");
    assert!(end.contains("session summary"), "{end}");
    assert!(end.contains("strategy pipeline  depth 300"), "{end}");
    tmux.assert_terminal_restored();
    let joined = tmux.run(&["capture-pane", "-p", "-J"]);
    let svg = joined
        .lines()
        .find_map(|line| line.split("cut short at the quit (").nth(1))
        .and_then(|rest| rest.split("): ").nth(1))
        .unwrap_or_else(|| panic!("no line about the cut profile in:\n{joined}"));
    let svg = std::path::Path::new(svg.trim());
    assert!(svg.exists(), "{} written", svg.display());
    assert!(svg.with_file_name("profile.pb").exists());
}

#[test]
fn sigterm_stops_cleanly_and_restores_the_terminal() {
    let _load = crate::common::loading();
    common::node_pid();
    let tmux = Tmux::start("sigterm", "tui_sigterm");
    tmux.wait_for("writes flowing", |s| {
        s.contains("running") && ok_count(s) > 0
    });
    let casstop = Casstop::new(tmux.casstop_pid());
    // SAFETY: kill(2) on the casstop process this test started.
    unsafe {
        libc::kill(casstop.pid as libc::pid_t, libc::SIGTERM);
    }
    let end = tmux.wait_for("exit", |s| s.contains("CASSTOP_EXIT="));
    assert!(end.contains("CASSTOP_EXIT=0"), "{end}");
    assert!(end.contains("session summary"), "{end}");
    tmux.assert_terminal_restored();
}

/// A casstop process a test started. Dropped while still there (the test failed), it is killed
/// with SIGKILL: no test leaves a casstop behind writing.
struct Casstop {
    pid: u32,
}

impl Casstop {
    fn new(pid: u32) -> Casstop {
        let casstop = Casstop { pid };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert_eq!(comm.trim(), "casstop", "pid {pid} is casstop");
        casstop
    }

    /// Gone, or a zombie nobody has reaped yet (its parent, tmux, may have gone first).
    fn exited(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with(['Z', 'X'])),
        }
    }

    /// Waits up to `limit` for the process to end by itself.
    fn exits_within(&self, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.exited() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.exited()
    }

    /// The process's CPU time so far, in clock ticks, to tell a spinning process in a failure.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split(' ').collect())
            .unwrap_or_default();
        fields.get(11..13).map_or(0, |times| {
            times.iter().filter_map(|t| t.parse::<u64>().ok()).sum()
        })
    }
}

impl Drop for Casstop {
    fn drop(&mut self) {
        if !self.exited() {
            // SAFETY: kill(2) on the casstop process this test started.
            unsafe {
                libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

/// The one run directory casstop recorded into under `runs`.
fn run_dir(runs: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .expect("the runs directory")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    assert_eq!(dirs.len(), 1, "one run recorded: {dirs:?}");
    dirs.into_iter().next().unwrap()
}

/// The run ended cleanly: its summary is written, and every row it counted (and none it did not
/// count, but for writes that failed yet may have been applied) is in the table.
fn assert_summary_matches_the_table(runs: &Path, table: &str) {
    let dir = run_dir(runs);
    let text = std::fs::read_to_string(dir.join("summary.json"))
        .unwrap_or_else(|err| panic!("{}/summary.json: {err}", dir.display()));
    let summary: serde_json::Value = serde_json::from_str(&text).expect("summary.json parses");
    let ok_rows = summary["ok_rows"].as_u64().expect("ok_rows");
    let maybe_rows = summary["maybe_rows"].as_u64().expect("maybe_rows");
    assert!(ok_rows > 0, "{text}");
    let rows = common::count_rows(&common::settings(table)) as u64;
    assert!(
        (ok_rows..=ok_rows + maybe_rows).contains(&rows),
        "{rows} rows in the table; the summary counted {ok_rows} (+{maybe_rows} maybe)"
    );
}

#[test]
fn closing_the_terminal_ends_the_session_like_q() {
    let _load = crate::common::loading();
    let table = "tui_closed";
    common::fresh_table(&common::settings(table));
    let runs = tempfile::tempdir().expect("a temporary directory");
    let tmux = Tmux::start_alone("closed", table, runs.path());
    tmux.wait_for("writes flowing", |s| {
        s.contains("running") && ok_count(s) > 0
    });
    let casstop = Casstop::new(tmux.pane_pid());
    // The terminal goes away under casstop: its pty is closed, as when a terminal window or an
    // ssh connection is closed.
    tmux.run(&["kill-session"]);
    let exited = casstop.exits_within(Duration::from_secs(20));
    assert!(
        exited,
        "casstop still runs 20 s after its terminal closed ({} ticks of CPU so far)",
        casstop.cpu_ticks()
    );
    assert_summary_matches_the_table(runs.path(), table);
}

#[test]
fn sighup_stops_cleanly_and_restores_the_terminal() {
    let _load = crate::common::loading();
    let table = "tui_sighup";
    common::fresh_table(&common::settings(table));
    let runs = tempfile::tempdir().expect("a temporary directory");
    let tmux = Tmux::start_recording("sighup", table, runs.path());
    tmux.wait_for("writes flowing", |s| {
        s.contains("running") && ok_count(s) > 0
    });
    let casstop = Casstop::new(tmux.casstop_pid());
    // SAFETY: kill(2) on the casstop process this test started.
    unsafe {
        libc::kill(casstop.pid as libc::pid_t, libc::SIGHUP);
    }
    let end = tmux.wait_for("exit", |s| s.contains("CASSTOP_EXIT="));
    assert!(end.contains("CASSTOP_EXIT=0"), "{end}");
    assert!(end.contains("session summary"), "{end}");
    tmux.assert_terminal_restored();
    assert!(casstop.exits_within(Duration::from_secs(5)));
    assert_summary_matches_the_table(runs.path(), table);
}

/// The disk under the recording fills up mid-session: the event log says so once, the load goes
/// on, and `q` still ends the session with its summary, saying where what was written is.
#[test]
fn a_full_disk_mid_session_is_said_once_and_the_session_goes_on() {
    let _load = crate::common::loading();
    let table = "tui_disk_full";
    common::fresh_table(&common::settings(table));
    let disk = common::TinyDisk::mount();
    let tmux = Tmux::start_recording("diskfull", table, disk.path());
    let full = tmux.wait_for("the recording stopping", |s| {
        s.contains("recording stopped (")
    });
    let before = ok_count(&full);
    tmux.wait_for("writes going on", |s| ok_count(s) > before);
    tmux.keys(&["q"]);
    let end = tmux.wait_for("exit", |s| s.contains("CASSTOP_EXIT="));
    assert!(end.contains("CASSTOP_EXIT=0"), "{end}");
    assert!(end.contains("session summary"), "{end}");
    assert!(end.contains("recording stopped early"), "{end}");
    tmux.assert_terminal_restored();
}

/// `GET path` of a loader's API: the body, or `None` while it does not answer.
fn get(port: u16, path: &str) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()
}

/// The merged throughput in the chart's title: `throughput 3000/s` or `3.0k/s`.
fn screen_throughput(screen: &str) -> Option<f64> {
    let rest = &screen[screen.find("┌ throughput ")? + "┌ throughput ".len()..];
    let number = rest.split("/s").next()?;
    match number.strip_suffix('k') {
        Some(k) => k.parse::<f64>().ok().map(|v| v * 1000.0),
        None => number.parse().ok(),
    }
}

#[test]
fn attach_merges_two_loaders_steers_both_and_shows_one_down() {
    let _load = common::loading();
    common::node_pid();
    const TOKEN: &str = "attach-test-token";
    let ports = [common::free_port(), common::free_port()];
    /// A headless loader, killed (and reaped) when dropped.
    struct Loader(std::process::Child);
    impl Drop for Loader {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut loaders: Vec<Loader> = ports
        .iter()
        .map(|port| {
            let child = common::casstop()
                .args(["bench", "--no-record", "-q", "--duration", "180s"])
                .args(["--rate", "1500", "--listen", &format!("127.0.0.1:{port}")])
                .env("CASSTOP_CONTROL_TOKEN", TOKEN)
                .env("CASSTOP_CLUSTER_KEYSPACE", "casstop_test")
                .env("CASSTOP_CLUSTER_TABLE", "attach")
                .env("CASSTOP_LOAD_INTERVAL", "500ms")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("a loader starts");
            Loader(child)
        })
        .collect();
    for port in ports {
        common::wait_for(
            "a loader's run behind its API",
            Duration::from_secs(60),
            Duration::from_millis(200),
            || (get(port, "/status")?["state"] == "running").then_some(()),
        );
    }
    let command = format!(
        "{} attach 127.0.0.1:{},127.0.0.1:{}; echo CASSTOP_EXIT=$?; sleep 120",
        env!("CARGO_BIN_EXE_casstop"),
        ports[0],
        ports[1]
    );
    let tmux = Tmux::launch(
        "attach",
        "attach",
        &command,
        &[&format!("CASSTOP_CONTROL_TOKEN={TOKEN}")],
    );

    // The screen's throughput is the two loaders' summed: 2 × 1500/s.
    let loader_sum = || -> f64 {
        ports
            .iter()
            .filter_map(|p| get(*p, "/status")?["interval"]["throughput"].as_f64())
            .sum()
    };
    tmux.wait_for("the merged throughput of both loaders", |screen| {
        let (Some(shown), sum) = (screen_throughput(screen), loader_sum()) else {
            return false;
        };
        screen.contains("2 127.0.0.1") && (shown - sum).abs() <= 0.05 * sum && sum > 2800.0
    });

    // A knob change reaches both loaders.
    tmux.keys(&[":depth 64", "Enter"]);
    common::wait_for(
        "depth 64 on both loaders",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            ports
                .iter()
                .all(|p| get(*p, "/status").is_some_and(|s| s["knobs"]["depth"] == 64))
                .then_some(())
        },
    );
    // And to one only, once picked.
    tmux.keys(&[":loader 2", "Enter"]);
    tmux.wait_for("loader 2 picked", |s| s.contains("loader 2 only"));
    tmux.keys(&[":depth 32", "Enter"]);
    common::wait_for(
        "depth 32 on loader 2",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || (get(ports[1], "/status")?["knobs"]["depth"] == 32).then_some(()),
    );
    assert_eq!(get(ports[0], "/status").unwrap()["knobs"]["depth"], 64);

    // Loader 1 killed: shown down, the other's numbers go on alone.
    drop(loaders.remove(0));
    let down = tmux.wait_for("loader 1 shown down", |s| s.contains("DOWN"));
    let clock = |s: &str| s.lines().next().unwrap_or("").to_string();
    tmux.wait_for(
        "the other loader's throughput alone, the clock moving",
        |screen| {
            screen_throughput(screen).is_some_and(|t| (t - 1500.0).abs() <= 75.0)
                && clock(screen) != clock(&down)
        },
    );
    tmux.keys(&["q"]);
    let after = tmux.wait_for("attach to exit", |s| s.contains("CASSTOP_EXIT="));
    assert!(after.contains("CASSTOP_EXIT=0"), "{after}");
    assert!(after.contains("detached from 2 loaders"), "{after}");
    tmux.assert_terminal_restored();
    // The loader left running is still running: attach only watched it.
    assert_eq!(get(ports[1], "/status").unwrap()["state"], "running");
}
