//! A sweep's results: its steps as measured from the recording, the knee, and its table.
//! `casstop sweep` computes them; `casstop report` reads them back from `sweep.json`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::recording::Recording;
use crate::knobs::{self, Value};
use crate::units::Micros;

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
    /// Why the sweep failed as a measurement (no write succeeded, too many errors), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
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

/// Per-step numbers from a recording: for each setting, the intervals under it that started at
/// least `warmup_s` after the change to it (the first setting counts from the run's start). The
/// run's last interval is left out: the stop cuts it short and it holds the drain of every write
/// in flight, which at a deep setting would credit the last step with a burst of completions
/// that were issued, and paid for, before it.
pub fn steps_from_recording(
    recording: &Recording,
    knob: &str,
    values: &[u32],
    warmup_s: f64,
) -> Vec<SweepStep> {
    values
        .iter()
        .map(|&setting| {
            let changed_at = recording
                .knob_events()
                .filter(|e| {
                    e.knob.as_deref() == Some(knob)
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
                if knobs::find(knob).map(|def| def.get(&line.knobs))
                    != Some(Value::Count(i64::from(setting)))
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

/// One line on the knee, or on why there is none.
pub fn knee_sentence(result: &SweepResult) -> String {
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

    fn recorded_sweep() -> Recording {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sweep-callbacks"
        );
        Recording::load(std::path::Path::new(dir)).unwrap()
    }

    /// The promise, said in time: an interval counts for a step when it lies wholly between
    /// the step's change plus the warm-up and the next change, is labelled with the step's
    /// setting, and is not the last (the stop's, which holds the drain). (The label matters
    /// once: this recording's 2.5-3.0 s interval is labelled with the change that came 35 ms
    /// after its edge, so it counts for neither step.) Each interval is inflated in turn by a
    /// million writes: exactly the step it counts for must grow by that, every other stay.
    #[test]
    fn a_step_counts_the_whole_intervals_after_its_warm_up_under_its_setting_and_never_the_drain() {
        const VALUES: [u32; 3] = [1, 16, 128];
        const WARMUP_S: f64 = 1.0;
        let recording = recorded_sweep();
        let mut changes = vec![0.0];
        changes.extend(recording.knob_events().map(|e| e.at_s));
        assert_eq!(changes.len(), VALUES.len(), "{changes:?}");
        let base = steps_from_recording(&recording, "depth", &VALUES, WARMUP_S);
        assert!(base.iter().all(|s| s.measured_s > 0.0), "{base:?}");
        let last = recording.intervals.len() - 1;
        let mut counted = [0; 3];
        for (i, line) in recording.intervals.iter().enumerate() {
            let expected = (i != last)
                .then(|| {
                    (0..VALUES.len()).find(|&k| {
                        let ends = changes.get(k + 1).copied().unwrap_or(f64::INFINITY);
                        line.start_s() + 1e-6 >= changes[k] + WARMUP_S
                            && line.at_s <= ends
                            && line.knobs.depth == VALUES[k]
                    })
                })
                .flatten();
            let mut inflated = recording.clone();
            inflated.intervals[i].ok += 1_000_000;
            let steps = steps_from_recording(&inflated, "depth", &VALUES, WARMUP_S);
            for (k, (step, before)) in steps.iter().zip(&base).enumerate() {
                let grew = step.ok - before.ok;
                let want = if expected == Some(k) { 1_000_000 } else { 0 };
                assert_eq!(
                    grew,
                    want,
                    "interval {i} ({:.3}..{:.3} s) and step {k} (changed at {:.3} s)",
                    line.start_s(),
                    line.at_s,
                    changes[k]
                );
            }
            if let Some(k) = expected {
                counted[k] += 1;
            }
        }
        assert!(counted.iter().all(|&n| n >= 2), "{counted:?}");
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
