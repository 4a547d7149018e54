//! Starting and stopping the node's JVM, and telling our node's process from any other.
//!
//! casstop's processes (the node, the hop) are recognised by their command lines, which name
//! the data directory they serve: the pid files only say where to look first. A pid file that
//! is missing, corrupt or stale is repaired from what `/proc` shows, and a process whose command
//! line is not ours is never signalled.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use procfs::process::Process;
use rustix::io::Errno;
use rustix::process::{Pid, Signal};

/// The class a Cassandra node's JVM runs.
const DAEMON_CLASS: &str = "org.apache.cassandra.service.CassandraDaemon";

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

/// Whether `args` are those of a CassandraDaemon that casstop started on `data_dir`: its storage
/// directory is the data directory (what `local up` passes), so another node on the machine,
/// even one of casstop's with another data directory, is not taken for this one.
pub fn is_node_command_line(args: &[String], data_dir: &Path) -> bool {
    let storage = format!("-Dcassandra.storagedir={}", data_dir.display());
    args.iter().any(|arg| arg == DAEMON_CLASS) && args.contains(&storage)
}

/// True when `pid` is a live (not zombie) CassandraDaemon using `data_dir`: a recycled pid that
/// now belongs to another program is never mistaken for the node, and never signalled.
pub fn is_our_node(pid: u32, data_dir: &Path) -> bool {
    live_command_line(pid).is_some_and(|args| is_node_command_line(&args, data_dir))
}

/// The live CassandraDaemon of this user that uses `data_dir`, whatever its pid file says.
pub fn find_our_node(data_dir: &Path) -> Option<u32> {
    find_own_process(|args| is_node_command_line(args, data_dir))
}

/// The arguments of `pid` when it is alive (not a zombie): what tells a process casstop started
/// from whatever reuses its pid later.
pub fn live_command_line(pid: u32) -> Option<Vec<String>> {
    let process = Process::new(i32::try_from(pid).ok()?).ok()?;
    // Both reads go through the same open /proc/<pid> directory, so they describe one process
    // even if the pid is reused in between.
    if !process.is_alive() {
        return None;
    }
    process.cmdline().ok()
}

/// The first live process of this user whose command line `matches`.
pub fn find_own_process(matches: impl Fn(&[String]) -> bool) -> Option<u32> {
    let me = rustix::process::geteuid().as_raw();
    let processes = match procfs::process::all_processes() {
        Ok(processes) => processes,
        Err(err) => {
            tracing::warn!("listing /proc: {err}");
            return None;
        }
    };
    processes
        .flatten()
        .filter(|process| process.uid().is_ok_and(|uid| uid == me))
        .filter(|process| process.is_alive())
        .find(|process| process.cmdline().is_ok_and(|args| matches(&args)))
        .and_then(|process| u32::try_from(process.pid()).ok())
}

/// True while any thread of `pid` still runs. A killed JVM's main thread turns zombie at once,
/// while its other threads go on for a moment, freeing the heap and still holding the node's
/// ports; only when they are all gone is the process really over.
pub fn exiting(pid: u32) -> bool {
    let Some(process) = i32::try_from(pid)
        .ok()
        .and_then(|pid| Process::new(pid).ok())
    else {
        return false;
    };
    if process.is_alive() {
        return true;
    }
    match process.tasks() {
        Ok(tasks) => tasks.flatten().any(|task| {
            task.stat()
                .is_ok_and(|stat| !matches!(stat.state, 'Z' | 'X'))
        }),
        Err(_) => false,
    }
}

/// True when `pid` has ended (its main thread is a zombie) but some of its threads still run:
/// a process killed a moment ago, not a live one that merely has the same pid.
pub fn dying(pid: u32) -> bool {
    live_command_line(pid).is_none() && exiting(pid)
}

/// Waits until every thread of `pid` is gone, for at most `limit`. True when they are.
pub fn wait_until_gone(pid: u32, limit: Duration) -> bool {
    let started = Instant::now();
    while exiting(pid) {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
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

/// SIGTERM (Cassandra drains), then SIGKILL after `grace`. True once every thread of the process
/// is gone (so are its ports).
pub fn terminate(pid: u32, grace: Duration) -> Result<bool> {
    if !signal(pid, Signal::TERM)? {
        return Ok(true);
    }
    if wait_until_gone(pid, grace) {
        return Ok(true);
    }
    tracing::warn!("pid {pid} did not end {grace:?} after SIGTERM; sending SIGKILL");
    signal(pid, Signal::KILL)?;
    Ok(wait_until_gone(pid, Duration::from_secs(10)))
}

/// SIGKILL: the process ends at once, as in a crash. True once every thread of it is gone.
pub fn kill(pid: u32) -> Result<bool> {
    if !signal(pid, Signal::KILL)? {
        return Ok(true);
    }
    Ok(wait_until_gone(pid, Duration::from_secs(10)))
}

/// Records `pid` in `path`, the way `up` does.
pub fn write_pid_file(path: &Path, pid: u32) -> Result<()> {
    fs::write(path, format!("{pid}\n")).with_context(|| format!("writing {}", path.display()))
}

/// The pid a pid file names; `None` when the file is missing, empty or corrupt.
pub fn read_pid_file(path: &Path) -> Option<u32> {
    let text = fs::read_to_string(path).ok()?;
    let pid = text.trim().parse::<u32>().ok().filter(|pid| *pid > 0);
    if pid.is_none() {
        tracing::warn!(
            "{} holds no pid ({:?}); looking for the process by its command line",
            path.display(),
            text.trim()
        );
    }
    pid
}

/// Removes a pid file (or socket) that no longer describes a running process; a file already
/// gone is fine, any other failure is logged.
pub fn remove_stale(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => tracing::warn!("removing {}: {err}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_node_is_known_by_its_class_and_storage_dir() {
        let dir = Path::new("/home/u/.local/share/casstop/node");
        let ours = args(&[
            "/usr/bin/java",
            "-Dcassandra.storagedir=/home/u/.local/share/casstop/node",
            DAEMON_CLASS,
        ]);
        assert!(is_node_command_line(&ours, dir));
        let other_dir = args(&["java", "-Dcassandra.storagedir=/srv/node", DAEMON_CLASS]);
        assert!(!is_node_command_line(&other_dir, dir));
        let prefix = args(&[
            "java",
            "-Dcassandra.storagedir=/home/u/.local/share/casstop/node2",
            DAEMON_CLASS,
        ]);
        assert!(!is_node_command_line(&prefix, dir));
        let not_cassandra = args(&[
            "vim",
            "-Dcassandra.storagedir=/home/u/.local/share/casstop/node",
        ]);
        assert!(!is_node_command_line(&not_cassandra, dir));
    }

    #[test]
    fn pid_files_that_hold_no_pid_read_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.pid");
        assert_eq!(read_pid_file(&path), None);
        for corrupt in ["", "\n", "garbage", "-5", "0", "12 13"] {
            fs::write(&path, corrupt).unwrap();
            assert_eq!(read_pid_file(&path), None, "{corrupt:?}");
        }
        write_pid_file(&path, 4242).unwrap();
        assert_eq!(read_pid_file(&path), Some(4242));
        remove_stale(&path);
        remove_stale(&path);
        assert!(!path.exists());
    }

    #[test]
    fn this_process_is_alive_and_not_dying() {
        let me = std::process::id();
        assert!(live_command_line(me).is_some_and(|args| !args.is_empty()));
        assert!(exiting(me));
        assert!(!dying(me), "a live process is not dying");
        assert!(!exiting(u32::MAX));
        assert_eq!(live_command_line(u32::MAX), None);
    }

    #[test]
    fn a_child_is_found_by_its_command_line_and_once_killed_is_gone() {
        // An argument no other process has: `sleep` takes fractional seconds.
        let unique = format!("30.{}", std::process::id());
        let mut child = Command::new("sleep").arg(&unique).spawn().unwrap();
        let pid = child.id();
        // Until it has exec'd, the child still has our command line.
        let started = Instant::now();
        let found = loop {
            let found = find_own_process(|args| args.last() == Some(&unique));
            if found.is_some() || started.elapsed() > Duration::from_secs(5) {
                break found;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(found, Some(pid));
        assert!(exiting(pid));
        assert!(signal(pid, Signal::KILL).unwrap());
        // Unreaped, the child is a zombie: over, though its pid still exists.
        assert!(wait_until_gone(pid, Duration::from_secs(5)));
        assert_eq!(live_command_line(pid), None);
        assert!(!dying(pid));
        child.wait().unwrap();
    }
}
