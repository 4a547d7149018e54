//! Several local nodes as one cluster: `local.nodes` nodes on 127.0.0.1 … 127.0.0.N, started
//! together and up only once they form one ring.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use scylla::client::session::Session;

use super::node::{LocalNode, UpReport};
use super::progress::Progress;
use crate::cluster::on_node;
use crate::config::{LocalSettings, Settings};

/// The configured local nodes.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    pub nodes: Vec<LocalNode>,
}

/// Progress of one node among several: the cluster reports for all of them.
struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _line: &str) {}
    fn finish(&mut self, _line: &str) {}
}

impl LocalCluster {
    pub fn new(settings: &LocalSettings) -> Self {
        let count = settings.nodes.max(1);
        LocalCluster {
            nodes: (1..=count)
                .map(|i| LocalNode::member(settings, i))
                .collect(),
        }
    }

    /// Every local node casstop may have running under `local.data_dir`, whatever the
    /// configured count: the single node and the nodes of each `cluster-N` directory.
    pub fn all_started(settings: &LocalSettings) -> Vec<LocalNode> {
        let mut nodes = vec![LocalNode::member(
            &LocalSettings {
                nodes: 1,
                ..settings.clone()
            },
            1,
        )];
        let Ok(entries) = std::fs::read_dir(settings.data_dir()) else {
            return nodes;
        };
        let mut counts: Vec<u8> = entries
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("cluster-")?
                    .parse()
                    .ok()
            })
            .filter(|count| *count > 1)
            .collect();
        counts.sort_unstable();
        for count in counts {
            let members = LocalSettings {
                nodes: count,
                ..settings.clone()
            };
            nodes.extend((1..=count).map(|i| LocalNode::member(&members, i)));
        }
        nodes
    }

    /// Starts every node that does not run yet, all at once, and returns once each answers
    /// CQL, the driver sees all of them and each lists the others in `system.peers`.
    pub async fn up(
        &self,
        settings: &Settings,
        progress: &mut dyn Progress,
    ) -> Result<Vec<UpReport>> {
        let [first, rest @ ..] = self.nodes.as_slice() else {
            bail!("local.nodes is 0");
        };
        if rest.is_empty() {
            return Ok(vec![first.up(settings, progress).await?]);
        }
        // One download for all (they share the jars), before they start side by side.
        let install_time = first.install(progress).await?;
        let started = Instant::now();
        progress.update(&format!(
            "starting {} nodes on 127.0.0.1 … 127.0.0.{}",
            self.nodes.len(),
            self.nodes.len()
        ));
        let ups = futures::future::join_all(self.nodes.iter().map(|node| async move {
            node.up(settings, &mut Quiet)
                .await
                .with_context(|| format!("node {} ({})", node.index(), node.address()))
        }))
        .await;
        let mut reports = Vec::with_capacity(ups.len());
        for up in ups {
            reports.push(up?);
        }
        self.wait_for_ring(settings, started, progress).await?;
        progress.clear();
        if let Some(first) = reports.first_mut() {
            first.install_time = install_time;
        }
        Ok(reports)
    }

    /// Waits until the driver sees every node and every node names all the others as peers: a
    /// node answers CQL before gossip has told it of the rest.
    async fn wait_for_ring(
        &self,
        settings: &Settings,
        started: Instant,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let first = &self.nodes[0];
        let mut probe = first.client_settings(settings, first.running_options());
        probe.cluster.hosts = self.nodes.iter().map(|n| n.address().to_string()).collect();
        let timeout = settings.local.boot_timeout;
        loop {
            let last = match self.ring_formed(&probe).await {
                Ok(None) => return Ok(()),
                Ok(Some(missing)) => missing,
                Err(err) => format!("{err:#}"),
            };
            if started.elapsed() > timeout {
                bail!(
                    "the {} local nodes did not form one ring within {} (local.boot_timeout): {last}",
                    self.nodes.len(),
                    humantime::format_duration(timeout)
                );
            }
            progress.update(&format!(
                "waiting for the {} nodes to see each other ... {}s ({last})",
                self.nodes.len(),
                started.elapsed().as_secs()
            ));
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    }

    /// `None` once the ring is whole, else what is still missing.
    async fn ring_formed(&self, probe: &Settings) -> Result<Option<String>> {
        let session = crate::cluster::connect(probe).await?;
        let known = session.get_cluster_state().get_nodes_info().len();
        if known < self.nodes.len() {
            return Ok(Some(format!(
                "the driver knows {known} of {} nodes",
                self.nodes.len()
            )));
        }
        for node in &self.nodes {
            let peers = peers_of(&session, node).await?;
            if peers + 1 < self.nodes.len() {
                return Ok(Some(format!(
                    "node {} lists {peers} of {} peers",
                    node.index(),
                    self.nodes.len() - 1
                )));
            }
        }
        Ok(None)
    }
}

async fn peers_of(session: &Session, node: &LocalNode) -> Result<usize> {
    let rows = session
        .query_unpaged(
            on_node("SELECT peer FROM system.peers", node.address()),
            &[],
        )
        .await
        .with_context(|| format!("reading system.peers of {}", node.address()))?
        .into_rows_result()?;
    Ok(rows.rows_num())
}
