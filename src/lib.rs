//! casstop: drive writes at Cassandra, steer the load live, and see why the client is not faster.
//!
//! `main.rs` only calls [`main_with_args`]; tests drive the same entry point in-process.

pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod hop;
pub mod local;
pub mod metrics;
pub mod profiler;
pub mod record;
pub mod report;
pub mod shutdown;
pub mod sweep;
pub mod tls;
pub mod ui;
pub mod units;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::cli::{BenchArgs, Cli, Command, LocalAction, LocalArgs, ReportArgs, SweepArgs};
use crate::config::{ConfigError, Loaded, Settings};
use crate::engine::knobs::Strategy;
use crate::local::{LocalNode, StderrProgress};
use crate::record::Recorder;

/// A mistake in how casstop was invoked (as opposed to a failure while running): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses `args`, runs the command and maps the outcome to an exit code: 0 success, 1 failure,
/// 2 a usage or configuration error. Errors go to stderr as one line per cause.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) if err.use_stderr() => {
            // One line, like every other error: clap's own text spreads over several.
            eprintln!("casstop: {} (see --help)", clap_one_line(&err.to_string()));
            return ExitCode::from(err.exit_code().clamp(0, 255) as u8);
        }
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

/// clap's error text up to its usage section, on one line and without the `error: ` prefix.
fn clap_one_line(text: &str) -> String {
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .filter(|line| !line.is_empty() && !line.starts_with("tip:"))
        .collect();
    message.join(" ").trim_start_matches("error: ").to_string()
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
    if let Some(Command::Local(LocalArgs {
        action: LocalAction::HopServe(args),
    })) = &cli.command
    {
        // The detached hop process: no settings, no runtime of the CLI's, just the hop.
        let settings = hop::HopSettings {
            rtt: args.rtt,
            jitter: args.jitter,
            jitter_distribution: args.jitter_distribution,
            seed: args.seed,
        };
        if let Some(parent) = args.parent {
            hop::process::exit_with_parent(parent)?;
        }
        return hop::process::serve(args.listen, args.upstream, settings, &args.dir);
    }
    let loaded = load_settings(&cli)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("casstop-main")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        None | Some(Command::Tui(_)) => {
            // Before the node is started or anything is connected: a session that cannot draw
            // should not cost half a minute of booting first.
            ui::check_terminal()?;
            let mut settings = loaded.settings;
            let node_pid = runtime.block_on(prepare_cluster(&mut settings))?;
            drop(runtime);
            let rtt_flag = matches!(&cli.command, Some(Command::Tui(args)) if args.rtt.is_some());
            let hop = route_through_hop(&mut settings, rtt_flag)?;
            let recorder = settings
                .output
                .record
                .then(|| Recorder::start(&settings, "session"))
                .transpose()?;
            let result = ui::run(&settings, node_pid, recorder.as_ref(), hop.as_ref());
            let outcome = recorder.map(|r| r.finish(result.as_ref().ok()));
            let result = result?;
            println!("session summary");
            bench::print_result(&result);
            if let Some(outcome) = outcome {
                println!("{}", outcome.describe());
            }
            Ok(())
        }
        Some(Command::Bench(args)) => {
            let mut settings = loaded.settings;
            let node_pid = runtime.block_on(prepare_cluster(&mut settings))?;
            drop(runtime);
            let hop = route_through_hop(&mut settings, !args.rtt.is_empty())?;
            bench_command(&args, settings, node_pid, hop.as_ref())
        }
        Some(Command::Sweep(args)) => {
            let plan = sweep_plan(&args, &loaded.settings)?;
            let mut settings = loaded.settings;
            let node_pid = runtime.block_on(prepare_cluster(&mut settings))?;
            drop(runtime);
            let (result, outcome) = sweep::run(&settings, node_pid, &plan, args.quiet)?;
            sweep::print_table(&result);
            println!("plot: {}", outcome.dir.join("sweep.png").display());
            println!("{}", outcome.describe());
            Ok(())
        }
        Some(Command::Report(args)) => report_command(&args),
        Some(Command::Local(args)) => runtime.block_on(local_command(args.action, &loaded)),
    }
}

async fn local_command(action: LocalAction, loaded: &Loaded) -> Result<()> {
    let settings = &loaded.settings;
    let node = LocalNode::new(&settings.local);
    match action {
        LocalAction::Up(args) => {
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
            if args.rtt.is_some() || !settings.local.rtt.is_zero() {
                let wanted = hop::process::configured(settings, settings.local.rtt);
                let exe = std::env::current_exe().context("finding casstop's own binary")?;
                let (state, started) = hop::process::ensure(settings, wanted, &exe, true)?;
                println!(
                    "latency hop {}: {} -> {}, {} (pid {}); casstop goes through it until `casstop local down --hop`",
                    if started { "started" } else { "changed" },
                    state.listen,
                    state.upstream,
                    state.settings,
                    state.pid
                );
            }
            print_client_hints(&report);
        }
        LocalAction::Down { hop } => {
            let files = hop::process::HopFiles::new(&settings.local.data_dir());
            match hop::process::stop(&files)? {
                Some(pid) => println!("latency hop stopped (pid {pid})"),
                None if hop => println!("no latency hop is running"),
                None => {}
            }
            if !hop {
                match node.down()? {
                    Some(pid) => println!("local node stopped (pid {pid})"),
                    None => println!("local node is not running"),
                }
            }
        }
        LocalAction::HopServe(_) => unreachable!("served before the settings are loaded"),
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
            let files = hop::process::HopFiles::new(&settings.local.data_dir());
            match files.state() {
                Some(state) => {
                    let s = &state.stats;
                    println!(
                        "latency hop: up, {} -> {} (pid {})",
                        state.listen, state.upstream, state.pid
                    );
                    println!("  emulates:  {}", state.settings);
                    println!(
                        "  carried:   {} connections ({} open); {} in {} chunks to the node, {} in {} chunks back",
                        s.connections,
                        s.open,
                        units::Bytes(s.bytes_to_node),
                        s.chunks_to_node,
                        units::Bytes(s.bytes_to_client),
                        s.chunks_to_client
                    );
                    println!(
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
                    println!("  log:       {}", files.log_file().display());
                }
                None => println!(
                    "latency hop: down (`casstop local up --rtt 2ms` starts one on port {})",
                    settings.local.hop_port
                ),
            }
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
            "  auth: required; the default superuser is `cassandra` with password `cassandra` \
             (casstop logs in as it unless auth.username is set)"
        );
    }
    if let Some(ca_file) = &report.ca_file {
        println!(
            "  TLS: required; the CA is \"{}\" (casstop uses it unless tls.enabled is set; other \
             clients set tls.enabled = true and tls.ca_file to it)",
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
        let report = node.up(settings, &mut StderrProgress::new()).await?;
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
fn route_through_hop(
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

fn bench_command(
    args: &BenchArgs,
    mut settings: Settings,
    node_pid: Option<u32>,
    hop: Option<&hop::process::HopRoute>,
) -> Result<()> {
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
    // One run, recorded when a recorder is given, with the hop's share of it when the run goes
    // through the hop.
    let run = |settings: &Settings, recorder: Option<&Recorder>| -> Result<bench::BenchResult> {
        let before = hop.map(|h| h.state()).transpose()?;
        let mut result = bench::run_one_recorded(
            settings,
            node_pid,
            args.quiet,
            profile,
            recorder.map(Recorder::feed),
        )?;
        if let (Some(hop), Some(before)) = (hop, before) {
            result.note_hop(&before, &hop.state()?);
        }
        Ok(result)
    };
    let stop_requested = || {
        shutdown::requests().is_ok_and(|count| count.load(std::sync::atomic::Ordering::SeqCst) > 0)
    };
    if args.matrix {
        // One directory for the matrix, one recorded sub-run per strategy (and RTT) inside it.
        let matrix_dir = settings
            .output
            .record
            .then(|| {
                record::create_run_dir(&settings.output.dir, record::label(&settings, "matrix"))
            })
            .transpose()?;
        // Every strategy at every RTT asked for (the hop's current one when none was).
        let rtts: Vec<Option<std::time::Duration>> = match hop {
            Some(hop) if args.rtt.is_empty() => vec![Some(hop.state.settings.rtt)],
            Some(_) => args.rtt.iter().copied().map(Some).collect(),
            None => vec![None],
        };
        let mut results = Vec::new();
        let mut failures = Vec::new();
        for rtt in rtts {
            if let (Some(hop), Some(rtt)) = (hop, rtt) {
                hop.set_rtt(rtt)
                    .context("setting the hop's RTT between matrix runs")?;
            }
            let label = match (hop, rtt) {
                (Some(hop), Some(rtt)) => format!("rtt {} ({})", hop::format_rtt(rtt), hop.label()),
                _ => "direct (no hop)".into(),
            };
            let mut table = Vec::new();
            for strategy in Strategy::ALL {
                if stop_requested() {
                    break;
                }
                let mut one = settings.clone();
                one.load.strategy = strategy;
                eprintln!("running {strategy} at {label} ...");
                let name = match rtt {
                    Some(rtt) => format!("{strategy}-rtt-{}", hop::format_rtt(rtt)),
                    None => strategy.name().to_string(),
                };
                let recorder = matrix_dir
                    .as_ref()
                    .map(|dir| Recorder::create(&dir.join(&name), &one, "bench", &name))
                    .transpose()?;
                let result = run(&one, recorder.as_ref());
                let outcome = recorder.map(|r| r.finish(result.as_ref().ok()));
                if let Some(failure) = outcome.and_then(|o| o.failure) {
                    failures.push((name, failure));
                }
                table.push(result?);
            }
            println!("{label}");
            bench::print_matrix(&table);
            println!();
            results.extend(table);
            if stop_requested() {
                eprintln!(
                    "stopped: the matrix ends after {} of its runs",
                    results.len()
                );
                break;
            }
        }
        if let Some(path) = &args.json {
            bench::write_json(path, &results)?;
        }
        if let Some(dir) = &matrix_dir {
            bench::write_json(&dir.join(record::MATRIX), &results)?;
            report::write_matrix_report(dir, dir)?;
            println!("recorded in {} (chart: matrix.png)", dir.display());
            if let Some((run, failure)) = failures.first() {
                bail!(
                    "recording the {run} run failed ({failure}); the run was stopped, what was recorded is in {}",
                    dir.display()
                );
            }
        }
    } else {
        if args.rtt.len() > 1 {
            return Err(UsageError(
                "a list of RTTs needs --matrix (one table per RTT); give one --rtt for a single run"
                    .into(),
            )
            .into());
        }
        let recorder = settings
            .output
            .record
            .then(|| Recorder::start(&settings, "bench"))
            .transpose()?;
        let result = run(&settings, recorder.as_ref());
        let outcome = recorder.map(|r| r.finish(result.as_ref().ok()));
        let result = result?;
        bench::print_result(&result);
        if let Some(path) = &args.json {
            bench::write_json(path, &result)?;
        }
        if let Some(outcome) = outcome {
            if let Some(failure) = &outcome.failure {
                bail!(
                    "recording failed ({failure}); the run was stopped, what was recorded is in {}",
                    outcome.dir.display()
                );
            }
            println!("{}", outcome.describe());
        }
    }
    Ok(())
}

/// Which knob a sweep steps and over which values, from its flags: exactly one of `--depth`,
/// `--batch`, `--workers` lists several values; without any, the strategy's own knob over
/// 1,2,4,...,1024.
fn sweep_plan(args: &SweepArgs, settings: &Settings) -> Result<sweep::SweepPlan> {
    use sweep::SweptKnob;
    let mut lists = Vec::new();
    for (knob, text) in [
        (SweptKnob::Depth, &args.depth),
        (SweptKnob::Batch, &args.batch),
        (SweptKnob::Workers, &args.workers),
    ] {
        if let Some(text) = text {
            let values = sweep::parse_values(text)
                .map_err(|message| UsageError(format!("--{}: {message}", knob.name())))?;
            lists.push((knob, values));
        }
    }
    let swept: Vec<&(SweptKnob, Vec<u32>)> = lists.iter().filter(|(_, v)| v.len() > 1).collect();
    let plan = match swept[..] {
        [(knob, values)] => sweep::SweepPlan {
            knob: *knob,
            values: values.clone(),
        },
        [] if lists
            .iter()
            .all(|(knob, _)| Some(*knob) != SweptKnob::for_strategy(settings.load.strategy)) =>
        {
            let knob = SweptKnob::for_strategy(settings.load.strategy).ok_or_else(|| {
                UsageError(format!(
                    "the {} strategy has no depth or batch to sweep; give --workers LIST, or --strategy callbacks|pipeline|batches",
                    settings.load.strategy
                ))
            })?;
            sweep::SweepPlan {
                knob,
                values: sweep::parse_values("1,2,4,...,1024").map_err(UsageError)?,
            }
        }
        [] => {
            return Err(UsageError(
                "a sweep needs a list of two or more values, e.g. --depth 1,2,4,...,1024".into(),
            )
            .into());
        }
        _ => {
            return Err(UsageError(
                "sweep one knob at a time: only one of --depth, --batch, --workers may list several values".into(),
            )
            .into());
        }
    };
    let mut settings = settings.clone();
    for (knob, values) in &lists {
        if values.len() == 1 {
            knob.set(&mut settings, values[0]);
        }
    }
    plan.validate(&settings)?;
    Ok(plan)
}

fn report_command(args: &ReportArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::default_out(&args.runs));
    let files = report::write_report(&args.runs, &out)?;
    println!("report: {}", files.markdown.display());
    for picture in &files.pictures {
        println!("        {}", picture.display());
    }
    Ok(())
}
