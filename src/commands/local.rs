//! `casstop local up|down|status|logs`: the local node's lifecycle, and the detached latency hop.
//!
//! Output goes through [`Out`], which stops quietly when stdout is a closed pipe
//! (`casstop local logs | head -1`), like every Unix tool.

use std::io::Write;

use anyhow::{Context, Result};

use crate::cli::{HopServeArgs, LocalAction, UpArgs};
use crate::config::{Loaded, Settings};
use crate::local::{self, LocalNode, StderrProgress};
use crate::{hop, units};

/// Lines to stdout; once the reader has gone (a closed pipe) the rest are dropped, silently.
struct Out {
    closed: bool,
}

impl Out {
    fn new() -> Self {
        Out { closed: false }
    }

    fn line(&mut self, text: std::fmt::Arguments<'_>) {
        if self.closed {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{text}").is_err() {
            // EPIPE or any other failure to write: nobody reads what follows.
            self.closed = true;
        }
    }
}

macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))
    };
}

pub async fn run(action: LocalAction, loaded: &Loaded) -> Result<()> {
    let settings = &loaded.settings;
    let node = LocalNode::new(&settings.local);
    let mut out = Out::new();
    match action {
        LocalAction::Up(args) => up(&args, settings, &node, &mut out).await,
        LocalAction::Down { hop } => down(hop, settings, &node, &mut out),
        LocalAction::Status => {
            status(settings, &node, &mut out).await;
            hop_status(settings, &mut out);
            Ok(())
        }
        LocalAction::Logs { lines } => {
            for line in node.log_tail(lines)? {
                outln!(out, "{line}");
            }
            Ok(())
        }
        LocalAction::HopServe(args) => hop_serve(&args),
    }
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

async fn up(args: &UpArgs, settings: &Settings, node: &LocalNode, out: &mut Out) -> Result<()> {
    let report = node.up(settings, &mut StderrProgress::new()).await?;
    match report.boot_time {
        Some(boot) => outln!(
            out,
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
        None => outln!(
            out,
            "local node already up: Apache Cassandra {} on {} (pid {})",
            report.version,
            report.address,
            report.pid
        ),
    }
    if args.rtt.is_some() || !settings.local.rtt.is_zero() {
        let wanted = hop::process::configured(settings, settings.local.rtt);
        let exe = std::env::current_exe().context("finding casstop's own binary")?;
        let (state, started) = hop::process::ensure(settings, wanted, &exe, true)?;
        outln!(
            out,
            "latency hop {}: {} -> {}, {} (pid {}); casstop goes through it until `casstop local down --hop`",
            if started { "started" } else { "changed" },
            state.listen,
            state.upstream,
            state.settings,
            state.pid
        );
    }
    print_client_hints(&report, out);
    Ok(())
}

fn down(hop: bool, settings: &Settings, node: &LocalNode, out: &mut Out) -> Result<()> {
    let files = hop::process::HopFiles::new(&settings.local.data_dir());
    match hop::process::stop(&files)? {
        Some(pid) => outln!(out, "latency hop stopped (pid {pid})"),
        None if hop => outln!(out, "no latency hop is running"),
        None => {}
    }
    if !hop {
        match node.down()? {
            Some(pid) => outln!(out, "local node stopped (pid {pid})"),
            None => outln!(out, "local node is not running"),
        }
    }
    Ok(())
}

async fn status(settings: &Settings, node: &LocalNode, out: &mut Out) {
    let status = node.status(settings).await;
    let state = match (status.pid, status.answers_cql) {
        (Some(_), true) => "up",
        (Some(_), false) => "starting (process runs, CQL does not answer yet)",
        (None, _) => "down",
    };
    outln!(out, "local node: {state}");
    if let Some(pid) = status.pid {
        outln!(out, "  pid:       {pid}");
    }
    outln!(
        out,
        "  version:   {}",
        status
            .version
            .clone()
            .unwrap_or_else(|| format!("{} (configured)", settings.local.version))
    );
    outln!(out, "  address:   {}", status.address);
    if status.pid.is_some() {
        let options = node.running_options();
        let ca = if options.tls {
            format!(" (CA {})", node.certificates().ca_file().display())
        } else {
            String::new()
        };
        outln!(out, "  clients:   {options}{ca}");
    }
    outln!(
        out,
        "  data:      {} ({:.1} MB)",
        status.data_dir.display(),
        status.data_bytes as f64 / 1e6
    );
    outln!(out, "  log:       {}", node.log_file().display());
    outln!(
        out,
        "  installed: {}",
        if status.installed {
            format!("yes, {}", node.lib_dir().display())
        } else {
            "no (the first `casstop local up` downloads it)".into()
        }
    );
}

fn hop_status(settings: &Settings, out: &mut Out) {
    let files = hop::process::HopFiles::new(&settings.local.data_dir());
    match files.state() {
        Some(state) => {
            let s = &state.stats;
            outln!(
                out,
                "latency hop: up, {} -> {} (pid {})",
                state.listen,
                state.upstream,
                state.pid
            );
            outln!(out, "  emulates:  {}", state.settings);
            outln!(
                out,
                "  carried:   {} connections ({} open); {} in {} chunks to the node, {} in {} chunks back",
                s.connections,
                s.open,
                units::Bytes(s.bytes_to_node),
                s.chunks_to_node,
                units::Bytes(s.bytes_to_client),
                s.chunks_to_client
            );
            outln!(
                out,
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
            outln!(out, "  log:       {}", files.log_file().display());
        }
        None => outln!(
            out,
            "latency hop: down (`casstop local up --rtt 2ms` starts one on port {})",
            settings.local.hop_port
        ),
    }
}

/// How clients reach a node that requires a login or TLS. The password is never printed; the
/// default superuser's is the well-known one.
fn print_client_hints(report: &local::UpReport, out: &mut Out) {
    if report.options.auth {
        outln!(
            out,
            "  auth: required; the default superuser is `cassandra` with password `cassandra` \
             (casstop logs in as it unless auth.username is set)"
        );
    }
    if let Some(ca_file) = &report.ca_file {
        outln!(
            out,
            "  TLS: required; the CA is \"{}\" (casstop uses it unless tls.enabled is set; other \
             clients set tls.enabled = true and tls.ca_file to it)",
            ca_file.display()
        );
    }
}
