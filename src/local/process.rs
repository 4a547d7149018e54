//! Starting and stopping the node's JVM, and telling our node's process from any other.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustix::io::Errno;
use rustix::process::{Pid, Signal};

/// Starts the JVM in its own process group, so a Ctrl-C meant for casstop does not reach the
/// node: the node outlives the session that started it, and the next session reuses it.
pub fn launch(java: &Path, args: &[String], data_dir: &Path) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let stdout_path = data_dir.join("logs").join("stdout.log");
    let stdout = File::create(&stdout_path)
        .with_context(|| format!("creating {}", stdout_path.display()))?;
    let stderr = stdout.try_clone()?;
    Command::new(java)
        .args(args)
        .current_dir(data_dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", java.display()))
}

/// True when `pid` is a live (not zombie) CassandraDaemon using `data_dir`: a recycled pid that
/// now belongs to another program is never mistaken for the node, and never signalled.
pub fn is_our_node(pid: u32, data_dir: &Path) -> bool {
    let Some(args) = live_command_line(pid) else {
        return false;
    };
    let storage = format!("-Dcassandra.storagedir={}", data_dir.display());
    args.iter()
        .any(|arg| arg == "org.apache.cassandra.service.CassandraDaemon")
        && args.contains(&storage)
}

/// The arguments of `pid` when it is alive (not a zombie): what tells a process casstop started
/// from whatever reuses its pid later.
pub fn live_command_line(pid: u32) -> Option<Vec<String>> {
    if !alive(pid) {
        return None;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        cmdline
            .split(|b| *b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect(),
    )
}

fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | None)
}

/// Sends `signal` to `pid`. `Ok(false)` when the process was already gone.
pub fn signal(pid: u32, signal: Signal) -> Result<bool> {
    let target = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .with_context(|| format!("{pid} is not a pid that can be signalled"))?;
    match rustix::process::kill_process(target, signal) {
        Ok(()) => Ok(true),
        Err(Errno::SRCH) => Ok(false),
        Err(err) => Err(std::io::Error::from(err)).with_context(|| {
            let name = format!("{signal:?}").replace("Signal::", "SIG");
            format!("sending {name} to pid {pid}")
        }),
    }
}

/// SIGTERM (Cassandra drains), then SIGKILL after `grace`. True once the process is gone.
pub fn terminate(pid: u32, grace: Duration) -> Result<bool> {
    if !signal(pid, Signal::TERM)? {
        return Ok(true);
    }
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > grace {
            tracing::warn!("pid {pid} did not end {grace:?} after SIGTERM; sending SIGKILL");
            signal(pid, Signal::KILL)?;
            std::thread::sleep(Duration::from_millis(500));
            return Ok(!alive(pid));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(true)
}
