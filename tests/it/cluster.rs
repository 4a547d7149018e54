//! A local cluster of three real nodes (`local up --nodes 3`'s own code): one ring, and routing
//! judged by the servers' own counters. With replication factor 1 every row has one replica; a
//! token-aware write is coordinated by that replica (each node coordinated exactly the writes it
//! stored, and next to nothing crossed between nodes), a round-robin one by whichever node is
//! next (two in three rows travel from their coordinator to their replica and back).
//!
//! Three JVMs fill the machine's cores: the group runs alone (`measuring`), on its own data
//! directory and ports, and stops its nodes however it ends.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use casstop::config::Settings;
use casstop::engine::Engine;
use casstop::knobs::{Routing, Strategy};
use casstop::local::LocalCluster;

use crate::common::Quiet;

const CQL_PORT: u16 = 9442;
const STORAGE_PORT: u16 = 7442;
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

/// Stops every node of the cluster however the test ends.
struct ClusterGuard(Settings);

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        for node in LocalCluster::new(&self.0.local).nodes {
            let _ = node.down();
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
/// count and each node's (coordinated, stored).
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
    (t.ok, counts)
}

#[test]
fn three_local_nodes_form_one_ring_and_token_aware_writes_are_coordinated_by_their_replica() {
    let _alone = common::measuring();
    let settings = cluster_settings("ring");
    let _guard = ClusterGuard(settings.clone());
    let cluster = LocalCluster::new(&settings.local);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let reports = runtime
        .block_on(cluster.up(&settings, &mut Quiet))
        .unwrap_or_else(|err| panic!("the local cluster did not come up: {err:#}"));
    let addresses: Vec<String> = reports.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(
        addresses,
        ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map(|ip| format!("{ip}:{CQL_PORT}"))
    );
    // The driver, given node 1 only, finds all three.
    let known = common::with_session(&settings, async |session| {
        Ok(session.get_cluster_state().get_nodes_info().len())
    });
    assert_eq!(known, NODES as usize);

    let (ok, counts) = write_with(Routing::TokenAware, "token_aware", &cluster);
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

    let (ok, counts) = write_with(Routing::RoundRobin, "round_robin", &cluster);
    let stored: i64 = counts.iter().map(|c| c.stored).sum();
    assert_eq!(stored as u64, ok, "every write stored once (RF 1)");
    let robin_sent: i64 = counts.iter().map(|c| c.sent).sum();
    // Round-robin: ~2/3 of the rows go coordinator → replica and their answers back (~4 of
    // every 3 writes in messages); token-aware: only gossip and schema talk.
    assert!(
        robin_sent as f64 > 0.6 * ok as f64,
        "round-robin writes should cross between nodes: {robin_sent} messages for {ok} writes"
    );
    assert!(
        (aware_sent as f64) < 0.1 * ok as f64 && aware_sent * 5 < robin_sent,
        "token-aware writes crossed between nodes: {aware_sent} messages for {ok} writes \
         (round-robin: {robin_sent})"
    );
}
