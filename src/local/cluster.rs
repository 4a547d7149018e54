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

/// What `local stop|kill|start N` and the session's `:node N …` do to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeAction {
    /// SIGTERM: Cassandra drains and shuts down, as in a planned restart.
    Stop,
    /// SIGKILL: the node is gone at once, as in a crash.
    Kill,
    /// Start it again with its data, and wait until it answers CQL.
    Start,
}

impl NodeAction {
    pub const ALL: [NodeAction; 3] = [NodeAction::Stop, NodeAction::Kill, NodeAction::Start];

    pub fn name(self) -> &'static str {
        match self {
            NodeAction::Stop => "stop",
            NodeAction::Kill => "kill",
            NodeAction::Start => "start",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        NodeAction::ALL
            .into_iter()
            .find(|a| a.name() == text)
            .ok_or_else(|| format!("`{text}` is not a node action: stop, kill or start"))
    }
}

impl LocalCluster {
    /// Node `index` (numbered from 1, as `local status` shows them), or why there is none.
    pub fn member(&self, index: u8) -> Result<&LocalNode, String> {
        let count = self.nodes.len();
        usize::from(index)
            .checked_sub(1)
            .and_then(|i| self.nodes.get(i))
            .ok_or_else(|| {
                format!(
                    "there is no node {index}: the local cluster has {count} (1–{count}, local.nodes)"
                )
            })
    }

    /// Stops, kills or starts node `index`; returns the line saying what happened.
    pub async fn act(&self, index: u8, action: NodeAction, settings: &Settings) -> Result<String> {
        let node = self.member(index).map_err(anyhow::Error::msg)?;
        let name = format!("node {index} ({})", node.ip());
        Ok(match action {
            NodeAction::Stop | NodeAction::Kill => {
                let ended = if action == NodeAction::Kill {
                    node.kill()
                } else {
                    node.down()
                }
                .with_context(|| name.clone())?;
                match ended {
                    Some(pid) if action == NodeAction::Kill => {
                        format!("{name} killed (SIGKILL, pid {pid})")
                    }
                    Some(pid) => format!("{name} stopped (SIGTERM, pid {pid})"),
                    None => format!("{name} was not running"),
                }
            }
            NodeAction::Start => {
                let report = node
                    .up(settings, &mut Quiet)
                    .await
                    .with_context(|| name.clone())?;
                match report.boot_time {
                    Some(boot) => format!(
                        "{name} started (pid {}), answering CQL after {:.1} s",
                        report.pid,
                        boot.as_secs_f64()
                    ),
                    None => format!("{name} was running already (pid {})", report.pid),
                }
            }
        })
    }

    /// The cluster a command about one node means: the configured one while any of its nodes
    /// runs, else the one whose nodes run (started with `local up --nodes 3` and no
    /// `local.nodes` in the config), else the configured one.
    pub fn in_use(settings: &LocalSettings) -> Self {
        let configured = LocalCluster::new(settings);
        if configured.nodes.iter().any(|n| n.running_pid().is_some()) {
            return configured;
        }
        let running = LocalCluster::all_started(settings)
            .into_iter()
            .filter(|n| n.running_pid().is_some())
            .map(|n| n.count())
            .max();
        match running {
            Some(count) => LocalCluster::new(&LocalSettings {
                nodes: count,
                ..settings.clone()
            }),
            None => configured,
        }
    }

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
    pub async fn up<'a>(
        &'a self,
        settings: &'a Settings,
        progress: &mut dyn Progress,
    ) -> Result<Vec<UpReport>> {
        let [first, rest @ ..] = self.nodes.as_slice() else {
            bail!("local.nodes is 0");
        };
        if rest.is_empty() {
            return Ok(vec![first.up(settings, progress).await?]);
        }
        let starting = self
            .nodes
            .iter()
            .filter(|n| n.running_pid().is_none())
            .count();
        check_memory(starting, &settings.local.heap, available_memory())?;
        // One download for all (they share the jars), before they start side by side.
        let install_time = first.install(progress).await?;
        let started = Instant::now();
        progress.update(&format!(
            "starting {} nodes on 127.0.0.1 … 127.0.0.{}",
            self.nodes.len(),
            self.nodes.len()
        ));
        let up = |node: &'a LocalNode| async move {
            let mut tries = 1;
            loop {
                let log_before = log_len(node);
                match node.up(settings, &mut Quiet).await {
                    Err(_)
                        if tries < SHADOW_ROUND_TRIES
                            && missed_the_seed(node, log_before)
                            && started.elapsed() < settings.local.boot_timeout =>
                    {
                        tracing::warn!(
                            "node {} missed the seed's gossip at boot (try {tries}); starting it again",
                            node.index()
                        );
                        tries += 1;
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    result => {
                        break result.with_context(|| {
                            format!("node {} ({})", node.index(), node.address())
                        });
                    }
                }
            }
        };
        // A node that has run before (it has a log) checks with a seed before it starts, and
        // gives up when none answers: node 1, the seed, goes first then. New nodes skip that
        // check and start side by side.
        let restarting =
            first.running_pid().is_none() && rest.iter().any(|n| n.log_file().exists());
        let mut reports = Vec::with_capacity(self.nodes.len());
        let parallel = if restarting {
            reports.push(up(first).await?);
            rest
        } else {
            self.nodes.as_slice()
        };
        for report in futures::future::join_all(parallel.iter().map(up)).await {
            reports.push(report?);
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

/// How often a node that missed the seed at boot is started before the boot fails.
const SHADOW_ROUND_TRIES: u32 = 3;

/// A node that is not the seed first asks the seed for the ring's state (the gossip "shadow
/// round"), and exits when no answer comes within the ring delay, 1 s here (the start-up
/// speed-up in jvm17.options). Nodes that start side by side on a loaded machine can ask before
/// the seed listens; started again a moment later, they find it.
/// Read in the node's log from where this start began (the error's excerpt is only the log's
/// last lines, which the stack trace can push the message out of).
fn missed_the_seed(node: &LocalNode, log_before: u64) -> bool {
    use std::io::{Read, Seek};
    let Ok(mut log) = std::fs::File::open(node.log_file()) else {
        return false;
    };
    let mut text = String::new();
    log.seek(std::io::SeekFrom::Start(log_before)).is_ok()
        && log.read_to_string(&mut text).is_ok()
        && text.contains("Unable to gossip with any peers")
}

fn log_len(node: &LocalNode) -> u64 {
    std::fs::metadata(node.log_file()).map_or(0, |m| m.len())
}

/// What a node takes beyond its heap (metaspace, thread stacks, off-heap buffers): ~930 MiB
/// RSS was measured per node with a 512M heap.
const NODE_OVERHEAD: u64 = 512 << 20;

/// The machine's available memory (`MemAvailable`), when it can be read.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

/// Refuses to start `nodes` nodes of `heap` each when they would not fit in `available`: a
/// machine that swaps, or whose OOM killer takes a node, measures nothing.
fn check_memory(nodes: usize, heap: &str, available: Option<u64>) -> Result<()> {
    let (Some(each), Some(available)) = (crate::config::heap_bytes(heap), available) else {
        return Ok(());
    };
    let needed = (each + NODE_OVERHEAD) * nodes as u64;
    if nodes > 1 && needed > available {
        let fits = (available / nodes as u64).saturating_sub(NODE_OVERHEAD) >> 20;
        bail!(
            "{nodes} nodes of local.heap {heap} need ~{} MiB, and the machine has {} MiB \
             available; set local.heap to at most {fits}M (CASSTOP_LOCAL_HEAP={}M), or start \
             fewer nodes",
            needed >> 20,
            available >> 20,
            (fits / 128 * 128).max(256)
        );
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_shadow_round_failure_of_this_start_starts_a_node_again() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::config::LocalSettings {
            data_dir: dir.path().to_path_buf(),
            nodes: 3,
            ..crate::config::Settings::default().local
        };
        let node = LocalNode::member(&settings, 2);
        // No log yet: nothing says the seed was missed.
        assert_eq!(log_len(&node), 0);
        assert!(!missed_the_seed(&node, 0));
        std::fs::create_dir_all(node.log_file().parent().unwrap()).unwrap();
        let failed = "ERROR [main] Exception encountered during startup\n\
                      java.lang.RuntimeException: Unable to gossip with any peers\n\
                      \tat org.apache.cassandra.gms.Gossiper.doShadowRound(Gossiper.java:1)\n";
        std::fs::write(node.log_file(), failed).unwrap();
        assert!(missed_the_seed(&node, 0));
        // The next start appends to the same log: only what it wrote counts.
        let before = log_len(&node);
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(node.log_file())
            .unwrap();
        std::io::Write::write_all(&mut log, b"ERROR [main] Port already in use: 7000\n").unwrap();
        assert!(!missed_the_seed(&node, before));
    }

    #[test]
    fn a_cluster_that_would_not_fit_in_memory_is_refused_with_a_heap_that_would() {
        use crate::config::heap_bytes;
        assert_eq!(heap_bytes("512M"), Some(512 << 20));
        assert_eq!(heap_bytes("1g"), Some(1 << 30));
        assert_eq!(heap_bytes("1048576k"), Some(1 << 30));
        assert_eq!(heap_bytes("lots"), None);
        let gib = 1u64 << 30;
        // 3 × (1 GiB + 512 MiB) = 4.5 GiB.
        assert!(check_memory(3, "1G", Some(5 * gib)).is_ok());
        let err = check_memory(3, "1G", Some(4 * gib))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "3 nodes of local.heap 1G need ~4608 MiB, and the machine has 4096 MiB available; set \
             local.heap to at most 853M (CASSTOP_LOCAL_HEAP=768M), or start fewer nodes"
        );
        // One node, or an unknown machine, is never refused here.
        assert!(check_memory(1, "64G", Some(gib)).is_ok());
        assert!(check_memory(3, "64G", None).is_ok());
    }
}
