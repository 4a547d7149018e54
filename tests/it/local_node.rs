//! The local node comes up through `casstop local up`'s own code path and takes real writes.

use crate::common;

use casstop::local::LocalNode;

#[test]
fn local_node_takes_a_write_and_reads_it_back() {
    let _load = crate::common::loading();
    let settings = common::settings("roundtrip");
    common::fresh_table(&settings);
    let cluster = settings.cluster.clone();
    let (version, payload) = common::with_session(&settings, async move |session| {
        let version = casstop::cluster::release_version(session).await?;
        let insert = format!(
            "INSERT INTO {}.{} (key, payload) VALUES (?, ?)",
            cluster.keyspace, cluster.table
        );
        session
            .query_unpaged(insert, (42i64, vec![1u8, 2, 3]))
            .await?;
        let select = format!(
            "SELECT payload FROM {}.{} WHERE key = ?",
            cluster.keyspace, cluster.table
        );
        let rows = session
            .query_unpaged(select, (42i64,))
            .await?
            .into_rows_result()?;
        let (payload,) = rows.first_row::<(Vec<u8>,)>()?;
        Ok((version, payload))
    });
    assert!(version.starts_with("5.0."), "server version {version}");
    assert_eq!(payload, vec![1, 2, 3]);
    assert_eq!(common::count_rows(&settings), 1);
}

/// A load's `request_timeout` of a millisecond suits the writes, not casstop's own statements:
/// creating a table, truncating it, preparing the INSERT and counting take longer and must still
/// succeed (the writes themselves then time out, and say so).
#[test]
fn schema_and_counts_are_not_bound_by_the_loads_request_timeout() {
    let _load = crate::common::loading();
    let mut settings = common::settings("short_timeout");
    let cluster = settings.cluster.clone();
    // The table must be new, or CREATE TABLE IF NOT EXISTS would have nothing to do (created
    // first so the keyspace is there to drop it from).
    common::fresh_table(&settings);
    common::with_session(&settings, async move |session| {
        let mut drop = scylla::statement::unprepared::Statement::new(format!(
            "DROP TABLE IF EXISTS {}.{}",
            cluster.keyspace, cluster.table
        ));
        drop.set_request_timeout(Some(std::time::Duration::from_secs(120)));
        session.query_unpaged(drop, &[]).await?;
        Ok(())
    });
    settings.knobs.request_timeout = std::time::Duration::from_millis(1);
    common::fresh_table(&settings);
    settings.knobs.duration = std::time::Duration::from_secs(1);
    let run = casstop::engine::Engine::start(&settings, None)
        .expect("the engine starts: its INSERT is prepared under casstop's own timeout")
        .wait()
        .expect("run ends");
    let t = run.totals;
    assert!(t.issued > 0, "the load ran");
    assert_eq!(t.issued, t.ok + t.errors.total());
    let rows = common::count_rows(&settings) as u64;
    assert!(
        (t.ok_rows..=t.ok_rows + t.maybe_rows).contains(&rows),
        "table {rows}: ok {} + maybe {}",
        t.ok_rows,
        t.maybe_rows
    );
}

#[test]
fn up_twice_is_harmless_and_status_sees_the_node() {
    let _load = crate::common::loading();
    let pid = common::node_pid();
    let settings = casstop::config::Settings::default();
    let node = LocalNode::new(&settings.local);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    struct Silent;
    impl casstop::local::Progress for Silent {
        fn update(&mut self, _: &str) {}
        fn finish(&mut self, _: &str) {}
    }
    let again = runtime.block_on(node.up(&settings, &mut Silent)).unwrap();
    assert_eq!(again.pid, pid, "the running node is reused");
    assert!(again.boot_time.is_none(), "no second boot");
    let status = runtime.block_on(node.status(&settings));
    assert_eq!(status.pid, Some(pid));
    assert!(status.answers_cql);
    assert!(status.installed);
    assert!(status.data_bytes > 0);
    assert!(node.log_tail(5).unwrap().len() == 5);
}

/// The node of the pid-file tests: its own data directory and ports, since they stop and kill it
/// (the shared node of the other tests must not be touched). One test at a time uses it.
mod own_node {
    use std::path::PathBuf;
    use std::sync::{Mutex, MutexGuard};
    use std::time::Duration;

    use casstop::config::Settings;
    use casstop::local::{LocalNode, Progress, Status, UpReport};

    const CQL_PORT: u16 = 9642;
    const STORAGE_PORT: u16 = 7642;

    struct Quiet;

    impl Progress for Quiet {
        fn update(&mut self, _line: &str) {}
        fn finish(&mut self, line: &str) {
            eprintln!("{line}");
        }
    }

    pub fn serial() -> MutexGuard<'static, ()> {
        static NODE: Mutex<()> = Mutex::new(());
        NODE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn settings() -> Settings {
        let mut settings = Settings::default();
        settings.local.data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pid-node");
        settings.local.cql_port = CQL_PORT;
        settings.local.storage_port = STORAGE_PORT;
        settings.local.hop_port = CQL_PORT + 1;
        settings.cluster.port = CQL_PORT;
        settings
    }

    pub fn up(settings: &Settings) -> UpReport {
        tokio::runtime::Runtime::new()
            .expect("tokio runtime")
            .block_on(LocalNode::new(&settings.local).up(settings, &mut Quiet))
            .unwrap_or_else(|err| panic!("the pid-test node did not come up: {err:#}"))
    }

    pub fn status(settings: &Settings) -> Status {
        tokio::runtime::Runtime::new()
            .expect("tokio runtime")
            .block_on(LocalNode::new(&settings.local).status(settings))
    }

    pub fn pid_file(settings: &Settings) -> PathBuf {
        settings.local.data_dir.join("node.pid")
    }

    pub fn cql_port_open() -> bool {
        std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], CQL_PORT).into(),
            Duration::from_millis(300),
        )
        .is_ok()
    }

    /// Stops the node however the test ends, by its command line if the pid file is no help.
    pub struct Guard(pub Settings);

    impl Drop for Guard {
        fn drop(&mut self) {
            let node = LocalNode::new(&self.0.local);
            if let Err(err) = node.down() {
                eprintln!("stopping the pid-test node: {err:#}");
            }
            for pid in crate::common::jvms_on(&self.0.local.data_dir) {
                eprintln!("the pid-test node (pid {pid}) outlived `down`; killing it");
                let killed = rustix::process::Pid::from_raw(pid)
                    .map(|pid| rustix::process::kill_process(pid, rustix::process::Signal::KILL));
                if let Some(Err(err)) = killed {
                    eprintln!("killing pid {pid}: {err}");
                }
            }
        }
    }
}

/// A corrupt, empty or stale pid file (a crash while writing it, a user's edit, a pid since
/// reused) does not make casstop disown its node: status still finds it by its command line
/// and repairs the file, `down` stops it, and a process that is not the node is never signalled.
#[test]
fn a_corrupt_or_stale_pid_file_does_not_disown_the_node() {
    let _load = crate::common::loading();
    let _serial = own_node::serial();
    let settings = own_node::settings();
    let _guard = own_node::Guard(settings.clone());
    let pid = own_node::up(&settings).pid;
    let pid_file = own_node::pid_file(&settings);

    // Another live process of ours, whose pid the file names: not the node, never signalled.
    let mut bystander = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    for corrupt in [
        String::new(),
        "not a pid\n".to_string(),
        format!("{}\n", bystander.id()),
    ] {
        std::fs::write(&pid_file, &corrupt).unwrap();
        let status = own_node::status(&settings);
        assert_eq!(status.pid, Some(pid), "pid file {corrupt:?}");
        assert!(status.answers_cql, "pid file {corrupt:?}");
        assert_eq!(
            std::fs::read_to_string(&pid_file).unwrap().trim(),
            pid.to_string(),
            "the pid file is repaired"
        );
    }

    std::fs::write(&pid_file, format!("{}\n", bystander.id())).unwrap();
    let node = LocalNode::new(&settings.local);
    assert_eq!(node.down().unwrap(), Some(pid), "down stops the node");
    assert_eq!(common::jvms_on(&settings.local.data_dir), Vec::<i32>::new());
    assert!(!own_node::cql_port_open(), "the node's port is free");
    assert!(!pid_file.exists());
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the process the stale pid file named still runs"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    assert_eq!(own_node::status(&settings).pid, None);
}

/// `kill -9` of the node followed at once by `up`: the dead JVM's threads still hold its ports
/// for a moment; `up` waits for them instead of taking the node for a stranger's process.
#[test]
fn up_right_after_a_kill_9_brings_the_node_back() {
    let _load = crate::common::loading();
    let _serial = own_node::serial();
    let settings = own_node::settings();
    let _guard = own_node::Guard(settings.clone());
    let killed = own_node::up(&settings).pid;
    let target = rustix::process::Pid::from_raw(killed as i32).unwrap();
    rustix::process::kill_process(target, rustix::process::Signal::KILL).unwrap();

    let again = own_node::up(&settings);
    assert_ne!(again.pid, killed, "a new JVM");
    assert!(again.boot_time.is_some(), "it booted");
    let status = own_node::status(&settings);
    assert_eq!(status.pid, Some(again.pid));
    assert!(status.answers_cql);
    assert_eq!(
        common::jvms_on(&settings.local.data_dir),
        vec![again.pid as i32],
        "one node, the new one"
    );
}
