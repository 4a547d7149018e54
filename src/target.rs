//! Where the load goes, and what casstop does about it before connecting: when the hosts are the
//! local node's address, start that node if nothing answers (`local.auto_start`), connect the
//! way it was started (its TLS and login), and route through the latency hop when one is asked
//! for or runs. One module for this policy, used by the session, bench and sweep alike.

use anyhow::{Context, Result};

use crate::cluster;
use crate::config::Settings;
use crate::error::UsageError;
use crate::hop;
use crate::local::{LocalNode, StderrProgress};

/// True when every contact point is the local node's address.
fn targets_local_node(settings: &Settings) -> bool {
    let local_port = settings.local.cql_port;
    cluster::contact_points(&settings.cluster)
        .iter()
        .all(|point| {
            [
                format!("127.0.0.1:{local_port}"),
                format!("localhost:{local_port}"),
            ]
            .contains(point)
        })
}

/// Makes sure something answers at the configured hosts: when they are the local node's address,
/// nothing answers and `local.auto_start` is on, installs and starts the local node. When casstop
/// runs that node, connects the way it was started (see [`connect_like_the_local_node`]) and
/// returns its pid (its CPU is then shown beside the client's).
pub async fn prepare_cluster(settings: &mut Settings) -> Result<Option<u32>> {
    if !targets_local_node(settings) {
        return Ok(None);
    }
    let node = LocalNode::new(&settings.local);
    let address = node.address();
    let answers =
        std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_millis(500))
            .is_ok();
    if !answers && settings.local.auto_start {
        eprintln!("nothing answers on {address}; starting the local node (casstop local up)");
        let cluster = crate::local::LocalCluster::new(&settings.local);
        for report in cluster.up(settings, &mut StderrProgress::new()).await? {
            eprintln!(
                "local node up: Apache Cassandra {} on {} (pid {}){}",
                report.version,
                report.address,
                report.pid,
                report
                    .boot_time
                    .map(|t| format!(", booted in {:.1}s", t.as_secs_f64()))
                    .unwrap_or_default()
            );
        }
    }
    let pid = node.running_pid();
    if pid.is_some() {
        connect_like_the_local_node(settings, &node);
    }
    Ok(pid)
}

/// The local node started with `--tls` or `--auth` (or `local.tls`, `local.auth`) refuses a plain
/// or anonymous client, and casstop made its CA and knows its default login: a client that sets
/// no TLS and no user connects over TLS with that CA, as the default superuser, and says so once.
/// Whatever the user did set is kept.
fn connect_like_the_local_node(settings: &mut Settings, node: &LocalNode) {
    let options = node.running_options();
    let expected = node.client_settings(settings, options);
    let mut how = Vec::new();
    if options.tls && !settings.tls.enabled {
        how.push(format!("over TLS with its CA {}", expected.tls.ca_file));
        settings.tls = expected.tls;
    }
    if options.auth && settings.auth.username.is_empty() {
        how.push(format!(
            "as its default superuser `{}` (set auth.username to log in as another)",
            expected.auth.username
        ));
        settings.auth = expected.auth;
    }
    if !how.is_empty() {
        eprintln!("connecting to the local node {}", how.join(" and "));
    }
}

/// Sends the run through the latency hop when asked to or when one runs (see
/// [`hop::process::route`]); only for the local node, which is what the hop fronts.
pub fn route_through_hop(
    settings: &mut Settings,
    rtt_flag: bool,
) -> Result<Option<hop::process::HopRoute>> {
    if !targets_local_node(settings) {
        if rtt_flag {
            return Err(UsageError(
                "--rtt puts the latency hop in front of the local node, but the hosts are another cluster's; \
                 leave out --hosts, or --rtt"
                    .into(),
            )
            .into());
        }
        return Ok(None);
    }
    let exe = std::env::current_exe().context("finding casstop's own binary")?;
    let route = hop::process::route(settings, rtt_flag, &exe)?;
    if let Some(route) = &route {
        eprintln!(
            "through the latency hop on {} ({}){}",
            route.state.listen,
            route.state.settings,
            if route.started_here() {
                "; started for this run, stopped at its end"
            } else {
                "; for a direct run: `casstop local down --hop`"
            }
        );
    }
    Ok(route)
}
