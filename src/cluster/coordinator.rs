//! Which node coordinated each write. A success says so itself (the driver's `QueryResult`); a
//! failure does not, so the load-balancing policy is wrapped to note the node of each failed
//! attempt in a task-local cell that only the write's own future sees: no lock, no message, no
//! state shared between writes.

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use scylla::cluster::{ClusterState, NodeRef};
use scylla::errors::RequestAttemptError;
use scylla::policies::load_balancing::{FallbackPlan, LoadBalancingPolicy, RoutingInfo};
use scylla::routing::Shard;

tokio::task_local! {
    /// The node of the write's last failed attempt.
    static FAILED_ON: Cell<Option<SocketAddr>>;
}

/// Runs one write, and returns with its result the node its last failed attempt went to (none
/// when no attempt failed, or none was sent: no connection to any node).
pub async fn noting_failures<T>(write: impl Future<Output = T>) -> (T, Option<SocketAddr>) {
    FAILED_ON
        .scope(Cell::new(None), async {
            let result = write.await;
            (result, FAILED_ON.with(Cell::get))
        })
        .await
}

/// The driver's address of a node: the one it has in `system.peers`, before any translation.
pub fn address_of(node: NodeRef<'_>) -> SocketAddr {
    SocketAddr::new(node.address.ip(), node.address.port())
}

/// A policy that routes exactly as `inner` and notes failed attempts for [`noting_failures`].
#[derive(Debug)]
pub struct Noting(pub Arc<dyn LoadBalancingPolicy>);

impl LoadBalancingPolicy for Noting {
    fn pick<'a>(
        &'a self,
        request: &'a RoutingInfo,
        cluster: &'a ClusterState,
    ) -> Option<(NodeRef<'a>, Option<Shard>)> {
        self.0.pick(request, cluster)
    }

    fn fallback<'a>(
        &'a self,
        request: &'a RoutingInfo,
        cluster: &'a ClusterState,
    ) -> FallbackPlan<'a> {
        self.0.fallback(request, cluster)
    }

    fn on_request_success(&self, request: &RoutingInfo, latency: Duration, node: NodeRef<'_>) {
        self.0.on_request_success(request, latency, node);
    }

    fn on_request_failure(
        &self,
        request: &RoutingInfo,
        latency: Duration,
        node: NodeRef<'_>,
        error: &RequestAttemptError,
    ) {
        // Outside a write (casstop's own statements, the driver's) there is no cell: nothing
        // to note.
        let _ = FAILED_ON.try_with(|cell| cell.set(Some(address_of(node))));
        self.0.on_request_failure(request, latency, node, error);
    }

    fn name(&self) -> String {
        self.0.name()
    }
}
