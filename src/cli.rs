//! The command line. Flags carry the knobs' own names (`--depth`, `--cpu-work-us`) and become the
//! top layer of the settings (see [`crate::config`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{FlagOverride, duration};
use crate::engine::knobs::{Consistency, Runtime, Strategy};

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
    /// Step one knob over a list of values and find the knee (not yet built).
    Sweep(SweepArgs),
    /// Turn run recordings into plots and a comparison report (not yet built).
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
    #[arg(long, value_name = "D", help_heading = "Knobs")]
    pub depth: Option<u32>,
    /// Writes per round for the batches strategy, per worker.
    #[arg(long, value_name = "K", help_heading = "Knobs")]
    pub batch: Option<u32>,
    /// Independent workers, each running the strategy.
    #[arg(long, value_name = "W", help_heading = "Knobs")]
    pub workers: Option<u32>,
    /// Async runtime; fixed for the run.
    #[arg(long, value_enum, help_heading = "Knobs")]
    pub runtime: Option<Runtime>,
    /// OS threads of the multi-thread runtime.
    #[arg(long, value_name = "N", help_heading = "Knobs")]
    pub threads: Option<u32>,
    /// Target requests/s over all workers (0 = open); latency is then also measured from each
    /// write's intended start.
    #[arg(long, value_name = "OPS_PER_S", help_heading = "Knobs")]
    pub rate: Option<f64>,
    /// Bytes of payload per row.
    #[arg(long, value_name = "BYTES", help_heading = "Knobs")]
    pub payload_bytes: Option<u32>,
    /// Microseconds of deterministic client computation per write (the CPU-bound case).
    #[arg(long, value_name = "US", help_heading = "Knobs")]
    pub cpu_work_us: Option<u32>,
    /// Rows per request: 1 = one INSERT, more = one UNLOGGED BATCH of that many rows.
    #[arg(long, value_name = "N", help_heading = "Knobs")]
    pub rows_per_request: Option<u32>,
    /// Consistency level of the writes.
    #[arg(long, value_enum, help_heading = "Knobs")]
    pub consistency: Option<Consistency>,
    /// Safety cap on writes in flight per worker for the throttle strategy.
    #[arg(long, value_name = "N", help_heading = "Knobs")]
    pub throttle_cap: Option<u32>,
    /// Length of one metrics interval (e.g. 1s, 250ms).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, help_heading = "Knobs")]
    pub interval: Option<Duration>,
}

#[derive(Debug, Args, Default)]
pub struct TuiArgs {
    #[command(flatten)]
    pub knobs: KnobArgs,
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
}

#[derive(Debug, Args, Default)]
pub struct SweepArgs {
    #[command(flatten)]
    pub knobs: KnobArgs,
}

#[derive(Debug, Args, Default)]
pub struct ReportArgs {
    /// Run directories to report on.
    pub runs: Vec<PathBuf>,
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
    /// Stop the node casstop started (by its recorded pid).
    Down,
    /// Print whether the node is up, its pid, version, address and data size.
    Status,
    /// Show the tail of the node's log.
    Logs {
        /// Lines to show.
        #[arg(short = 'n', long, default_value_t = 40)]
        lines: usize,
    },
}

#[derive(Debug, Args, Default)]
pub struct UpArgs {
    /// Require a login: PasswordAuthenticator and CassandraAuthorizer, superuser
    /// cassandra/cassandra (`local.auth`).
    #[arg(long)]
    pub auth: bool,
    /// Accept only TLS clients, with a CA and node certificate generated into <data_dir>/tls;
    /// clients set tls.enabled and tls.ca_file (`local.tls`).
    #[arg(long)]
    pub tls: bool,
}

impl Cli {
    /// The flags that override settings, as config-layer values.
    pub fn flag_overrides(&self) -> Vec<FlagOverride> {
        let mut flags = Vec::new();
        if let Some(hosts) = &self.hosts {
            flags.push(FlagOverride::new("cluster.hosts", "--hosts", hosts));
        }
        let knobs = match &self.command {
            Some(Command::Tui(args)) => Some(&args.knobs),
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
                Some(&args.knobs)
            }
            Some(Command::Sweep(args)) => Some(&args.knobs),
            Some(Command::Local(LocalArgs {
                action: LocalAction::Up(up),
            })) => {
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
