//! The command line. Flags carry the knobs' own names (`--depth`, `--cpu-work-us`) and become the
//! top layer of the settings (see [`crate::config`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser, Subcommand};

use crate::config::{FlagOverride, duration};
use crate::knobs::{self, KnobDef, Value};

#[derive(Debug, Parser)]
#[command(
    name = "casstop",
    version,
    about = "Why isn't my client writing faster? Drive writes at Cassandra, steer the load live, see why.",
    long_about = "casstop drives writes against a real Apache Cassandra or ScyllaDB cluster and lets you \
change the scheduling strategy (sync, batches, pipeline, throttle, callbacks), the concurrency depth, \
batch size, workers, rate and the client's own CPU work per write while the load runs. It plots \
throughput and latency from HDR histograms and tells whether the client is I/O-bound or CPU-bound.\n\n\
Without a subcommand it opens the interactive session (`casstop tui`). With no cluster at hand, \
`casstop local up` installs and starts a single Apache Cassandra 5.0 node on 127.0.0.1:9042.\n\n\
Settings come from built-in defaults < config.toml (or --config) < CASSTOP_<SECTION>_<KEY> \
environment variables < flags.",
    after_help = "Examples:\n  casstop                                  interactive session (starts the local node if needed)\n  casstop bench --strategy sync --duration 10s\n  casstop bench --matrix --duration 5s     every strategy, the python benchmarks' table\n  casstop local up                         install and start a local Cassandra 5.0 node"
)]
pub struct Cli {
    /// Config file (default: ./config.toml when present, or $CASSTOP_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Contact points, comma-separated (host or host:port); overrides `cluster.hosts`.
    #[arg(
        long,
        global = true,
        value_name = "HOST[,HOST...]",
        value_delimiter = ','
    )]
    pub hosts: Option<Vec<String>>,

    /// A workload profile to write: a cassandra-stress user profile (YAML) as it is, or
    /// casstop's TOML form (assets/workloads/); overrides `workload.file`.
    #[arg(long, global = true, value_name = "FILE")]
    pub workload: Option<PathBuf>,

    /// Write the python benchmarks' table instead of casstop's own: thekey text and N columns
    /// col0..colN-1 of --column-type; overrides `workload.columns`.
    #[arg(long, global = true, value_name = "N")]
    pub columns: Option<u32>,

    /// The type of --columns' columns (int, bigint, text, float, double, uuid, timestamp, ...);
    /// overrides `workload.column_type`.
    #[arg(long, global = true, value_name = "TYPE")]
    pub column_type: Option<String>,

    /// Without a subcommand: the session's own flags (`casstop --rtt 1ms --depth 64`).
    #[command(flatten)]
    pub session: TuiArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Interactive session: drive writes and steer strategy, depth, batch and more live (default).
    Tui(TuiArgs),
    /// Headless run of one setting (or --matrix: every strategy) with a final table and JSON.
    Bench(BenchArgs),
    /// Step depth, batch or workers over a list of values in one run and find the knee.
    Sweep(SweepArgs),
    /// Read rows of the workload's table back and check every value against the generator
    /// (each value is a function of its row's key): rows that differ or miss values are counted
    /// and named; exit 1 when any does.
    Verify(VerifyArgs),
    /// Turn run recordings into plots (SVG and PNG) and report.md; several runs are compared.
    Report(ReportArgs),
    /// Open the session's screen on running headless loaders (`bench`/`sweep --listen`): their
    /// histograms merged, each loader's health and verdict, knob changes sent to all or one.
    Attach(AttachArgs),
    /// Install, start, stop and inspect local Apache Cassandra 5.0 nodes: one, or a cluster
    /// (`local up --nodes 3`) whose nodes can be stopped, killed and started one by one.
    Local(LocalArgs),
}

/// The knobs as flags, one per registry entry (`--depth`, `--cpu-work-us`), each the top layer
/// over the knob's config key. Built from [`crate::knobs::ALL`], so a new knob has its flag, help
/// and value check without a line here. With `lists`, the knobs a sweep may step take a list.
#[derive(Debug, Default, Clone)]
pub struct KnobArgs {
    /// The knobs given, in registry order, with their values (one unless a sweep's list).
    pub given: Vec<(&'static KnobDef, Vec<Value>)>,
}

/// [`KnobArgs`] whose steppable knobs take a list: `--depth 1,2,4,...,1024`.
#[derive(Debug, Default, Clone)]
pub struct SweepKnobArgs(pub KnobArgs);

fn knob_arg(def: &'static KnobDef, lists: bool) -> Arg {
    let list = lists && def.steppable;
    let (value_name, help) = if list {
        (
            format!("{}[,...]", def.value_name),
            format!(
                "{} [{}]; a list steps it: 1,2,4,...,1024",
                def.help,
                def.accepts()
            ),
        )
    } else {
        (
            def.value_name.to_string(),
            format!("{} [{}]", def.help, def.accepts()),
        )
    };
    Arg::new(def.name)
        .long(def.flag().trim_start_matches('-').to_string())
        .value_name(value_name)
        .help(help)
        .help_heading(if def.live {
            "Knobs (change live)"
        } else {
            "Knobs (fixed for the run)"
        })
        .allow_negative_numbers(true)
        .value_parser(move |text: &str| -> Result<Vec<Value>, String> {
            if list {
                knobs::parse_list(def, text)
            } else {
                def.parse(text).map(|value| vec![value])
            }
        })
}

fn knob_args_from(matches: &ArgMatches) -> KnobArgs {
    let given = knobs::ALL
        .iter()
        .filter_map(|def| {
            matches
                .get_one::<Vec<Value>>(def.name)
                .map(|values| (*def, values.clone()))
        })
        .collect();
    KnobArgs { given }
}

impl FromArgMatches for KnobArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(knob_args_from(matches))
    }
    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = knob_args_from(matches);
        Ok(())
    }
}

impl Args for KnobArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        knobs::ALL
            .iter()
            .fold(cmd, |cmd, def| cmd.arg(knob_arg(def, false)))
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for SweepKnobArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(SweepKnobArgs(knob_args_from(matches)))
    }
    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0 = knob_args_from(matches);
        Ok(())
    }
}

impl Args for SweepKnobArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        knobs::ALL
            .iter()
            .fold(cmd, |cmd, def| cmd.arg(knob_arg(def, true)))
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// Where the run is recorded.
#[derive(Debug, Args, Default, Clone)]
pub struct RecordArgs {
    /// Name appended to the run directory (`<output.dir>/<UTC time>-<LABEL>`).
    #[arg(long, value_name = "LABEL", help_heading = "Recording")]
    pub label: Option<String>,
    /// Record nothing (no run directory).
    #[arg(long, help_heading = "Recording")]
    pub no_record: bool,
}

#[derive(Debug, Args, Default)]
pub struct ControlArgs {
    /// Serve the control API here (e.g. 127.0.0.1:9180): GET /status and /metrics (Prometheus)
    /// open, PATCH /knobs, POST /pause, /resume, /profile, /stop with the token printed at start
    /// (or CASSTOP_CONTROL_TOKEN, required off loopback). HTTPS with control.cert_file and
    /// control.key_file.
    #[arg(long, value_name = "ADDR", help_heading = "Control")]
    pub listen: Option<String>,
}

impl ControlArgs {
    fn push_overrides(&self, flags: &mut Vec<FlagOverride>) {
        if let Some(listen) = &self.listen {
            flags.push(FlagOverride::new("control.listen", "--listen", listen));
        }
    }
}

#[derive(Debug, Args, Default)]
pub struct TuiArgs {
    #[command(flatten)]
    pub knobs: KnobArgs,
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(flatten)]
    pub control: ControlArgs,
    /// Put the local node at this network distance: writes go through the latency hop, started
    /// if needed (and stopped at the end if this session started it). `:rtt 1ms` changes it live.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub rtt: Option<Duration>,
}

#[derive(Debug, Args, Default)]
pub struct BenchArgs {
    #[command(flatten)]
    pub knobs: KnobArgs,
    /// Run every strategy one after the other (batches at --batch, pipeline and callbacks at
    /// --depth) and print the python benchmarks' table with the ratio to sync.
    #[arg(long)]
    pub matrix: bool,
    /// Write the result as JSON to FILE (with --matrix: a list, one entry per strategy).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Capture a CPU profile this long during the run (after 1 s of warm-up; e.g. 3s): a
    /// flamegraph SVG, a pprof .pb and folded stacks under the output directory.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub profile: Option<Duration>,
    /// Truncate the table before the run, so its row count can be checked against `ok`.
    #[arg(long)]
    pub truncate: bool,
    /// No live progress line (for scripts and CI logs).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(flatten)]
    pub control: ControlArgs,
    /// Run through the latency hop in front of the local node at this RTT; with --matrix a list
    /// (`0,1ms,3ms`): every strategy at every RTT, one table per RTT. `0` still goes through the
    /// hop (its own cost); leave --rtt out for a direct run.
    #[arg(long, value_name = "DURATION[,...]", value_parser = duration::parse, value_delimiter = ',')]
    pub rtt: Vec<Duration>,
}

#[derive(Debug, Args, Default)]
pub struct SweepArgs {
    /// The knobs; exactly one of those that may be stepped (depth, batch, workers, ...) lists
    /// several values. Without a list, pipeline and callbacks step depth, batches batch, over
    /// 1,2,4,...,1024.
    #[command(flatten)]
    pub knobs: SweepKnobArgs,
    /// How long each step is measured, after its warm-up (whole intervals; e.g. 5s).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, help_heading = "Sweep")]
    pub step: Option<Duration>,
    /// How long after each change is not counted (e.g. 2s).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, help_heading = "Sweep")]
    pub warmup: Option<Duration>,
    /// The knee: the smallest setting past which throughput rises by less than this fraction.
    #[arg(
        long,
        value_name = "FRACTION",
        allow_negative_numbers = true,
        help_heading = "Sweep"
    )]
    pub knee_gain: Option<f64>,
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(flatten)]
    pub control: ControlArgs,
    /// No live progress line.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Rows to read back (the first in token order).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub sample: u64,
    /// Read back every row of the table (a full scan).
    #[arg(long, conflicts_with = "sample")]
    pub all: bool,
    /// Count the table's rows too (a full scan).
    #[arg(long)]
    pub count: bool,
    /// Also write the result as JSON to PATH (`-` = stdout).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args, Default)]
pub struct ReportArgs {
    /// Run directories to report on; with several, the first is the baseline of the comparison.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The runs are loaders of one test, run at the same time: report them as one run, their
    /// histograms added interval by interval on the wall clock (exact percentiles of all their
    /// writes), throughput summed, each loader's row and knob changes beside it; writes
    /// merged.json too
    #[arg(long)]
    pub merge: bool,
    /// Where to write the pictures and report.md (default: RUN/report for one run, a
    /// `<UTC time>-compare` (or `-merge`) directory beside the first run for several).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The loaders' API needs its bearer token for the intervals and for knob \
changes: start every loader with the same CASSTOP_CONTROL_TOKEN and attach with it set too. \
`:loader N` sends the next knob changes to loader N only, `:loader all` to all; `q` detaches \
and leaves the loaders running. Loaders serving HTTPS (control.cert_file): set control.ca_file \
(CASSTOP_CONTROL_CA_FILE) to the CA their certificates chain to."
)]
pub struct AttachArgs {
    /// The loaders' control API addresses, as given to their --listen.
    #[arg(
        required = true,
        value_name = "HOST:PORT[,HOST:PORT...]",
        value_delimiter = ','
    )]
    pub loaders: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LocalArgs {
    #[command(subcommand)]
    pub action: LocalAction,
}

#[derive(Debug, Subcommand)]
pub enum LocalAction {
    /// Install on first use (Maven Central), then start the node; returns once CQL answers.
    Up(UpArgs),
    /// Stop the node casstop started (by its recorded pid), and its latency hop.
    Down {
        /// Stop only the latency hop; the node keeps running.
        #[arg(long)]
        hop: bool,
    },
    /// Stop node N of the local cluster (SIGTERM: it drains, like a planned restart).
    Stop {
        /// The node, numbered from 1 as `local status` shows them (127.0.0.N).
        node: u8,
    },
    /// Kill node N at once (SIGKILL: like a crash); `local start N` brings it back.
    Kill {
        /// The node, numbered from 1 (127.0.0.N).
        node: u8,
    },
    /// Start node N again with its data, after `stop` or `kill`; returns once it answers CQL.
    Start {
        /// The node, numbered from 1 (127.0.0.N).
        node: u8,
    },
    /// Print whether the node is up, its pid, version, address and data size.
    Status,
    /// Show the tail of the node's log.
    Logs {
        /// Lines to show.
        #[arg(short = 'n', long, default_value_t = 40)]
        lines: usize,
    },
    /// Run the latency hop in the foreground (what `local up --rtt` starts detached).
    #[command(name = "hop-serve", hide = true)]
    HopServe(HopServeArgs),
}

#[derive(Debug, Args, Default)]
pub struct UpArgs {
    /// Also start the latency hop (port `local.hop_port`) in front of the node, delaying each
    /// direction by half this round trip; a running hop takes the new RTT live. On a cluster,
    /// `node3=5ms` puts a hop of its own in front of node 3 only: one slow node among fast ones.
    #[arg(long, value_name = "[nodeN=]DURATION", value_parser = parse_up_rtt)]
    pub rtt: Option<UpRtt>,
    /// Spread of each direction's delay (see `local.jitter_distribution`).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub jitter: Option<Duration>,
    /// Require a login: PasswordAuthenticator and CassandraAuthorizer, superuser
    /// cassandra/cassandra (`local.auth`).
    #[arg(long)]
    pub auth: bool,
    /// Accept only TLS clients, with a CA and node certificate generated into <data_dir>/tls;
    /// clients set tls.enabled and tls.ca_file (`local.tls`).
    #[arg(long)]
    pub tls: bool,
    /// Start a cluster of N nodes on 127.0.0.1 … 127.0.0.N, same ports on each, in parallel;
    /// up once every node lists the others as peers (`local.nodes`).
    #[arg(long, value_name = "N")]
    pub nodes: Option<u8>,
}

/// `local up --rtt`: the single node's hop (`2ms`) or one cluster node's own (`node3=5ms`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpRtt {
    pub node: Option<u8>,
    pub rtt: Duration,
}

fn parse_up_rtt(text: &str) -> Result<UpRtt, String> {
    let (node, rtt) = match text.split_once('=') {
        Some((node, rtt)) => {
            let index = node
                .strip_prefix("node")
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    format!("`{node}` names no node: write node1, node2 … (as `local status` numbers them)")
                })?;
            (Some(index), rtt)
        }
        None => (None, text),
    };
    Ok(UpRtt {
        node,
        rtt: duration::parse(rtt)?,
    })
}

#[derive(Debug, Args)]
pub struct HopServeArgs {
    #[arg(long)]
    pub listen: std::net::SocketAddr,
    #[arg(long)]
    pub upstream: std::net::SocketAddr,
    #[arg(long, value_parser = duration::parse)]
    pub rtt: Duration,
    #[arg(long, value_parser = duration::parse)]
    pub jitter: Duration,
    #[arg(long, value_enum)]
    pub jitter_distribution: crate::config::JitterDistribution,
    #[arg(long)]
    pub seed: u64,
    /// The node directory whose hop this is (pid file and control socket live there).
    #[arg(long)]
    pub dir: PathBuf,
    /// End when this process ends (a hop started for one run must not outlive a Ctrl-C).
    #[arg(long, value_name = "PID")]
    pub parent: Option<u32>,
}

impl Cli {
    /// The flags that override settings, as config-layer values.
    pub fn flag_overrides(&self) -> Vec<FlagOverride> {
        let mut flags = Vec::new();
        if let Some(hosts) = &self.hosts {
            flags.push(FlagOverride::new("cluster.hosts", "--hosts", hosts));
        }
        if let Some(file) = &self.workload {
            flags.push(FlagOverride::new("workload.file", "--workload", file));
        }
        if let Some(columns) = self.columns {
            flags.push(FlagOverride::new("workload.columns", "--columns", columns));
        }
        if let Some(column_type) = &self.column_type {
            flags.push(FlagOverride::new(
                "workload.column_type",
                "--column-type",
                column_type,
            ));
        }
        let duration_flag = |d: &Duration| knobs::format_duration(*d);
        match &self.command {
            None => {
                let args = &self.session;
                args.record.push_overrides(&mut flags);
                args.control.push_overrides(&mut flags);
                if let Some(rtt) = &args.rtt {
                    flags.push(FlagOverride::new("local.rtt", "--rtt", duration_flag(rtt)));
                }
                args.knobs.push_overrides(&mut flags);
            }
            Some(Command::Tui(args)) => {
                args.record.push_overrides(&mut flags);
                args.control.push_overrides(&mut flags);
                if let Some(rtt) = &args.rtt {
                    flags.push(FlagOverride::new("local.rtt", "--rtt", duration_flag(rtt)));
                }
                args.knobs.push_overrides(&mut flags);
            }
            Some(Command::Bench(args)) => {
                args.record.push_overrides(&mut flags);
                args.control.push_overrides(&mut flags);
                // With a list, the first RTT is where the run starts.
                if let Some(rtt) = args.rtt.first() {
                    flags.push(FlagOverride::new("local.rtt", "--rtt", duration_flag(rtt)));
                }
                // Checked against the bounds of the capture it sets the length of.
                if let Some(profile) = &args.profile {
                    flags.push(FlagOverride::new(
                        "profiler.duration",
                        "--profile",
                        duration_flag(profile),
                    ));
                }
                args.knobs.push_overrides(&mut flags);
            }
            Some(Command::Sweep(args)) => args.push_overrides(&mut flags),
            Some(Command::Local(LocalArgs {
                action: LocalAction::Up(up),
            })) => up.push_overrides(&mut flags),
            _ => {}
        }
        flags
    }
}

impl UpArgs {
    fn push_overrides(&self, flags: &mut Vec<FlagOverride>) {
        // A node's own hop is not the configured one.
        if let Some(UpRtt { node: None, rtt }) = &self.rtt {
            flags.push(FlagOverride::new(
                "local.rtt",
                "--rtt",
                knobs::format_duration(*rtt),
            ));
        }
        if let Some(jitter) = &self.jitter {
            flags.push(FlagOverride::new(
                "local.jitter",
                "--jitter",
                knobs::format_duration(*jitter),
            ));
        }
        // The flags switch the options on; off stays the config's business.
        if self.auth {
            flags.push(FlagOverride::new("local.auth", "--auth", true));
        }
        if let Some(nodes) = self.nodes {
            flags.push(FlagOverride::new("local.nodes", "--nodes", nodes));
        }
        if self.tls {
            flags.push(FlagOverride::new("local.tls", "--tls", true));
        }
    }
}

impl RecordArgs {
    fn push_overrides(&self, flags: &mut Vec<FlagOverride>) {
        if let Some(label) = &self.label {
            flags.push(FlagOverride::new("output.label", "--label", label));
        }
        if self.no_record {
            flags.push(FlagOverride::new("output.record", "--no-record", false));
        }
    }
}

impl SweepArgs {
    fn push_overrides(&self, flags: &mut Vec<FlagOverride>) {
        self.control.push_overrides(flags);
        // A list is the sweep's plan; a single value is where the run starts.
        for (def, values) in &self.knobs.0.given {
            if let [value] = values[..] {
                flags.push(FlagOverride::knob(def, value));
            }
        }
        if let Some(step) = self.step {
            flags.push(FlagOverride::new(
                "sweep.step",
                "--step",
                knobs::format_duration(step),
            ));
        }
        if let Some(warmup) = self.warmup {
            flags.push(FlagOverride::new(
                "sweep.warmup",
                "--warmup",
                knobs::format_duration(warmup),
            ));
        }
        if let Some(gain) = self.knee_gain {
            flags.push(FlagOverride::new("sweep.knee_gain", "--knee-gain", gain));
        }
        self.record.push_overrides(flags);
    }
}

impl KnobArgs {
    fn push_overrides(&self, flags: &mut Vec<FlagOverride>) {
        for (def, values) in &self.given {
            if let Some(value) = values.first() {
                flags.push(FlagOverride::knob(def, *value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs::{Consistency, Strategy};
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// The detached hop is started with a command line casstop writes and parses itself: every
    /// setting must come back as it was sent (a sub-millisecond RTT, a normal jitter, the seed).
    #[test]
    fn the_hop_serve_command_line_parses_back_into_the_settings_it_was_made_from() {
        let sent = crate::hop::HopSettings {
            rtt: Duration::from_micros(1_500),
            jitter: Duration::from_micros(250),
            jitter_distribution: crate::config::JitterDistribution::Normal,
            seed: 12_345,
        };
        let listen: std::net::SocketAddr = "127.0.0.3:9043".parse().unwrap();
        let upstream: std::net::SocketAddr = "127.0.0.3:9042".parse().unwrap();
        let dir = std::path::Path::new("/tmp/a node dir");
        let mut line = vec!["casstop".to_string()];
        line.extend(crate::hop::process::serve_args(
            listen, upstream, &sent, dir,
        ));
        let cli = Cli::try_parse_from(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let Some(Command::Local(LocalArgs {
            action: LocalAction::HopServe(got),
        })) = cli.command
        else {
            panic!("{line:?} is not hop-serve");
        };
        assert_eq!((got.listen, got.upstream), (listen, upstream));
        assert_eq!((got.rtt, got.jitter), (sent.rtt, sent.jitter));
        assert_eq!(got.jitter_distribution, sent.jitter_distribution);
        assert_eq!(got.seed, sent.seed);
        assert_eq!(got.dir, dir);
        assert_eq!(got.parent, None);
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let before =
            Cli::try_parse_from(["casstop", "--hosts", "a,b", "bench", "--depth", "7"]).unwrap();
        let after =
            Cli::try_parse_from(["casstop", "bench", "--depth", "7", "--hosts", "a,b"]).unwrap();
        for cli in [before, after] {
            assert_eq!(
                cli.hosts.as_deref(),
                Some(&["a".to_string(), "b".to_string()][..])
            );
            let flags = cli.flag_overrides();
            assert!(
                flags
                    .iter()
                    .any(|f| f.key == "load.depth" && f.value.as_integer() == Some(7))
            );
        }
    }

    #[test]
    fn knob_flags_become_config_overrides() {
        let cli = Cli::try_parse_from([
            "casstop",
            "bench",
            "--strategy",
            "pipeline",
            "--cpu-work-us",
            "50",
            "--rate",
            "500",
            "--duration",
            "3s",
            "--consistency",
            "local_one",
        ])
        .unwrap();
        let loaded = crate::config::load(None, &[], &cli.flag_overrides()).unwrap();
        let load = &loaded.settings.knobs;
        assert_eq!(load.strategy, Strategy::Pipeline);
        assert_eq!(load.cpu_work_us, 50);
        assert_eq!(load.rate, 500.0);
        assert_eq!(load.duration, Duration::from_secs(3));
        assert_eq!(loaded.settings.knobs.consistency, Consistency::LocalOne);
    }

    #[test]
    fn local_up_flags_switch_auth_and_tls_on() {
        let cli = Cli::try_parse_from(["casstop", "local", "up", "--tls", "--auth"]).unwrap();
        let loaded = crate::config::load(None, &[], &cli.flag_overrides()).unwrap();
        assert!(loaded.settings.local.tls && loaded.settings.local.auth);
        let cli = Cli::try_parse_from(["casstop", "local", "up"]).unwrap();
        let loaded = crate::config::load(None, &[], &cli.flag_overrides()).unwrap();
        assert!(!loaded.settings.local.tls && !loaded.settings.local.auth);
    }

    #[test]
    fn bad_flag_values_are_usage_errors() {
        let err = Cli::try_parse_from(["casstop", "bench", "--strategy", "fast"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Cli::try_parse_from(["casstop", "bench", "--depth", "-3"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Cli::try_parse_from(["casstop", "bench", "--duration", "soon"]).unwrap_err();
        assert!(err.to_string().contains("500ms"), "{err}");
    }
}
