//! End to end: the real binary in a real terminal (tmux) against the local node. Keys change the
//! strategy and depth, the screen shows it and a rising count; quitting and SIGTERM give the
//! terminal back (no alternate screen, cursor visible) and print the summary.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, table: &str) -> Tmux {
        let socket = format!("casstop-test-{name}-{}", std::process::id());
        let tmux = Tmux { socket };
        let command = format!(
            "{} --config config.toml; echo CASSTOP_EXIT=$?; sleep 120",
            env!("CARGO_BIN_EXE_casstop")
        );
        let status = Command::new("tmux")
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
            .arg(command)
            .status()
            .expect(
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
    common::node_pid();
    let tmux = Tmux::start("keys", "tui_keys");
    let first = tmux.wait_for("writes flowing", |s| {
        s.contains("running") && ok_count(s) > 0
    });
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
    tmux.wait_for("pipeline, event logged", |s| {
        s.contains("strategy pipeline") && s.contains("s strategy pipeline")
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
    common::node_pid();
    let tmux = Tmux::start("sigterm", "tui_sigterm");
    tmux.wait_for("writes flowing", |s| {
        s.contains("running") && ok_count(s) > 0
    });
    let pid = tmux.casstop_pid();
    // SAFETY: kill(2) on the casstop process this test started.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    let end = tmux.wait_for("exit", |s| s.contains("CASSTOP_EXIT="));
    assert!(end.contains("CASSTOP_EXIT=0"), "{end}");
    assert!(end.contains("session summary"), "{end}");
    tmux.assert_terminal_restored();
}
