//! `casstop sweep`: step one knob over a list of values in one run, each step after a warm-up,
//! record it all, and find the knee: the smallest setting past which throughput rises by less
//! than `sweep.knee_gain` while p99 keeps climbing.
//!
//! The steps' numbers come from the recording itself (intervals.jsonl and latency.hlog), so
//! `casstop report` on a sweep's directory sees exactly what the sweep saw. The first stop signal
//! ends the sweep after the steps measured so far, which are written and plotted; a second
//! leaves at once.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::SweepArgs;
use crate::config::Settings;
use crate::control::Control;
use crate::engine::Engine;
use crate::error::UsageError;
use crate::knobs::{self, KnobChange, KnobDef, Strategy, Value};
use crate::record::{RecordOutcome, Recorder, SWEEP};
use crate::report::Recording;
use crate::report::sweep::{SweepResult, knee, knee_sentence, steps_from_recording};
use crate::run::control::{LEFT_AT_ONCE, RunControl, StopRequest};
use crate::run::{BenchResult, progress_line};
use crate::stdout::say;
use crate::target;
use crate::units::{Micros, PerSecond};

pub fn run(args: &SweepArgs, settings: Settings, runtime: tokio::runtime::Runtime) -> Result<()> {
    let plan = SweepPlan::from_args(args, &settings)?;
    let mut settings = settings;
    let node_pid = runtime.block_on(target::prepare_cluster(&mut settings))?;
    drop(runtime);
    // Through the hop when one runs (or `local.rtt` asks for one), as bench and the session;
    // kept for the sweep's length (a hop started for it stops with it).
    let _hop = target::route_through_hop(&mut settings, false)?;
    let control = super::listen::control_api_headless(&settings)?;
    let (result, outcome) =
        sweep_steered(&settings, node_pid, &plan, args.quiet, control.as_ref())?;
    print_table(&result);
    match outcome {
        Some(outcome) => {
            say!("plot: {}", outcome.dir.join("sweep.png").display());
            say!("{}", outcome.describe());
        }
        None => say!("not recorded (output.record = false)"),
    }
    match result.failure {
        Some(why) => anyhow::bail!(why),
        None => Ok(()),
    }
}

/// What to sweep: one steppable knob of the registry over rising values.
#[derive(Clone, Debug)]
pub struct SweepPlan {
    pub knob: &'static KnobDef,
    pub values: Vec<u32>,
}

impl SweepPlan {
    /// From the flags: exactly one steppable knob lists several values; without any, the
    /// strategy's own knob (depth or batch) over 1,2,4,...,1024.
    fn from_args(args: &SweepArgs, settings: &Settings) -> Result<SweepPlan> {
        let lists: Vec<&(&'static KnobDef, Vec<Value>)> = args
            .knobs
            .0
            .given
            .iter()
            .filter(|(_, values)| values.len() > 1)
            .collect();
        let (knob, values) = match lists[..] {
            [(knob, values)] => (*knob, values.clone()),
            [] => {
                let knob = for_strategy(settings.knobs.strategy).ok_or_else(|| {
                    UsageError(format!(
                        "the {} strategy has no depth or batch to sweep; give --workers LIST, or --strategy callbacks|pipeline|batches",
                        settings.knobs.strategy
                    ))
                })?;
                let given = args.knobs.0.given.iter().any(|(def, _)| *def == knob);
                if given {
                    return Err(UsageError(
                        "a sweep needs a list of two or more values, e.g. --depth 1,2,4,...,1024"
                            .into(),
                    )
                    .into());
                }
                (
                    knob,
                    knobs::parse_list(knob, "1,2,4,...,1024").map_err(UsageError)?,
                )
            }
            _ => {
                let names: Vec<String> = lists.iter().map(|(def, _)| def.flag()).collect();
                return Err(UsageError(format!(
                    "sweep one knob at a time: only one of {} may list several values",
                    names.join(", ")
                ))
                .into());
            }
        };
        let values = values
            .iter()
            .map(|value| match value {
                Value::Count(v) => u32::try_from(*v).ok(),
                _ => None,
            })
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| UsageError(format!("{}: a sweep steps whole numbers", knob.flag())))?;
        let plan = SweepPlan { knob, values };
        plan.validate(settings)?;
        Ok(plan)
    }

    fn change(&self, value: u32) -> KnobChange {
        KnobChange::new(self.knob, value)
    }

    /// Checks every value against the knobs' limits before the run starts.
    fn validate(&self, settings: &Settings) -> Result<(), UsageError> {
        for value in &self.values {
            settings
                .knobs
                .apply(&self.change(*value))
                .map_err(|message| UsageError(format!("{}: {message}", self.knob.flag())))?;
        }
        Ok(())
    }
}

/// The knob a strategy is usually swept on.
fn for_strategy(strategy: Strategy) -> Option<&'static KnobDef> {
    match strategy {
        Strategy::Pipeline | Strategy::Callbacks => Some(&knobs::DEPTH),
        Strategy::Batches => Some(&knobs::BATCH),
        Strategy::Sync | Strategy::Throttle => None,
    }
}

/// How long each step's phases last, in whole intervals.
struct Phases {
    interval: Duration,
    warmup: u32,
    measured: u32,
}

impl Phases {
    fn of(settings: &Settings) -> Phases {
        // Steps are counted in closed intervals, not in wall time: a change lands just after an
        // interval is published, the interval it lands in and the warm-up's are left out, and
        // the step ends just after its last measured interval is published. So every measured
        // interval ran under one setting from edge to edge, and the stop (whose interval holds
        // the drain) never cuts into one.
        let interval = settings.knobs.interval;
        let whole = |span: Duration| span.as_secs_f64() / interval.as_secs_f64();
        Phases {
            interval,
            warmup: whole(settings.sweep.warmup).ceil() as u32,
            measured: (whole(settings.sweep.step).round() as u32).max(1),
        }
    }
}

/// Runs the sweep: one run, the knob changed live between steps, everything recorded (into a
/// temporary directory, removed after, when `output.record` is off: the steps are measured
/// from the recording). Returns the result, also written as `sweep.json` with `sweep.{svg,png}`
/// into the run directory.
pub fn sweep(
    settings: &Settings,
    node_pid: Option<u32>,
    plan: &SweepPlan,
    quiet: bool,
) -> Result<(SweepResult, Option<RecordOutcome>)> {
    sweep_steered(settings, node_pid, plan, quiet, None)
}

/// [`sweep`], steered from outside too when a control API listens.
fn sweep_steered(
    settings: &Settings,
    node_pid: Option<u32>,
    plan: &SweepPlan,
    quiet: bool,
    control: Option<&Control>,
) -> Result<(SweepResult, Option<RecordOutcome>)> {
    let mut run_settings = settings.clone();
    run_settings
        .knobs
        .set(plan.knob, Value::Count(i64::from(plan.values[0])));
    run_settings.knobs.duration = Duration::ZERO;
    run_settings.knobs.ops = 0;
    let scratch = (!settings.output.record)
        .then(|| std::env::temp_dir().join(format!("casstop-sweep-{}", std::process::id())));
    if let Some(dir) = &scratch {
        run_settings.output.dir = dir.clone();
    }
    let recorder = Recorder::start(&run_settings, "sweep")?;
    let engine = match Engine::start_recorded(&run_settings, node_pid, Some(recorder.feed())) {
        Ok(engine) => engine,
        Err(err) => {
            recorder.finish(None::<&()>);
            return Err(err);
        }
    };
    let steered = control.map(|control| {
        control.attach(crate::control::Attached {
            engine: engine.handle(),
            profile: crate::control::ProfileSetup::of(settings, recorder.dir().to_path_buf()),
        })
    });
    let measured = step_through(&engine, plan, &Phases::of(settings), quiet)?;
    drop(steered);
    let info = engine.info.clone();
    let totals = engine.stop()?;
    let summary = BenchResult::new(&totals, &info);
    for warning in &summary.warnings {
        eprintln!("warning: {warning}");
    }
    let outcome = recorder.finish(Some(&summary));
    if let Some(failure) = &outcome.failure {
        anyhow::bail!(
            "the sweep's recording stopped early ({failure}), so its steps cannot be measured; what was written is in {}",
            outcome.dir.display()
        );
    }
    let mut result = measure(settings, plan, &outcome, measured)?;
    result.failure = summary.failure();
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
        return Ok((result, None));
    }
    crate::record::write_json(&outcome.dir.join(SWEEP), &result)?;
    crate::report::plot::sweep(&outcome.dir, &result)?;
    Ok((result, Some(outcome)))
}

/// Changes the knob step by step, each held for its warm-up and measured intervals. The first
/// stop signal ends the sweep after the steps completed so far (their count is returned); a
/// second one leaves at once.
fn step_through(engine: &Engine, plan: &SweepPlan, phases: &Phases, quiet: bool) -> Result<usize> {
    let mut control = RunControl::install()?;
    let live = !quiet && std::io::stderr().is_terminal();
    let latest = engine.latest();
    for (i, value) in plan.values.iter().enumerate() {
        if i > 0 {
            engine
                .change(plan.change(*value))
                .map_err(|message| anyhow::anyhow!("changing {}: {message}", plan.knob.name))?;
        }
        if !quiet {
            eprintln!(
                "step {}/{}: {} {value} (warm-up {:.1} s, then {:.1} s measured)",
                i + 1,
                plan.values.len(),
                plan.knob.name,
                (phases.interval * phases.warmup).as_secs_f64(),
                (phases.interval * phases.measured).as_secs_f64()
            );
        }
        let until =
            latest.borrow().elapsed + phases.interval * (phases.warmup + 1 + phases.measured);
        while latest.borrow().elapsed < until && !engine.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
            match control.poll() {
                StopRequest::None => {}
                StopRequest::Drain => {
                    eprintln!(
                        "\nstopping: the sweep ends with the {i} step(s) measured so far; signal again to leave at once"
                    );
                    return Ok(i);
                }
                StopRequest::LeaveNow => std::process::exit(LEFT_AT_ONCE),
            }
            if live {
                eprint!("\r\x1b[2K{}", progress_line(&latest.borrow()));
            }
        }
        if live {
            eprint!("\r\x1b[2K");
        }
    }
    Ok(plan.values.len())
}

/// The first `measured` steps' numbers, from the recording read back.
fn measure(
    settings: &Settings,
    plan: &SweepPlan,
    outcome: &RecordOutcome,
    measured: usize,
) -> Result<SweepResult> {
    let recording = Recording::load(&outcome.dir).context("reading the sweep's recording back")?;
    let warmup_s = settings.sweep.warmup.as_secs_f64();
    let steps = steps_from_recording(
        &recording,
        plan.knob.name,
        &plan.values[..measured],
        warmup_s,
    );
    let points: Vec<(f64, u64)> = steps
        .iter()
        .map(|s| (s.throughput_ops_s, s.p99_us))
        .collect();
    Ok(SweepResult {
        strategy: settings.knobs.strategy.to_string(),
        knob: plan.knob.name.to_string(),
        knee_gain: settings.sweep.knee_gain,
        warmup_s,
        step_s: settings.sweep.step.as_secs_f64(),
        knee: knee(&points, settings.sweep.knee_gain),
        steps,
        failure: None,
    })
}

/// The sweep's table for the terminal, the knee marked.
pub fn print_table(result: &SweepResult) {
    say!(
        "sweep of {} ({}): warm-up {:.1} s, {:.1} s per step, knee gain {:.0} %",
        result.knob,
        result.strategy,
        result.warmup_s,
        result.step_s,
        result.knee_gain * 100.0
    );
    say!(
        "  {:>8} {:>12} {:>10} {:>10} {:>10} {:>8}",
        result.knob,
        "writes/s",
        "p50",
        "p99",
        "max",
        "errors"
    );
    for (i, step) in result.steps.iter().enumerate() {
        say!(
            "{} {:>8} {:>12} {:>10} {:>10} {:>10} {:>8}",
            if result.knee == Some(i) { "►" } else { " " },
            step.setting,
            PerSecond(step.throughput_ops_s).to_string(),
            Micros(step.p50_us as f64).to_string(),
            Micros(step.p99_us as f64).to_string(),
            Micros(step.max_us as f64).to_string(),
            step.errors
        );
    }
    say!("{}", knee_sentence(result));
}
