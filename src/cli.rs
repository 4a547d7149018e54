//! The command line. Flags carry the knobs' own names (`--depth`, `--cpu-work-us`) and become the
//! top layer of the settings (see [`crate::config`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{FlagOverride, duration};
use crate::engine::knobs::{Consistency, Retry, Runtime, Strategy};

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
    /// Turn run recordings into plots (SVG and PNG) and report.md; several runs are compared.
    Report(ReportArgs),
    /// Install, start, stop and inspect a local single-node Apache Cassandra 5.0.
    Local(LocalArgs),
}

/// The knobs, as flags. Each overrides the `load.*` key of the same name.
#[derive(Debug, Args, Default, Clone)]
pub struct KnobArgs {
    /// Scheduling strategy.
    #[arg(long, value_enum, help_heading = "Knobs")]
    pub strategy: Option<Strategy>,
    /// Writes in flight (pipeline) or independent chains (callbacks), per worker.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "D",
        help_heading = "Knobs"
    )]
    pub depth: Option<u32>,
    /// Writes per round for the batches strategy, per worker.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "K",
        help_heading = "Knobs"
    )]
    pub batch: Option<u32>,
    /// Independent workers, each running the strategy.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "W",
        help_heading = "Knobs"
    )]
    pub workers: Option<u32>,
    /// Async runtime; fixed for the run.
    #[arg(long, value_enum, help_heading = "Knobs")]
    pub runtime: Option<Runtime>,
    /// OS threads of the multi-thread runtime.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "Knobs"
    )]
    pub threads: Option<u32>,
    /// Target requests/s over all workers (0 = open); latency is then also measured from each
    /// write's intended start.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "OPS_PER_S",
        help_heading = "Knobs"
    )]
    pub rate: Option<f64>,
    /// Bytes of payload per row.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "BYTES",
        help_heading = "Knobs"
    )]
    pub payload_bytes: Option<u32>,
    /// Microseconds of client CPU burnt per write, by the load thread's own CPU clock (the
    /// CPU-bound case).
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "US",
        help_heading = "Knobs"
    )]
    pub cpu_work_us: Option<u32>,
    /// Rows per request: 1 = one INSERT, more = one UNLOGGED BATCH of that many rows.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "Knobs"
    )]
    pub rows_per_request: Option<u32>,
    /// Consistency level of the writes.
    #[arg(long, value_enum, help_heading = "Knobs")]
    pub consistency: Option<Consistency>,
    /// Client-side deadline of one request (e.g. 500ms, 2s); a write that misses it is a timeout
    /// error, counted as "maybe written".
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, help_heading = "Knobs")]
    pub request_timeout: Option<Duration>,
    /// What the driver does after a failed write: default (retry on another node only when the
    /// write was refused) or never.
    #[arg(long, value_enum, help_heading = "Knobs")]
    pub retry: Option<Retry>,
    /// Safety cap on writes in flight per worker for the throttle strategy.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "Knobs"
    )]
    pub throttle_cap: Option<u32>,
    /// Length of one metrics interval (e.g. 1s, 250ms).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, help_heading = "Knobs")]
    pub interval: Option<Duration>,
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
pub struct TuiArgs {
    #[command(flatten)]
    pub knobs: KnobArgs,
    #[command(flatten)]
    pub record: RecordArgs,
    /// Put the local node at this network distance: writes go through the latency hop, started
    /// if needed (and stopped at the end if this session started it). `:rtt 1ms` changes it live.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub rtt: Option<Duration>,
}

#[derive(Debug, Args, Default)]
pub struct BenchArgs {
    #[command(flatten)]
    pub knobs: KnobArgs,
    /// How long to run (e.g. 10s, 2m); default 10s unless --ops is given.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub duration: Option<Duration>,
    /// Requests to issue over all workers, then stop.
    #[arg(long, value_name = "N")]
    pub ops: Option<u64>,
    /// Run every strategy one after the other (batches at --batch, pipeline and callbacks at
    /// --depth) and print the python benchmarks' table with the ratio to sync.
    #[arg(long)]
    pub matrix: bool,
    /// Write the result as JSON to FILE (with --matrix: a list, one entry per strategy).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Capture a CPU profile of this many seconds during the run (after 1 s of warm-up): a
    /// flamegraph SVG, a pprof .pb and folded stacks under the output directory.
    #[arg(long, value_name = "SECS")]
    pub profile: Option<u64>,
    /// Truncate the table before the run, so its row count can be checked against `ok`.
    #[arg(long)]
    pub truncate: bool,
    /// No live progress line (for scripts and CI logs).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub record: RecordArgs,
    /// Run through the latency hop in front of the local node at this RTT; with --matrix a list
    /// (`0,1ms,3ms`): every strategy at every RTT, one table per RTT. `0` still goes through the
    /// hop (its own cost); leave --rtt out for a direct run.
    #[arg(long, value_name = "DURATION[,...]", value_parser = duration::parse, value_delimiter = ',')]
    pub rtt: Vec<Duration>,
}

#[derive(Debug, Args, Default)]
pub struct SweepArgs {
    /// Scheduling strategy (pipeline and callbacks sweep --depth, batches --batch).
    #[arg(long, value_enum, help_heading = "Sweep")]
    pub strategy: Option<Strategy>,
    /// Depths to step through: a list where `...` continues the progression, e.g. 1,2,4,...,1024.
    #[arg(long, value_name = "LIST", help_heading = "Sweep")]
    pub depth: Option<String>,
    /// Batch sizes to step through (the batches strategy), e.g. 10,20,...,200.
    #[arg(long, value_name = "LIST", help_heading = "Sweep")]
    pub batch: Option<String>,
    /// Worker counts to step through, e.g. 1,2,4,8.
    #[arg(long, value_name = "LIST", help_heading = "Sweep")]
    pub workers: Option<String>,
    /// Seconds each step is measured for, after its warm-up.
    #[arg(long, value_name = "SECS", help_heading = "Sweep")]
    pub step_secs: Option<f64>,
    /// Seconds after each change that are not counted.
    #[arg(long, value_name = "SECS", help_heading = "Sweep")]
    pub warmup_secs: Option<f64>,
    /// The knee: the smallest setting past which throughput rises by less than this fraction.
    #[arg(long, value_name = "FRACTION", help_heading = "Sweep")]
    pub knee_gain: Option<f64>,
    /// Async runtime; fixed for the run.
    #[arg(long, value_enum, help_heading = "Knobs")]
    pub runtime: Option<Runtime>,
    /// OS threads of the multi-thread runtime.
    #[arg(long, value_name = "N", help_heading = "Knobs")]
    pub threads: Option<u32>,
    /// Target requests/s over all workers (0 = open).
    #[arg(long, value_name = "OPS_PER_S", help_heading = "Knobs")]
    pub rate: Option<f64>,
    /// Bytes of payload per row.
    #[arg(long, value_name = "BYTES", help_heading = "Knobs")]
    pub payload_bytes: Option<u32>,
    /// Microseconds of client CPU burnt per write, by the load thread's own CPU clock.
    #[arg(long, value_name = "US", help_heading = "Knobs")]
    pub cpu_work_us: Option<u32>,
    /// Rows per request.
    #[arg(long, value_name = "N", help_heading = "Knobs")]
    pub rows_per_request: Option<u32>,
    /// Consistency level of the writes.
    #[arg(long, value_enum, help_heading = "Knobs")]
    pub consistency: Option<Consistency>,
    /// Length of one metrics interval (e.g. 1s, 250ms).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, help_heading = "Knobs")]
    pub interval: Option<Duration>,
    /// Name appended to the run directory (`<output.dir>/<UTC time>-<LABEL>`).
    #[arg(long, value_name = "LABEL", help_heading = "Recording")]
    pub label: Option<String>,
    /// No live progress line.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args, Default)]
pub struct ReportArgs {
    /// Run directories to report on; with several, the first is the baseline of the comparison.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write the pictures and report.md (default: RUN/report for one run, a
    /// `<UTC time>-compare` directory beside the first run for several).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
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
    /// direction by half this round trip; a running hop takes the new RTT live.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub rtt: Option<Duration>,
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
    pub jitter_distribution: crate::hop::JitterDistribution,
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
        let duration_flag = |d: &Duration| humantime::format_duration(*d).to_string();
        let knobs = match &self.command {
            Some(Command::Tui(args)) => {
                args.record.push_overrides(&mut flags);
                if let Some(rtt) = &args.rtt {
                    flags.push(FlagOverride::new("local.rtt", "--rtt", duration_flag(rtt)));
                }
                Some(&args.knobs)
            }
            Some(Command::Bench(args)) => {
                if let Some(duration) = args.duration {
                    flags.push(FlagOverride::new(
                        "load.duration",
                        "--duration",
                        humantime::format_duration(duration).to_string(),
                    ));
                }
                if let Some(ops) = args.ops {
                    flags.push(FlagOverride::new("load.ops", "--ops", ops));
                }
                args.record.push_overrides(&mut flags);
                // With a list, the first RTT is where the run starts.
                if let Some(rtt) = args.rtt.first() {
                    flags.push(FlagOverride::new("local.rtt", "--rtt", duration_flag(rtt)));
                }
                Some(&args.knobs)
            }
            Some(Command::Sweep(args)) => {
                args.push_overrides(&mut flags);
                None
            }
            Some(Command::Local(LocalArgs {
                action: LocalAction::Up(up),
            })) => {
                if let Some(rtt) = &up.rtt {
                    flags.push(FlagOverride::new("local.rtt", "--rtt", duration_flag(rtt)));
                }
                if let Some(jitter) = &up.jitter {
                    flags.push(FlagOverride::new(
                        "local.jitter",
                        "--jitter",
                        duration_flag(jitter),
                    ));
                }
                // The flags switch the options on; off stays the config's business.
                if up.auth {
                    flags.push(FlagOverride::new("local.auth", "--auth", true));
                }
                if up.tls {
                    flags.push(FlagOverride::new("local.tls", "--tls", true));
                }
                None
            }
            _ => None,
        };
        if let Some(knobs) = knobs {
            knobs.push_overrides(&mut flags);
        }
        flags
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
        let knobs = KnobArgs {
            strategy: self.strategy,
            runtime: self.runtime,
            threads: self.threads,
            rate: self.rate,
            payload_bytes: self.payload_bytes,
            cpu_work_us: self.cpu_work_us,
            rows_per_request: self.rows_per_request,
            consistency: self.consistency,
            interval: self.interval,
            ..KnobArgs::default()
        };
        knobs.push_overrides(flags);
        let mut push = |key, flag, value: Option<f64>| {
            if let Some(value) = value {
                flags.push(FlagOverride::new(key, flag, value));
            }
        };
        push("sweep.step_secs", "--step-secs", self.step_secs);
        push("sweep.warmup_secs", "--warmup-secs", self.warmup_secs);
        push("sweep.knee_gain", "--knee-gain", self.knee_gain);
        if let Some(label) = &self.label {
            flags.push(FlagOverride::new("output.label", "--label", label));
        }
    }
}

impl KnobArgs {
    fn push_overrides(&self, flags: &mut Vec<FlagOverride>) {
        let mut push = |key, flag, value: Option<toml::Value>| {
            if let Some(value) = value {
                flags.push(FlagOverride { key, flag, value });
            }
        };
        let int = |v: Option<u32>| v.map(|v| toml::Value::Integer(v.into()));
        let text = |v: Option<String>| v.map(toml::Value::String);
        push(
            "load.strategy",
            "--strategy",
            text(self.strategy.map(|s| s.to_string())),
        );
        push("load.depth", "--depth", int(self.depth));
        push("load.batch", "--batch", int(self.batch));
        push("load.workers", "--workers", int(self.workers));
        push(
            "load.runtime",
            "--runtime",
            text(self.runtime.map(|r| r.to_string())),
        );
        push("load.threads", "--threads", int(self.threads));
        push("load.rate", "--rate", self.rate.map(toml::Value::Float));
        push(
            "load.payload_bytes",
            "--payload-bytes",
            int(self.payload_bytes),
        );
        push("load.cpu_work_us", "--cpu-work-us", int(self.cpu_work_us));
        push(
            "load.rows_per_request",
            "--rows-per-request",
            int(self.rows_per_request),
        );
        push(
            "cluster.consistency",
            "--consistency",
            text(self.consistency.map(|c| c.to_string())),
        );
        push(
            "cluster.request_timeout",
            "--request-timeout",
            text(
                self.request_timeout
                    .map(|d| humantime::format_duration(d).to_string()),
            ),
        );
        push(
            "cluster.retry",
            "--retry",
            text(self.retry.map(|r| r.to_string())),
        );
        push(
            "load.throttle_cap",
            "--throttle-cap",
            int(self.throttle_cap),
        );
        push(
            "load.interval",
            "--interval",
            text(
                self.interval
                    .map(|d| humantime::format_duration(d).to_string()),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
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
        let load = &loaded.settings.load;
        assert_eq!(load.strategy, Strategy::Pipeline);
        assert_eq!(load.cpu_work_us, 50);
        assert_eq!(load.rate, 500.0);
        assert_eq!(load.duration, Duration::from_secs(3));
        assert_eq!(loaded.settings.cluster.consistency, Consistency::LocalOne);
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
