//! A local cluster of three real nodes (`local up --nodes 3`'s own code): one ring, and routing
//! judged by the servers' own counters. With replication factor 1 every row has one replica; a
//! token-aware write is coordinated by that replica (each node coordinated exactly the writes it
//! stored, and next to nothing crossed between nodes), a round-robin one by whichever node is
//! next (two in three rows travel from their coordinator to their replica and back).
//!
//! casstop's per-node view (the driver's record of each write's coordinator) is judged by the
//! same counters: per node, the writes casstop says it coordinated are the writes the server
//! says it coordinated. A node is killed and started again under load, and one is slowed by a
//! latency hop of its own: the per-node view and the verdict must say which.
//!
//! Three JVMs fill the machine's cores: each test runs alone (`measuring`), on the group's own
//! data directory and ports. The cluster boots once, for the first test that needs it; each test
//! leaves all three nodes running, and they are killed when the test process exits.

use crate::common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use casstop::config::Settings;
use casstop::engine::Engine;
use casstop::knobs::{Consistency, Routing, Strategy};
use casstop::local::{LocalCluster, NodeAction};
use casstop::metrics::{ErrorKind, NodeStats};

use crate::common::Quiet;

const CQL_PORT: u16 = 9742;
const STORAGE_PORT: u16 = 7742;
const NODES: u8 = 3;

fn cluster_settings(table: &str) -> Settings {
    let mut settings = Settings::default();
    settings.local.data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cluster-nodes");
    settings.local.cql_port = CQL_PORT;
    settings.local.storage_port = STORAGE_PORT;
    settings.local.nodes = NODES;
    settings.local.heap = "512M".into();
    settings.local.boot_timeout = Duration::from_secs(240);
    settings.cluster.hosts = vec![format!("127.0.0.1:{CQL_PORT}")];
    settings.cluster.port = CQL_PORT;
    settings.cluster.keyspace = "casstop_cluster".into();
    settings.cluster.table = table.into();
    settings.cluster.replication_factor = 1;
    settings.knobs.consistency = casstop::knobs::Consistency::One;
    settings.knobs.interval = Duration::from_millis(250);
    settings.output.dir = common::runs_dir();
    settings
}

/// The group's cluster, booted by the first test that asks (which fails if it cannot come up).
fn cluster() -> &'static LocalCluster {
    static CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        // Registered before the boot, so nodes a failed boot left running go too.
        // SAFETY: `kill_cluster` is a plain function that only reads pid files and signals.
        unsafe { libc::atexit(kill_cluster) };
        let settings = cluster_settings("ring");
        let cluster = LocalCluster::new(&settings.local);
        let started = Instant::now();
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let reports = runtime
            .block_on(cluster.up(&settings, &mut Quiet))
            .unwrap_or_else(|err| panic!("the local cluster did not come up: {err:#}"));
        let addresses: Vec<String> = reports.iter().map(|r| r.address.to_string()).collect();
        assert_eq!(
            addresses,
            ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map(|ip| format!("{ip}:{CQL_PORT}"))
        );
        eprintln!(
            "3-node cluster up in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        cluster
    })
}

/// At the test process's exit: the nodes' data is scratch, a crash loses nothing of value.
extern "C" fn kill_cluster() {
    for node in LocalCluster::new(&cluster_settings("ring").local).nodes {
        let _ = node.kill();
    }
}

/// Starts node `index` again if a test left it down (a failed assertion mid-way).
struct Restarts(u8);

impl Drop for Restarts {
    fn drop(&mut self) {
        let settings = cluster_settings("ring");
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        if let Err(err) = runtime.block_on(cluster().act(self.0, NodeAction::Start, &settings)) {
            eprintln!("restarting node {}: {err:#}", self.0);
        }
    }
}

/// What one node's `system_views` say (node-local virtual tables, read from that node).
#[derive(Clone, Copy, Debug)]
struct ServerCounts {
    /// Writes to the table this node coordinated.
    coordinated: i64,
    /// Writes to the table this node stored.
    stored: i64,
    /// Messages this node sent to the other nodes (mutations, their answers, gossip).
    sent: i64,
}

fn server_counts(settings: &Settings, cluster: &LocalCluster) -> Vec<ServerCounts> {
    let addresses: Vec<_> = cluster.nodes.iter().map(|n| n.address()).collect();
    let owned = settings.cluster.clone();
    common::with_session(settings, async move |session| {
        let mut counts = Vec::new();
        for address in addresses {
            let table_count = async |view: &str| -> anyhow::Result<i64> {
                let text = format!(
                    "SELECT count FROM system_views.{view} WHERE keyspace_name = '{}' AND table_name = '{}'",
                    owned.keyspace, owned.table
                );
                let rows = session
                    .query_unpaged(casstop::cluster::on_node(&text, address), &[])
                    .await?
                    .into_rows_result()?;
                Ok(rows.first_row::<(i64,)>().map(|(c,)| c).unwrap_or(0))
            };
            let coordinated = table_count("coordinator_write_latency").await?;
            let stored = table_count("local_write_latency").await?;
            let rows = session
                .query_unpaged(
                    casstop::cluster::on_node(
                        "SELECT sent_count FROM system_views.internode_outbound",
                        address,
                    ),
                    &[],
                )
                .await?
                .into_rows_result()?;
            let sent = rows
                .rows::<(i64,)>()?
                .map(|row| row.map(|(c,)| c))
                .sum::<Result<i64, _>>()?;
            counts.push(ServerCounts {
                coordinated,
                stored,
                sent,
            });
        }
        Ok(counts)
    })
}

/// Writes `ops` rows with `routing`; the table then holds exactly the ok rows. Returns the ok
/// count and each node's (coordinated, stored); casstop's own per-node count of coordinated
/// writes must be the servers'.
fn write_with(routing: Routing, table: &str, cluster: &LocalCluster) -> (u64, Vec<ServerCounts>) {
    let mut settings = cluster_settings(table);
    settings.knobs.routing = routing;
    settings.knobs.strategy = Strategy::Callbacks;
    settings.knobs.depth = 16;
    settings.knobs.ops = 6_000;
    settings.knobs.duration = Duration::ZERO;
    common::fresh_table(&settings);
    let before = server_counts(&settings, cluster);
    let run = Engine::start(&settings, None)
        .expect("engine starts")
        .wait()
        .expect("run ends");
    let t = run.totals;
    assert_eq!(t.errors.total(), 0, "{:?}", t.errors);
    assert_eq!(common::count_rows(&settings) as u64, t.ok_rows);
    let after = server_counts(&settings, cluster);
    let counts = after
        .iter()
        .zip(&before)
        .map(|(a, b)| ServerCounts {
            coordinated: a.coordinated - b.coordinated,
            stored: a.stored - b.stored,
            sent: a.sent - b.sent,
        })
        .collect::<Vec<_>>();
    eprintln!("{routing}: ok {}; per node: {counts:?}", t.ok);
    let seen: Vec<(String, u64)> = run
        .nodes
        .iter()
        .map(|n| (n.node.ip().to_string(), n.ok))
        .collect();
    let servers: Vec<(String, u64)> = cluster
        .nodes
        .iter()
        .zip(&counts)
        .map(|(node, c)| (node.ip().to_string(), c.coordinated as u64))
        .collect();
    assert_eq!(
        seen, servers,
        "casstop's per-node view (left) against each server's coordinator_write_latency count"
    );
    (t.ok, counts)
}

#[test]
fn three_local_nodes_form_one_ring_and_token_aware_writes_are_coordinated_by_their_replica() {
    let _alone = common::measuring();
    let cluster = cluster();
    let settings = cluster_settings("ring");
    // The driver, given node 1 only, finds all three.
    let known = common::with_session(&settings, async |session| {
        Ok(session.get_cluster_state().get_nodes_info().len())
    });
    assert_eq!(known, NODES as usize);

    let (ok, counts) = write_with(Routing::TokenAware, "token_aware", cluster);
    let stored: i64 = counts.iter().map(|c| c.stored).sum();
    assert_eq!(stored as u64, ok, "every write stored once (RF 1)");
    for (node, c) in counts.iter().enumerate() {
        assert!(
            c.stored > ok as i64 / 10,
            "node {} owns a share: {counts:?}",
            node + 1
        );
        assert_eq!(
            c.coordinated,
            c.stored,
            "node {} coordinated other nodes' rows: token-aware routing is off ({counts:?})",
            node + 1
        );
    }
    let aware_sent: i64 = counts.iter().map(|c| c.sent).sum();

    let (ok, counts) = write_with(Routing::RoundRobin, "round_robin", cluster);
    let stored: i64 = counts.iter().map(|c| c.stored).sum();
    assert_eq!(stored as u64, ok, "every write stored once (RF 1)");
    let robin_sent: i64 = counts.iter().map(|c| c.sent).sum();
    // Round-robin: ~2/3 of the rows go coordinator → replica and their answers back (~4 of
    // every 3 writes in messages); token-aware: only gossip and schema talk, and whatever a
    // node restarted by an earlier test catches up on (hints: ~600 messages seen).
    assert!(
        robin_sent as f64 > 0.6 * ok as f64,
        "round-robin writes should cross between nodes: {robin_sent} messages for {ok} writes"
    );
    assert!(
        (aware_sent as f64) < 0.25 * ok as f64 && aware_sent * 5 < robin_sent,
        "token-aware writes crossed between nodes: {aware_sent} messages for {ok} writes \
         (round-robin: {robin_sent})"
    );
}

/// The latest interval's row for node `index` (127.0.0.index).
fn row_of(engine: &Engine, index: u8) -> Option<NodeStats> {
    let ip = std::net::IpAddr::from([127, 0, 0, index]);
    engine
        .latest()
        .borrow()
        .interval
        .nodes
        .iter()
        .find(|n| n.node.ip() == ip)
        .cloned()
}

fn act(index: u8, action: NodeAction) -> String {
    let settings = cluster_settings("ring");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let line = runtime
        .block_on(cluster().act(index, action, &settings))
        .unwrap_or_else(|err| panic!("node {index} {}: {err:#}", action.name()));
    eprintln!("{line}");
    line
}

#[test]
fn a_node_killed_at_quorum_costs_no_write_and_at_all_refuses_every_write_until_it_is_back() {
    let _alone = common::measuring();
    cluster();
    let mut settings = cluster_settings("lost_node");
    settings.cluster.keyspace = "casstop_rf3".into();
    settings.cluster.replication_factor = 3;
    settings.knobs.consistency = Consistency::Quorum;
    // Writes in flight to node 3 when it dies are retried on the next node.
    settings.knobs.retry = casstop::knobs::Retry::Idempotent;
    settings.knobs.strategy = Strategy::Callbacks;
    settings.knobs.depth = 16;
    settings.knobs.rate = 800.0;
    settings.knobs.request_timeout = Duration::from_secs(4);
    common::fresh_table(&settings);
    let engine = Engine::start(&settings, None).expect("engine starts");
    let every = Duration::from_millis(250);
    common::wait_for(
        "writes on all three nodes",
        Duration::from_secs(20),
        every,
        || {
            (1..=3)
                .all(|i| row_of(&engine, i).is_some_and(|r| r.ok > 0))
                .then_some(())
        },
    );

    let _restarts = Restarts(3);
    assert!(act(3, NodeAction::Kill).starts_with("node 3 (127.0.0.3) killed (SIGKILL, pid"));
    common::wait_for("node 3 shown down", Duration::from_secs(30), every, || {
        row_of(&engine, 3).filter(|r| !r.connected)
    });
    // At QUORUM two replicas of three suffice, and the writes in flight to node 3 when it died
    // were retried on the next node (idempotent): not one write failed, and the verdict names
    // the node that is gone.
    let quorum_from = engine.latest().borrow().totals.clone();
    std::thread::sleep(Duration::from_secs(3));
    let snapshot = engine.latest().borrow().clone();
    assert_eq!(
        (snapshot.totals.errors.total(), snapshot.totals.maybe),
        (0, 0),
        "writes failed at QUORUM with one node of three down: {}",
        snapshot.totals.errors
    );
    assert!(snapshot.totals.ok > quorum_from.ok + 1_000, "writes go on");
    assert!(
        snapshot
            .interval
            .verdict
            .text
            .contains("node 127.0.0.3 is down"),
        "{}",
        snapshot.interval.verdict.text
    );
    let quorum = engine.stop().expect("run ends").totals;
    assert_eq!(
        (quorum.errors.total(), quorum.maybe),
        (0, 0),
        "{}",
        quorum.errors
    );
    // Every acknowledged write is on two of three nodes; a QUORUM count meets each on one.
    assert_eq!(
        count_rows_patiently(&settings),
        quorum.ok_rows,
        "rows == ok at QUORUM with node 3 killed mid-run"
    );

    // At ALL the node's absence refuses every write: unavailable, which proves nothing was
    // written, so never "maybe".
    let mut at_all = settings.clone();
    at_all.knobs.consistency = Consistency::All;
    let engine = Engine::start(&at_all, None).expect("engine starts with node 3 down");
    // Until gossip has told every coordinator that node 3 is gone, a coordinator may still
    // send it a replica and time out; from then on each write is refused at once.
    common::wait_for(
        "writes refused as unavailable at ALL",
        Duration::from_secs(60),
        every,
        || {
            let i = engine.latest().borrow().interval.clone();
            (i.errors.get(ErrorKind::Unavailable) > 0
                && i.errors.total() == i.errors.get(ErrorKind::Unavailable))
            .then_some(())
        },
    );
    std::thread::sleep(Duration::from_secs(3));
    let refused_from = engine.latest().borrow().totals.clone();
    std::thread::sleep(Duration::from_secs(2));
    let refused = engine.latest().borrow().totals.clone();
    let unavailable = refused.errors.get(ErrorKind::Unavailable)
        - refused_from.errors.get(ErrorKind::Unavailable);
    assert!(unavailable > 500, "{unavailable} refused in 2 s at 800/s");
    assert_eq!(
        refused.ok, refused_from.ok,
        "a write succeeded at ALL with a node down"
    );
    assert_eq!(
        refused.maybe, refused_from.maybe,
        "an unavailable is not a maybe"
    );

    // Back: the driver reconnects, and writes at ALL succeed again.
    assert!(act(3, NodeAction::Start).contains("started"));
    let back = common::wait_for(
        "writes at ALL succeeding with node 3 back",
        Duration::from_secs(90),
        every,
        || {
            let snapshot = engine.latest().borrow().clone();
            let i = &snapshot.interval;
            let row = row_of(&engine, 3)?;
            (row.connected && i.ok > 0 && i.errors.total() == 0).then_some(snapshot)
        },
    );
    let run = engine.stop().expect("run ends");
    let t = &run.totals;
    eprintln!(
        "ok {} errors {} maybe {}; back at {:.1} s",
        t.ok, t.errors, t.maybe, back.interval.at_s
    );
    // Both runs' acknowledged writes, and at most the second's maybes (a coordinator that still
    // thought node 3 up timed out on it).
    let rows = count_rows_patiently(&settings);
    let ok_rows = quorum.ok_rows + t.ok_rows;
    assert!(
        rows >= ok_rows && rows <= ok_rows + t.maybe_rows,
        "{rows} rows for {ok_rows} ok and {} maybe",
        t.maybe_rows
    );
}

/// Counts the rows at the settings' consistency, asking again while a coordinator still sends
/// to a node just killed or restarted (until gossip tells it, it waits on that node and times
/// out): a read that times out is no answer, not a wrong one.
fn count_rows_patiently(settings: &Settings) -> u64 {
    let cluster = settings.cluster.clone();
    common::with_session(settings, async move |session| {
        let started = Instant::now();
        loop {
            match casstop::cluster::count_rows(session, &cluster).await {
                Ok(rows) => return Ok(rows as u64),
                Err(err) if started.elapsed() < Duration::from_secs(60) => {
                    eprintln!("counting again: {err:#}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(err) => return Err(err),
            }
        }
    })
}

#[test]
fn dropping_and_creating_the_schema_again_and_again_on_three_nodes_never_races() {
    let _alone = common::measuring();
    cluster();
    let mut settings = cluster_settings("schema_loop");
    settings.cluster.keyspace = "casstop_schema_loop".into();
    settings.cluster.replication_factor = 2;
    settings.knobs.ops = 300;
    settings.knobs.duration = Duration::ZERO;
    for round in 0..5 {
        let keyspace = settings.cluster.keyspace.clone();
        common::with_session(&settings, async move |session| {
            session
                .query_unpaged(
                    casstop::cluster::admin(format!("DROP KEYSPACE IF EXISTS {keyspace}")),
                    &[],
                )
                .await?;
            Ok(())
        });
        // Creates keyspace and table (through whichever nodes the driver picks), prepares and
        // writes at once: the race once failed here with "Keyspace … doesn't exist".
        let run = Engine::start(&settings, None)
            .unwrap_or_else(|err| panic!("round {round}: {err:#}"))
            .wait()
            .expect("run ends");
        assert_eq!(run.totals.errors.total(), 0, "round {round}");
        assert_eq!(common::count_rows(&settings) as u64, run.totals.ok_rows);
    }
}

/// The group's cluster as a config file, for the casstop binary.
fn config_file(dir: &std::path::Path, table: &str) -> PathBuf {
    let settings = cluster_settings(table);
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[cluster]\nhosts = [\"127.0.0.1:{CQL_PORT}\"]\nport = {CQL_PORT}\nkeyspace = \"{}\"\n\
             table = \"{table}\"\nreplication_factor = 1\nconsistency = \"one\"\n\
             [local]\nnodes = {NODES}\ncql_port = {CQL_PORT}\nstorage_port = {STORAGE_PORT}\n\
             heap = \"512M\"\ndata_dir = \"{}\"\n",
            settings.cluster.keyspace,
            settings.local.data_dir.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_node_slowed_by_a_hop_of_its_own_is_named_by_the_verdict_and_has_the_highest_p99() {
    let _alone = common::measuring();
    cluster();
    let scratch = tempfile::tempdir().unwrap();
    let config = config_file(scratch.path(), "slow_node");
    let casstop = |args: &[&str]| {
        let out = common::casstop()
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .expect("casstop runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "casstop {args:?}: {text}");
        text
    };
    // Node 3 gets a hop of its own, adding 150 ms; nodes 1 and 2 stay direct. The verdict names
    // a node whose p99 is 3x the others': three JVMs on two cores loaded by CI give every node
    // a tail of tens of ms (20 ms did not stand out), none of 150 ms at this rate.
    let up = casstop(&["local", "up", "--rtt", "node3=150ms"]);
    assert!(
        up.contains("latency hop of node 3 started: 127.0.0.3:9043 -> 127.0.0.3:9742"),
        "{up}"
    );
    struct HopDown<'a>(&'a dyn Fn(&[&str]) -> String);
    impl Drop for HopDown<'_> {
        fn drop(&mut self) {
            (self.0)(&["local", "down", "--hop"]);
        }
    }
    let _hop_down = HopDown(&casstop);
    let status = casstop(&["local", "status"]);
    assert!(status.contains("latency hop of node 3: up"), "{status}");

    let json = scratch.path().join("bench.json");
    let bench = casstop(&[
        "bench",
        "--duration",
        "8s",
        "--rate",
        "600",
        // 200 writes/s through the hop keep ~30 in flight: the rate holds.
        "--depth",
        "64",
        // Whole seconds: ~200 writes per node per interval make a p99, not a maximum.
        "--interval",
        "1s",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        bench.contains("node 3 through its latency hop on 127.0.0.3:9043"),
        "{bench}"
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let verdict = result["verdict"]["text"].as_str().unwrap();
    assert!(verdict.contains("node 127.0.0.3 is slow"), "{verdict}");
    let nodes = result["nodes"].as_array().unwrap();
    let p50 = |ip: &str| {
        nodes
            .iter()
            .find(|n| n["node"].as_str().unwrap().starts_with(ip))
            .unwrap_or_else(|| panic!("no row for {ip}: {nodes:?}"))["service"]["p50"]
            .as_u64()
            .unwrap()
    };
    // Medians: three JVMs on two cores give every node a tail of its own.
    assert!(p50("127.0.0.3:") >= 150_000, "the hop's 150 ms: {nodes:?}");
    assert!(
        p50("127.0.0.1:") < 10_000 && p50("127.0.0.2:") < 10_000,
        "{nodes:?}"
    );
    assert!(
        bench.contains("node 127.0.0.3") && bench.contains("% of ok"),
        "bench prints a line per node: {bench}"
    );
}
