//! casstop: drive writes at Cassandra, steer the load live, and see why the client is not faster.
//!
//! `main.rs` only calls [`main_with_args`]; tests drive the same entry point in-process.

pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod local;
pub mod metrics;
pub mod profiler;
pub mod tls;
pub mod ui;
pub mod units;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{BenchArgs, Cli, Command, LocalAction};
use crate::config::{ConfigError, Loaded, Settings};
use crate::engine::knobs::Strategy;
use crate::local::{LocalNode, StderrProgress};

/// A mistake in how casstop was invoked (as opposed to a failure while running): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses `args`, runs the command and maps the outcome to an exit code: 0 success, 1 failure,
/// 2 a usage or configuration error. Errors go to stderr as one line per cause.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(err.exit_code().clamp(0, 255) as u8);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("casstop: {}", one_line(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The error and its causes, as `error: cause: cause`.
fn one_line(err: &anyhow::Error) -> String {
    err.chain()
        .map(|cause| cause.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

fn exit_code(err: &anyhow::Error) -> u8 {
    // Credentials or TLS the cluster turns away are settings to fix, like a misspelt key.
    let usage = err.chain().any(|cause| {
        cause.is::<ConfigError>()
            || cause.is::<UsageError>()
            || cause.is::<cluster::Refused>()
            || cause.is::<tls::TlsFileError>()
    });
    if usage { 2 } else { 1 }
}

/// Loads the settings for `cli` from every layer.
pub fn load_settings(cli: &Cli) -> Result<Loaded> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let path = config::config_path(cli.config.as_deref());
    Ok(config::load(path.as_deref(), &env, &cli.flag_overrides())?)
}

/// Logs go to a file (`~/.local/state/casstop/casstop.log`), never to the screen; `CASSTOP_LOG`
/// sets the filter (default `info`). Logging that cannot start is not a reason to stop.
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = dirs::state_dir()
        .or_else(dirs::data_local_dir)?
        .join("casstop");
    std::fs::create_dir_all(&dir).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("casstop.log"))
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASSTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

pub fn run(cli: Cli) -> Result<()> {
    let _log_guard = init_logging();
    tracing::info!(command = ?cli.command, "casstop starting");
    let loaded = load_settings(&cli)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("casstop-main")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        None | Some(Command::Tui(_)) => {
            let node_pid = runtime.block_on(prepare_cluster(&loaded.settings))?;
            drop(runtime);
            let result = ui::run(&loaded.settings, node_pid)?;
            println!("session summary");
            bench::print_result(&result);
            Ok(())
        }
        Some(Command::Bench(args)) => {
            let node_pid = runtime.block_on(prepare_cluster(&loaded.settings))?;
            drop(runtime);
            bench_command(&args, loaded.settings, node_pid)
        }
        Some(Command::Sweep(_)) => {
            Err(UsageError("`casstop sweep` is not yet built".into()).into())
        }
        Some(Command::Report(_)) => {
            Err(UsageError("`casstop report` is not yet built".into()).into())
        }
        Some(Command::Local(args)) => runtime.block_on(local_command(args.action, &loaded)),
    }
}

async fn local_command(action: LocalAction, loaded: &Loaded) -> Result<()> {
    let settings = &loaded.settings;
    let node = LocalNode::new(&settings.local);
    match action {
        LocalAction::Up(_) => {
            let report = node.up(settings, &mut StderrProgress::new()).await?;
            match report.boot_time {
                Some(boot) => println!(
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
                None => println!(
                    "local node already up: Apache Cassandra {} on {} (pid {})",
                    report.version, report.address, report.pid
                ),
            }
            print_client_hints(&report);
        }
        LocalAction::Down => match node.down()? {
            Some(pid) => println!("local node stopped (pid {pid})"),
            None => println!("local node is not running"),
        },
        LocalAction::Status => {
            let status = node.status(settings).await;
            let state = match (status.pid, status.answers_cql) {
                (Some(_), true) => "up",
                (Some(_), false) => "starting (process runs, CQL does not answer yet)",
                (None, _) => "down",
            };
            println!("local node: {state}");
            if let Some(pid) = status.pid {
                println!("  pid:       {pid}");
            }
            println!(
                "  version:   {}",
                status
                    .version
                    .clone()
                    .unwrap_or_else(|| format!("{} (configured)", settings.local.version))
            );
            println!("  address:   {}", status.address);
            if status.pid.is_some() {
                let options = node.running_options();
                let ca = if options.tls {
                    format!(" (CA {})", node.certificates().ca_file().display())
                } else {
                    String::new()
                };
                println!("  clients:   {options}{ca}");
            }
            println!(
                "  data:      {} ({:.1} MB)",
                status.data_dir.display(),
                status.data_bytes as f64 / 1e6
            );
            println!("  log:       {}", node.log_file().display());
            println!(
                "  installed: {}",
                if status.installed {
                    format!("yes, {}", node.lib_dir().display())
                } else {
                    "no (the first `casstop local up` downloads it)".into()
                }
            );
        }
        LocalAction::Logs { lines } => {
            for line in node.log_tail(lines)? {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// How clients reach a node that requires a login or TLS. The password is never printed; the
/// default superuser's is the well-known one.
fn print_client_hints(report: &local::UpReport) {
    if report.options.auth {
        println!(
            "  auth: required; the default superuser is `cassandra` with password `cassandra`: \
             clients set auth.username and CASSTOP_AUTH_PASSWORD (or auth.password)"
        );
    }
    if let Some(ca_file) = &report.ca_file {
        println!(
            "  TLS: required; clients set tls.enabled = true and tls.ca_file = \"{}\"",
            ca_file.display()
        );
    }
}

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
/// nothing answers and `local.auto_start` is on, installs and starts the local node. Returns the
/// local node's pid when casstop runs it (its CPU is then shown beside the client's).
pub async fn prepare_cluster(settings: &Settings) -> Result<Option<u32>> {
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
        let report = node.up(settings, &mut StderrProgress::new()).await?;
        if report.options.tls && !settings.tls.enabled {
            eprintln!(
                "note: the local node requires TLS (local.tls) but tls.enabled is false; its CA \
                 is {}",
                node.certificates().ca_file().display()
            );
        }
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
    Ok(node.running_pid())
}

fn bench_command(args: &BenchArgs, mut settings: Settings, node_pid: Option<u32>) -> Result<()> {
    if settings.load.duration.is_zero() && settings.load.ops == 0 {
        settings.load.duration = bench::DEFAULT_DURATION;
    }
    if args.truncate {
        let truncate_settings = settings.clone();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(async move {
                let session = cluster::connect(&truncate_settings).await?;
                cluster::create_schema(&session, &truncate_settings.cluster).await?;
                cluster::truncate(&session, &truncate_settings.cluster).await
            })?;
    }
    let profile = args.profile.map(std::time::Duration::from_secs);
    if args.matrix {
        let mut results = Vec::new();
        for strategy in Strategy::ALL {
            let mut run = settings.clone();
            run.load.strategy = strategy;
            eprintln!("running {strategy} ...");
            results.push(bench::run_one(&run, node_pid, args.quiet, profile)?);
        }
        bench::print_matrix(&results);
        if let Some(path) = &args.json {
            bench::write_json(path, &results)?;
        }
    } else {
        let result = bench::run_one(&settings, node_pid, args.quiet, profile)?;
        bench::print_result(&result);
        if let Some(path) = &args.json {
            bench::write_json(path, &result)?;
        }
    }
    Ok(())
}
