//! The servers' side of the per-node view: once per interval, which nodes the driver knows and
//! holds connections to, and each node's own thread pools read over CQL
//! (`system_views.thread_pools`, Cassandra 4.0 and later), for clusters casstop did not start
//! as much as for its own. Off the write path: one small query per node per interval, on the
//! engine's runtime, its result sent without waiting.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use futures::future::join_all;
use scylla::client::session::Session;
use scylla::value::CqlValue;
use tokio::sync::watch;

use crate::cluster::coordinator::address_of;
use crate::metrics::{MetricsMessage, NodeSeen, ServerLoad};

const THREAD_POOLS: &str = "SELECT name, active_tasks, pending_tasks, blocked_tasks \
                            FROM system_views.thread_pools";

/// Probes every `interval` until `stop` turns true.
pub async fn run(
    session: Arc<Session>,
    interval: Duration,
    metrics: SyncSender<MetricsMessage>,
    mut stop: watch::Receiver<bool>,
) {
    // Nodes whose thread pools cannot be read (no such table: ScyllaDB, Cassandra 3): asked once.
    let mut unreadable: BTreeSet<SocketAddr> = BTreeSet::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // An answer later than this says nothing about this interval.
    let patience = interval.min(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let state = session.get_cluster_state();
        let nodes: Vec<(SocketAddr, Option<String>, bool)> = state
            .get_nodes_info()
            .iter()
            .map(|node| {
                (
                    address_of(node),
                    node.datacenter.clone(),
                    node.is_connected(),
                )
            })
            .collect();
        let reads = nodes.iter().map(|(node, _, connected)| {
            let ask = *connected && !unreadable.contains(node);
            let session = &session;
            async move {
                if !ask {
                    return Ok(None);
                }
                match tokio::time::timeout(patience, thread_pools(session, *node)).await {
                    Ok(read) => read,
                    Err(_) => Ok(None),
                }
            }
        });
        let loads = join_all(reads).await;
        let mut seen = Vec::with_capacity(nodes.len());
        for ((node, datacenter, connected), load) in nodes.into_iter().zip(loads) {
            let server = match load {
                Ok(load) => load,
                Err(Unreadable) => {
                    unreadable.insert(node);
                    None
                }
            };
            seen.push(NodeSeen {
                node,
                datacenter,
                connected,
                server,
            });
        }
        // A full queue drops one probe: the next interval has another.
        let _ = metrics.try_send(MetricsMessage::Nodes(seen));
    }
}

/// The node keeps no thread pools table, or refuses to show it.
struct Unreadable;

/// One node's MutationStage and Native-Transport-Requests; `Ok(None)` when it did not answer
/// (down, busy: asked again next time), `Err` when it never will.
async fn thread_pools(
    session: &Session,
    node: SocketAddr,
) -> Result<Option<ServerLoad>, Unreadable> {
    let statement = crate::cluster::on_node(THREAD_POOLS, node);
    let rows = match session.query_unpaged(statement, &[]).await {
        Ok(result) => result.into_rows_result().map_err(|_| Unreadable)?,
        Err(err) => {
            let text = err.to_string();
            // "unconfigured table", "Keyspace system_views does not exist", "Unauthorized".
            let never = text.contains("unconfigured")
                || text.contains("does not exist")
                || text.contains("Unauthorized");
            return if never { Err(Unreadable) } else { Ok(None) };
        }
    };
    let mut load = ServerLoad::default();
    let typed = rows
        .rows::<(String, Option<CqlValue>, Option<CqlValue>, Option<CqlValue>)>()
        .map_err(|_| Unreadable)?;
    for row in typed {
        let Ok((name, active, pending, blocked)) = row else {
            return Err(Unreadable);
        };
        let (active, pending, blocked) = (count(active), count(pending), count(blocked));
        match name.as_str() {
            "MutationStage" => {
                load.mutation_active = active;
                load.mutation_pending = pending;
                load.mutation_blocked = blocked;
            }
            "Native-Transport-Requests" => {
                load.native_active = active;
                load.native_pending = pending;
                load.native_blocked = blocked;
            }
            _ => {}
        }
    }
    Ok(Some(load))
}

/// A pool's count, whichever integer type this server version gives it (5.0: `int` for active
/// and pending, `bigint` for blocked).
fn count(value: Option<CqlValue>) -> u64 {
    let n = match value {
        Some(CqlValue::Int(n)) => i64::from(n),
        Some(CqlValue::BigInt(n)) => n,
        Some(CqlValue::SmallInt(n)) => i64::from(n),
        _ => 0,
    };
    n.max(0) as u64
}
