//! The per-node view: the workers' per-coordinator counts merged over an interval, joined with
//! what the engine's probe saw of each node (the driver's connection, the server's thread
//! pools), and the judgement of a node that stands out.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use std::time::Instant;

use super::evidence::Outlier;
use super::measure::LatencySummary;
use super::stats::{EventKind, IntervalStats, NodeCounts, NodeHealth, NodeSeen, NodeStats};

/// A node whose p99 is at least this many times the median of the others' is slow.
pub const SLOW_NODE_RATIO: f64 = 3.0;
/// Successes a node needs in an interval before its p99 is compared.
pub const SLOW_NODE_MIN_OK: u64 = 20;

/// The open interval's counts per node, the latest probe, and the run's totals per node.
#[derive(Default)]
pub struct NodeBuckets {
    open: BTreeMap<SocketAddr, NodeCounts>,
    seen: BTreeMap<SocketAddr, NodeSeen>,
    run: BTreeMap<SocketAddr, NodeCounts>,
}

/// One node over the whole run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NodeTotals {
    pub node: SocketAddr,
    pub ok: u64,
    /// Its share of all successful writes, percent.
    pub ok_percent: f64,
    pub errors: super::measure::ErrorCounts,
    pub service: LatencySummary,
    /// Seconds its writes spent in flight, summed: over the run's length, its mean in flight.
    pub busy_s: f64,
}

impl NodeBuckets {
    pub fn absorb(&mut self, counts: Vec<NodeCounts>) {
        for counts in counts {
            match self.open.get_mut(&counts.node) {
                Some(open) => open.absorb(&counts),
                None => {
                    self.open.insert(counts.node, counts);
                }
            }
        }
    }

    /// The probe's latest view replaces the one before (a node it no longer lists is gone from
    /// the driver's metadata).
    pub fn saw(&mut self, seen: Vec<NodeSeen>) {
        self.seen = seen.into_iter().map(|n| (n.node, n)).collect();
    }

    /// Closes the interval: one row per node written to or known to the driver, by address.
    pub fn close(&mut self, length_s: f64) -> Vec<NodeStats> {
        let open = std::mem::take(&mut self.open);
        let mut nodes: Vec<SocketAddr> = open.keys().chain(self.seen.keys()).copied().collect();
        nodes.sort();
        nodes.dedup();
        let length_s = length_s.max(1e-9);
        nodes
            .into_iter()
            .map(|node| {
                let counts = open.get(&node);
                let seen = self.seen.get(&node);
                if let Some(counts) = counts {
                    match self.run.get_mut(&node) {
                        Some(run) => run.absorb(counts),
                        None => {
                            self.run.insert(node, counts.clone());
                        }
                    }
                }
                NodeStats {
                    node,
                    datacenter: seen.and_then(|s| s.datacenter.clone()),
                    // Without a probe yet, a node that answered is connected.
                    connected: seen.map_or(counts.is_some_and(|c| c.ok > 0), |s| s.connected),
                    ok: counts.map_or(0, |c| c.ok),
                    throughput: counts.map_or(0.0, |c| c.ok as f64 / length_s),
                    service: counts
                        .map_or_else(LatencySummary::default, |c| LatencySummary::of(&c.service)),
                    errors: counts.map(|c| c.errors).unwrap_or_default(),
                    in_flight_mean: counts.map_or(0.0, |c| c.busy_us as f64 / 1e6 / length_s),
                    server: seen.and_then(|s| s.server),
                }
            })
            .collect()
    }

    pub fn totals(&self) -> Vec<NodeTotals> {
        let all: u64 = self.run.values().map(|c| c.ok).sum();
        self.run
            .values()
            .map(|c| NodeTotals {
                node: c.node,
                ok: c.ok,
                ok_percent: if all == 0 {
                    0.0
                } else {
                    c.ok as f64 * 100.0 / all as f64
                },
                errors: c.errors,
                service: LatencySummary::of(&c.service),
                busy_s: c.busy_us as f64 / 1e6,
            })
            .collect()
    }
}

/// The node that stands out, if one does: a node down comes first, then the slowest node when
/// its p99 is at least [`SLOW_NODE_RATIO`] × the median of the others' (each with at least
/// [`SLOW_NODE_MIN_OK`] successes, so a handful of writes cannot make a node look slow).
pub fn outlier(nodes: &[NodeStats]) -> Option<Outlier> {
    if nodes.len() < 2 {
        return None;
    }
    if nodes.iter().any(|n| n.connected)
        && let Some(down) = nodes.iter().find(|n| !n.connected)
    {
        return Some(Outlier::Down(down.node));
    }
    let measured: Vec<&NodeStats> = nodes.iter().filter(|n| n.ok >= SLOW_NODE_MIN_OK).collect();
    if measured.len() < 2 {
        return None;
    }
    let slowest = measured.iter().max_by_key(|n| n.service.p99)?;
    let mut others: Vec<u64> = measured
        .iter()
        .filter(|n| n.node != slowest.node)
        .map(|n| n.service.p99)
        .collect();
    others.sort_unstable();
    let median = others[others.len() / 2].max(1) as f64;
    let ratio = slowest.service.p99 as f64 / median;
    (ratio >= SLOW_NODE_RATIO).then(|| Outlier::Slow {
        node: slowest.node,
        ratio,
        p99_us: slowest.service.p99,
        mutation_pending: slowest.server.map(|s| s.mutation_pending),
    })
}

/// The cluster's health as the client sees it, judged from each interval's outcomes and kept
/// across intervals that say nothing.
#[derive(Default)]
pub struct Health {
    current: NodeHealth,
    /// When `current` last changed.
    since: Option<Instant>,
    /// Seconds of consecutive intervals with writes in flight and no outcome at all.
    silent_s: f64,
}

impl Health {
    pub fn current(&self) -> NodeHealth {
        self.current
    }

    /// Updates the health from the interval (and `stats.node` with it); a change is returned as
    /// the event to log.
    pub fn judge(
        &mut self,
        stats: &mut IntervalStats,
        edge: Instant,
    ) -> Option<(String, EventKind)> {
        let health = NodeHealth::judge(stats.ok, &stats.errors, stats.in_flight_max)?;
        // Writes merely unanswered for one short interval are a pause (GC, a flush), not a
        // stuck node: silence must last a second before it is called unresponsive.
        let silent = health == NodeHealth::Unresponsive && stats.errors.total() == 0;
        self.silent_s = if silent {
            self.silent_s + stats.length_s
        } else {
            0.0
        };
        if silent && self.silent_s < 1.0 {
            return None;
        }
        stats.node = health;
        if health == self.current {
            return None;
        }
        let since = self.since.replace(edge);
        let previous = std::mem::replace(&mut self.current, health);
        // Judged from all writes: on several nodes it is the cluster, each node has its row.
        let what = if stats.nodes.len() > 1 {
            "cluster"
        } else {
            "node"
        };
        let text = match (previous, health) {
            (NodeHealth::Unknown, NodeHealth::Up) | (_, NodeHealth::Unknown) => return None,
            (_, NodeHealth::Up) => format!(
                "{what} back: writes succeed again after {:.1} s",
                since.map_or(0.0, |s| edge.saturating_duration_since(s).as_secs_f64())
            ),
            (_, NodeHealth::Down) => format!("{what} down: no connection ({})", stats.errors),
            (_, NodeHealth::Unresponsive) => format!(
                "{what} unresponsive: no write succeeded ({}; {} in flight)",
                stats.errors, stats.in_flight_max
            ),
        };
        let kind = if health == NodeHealth::Up {
            EventKind::Info
        } else {
            EventKind::Error
        };
        Some((text, kind))
    }
}

/// Requests the nodes hold queued at the interval's end, over those whose pools were read.
pub fn queued(nodes: &[NodeStats]) -> Option<u64> {
    nodes
        .iter()
        .filter_map(|n| n.server)
        .map(|s| s.mutation_pending + s.native_pending)
        .reduce(|a, b| a + b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ErrorKind;

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, last], 9042))
    }

    fn counts(last: u8, latencies_us: &[u64]) -> NodeCounts {
        let mut c = NodeCounts::new(addr(last));
        for &us in latencies_us {
            c.ok += 1;
            c.service.record(us).unwrap();
            c.busy_us += us;
        }
        c
    }

    fn seen(last: u8, connected: bool) -> NodeSeen {
        NodeSeen {
            node: addr(last),
            datacenter: Some("datacenter1".into()),
            connected,
            server: None,
        }
    }

    #[test]
    fn workers_counts_merge_per_node_and_the_probe_adds_nodes_never_written_to() {
        let mut buckets = NodeBuckets::default();
        buckets.absorb(vec![counts(2, &[1000; 30]), counts(1, &[500; 10])]);
        let mut failed = counts(2, &[3000; 10]);
        failed.errors.add(ErrorKind::Timeout);
        buckets.absorb(vec![failed]);
        buckets.saw(vec![seen(1, true), seen(2, true), seen(3, false)]);
        let rows = buckets.close(2.0);
        let nodes: Vec<SocketAddr> = rows.iter().map(|r| r.node).collect();
        assert_eq!(nodes, [addr(1), addr(2), addr(3)]);
        assert_eq!(rows[1].ok, 40);
        assert_eq!(rows[1].throughput, 20.0);
        assert_eq!(rows[1].errors.get(ErrorKind::Timeout), 1);
        // 30 × 1 ms + 10 × 3 ms in flight over 2 s: 0.03 writes in flight on average.
        assert!((rows[1].in_flight_mean - 0.03).abs() < 1e-9);
        // Two significant digits: within 1 %.
        assert!(
            rows[1].service.p50.abs_diff(1000) <= 10,
            "{}",
            rows[1].service.p50
        );
        assert!(!rows[2].connected && rows[2].ok == 0);
        assert_eq!(rows[0].datacenter.as_deref(), Some("datacenter1"));
        // The next interval starts empty; the run keeps the sum.
        let rows = buckets.close(1.0);
        assert!(rows.iter().all(|r| r.ok == 0));
        let totals = buckets.totals();
        assert_eq!(totals.iter().map(|t| t.ok).sum::<u64>(), 50);
        assert!((totals[1].ok_percent - 80.0).abs() < 1e-9);
    }

    #[test]
    fn a_node_stands_out_when_down_or_three_times_slower_than_the_others() {
        let mut buckets = NodeBuckets::default();
        buckets.absorb(vec![
            counts(1, &[1000; 50]),
            counts(2, &[1100; 50]),
            counts(3, &[3500; 50]),
        ]);
        let rows = buckets.close(1.0);
        match outlier(&rows) {
            Some(Outlier::Slow { node, ratio, .. }) => {
                assert_eq!(node, addr(3));
                assert!((ratio - 3.5 / 1.1).abs() < 0.05, "{ratio}");
            }
            other => panic!("{other:?}"),
        }
        // 2.5× is not slow; nor is a node with too few writes to judge.
        buckets.absorb(vec![
            counts(1, &[1000; 50]),
            counts(2, &[2500; 50]),
            counts(3, &[90_000; 5]),
        ]);
        assert_eq!(outlier(&buckets.close(1.0)), None);
        // A node the driver lost, beside connected ones, comes first.
        buckets.absorb(vec![counts(1, &[1000; 50]), counts(2, &[9000; 50])]);
        buckets.saw(vec![seen(1, true), seen(2, true), seen(3, false)]);
        assert_eq!(outlier(&buckets.close(1.0)), Some(Outlier::Down(addr(3))));
        // One node alone has nothing to stand out from.
        let mut one = NodeBuckets::default();
        one.absorb(vec![counts(1, &[1000; 50])]);
        assert_eq!(outlier(&one.close(1.0)), None);
    }
}
