//! `casstop local up|down|status|logs`: the local node's lifecycle, and the detached latency hop.
//!
//! Output goes through [`say!`], which stops quietly when stdout is a closed pipe
//! (`casstop local logs | head -1`), like every Unix tool.

use anyhow::{Context, Result, bail};

use crate::cli::{HopServeArgs, LocalAction, UpArgs, UpRtt};
use crate::config::{Loaded, Settings};
use crate::local::{self, LocalCluster, LocalNode, NodeAction, StderrProgress};
use crate::stdout::say;
use crate::{hop, units};

pub async fn run(action: LocalAction, loaded: &Loaded) -> Result<()> {
    let settings = &loaded.settings;
    let node = LocalNode::new(&settings.local);
    match action {
        LocalAction::Up(args) => up(&args, settings).await,
        LocalAction::Down { hop } => down(hop, settings),
        LocalAction::Stop { node } => act(node, NodeAction::Stop, settings).await,
        LocalAction::Kill { node } => act(node, NodeAction::Kill, settings).await,
        LocalAction::Start { node } => act(node, NodeAction::Start, settings).await,
        LocalAction::Status => {
            let shown = LocalCluster::in_use(&settings.local).nodes;
            for node in &shown {
                status(settings, node, shown.len() > 1).await;
            }
            hop_status(settings);
            Ok(())
        }
        LocalAction::Logs { lines } => {
            for line in node.log_tail(lines)? {
                say!("{line}");
            }
            Ok(())
        }
        LocalAction::HopServe(args) => hop_serve(&args),
    }
}

/// `local stop|kill|start N`: one node of the configured cluster.
async fn act(node: u8, action: NodeAction, settings: &Settings) -> Result<()> {
    let line = LocalCluster::in_use(&settings.local)
        .act(node, action, settings)
        .await?;
    say!("{line}");
    Ok(())
}

/// The detached hop process: no settings, no runtime of the CLI's, just the hop.
pub fn hop_serve(args: &HopServeArgs) -> Result<()> {
    let settings = hop::HopSettings {
        rtt: args.rtt,
        jitter: args.jitter,
        jitter_distribution: args.jitter_distribution,
        seed: args.seed,
    };
    if let Some(parent) = args.parent {
        hop::process::exit_with_parent(parent)?;
    }
    hop::process::serve(args.listen, args.upstream, settings, &args.dir)
}

async fn up(args: &UpArgs, settings: &Settings) -> Result<()> {
    let cluster = LocalCluster::new(&settings.local);
    let reports = cluster.up(settings, &mut StderrProgress::new()).await?;
    for report in &reports {
        say_up(report);
    }
    if reports.len() > 1 {
        say!(
            "local cluster up: {} nodes in one ring; clients need only {} (the driver finds the rest)",
            reports.len(),
            reports[0].address
        );
    }
    let exe = || std::env::current_exe().context("finding casstop's own binary");
    let hop = match args.rtt {
        Some(UpRtt {
            node: Some(index),
            rtt,
        }) => {
            let node = cluster.member(index).map_err(anyhow::Error::msg)?;
            let place = hop::process::HopPlace::of_node(node, settings);
            let wanted = hop::process::configured(settings, rtt);
            Some((format!("of node {index} "), place, wanted))
        }
        _ if args.rtt.is_some() || !settings.local.rtt.is_zero() => {
            if reports.len() > 1 {
                bail!(
                    "the latency hop fronts one node; on a cluster give the node: --rtt node3=5ms \
                     (local.rtt is for the single node)"
                );
            }
            let wanted = hop::process::configured(settings, settings.local.rtt);
            Some((
                String::new(),
                hop::process::HopPlace::single(settings),
                wanted,
            ))
        }
        None | Some(_) => None,
    };
    if let Some((whose, place, wanted)) = hop {
        let (state, started) = hop::process::ensure(&place, wanted, &exe()?, true)?;
        say!(
            "latency hop {whose}{}: {} -> {}, {} (pid {}); casstop goes through it until `casstop local down --hop`",
            if started { "started" } else { "changed" },
            state.listen,
            state.upstream,
            state.settings,
            state.pid
        );
    }
    if let Some(report) = reports.first() {
        print_client_hints(report);
    }
    Ok(())
}

fn say_up(report: &local::UpReport) {
    match report.boot_time {
        Some(boot) => say!(
            "local node up: Apache Cassandra {} on {} (pid {}){}, booted in {:.1}s",
            report.version,
            report.address,
            report.pid,
            report
                .install_time
                .map(|t| format!(", downloaded in {:.1}s", t.as_secs_f64()))
                .unwrap_or_default(),
            boot.as_secs_f64()
        ),
        None => say!(
            "local node already up: Apache Cassandra {} on {} (pid {})",
            report.version,
            report.address,
            report.pid
        ),
    }
}

/// Stops the hop and every local node casstop runs under `local.data_dir` (the single node and
/// any cluster's), whatever `local.nodes` says now.
fn down(hop: bool, settings: &Settings) -> Result<()> {
    let files = hop::process::HopFiles::new(&settings.local.data_dir());
    let mut hops = 0;
    if let Some(pid) = hop::process::stop(&files)? {
        say!("latency hop stopped (pid {pid})");
        hops += 1;
    }
    for node in LocalCluster::all_started(&settings.local) {
        if let Some(pid) = hop::process::stop(&hop::process::HopFiles::new(node.dir()))? {
            say!("latency hop of node {} stopped (pid {pid})", node.index());
            hops += 1;
        }
    }
    if hop && hops == 0 {
        say!("no latency hop is running");
    }
    if !hop {
        let mut stopped = 0;
        for node in LocalCluster::all_started(&settings.local) {
            if let Some(pid) = node.down()? {
                say!("local node stopped: {} (pid {pid})", node.address());
                stopped += 1;
            }
        }
        if stopped == 0 {
            say!("local node is not running");
        }
    }
    Ok(())
}

async fn status(settings: &Settings, node: &LocalNode, several: bool) {
    let status = node.status(settings).await;
    let state = match (status.pid, status.answers_cql) {
        (Some(_), true) => "up",
        (Some(_), false) => "starting (process runs, CQL does not answer yet)",
        (None, _) => "down",
    };
    if several {
        say!("local node {}: {state}", node.index());
    } else {
        say!("local node: {state}");
    }
    if let Some(pid) = status.pid {
        say!("  pid:       {pid}");
    }
    say!(
        "  version:   {}",
        status
            .version
            .clone()
            .unwrap_or_else(|| format!("{} (configured)", settings.local.version))
    );
    say!("  address:   {}", status.address);
    if status.pid.is_some() {
        let options = node.running_options();
        let ca = if options.tls {
            format!(" (CA {})", node.certificates().ca_file().display())
        } else {
            String::new()
        };
        say!("  clients:   {options}{ca}");
    }
    say!(
        "  data:      {} ({:.1} MB)",
        status.data_dir.display(),
        status.data_bytes as f64 / 1e6
    );
    say!("  log:       {}", node.log_file().display());
    say!(
        "  installed: {}",
        if status.installed {
            format!("yes, {}", node.lib_dir().display())
        } else {
            "no (the first `casstop local up` downloads it)".into()
        }
    );
}

fn hop_status(settings: &Settings) {
    for node in LocalCluster::all_started(&settings.local) {
        if let Some(state) = hop::process::HopFiles::new(node.dir()).state() {
            say!(
                "latency hop of node {}: up, {} -> {} (pid {}), emulates {}",
                node.index(),
                state.listen,
                state.upstream,
                state.pid,
                state.settings
            );
        }
    }
    let files = hop::process::HopFiles::new(&settings.local.data_dir());
    match files.state() {
        Some(state) => {
            let s = &state.stats;
            say!(
                "latency hop: up, {} -> {} (pid {})",
                state.listen,
                state.upstream,
                state.pid
            );
            say!("  emulates:  {}", state.settings);
            say!(
                "  carried:   {} connections ({} open); {} in {} chunks to the node, {} in {} chunks back",
                s.connections,
                s.open,
                units::Bytes(s.bytes_to_node),
                s.chunks_to_node,
                units::Bytes(s.bytes_to_client),
                s.chunks_to_client
            );
            say!(
                "  hop CPU:   {:.3} s over {} write requests, {:.1} µs per request (its thread `{}`, {})",
                s.cpu_s,
                s.requests,
                if s.requests > 0 {
                    s.cpu_s * 1e6 / s.requests as f64
                } else {
                    0.0
                },
                hop::THREAD_NAME,
                s.scheduling
            );
            say!("  log:       {}", files.log_file().display());
        }
        None => say!(
            "latency hop: down (`casstop local up --rtt 2ms` starts one on port {})",
            settings.local.hop_port
        ),
    }
}

/// How clients reach a node that requires a login or TLS. The password is never printed; the
/// default superuser's is the well-known one.
fn print_client_hints(report: &local::UpReport) {
    if report.options.auth {
        say!(
            "  auth: required; the default superuser is `cassandra` with password `cassandra` \
             (casstop logs in as it unless auth.username is set)"
        );
    }
    if let Some(ca_file) = &report.ca_file {
        say!(
            "  TLS: required; the CA is \"{}\" (casstop uses it unless tls.enabled is set; other \
             clients set tls.enabled = true and tls.ca_file to it)",
            ca_file.display()
        );
    }
}
