//! `casstop sweep`: step one knob (depth, batch or workers) over a list of values in one run,
//! each step after a warm-up, record it all, and find the knee: the smallest setting past which
//! throughput rises by less than `sweep.knee_gain` while p99 keeps climbing.
//!
//! The steps' numbers come from the recording itself (intervals.jsonl and latency.hlog), so
//! `casstop report` on a sweep's directory sees exactly what the sweep saw.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::UsageError;
use crate::bench::BenchResult;
use crate::config::Settings;
use crate::engine::Engine;
use crate::engine::knobs::{KnobChange, Knobs, Strategy};
use crate::record::{RecordOutcome, Recorder, SWEEP};
use crate::report::Recording;
use crate::units::{Micros, PerSecond};

/// The knob a sweep steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweptKnob {
    Depth,
    Batch,
    Workers,
}

impl SweptKnob {
    pub fn name(self) -> &'static str {
        match self {
            SweptKnob::Depth => "depth",
            SweptKnob::Batch => "batch",
            SweptKnob::Workers => "workers",
        }
    }

    pub fn change(self, value: u32) -> KnobChange {
        match self {
            SweptKnob::Depth => KnobChange::Depth(value),
            SweptKnob::Batch => KnobChange::Batch(value),
            SweptKnob::Workers => KnobChange::Workers(value),
        }
    }

    pub fn get(self, knobs: &Knobs) -> u32 {
        match self {
            SweptKnob::Depth => knobs.depth,
            SweptKnob::Batch => knobs.batch,
            SweptKnob::Workers => knobs.workers,
        }
    }

    /// Sets the knob in the settings the run starts with.
    pub fn set(self, settings: &mut Settings, value: u32) {
        match self {
            SweptKnob::Depth => settings.load.depth = value,
            SweptKnob::Batch => settings.load.batch = value,
            SweptKnob::Workers => settings.load.workers = value,
        }
    }

    /// The knob a strategy is usually swept on.
    pub fn for_strategy(strategy: Strategy) -> Option<SweptKnob> {
        match strategy {
            Strategy::Pipeline | Strategy::Callbacks => Some(SweptKnob::Depth),
            Strategy::Batches => Some(SweptKnob::Batch),
            Strategy::Sync | Strategy::Throttle => None,
        }
    }
}

/// One measured step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepStep {
    pub setting: u32,
    /// Seconds measured (after the warm-up).
    pub measured_s: f64,
    pub ok: u64,
    pub errors: u64,
    pub throughput_ops_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// What `sweep.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    pub strategy: String,
    pub knob: String,
    pub knee_gain: f64,
    pub warmup_s: f64,
    pub step_s: f64,
    pub steps: Vec<SweepStep>,
    /// Index into `steps` of the knee, if the swept range holds one.
    pub knee: Option<usize>,
}

impl SweepResult {
    pub fn knee_setting(&self) -> Option<u32> {
        self.knee.and_then(|i| self.steps.get(i)).map(|s| s.setting)
    }
}

/// The knee of (throughput, p99) points taken at increasing settings: the first point such that
/// no later one has `gain` (0.1 = 10 %) more throughput, while p99 at the last one is higher.
/// `None` when throughput still rises by `gain` somewhere past every point (sweep further), or
/// p99 does not climb past it.
pub fn knee(points: &[(f64, u64)], gain: f64) -> Option<usize> {
    (0..points.len().saturating_sub(1)).find(|&i| {
        let (throughput, p99) = points[i];
        let later = &points[i + 1..];
        throughput > 0.0
            && later.iter().all(|(t, _)| *t < throughput * (1.0 + gain))
            && later.last().is_some_and(|(_, p)| *p > p99)
    })
}

/// Parses a list of settings: `1,2,4,8`, where `...` continues the progression of the two values
/// before it (geometric when it lands on the last value, else arithmetic): `1,2,...,1024`,
/// `10,20,...,100`.
pub fn parse_values(text: &str) -> Result<Vec<u32>, String> {
    let tokens: Vec<&str> = text.split(',').map(str::trim).collect();
    let number = |token: &str| -> Result<u32, String> {
        token
            .parse::<u32>()
            .map_err(|_| format!("`{token}` is not a whole number (in `{text}`)"))
    };
    let mut values: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        if token == "..." || token == "…" {
            let end = number(tokens.get(i + 1).ok_or_else(|| {
                format!("`...` needs a last value after it, as in 1,2,...,1024 (in `{text}`)")
            })?)?;
            let [.., a, b] = values[..] else {
                return Err(format!(
                    "`...` needs two values before it, as in 1,2,...,1024 (in `{text}`)"
                ));
            };
            if b <= a || end <= b {
                return Err(format!(
                    "`{a},{b},...,{end}` does not rise steadily (in `{text}`)"
                ));
            }
            let geometric = a > 0 && b % a == 0 && {
                let ratio = u64::from(b / a);
                let mut v = u64::from(b);
                while v < u64::from(end) {
                    v *= ratio;
                }
                v == u64::from(end)
            };
            if geometric {
                let mut v = b;
                while v < end {
                    v *= b / a;
                    values.push(v);
                }
            } else if (end - b) % (b - a) == 0 {
                let mut v = b;
                while v < end {
                    v += b - a;
                    values.push(v);
                }
            } else {
                return Err(format!(
                    "`{a},{b},...,{end}`: neither doubling-style nor even steps from {a},{b} land on {end}"
                ));
            }
            i += 2;
        } else {
            values.push(number(token)?);
            i += 1;
        }
    }
    if values.is_empty() {
        return Err("the list is empty".into());
    }
    if values.windows(2).any(|w| w[1] <= w[0]) {
        return Err(format!("the settings must rise, got `{text}`"));
    }
    Ok(values)
}

/// Per-step numbers from a recording: for each setting, the intervals under it that started at
/// least `warmup_s` after the change to it (the first setting counts from the run's start). The
/// run's last interval is left out: the stop cuts it short and it holds the drain of every write
/// in flight, which at a deep setting would credit the last step with a burst of completions
/// that were issued, and paid for, before it.
pub fn steps_from_recording(
    recording: &Recording,
    knob: SweptKnob,
    values: &[u32],
    warmup_s: f64,
) -> Vec<SweepStep> {
    values
        .iter()
        .map(|&setting| {
            let changed_at = recording
                .knob_events()
                .filter(|e| {
                    e.knob.as_deref() == Some(knob.name())
                        && e.value.as_ref().and_then(|v| v.as_u64()) == Some(u64::from(setting))
                })
                .map(|e| e.at_s)
                .last()
                .unwrap_or(0.0);
            let mut service = crate::metrics::new_histogram();
            let (mut measured_s, mut ok, mut errors) = (0.0, 0, 0);
            let before_the_stop = recording.intervals.len().saturating_sub(1);
            for (line, logged) in recording
                .intervals
                .iter()
                .zip(&recording.service)
                .take(before_the_stop)
            {
                if knob.get(&line.knobs) != setting
                    || line.start_s() + 1e-6 < changed_at + warmup_s
                    || line.start_s() + 1e-6 < changed_at
                {
                    continue;
                }
                measured_s += line.length_s;
                ok += line.ok;
                errors += line.errors_total();
                let _ = service.add(&logged.histogram);
            }
            let latency = crate::metrics::LatencySummary::of(&service);
            SweepStep {
                setting,
                measured_s,
                ok,
                errors,
                throughput_ops_s: if measured_s > 0.0 {
                    ok as f64 / measured_s
                } else {
                    0.0
                },
                p50_us: latency.p50,
                p99_us: latency.p99,
                max_us: latency.max,
            }
        })
        .collect()
}

/// What to sweep.
#[derive(Clone, Debug)]
pub struct SweepPlan {
    pub knob: SweptKnob,
    pub values: Vec<u32>,
}

impl SweepPlan {
    /// Checks every value against the knobs' limits before the run starts.
    pub fn validate(&self, settings: &Settings) -> Result<(), UsageError> {
        let knobs = settings.load.initial_knobs(&settings.cluster);
        for value in &self.values {
            knobs
                .apply(&self.knob.change(*value))
                .map_err(|message| UsageError(format!("--{}: {message}", self.knob.name())))?;
        }
        Ok(())
    }
}

/// Runs the sweep: one run, the knob changed live between steps, everything recorded. Returns the
/// result (also written as `sweep.json` with `sweep.{svg,png}` into the run directory).
pub fn run(
    settings: &Settings,
    node_pid: Option<u32>,
    plan: &SweepPlan,
    quiet: bool,
) -> Result<(SweepResult, RecordOutcome)> {
    plan.validate(settings)?;
    let mut run_settings = settings.clone();
    plan.knob.set(&mut run_settings, plan.values[0]);
    run_settings.load.duration = Duration::ZERO;
    run_settings.load.ops = 0;
    // A sweep measures from its recording, so it always records.
    let recorder = Recorder::start(&run_settings, "sweep")?;
    let engine = match Engine::start_recorded(&run_settings, node_pid, Some(recorder.feed())) {
        Ok(engine) => engine,
        Err(err) => {
            recorder.finish(None::<&()>);
            return Err(err);
        }
    };
    let warmup = Duration::from_secs_f64(settings.sweep.warmup_secs);
    let step = Duration::from_secs_f64(settings.sweep.step_secs);
    // Steps are counted in closed intervals, not in wall time: a change lands just after an
    // interval is published, the interval it lands in and the warm-up's are left out, and the
    // step ends just after its last measured interval is published. So every measured interval
    // ran under one setting from edge to edge, and the stop (whose interval holds the drain)
    // never cuts into one.
    let interval = settings.load.interval;
    let whole = |span: Duration| span.as_secs_f64() / interval.as_secs_f64();
    let warmup_intervals = whole(warmup).ceil() as u32;
    let measured_intervals = (whole(step).round() as u32).max(1);
    let live = !quiet && std::io::stderr().is_terminal();
    let latest = engine.latest();
    for (i, value) in plan.values.iter().enumerate() {
        if i > 0 {
            engine
                .change(plan.knob.change(*value))
                .map_err(|message| anyhow::anyhow!("changing {}: {message}", plan.knob.name()))?;
        }
        if !quiet {
            eprintln!(
                "step {}/{}: {} {value} (warm-up {:.1} s, then {:.1} s measured)",
                i + 1,
                plan.values.len(),
                plan.knob.name(),
                (interval * warmup_intervals).as_secs_f64(),
                (interval * measured_intervals).as_secs_f64()
            );
        }
        let until =
            latest.borrow().elapsed + interval * (warmup_intervals + 1 + measured_intervals);
        while latest.borrow().elapsed < until && !engine.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
            if live {
                eprint!("\r\x1b[2K{}", crate::bench::progress_line(&latest.borrow()));
            }
        }
        if live {
            eprint!("\r\x1b[2K");
        }
    }
    let info = engine.info.clone();
    let totals = engine.stop()?;
    let summary = BenchResult::new(&totals, &info);
    let outcome = recorder.finish(Some(&summary));
    if let Some(failure) = &outcome.failure {
        anyhow::bail!(
            "the sweep's recording stopped early ({failure}), so its steps cannot be measured; what was written is in {}",
            outcome.dir.display()
        );
    }
    let recording = Recording::load(&outcome.dir).context("reading the sweep's recording back")?;
    let steps = steps_from_recording(
        &recording,
        plan.knob,
        &plan.values,
        settings.sweep.warmup_secs,
    );
    let points: Vec<(f64, u64)> = steps
        .iter()
        .map(|s| (s.throughput_ops_s, s.p99_us))
        .collect();
    let result = SweepResult {
        strategy: settings.load.strategy.to_string(),
        knob: plan.knob.name().to_string(),
        knee_gain: settings.sweep.knee_gain,
        warmup_s: settings.sweep.warmup_secs,
        step_s: settings.sweep.step_secs,
        knee: knee(&points, settings.sweep.knee_gain),
        steps,
    };
    crate::record::write_json(&outcome.dir.join(SWEEP), &result)?;
    crate::report::plot::sweep(&outcome.dir, &result)?;
    Ok((result, outcome))
}

/// The sweep's table for the terminal, the knee marked.
pub fn print_table(result: &SweepResult) {
    println!(
        "sweep of {} ({}): warm-up {:.1} s, {:.1} s per step, knee gain {:.0} %",
        result.knob,
        result.strategy,
        result.warmup_s,
        result.step_s,
        result.knee_gain * 100.0
    );
    println!(
        "  {:>8} {:>12} {:>10} {:>10} {:>10} {:>8}",
        result.knob, "writes/s", "p50", "p99", "max", "errors"
    );
    for (i, step) in result.steps.iter().enumerate() {
        println!(
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
    println!("{}", knee_sentence(result));
}

fn knee_sentence(result: &SweepResult) -> String {
    match result.knee_setting() {
        Some(setting) => format!(
            "knee: {} {setting} — past it throughput rises by less than {:.0} % while p99 climbs",
            result.knob,
            result.knee_gain * 100.0
        ),
        None => format!(
            "no knee within the swept range: throughput still rises by {:.0} % or more (or p99 does not climb); sweep further",
            result.knee_gain * 100.0
        ),
    }
}

/// The sweep's table for report.md.
pub fn markdown_table(result: &SweepResult) -> String {
    let mut text = format!(
        "| {} | writes/s | p50 | p99 | max | errors | |\n| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
        result.knob
    );
    for (i, step) in result.steps.iter().enumerate() {
        let _ = writeln!(
            text,
            "| {} | {:.0} | {} | {} | {} | {} | {} |",
            step.setting,
            step.throughput_ops_s,
            Micros(step.p50_us as f64),
            Micros(step.p99_us as f64),
            Micros(step.max_us as f64),
            step.errors,
            if result.knee == Some(i) {
                "**knee**"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(text, "\n{}", knee_sentence(result));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_expand_their_progressions() {
        assert_eq!(
            parse_values("1,2,4,...,1024").unwrap(),
            vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
        );
        assert_eq!(parse_values("1,2,...,8").unwrap(), vec![1, 2, 4, 8]);
        assert_eq!(
            parse_values("10,20,...,60").unwrap(),
            vec![10, 20, 30, 40, 50, 60]
        );
        assert_eq!(parse_values("3, 7 ,9").unwrap(), vec![3, 7, 9]);
        assert_eq!(parse_values("64").unwrap(), vec![64]);
        assert!(parse_values("1,...,8").unwrap_err().contains("two values"));
        assert!(parse_values("1,2,...").unwrap_err().contains("last value"));
        assert!(parse_values("4,2").unwrap_err().contains("rise"));
        assert!(parse_values("1,x").unwrap_err().contains("`x`"));
        assert!(parse_values("2,5,...,9").is_err());
    }

    #[test]
    fn knee_is_where_throughput_flattens_and_p99_climbs() {
        // depth:        1      2      4      8      16     32     64
        let points = [
            (1_000.0, 500),
            (1_900.0, 520),
            (3_600.0, 560),
            (6_000.0, 700),
            (6_300.0, 1_400),
            (6_400.0, 2_800),
            (6_350.0, 5_600),
        ];
        assert_eq!(knee(&points, 0.10), Some(3), "8: past it at most +7 %");
        // A looser threshold puts the knee earlier: with 80 %, 4 is it (8 gains 67 %).
        assert_eq!(knee(&points, 0.80), Some(2));
    }

    #[test]
    fn no_knee_while_throughput_still_rises_or_p99_stays_flat() {
        let rising = [(1_000.0, 500), (2_000.0, 600), (4_000.0, 800)];
        assert_eq!(knee(&rising, 0.10), None);
        let flat_p99 = [(1_000.0, 500), (1_010.0, 500), (1_020.0, 490)];
        assert_eq!(knee(&flat_p99, 0.10), None);
        assert_eq!(knee(&[], 0.1), None);
        assert_eq!(knee(&[(5.0, 1)], 0.1), None);
        // A later blip above the threshold moves the knee past it.
        let blip = [
            (1_000.0, 500),
            (1_050.0, 600),
            (1_200.0, 700),
            (1_210.0, 900),
        ];
        assert_eq!(knee(&blip, 0.10), Some(2));
    }
}
