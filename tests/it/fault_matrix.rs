//! The fault matrix: the node killed and restarted, the node paused and resumed, the latency
//! hop killed or restarted, and SIGHUP, under each long-running command (`bench`, `sweep`, the
//! session) run as a user runs it, on a node of its own with a `group` commit log. In every cell the command ends
//! cleanly when asked (its summary printed, its recording with `summary.json`), the counts are
//! honest (every issued request is ok or an error; the table holds between the ok rows and the
//! ok + maybe rows) and nothing of the cell is left running.
//!
//! Other faults are tested beside their subject: a full disk (`bad_input` for bench and sweep,
//! `tui_tmux` for the session), a closed terminal and the session's SIGHUP (`tui_tmux`), a closed
//! stdout (`cli`), a second signal (`faults`, `shutdown`).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use casstop::config::{CommitlogSync, Settings};
use casstop::local::LocalNode;

use super::faults::{NodeGuard, signal, up};
use crate::common;

const CQL_PORT: u16 = 9542;
const STORAGE_PORT: u16 = 7542;
/// How often a cell looks at the table or the screen.
const POLL: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// `kill -9` of the node, then `local up`.
    KillAndRestart,
    /// `SIGSTOP` for 4 s, then `SIGCONT`.
    PauseAndResume,
    /// `kill -9` of the latency hop the command started.
    HopKilled,
    /// The hop killed, then a new one started on its port (`casstop local up --rtt 1ms`).
    HopRestarted,
    /// No fault: the command is ended by SIGHUP (a closed terminal) instead of Ctrl-C.
    Hangup,
}

impl Fault {
    fn through_hop(self) -> bool {
        matches!(self, Fault::HopKilled | Fault::HopRestarted)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Run {
    Bench,
    Sweep,
    Session,
}

fn node_settings(table: &str) -> Settings {
    let mut settings = Settings::default();
    settings.local.data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("matrix-node");
    settings.local.cql_port = CQL_PORT;
    settings.local.storage_port = STORAGE_PORT;
    settings.local.commitlog_sync = CommitlogSync::Group;
    settings.cluster.port = CQL_PORT;
    settings.cluster.keyspace = "casstop_matrix".into();
    settings.cluster.table = table.into();
    settings
}

/// The environment that points a casstop command at the matrix node, its table and `runs`.
fn env_for(settings: &Settings, runs: &Path, hop_port: u16) -> Vec<(String, String)> {
    [
        (
            "CASSTOP_LOCAL_DATA_DIR",
            format!("{:?}", settings.local.data_dir.display().to_string()),
        ),
        ("CASSTOP_LOCAL_CQL_PORT", CQL_PORT.to_string()),
        ("CASSTOP_LOCAL_STORAGE_PORT", STORAGE_PORT.to_string()),
        ("CASSTOP_LOCAL_COMMITLOG_SYNC", "\"group\"".into()),
        ("CASSTOP_LOCAL_AUTO_START", "false".into()),
        ("CASSTOP_LOCAL_HOP_PORT", hop_port.to_string()),
        ("CASSTOP_CLUSTER_PORT", CQL_PORT.to_string()),
        ("CASSTOP_CLUSTER_KEYSPACE", "\"casstop_matrix\"".into()),
        (
            "CASSTOP_CLUSTER_TABLE",
            format!("{:?}", settings.cluster.table),
        ),
        ("CASSTOP_CLUSTER_REQUEST_TIMEOUT", "\"2s\"".into()),
        ("CASSTOP_LOAD_INTERVAL", "\"250ms\"".into()),
        ("CASSTOP_LOAD_MAX_ERROR_PERCENT", "100".into()),
        (
            "CASSTOP_OUTPUT_DIR",
            format!("{:?}", runs.display().to_string()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A command of the cell, running.
enum Running {
    Process(Child),
    Tmux { socket: String },
}

fn start(run: Run, fault: Fault, env: &[(String, String)]) -> Running {
    let rtt: &[&str] = if fault.through_hop() {
        &["--rtt", "1ms"]
    } else {
        &[]
    };
    match run {
        Run::Bench | Run::Sweep => {
            let mut command = crate::common::casstop();
            match run {
                Run::Bench => command
                    .args(["bench", "--strategy", "callbacks", "--depth", "16"])
                    .args(["--duration", "300s"])
                    .args(rtt),
                _ => command
                    .args([
                        "sweep",
                        "--strategy",
                        "callbacks",
                        "--depth",
                        "4,8,...,1024",
                    ])
                    .args(["--step", "2s", "--warmup", "1s"]),
            };
            command
                .arg("--quiet")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            Running::Process(command.spawn().expect("casstop runs"))
        }
        Run::Session => {
            let socket = format!("casstop-matrix-{fault:?}-{}", std::process::id());
            let mut command = Command::new("tmux");
            command.args(["-L", &socket, "new-session", "-d", "-x", "120", "-y", "36"]);
            for (k, v) in env {
                command.args(["-e", &format!("{k}={v}")]);
            }
            let line = format!(
                "env -u CASSTOP_CONFIG {} --strategy callbacks --depth 16 {}; echo CASSTOP_EXIT=$?; sleep 60",
                env!("CARGO_BIN_EXE_casstop"),
                rtt.join(" ")
            );
            assert!(
                command.arg(line).status().unwrap().success(),
                "tmux new-session"
            );
            Running::Tmux { socket }
        }
    }
}

fn pane(socket: &str) -> String {
    let output = Command::new("tmux")
        .args(["-L", socket, "capture-pane", "-p"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asks the command to end the way a user does (Ctrl-C, a closed terminal, or `q` in the
/// session) and returns what it printed.
fn finish(running: Running, fault: Fault) -> String {
    match running {
        Running::Process(child) => {
            let how = if fault == Fault::Hangup {
                libc::SIGHUP
            } else {
                libc::SIGINT
            };
            signal(child.id(), how);
            let output = child.wait_with_output().unwrap();
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(output.status.code(), Some(0), "{text}");
            text
        }
        Running::Tmux { socket } => {
            let _ = Command::new("tmux")
                .args(["-L", &socket, "send-keys", "q"])
                .status();
            let text =
                common::wait_for("the session's exit", Duration::from_secs(60), POLL, || {
                    let screen = pane(&socket);
                    screen.contains("CASSTOP_EXIT=").then_some(screen)
                });
            let _ = Command::new("tmux")
                .args(["-L", &socket, "kill-server"])
                .status();
            assert!(text.contains("CASSTOP_EXIT=0"), "{text}");
            assert!(text.contains("session summary"), "{text}");
            text
        }
    }
}

/// Waits until the table holds more than `than` rows: writes flow.
fn rows_beyond(settings: &Settings, than: i64, limit: Duration) -> i64 {
    common::wait_for("new rows", limit, POLL, || {
        let rows = common::count_rows(settings);
        (rows > than).then_some(rows)
    })
}

/// In the session, waits until the header says `what` of the node (where the user looks first).
fn header_says(running: &Running, what: &str) {
    if let Running::Tmux { socket } = running {
        common::wait_for(what, Duration::from_secs(30), POLL, || {
            let screen = pane(socket);
            let header = screen.lines().next().unwrap_or_default();
            header.contains(what).then_some(())
        });
    }
}

fn apply(fault: Fault, settings: &Settings, env: &[(String, String)], running: &Running) {
    let node = LocalNode::new(&settings.local);
    let pid = node.running_pid().expect("the matrix node runs");
    match fault {
        Fault::KillAndRestart => {
            signal(pid, libc::SIGKILL);
            std::thread::sleep(Duration::from_secs(1));
            header_says(running, "node DOWN for");
            up(settings);
        }
        Fault::PauseAndResume => {
            let paused = std::time::Instant::now();
            signal(pid, libc::SIGSTOP);
            header_says(running, "node NOT ANSWERING for");
            std::thread::sleep(Duration::from_secs(4).saturating_sub(paused.elapsed()));
            signal(pid, libc::SIGCONT);
            header_says(running, "running");
        }
        Fault::HopKilled | Fault::HopRestarted => {
            let pid_file = settings.local.data_dir.join("hop.pid");
            let hop: u32 =
                common::wait_for("a hop pid file", Duration::from_secs(30), POLL, || {
                    std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
                });
            signal(hop, libc::SIGKILL);
            std::thread::sleep(Duration::from_secs(2));
            if fault == Fault::HopRestarted {
                local(&["up", "--rtt", "1ms"], env);
            }
        }
        Fault::Hangup => {}
    }
}

/// `casstop local ...` with the cell's environment; it must succeed.
fn local(args: &[&str], env: &[(String, String)]) {
    let output = crate::common::casstop()
        .arg("local")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "casstop local {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The one run directory the command recorded into `runs`, and its summary.
fn recorded_summary(runs: &Path) -> serde_json::Value {
    let dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one recording: {dirs:?}");
    let text = std::fs::read_to_string(dirs[0].join("summary.json"))
        .unwrap_or_else(|err| panic!("{}: no summary.json ({err})", dirs[0].display()));
    serde_json::from_str(&text).unwrap()
}

/// One cell: returns `ok, errors, maybe, rows in the table` for the closing table.
fn cell(run: Run, fault: Fault) -> (u64, u64, u64, u64) {
    let table = format!("{run:?}_{fault:?}").to_lowercase();
    let settings = node_settings(&table);
    common::fresh_table(&settings);
    let runs = tempfile::tempdir().unwrap();
    let hop_port = common::free_port();
    let env = env_for(&settings, runs.path(), hop_port);
    // A sweep takes no --rtt; it goes through the hop that runs (`casstop local up --rtt`).
    let own_hop = fault.through_hop() && run == Run::Sweep;
    if own_hop {
        local(&["up", "--rtt", "1ms"], &env);
    }
    let running = start(run, fault, &env);
    // A few hundred writes before the fault, and as many after it once the node is back.
    let before = rows_beyond(&settings, 300, Duration::from_secs(60));
    apply(fault, &settings, &env, &running);
    if fault != Fault::HopKilled {
        rows_beyond(&settings, before + 300, Duration::from_secs(60));
    }
    let printed = finish(running, fault);
    if fault == Fault::HopRestarted || own_hop {
        local(&["down", "--hop"], &env); // a hop the command did not start is not its to stop
    }
    if run == Run::Sweep {
        assert!(printed.contains("sweep of depth"), "{printed}");
    }

    let summary = recorded_summary(runs.path());
    let number = |key: &str| {
        summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {summary}"))
    };
    let (issued, ok, errors) = (number("issued"), number("ok"), number("errors_total"));
    let (ok_rows, maybe_rows) = (number("ok_rows"), number("maybe_rows"));
    assert_eq!(issued, ok + errors, "{run:?} × {fault:?}: {summary}");
    let rows = common::count_rows(&settings) as u64;
    assert!(
        (ok_rows..=ok_rows + maybe_rows).contains(&rows),
        "{run:?} × {fault:?}: table {rows}, ok rows {ok_rows}, maybe rows {maybe_rows}"
    );
    if fault.through_hop() {
        // The writes the hop carried when it died failed: the command went through it.
        assert!(
            errors > 0,
            "{run:?} × {fault:?} did not go through the hop: {summary}"
        );
    }
    if fault == Fault::HopKilled && run == Run::Bench {
        assert!(
            printed.contains("the latency hop stopped answering"),
            "{printed}"
        );
    }
    // The command stopped the hop it started, or found it dead: nothing listens on its port.
    assert!(
        TcpStream::connect(("127.0.0.1", hop_port)).is_err(),
        "a hop is left on {hop_port}"
    );
    (ok, errors, number("maybe"), rows)
}

#[test]
fn every_command_survives_every_fault_ends_with_its_summary_and_counts_honestly() {
    let _load = common::loading();
    let settings = node_settings("unused");
    {
        let _guard = NodeGuard(settings.clone());
        up(&settings);
        let mut table = String::from("| fault | command | ok | errors | maybe | rows in table |\n");
        for fault in [
            Fault::KillAndRestart,
            Fault::PauseAndResume,
            Fault::HopKilled,
            Fault::HopRestarted,
            Fault::Hangup,
        ] {
            for run in [Run::Bench, Run::Sweep, Run::Session] {
                if fault == Fault::Hangup && run == Run::Session {
                    continue; // tui_tmux closes the session's terminal and sends it SIGHUP
                }
                let (ok, errors, maybe, rows) = cell(run, fault);
                table.push_str(&format!(
                    "| {fault:?} | {run:?} | {ok} | {errors} | {maybe} | {rows} |\n"
                ));
            }
        }
        eprintln!("{table}");
    }
    assert_eq!(
        common::jvms_on(&settings.local.data_dir),
        Vec::<i32>::new(),
        "the matrix node is left running"
    );
}
