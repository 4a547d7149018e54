//! The verdict: is the client waiting on I/O, burning its core, held up by the server, or
//! waiting head-of-line? A pure function of one interval's evidence, so its thresholds are tested.

use std::fmt;

use serde::Serialize;

use crate::knobs::Strategy;

/// A client thread busier than this (percent of one core) is the limit.
pub const CPU_BOUND_PERCENT: f64 = 85.0;
/// A client thread idler than this is waiting on I/O.
pub const IO_BOUND_PERCENT: f64 = 50.0;
/// A local node using more than this share of the machine's cores is the limit.
pub const SERVER_BOUND_SHARE: f64 = 0.8;
/// A machine busier than this share of its cores, with the local node on it, has no CPU left to
/// give the node: the node is the limit even below [`SERVER_BOUND_SHARE`] of the cores.
pub const MACHINE_SATURATED_SHARE: f64 = 0.9;
/// p99 this many times p50 under a strategy that waits on the slowest write is head-of-line.
pub const HEAD_OF_LINE_RATIO: f64 = 5.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    Idle,
    Failing,
    CpuBound,
    ServerBound,
    HeadOfLine,
    IoBound,
    Balanced,
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerdictKind::Idle => "idle",
            VerdictKind::Failing => "failing",
            VerdictKind::CpuBound => "CPU-bound",
            VerdictKind::ServerBound => "server-bound",
            VerdictKind::HeadOfLine => "head-of-line",
            VerdictKind::IoBound => "I/O-bound",
            VerdictKind::Balanced => "balanced",
        })
    }
}

/// A verdict and the evidence for it, in one line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub text: String,
}

impl Default for Verdict {
    fn default() -> Self {
        Verdict {
            kind: VerdictKind::Idle,
            text: "idle: no writes yet".into(),
        }
    }
}

/// What one interval shows.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub strategy: Option<Strategy>,
    pub paused: bool,
    pub ok_per_s: f64,
    pub errors_per_s: f64,
    pub in_flight: u32,
    /// Most writes the strategy lets be in flight (over all workers).
    pub in_flight_limit: u32,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Busiest client thread that runs the load, percent of one core.
    pub busiest_percent: f64,
    pub busiest_thread: String,
    /// The local node's CPU, percent of one core, and the machine's core count.
    pub node_percent: Option<f64>,
    /// Every process on the machine, and casstop's whole process, percent of one core.
    pub machine_percent: Option<f64>,
    pub client_percent: f64,
    pub cores: u32,
    /// Share of profile samples in the application's own work, from the last capture.
    pub application_share: Option<f64>,
}

pub fn judge(e: &Evidence) -> Verdict {
    let verdict = |kind, text: String| Verdict { kind, text };
    if e.paused || (e.ok_per_s == 0.0 && e.errors_per_s == 0.0) {
        return Verdict {
            kind: VerdictKind::Idle,
            text: if e.paused {
                "idle: paused".into()
            } else {
                "idle: no writes this interval".into()
            },
        };
    }
    if e.errors_per_s > e.ok_per_s {
        return verdict(
            VerdictKind::Failing,
            format!(
                "failing: {:.0} errors/s against {:.0} ok/s — the node is down, overloaded or refusing",
                e.errors_per_s, e.ok_per_s
            ),
        );
    }
    let samples = e
        .application_share
        .map(|share| format!(", {:.0}% of samples in application work", share * 100.0))
        .unwrap_or_default();
    if e.busiest_percent >= CPU_BOUND_PERCENT {
        return verdict(
            VerdictKind::CpuBound,
            format!(
                "CPU-bound: {} {:.0}% busy{samples} — more depth won't help; less work per write will (or more threads)",
                e.busiest_thread, e.busiest_percent
            ),
        );
    }
    // One write at a time is limited by the round trip whatever the node does: more writes in
    // flight is the first fix, even when the node is busy (compacting, say).
    if e.in_flight <= 1 && e.busiest_percent < IO_BOUND_PERCENT {
        return io_bound(e);
    }
    if let Some(node) = e.node_percent {
        let cores = f64::from(e.cores.max(1));
        if node >= SERVER_BOUND_SHARE * cores * 100.0 {
            return verdict(
                VerdictKind::ServerBound,
                format!(
                    "server-bound: node at {node:.0}% of {} cores, p99 {} — the client is not the limit",
                    e.cores,
                    crate::units::Micros(e.p99_us as f64)
                ),
            );
        }
    }
    // The node shares the machine with casstop (and whatever else runs there): when the machine
    // has no idle CPU left, the node cannot go faster, whatever its own share.
    if let (Some(node), Some(machine)) = (e.node_percent, e.machine_percent) {
        let cores = f64::from(e.cores.max(1));
        if machine >= MACHINE_SATURATED_SHARE * cores * 100.0 && node >= e.client_percent {
            let others = (machine - node - e.client_percent).max(0.0);
            return verdict(
                VerdictKind::ServerBound,
                format!(
                    "server-bound: the machine's {} cores are {:.0}% busy (node {node:.0}%, casstop {:.0}%, others {others:.0}%) — the node gets no more CPU; more depth only adds latency",
                    e.cores,
                    machine / cores,
                    e.client_percent
                ),
            );
        }
    }
    let waits_on_slowest = matches!(e.strategy, Some(Strategy::Pipeline | Strategy::Batches));
    if waits_on_slowest && e.p50_us > 0 && e.p99_us as f64 >= HEAD_OF_LINE_RATIO * e.p50_us as f64 {
        return verdict(
            VerdictKind::HeadOfLine,
            format!(
                "head-of-line: {} p99 {} is {:.0}× p50 {} — callbacks would not wait on the oldest",
                e.strategy.map(|s| s.name()).unwrap_or(""),
                crate::units::Micros(e.p99_us as f64),
                e.p99_us as f64 / e.p50_us as f64,
                crate::units::Micros(e.p50_us as f64)
            ),
        );
    }
    if e.busiest_percent < IO_BOUND_PERCENT {
        return io_bound(e);
    }
    verdict(
        VerdictKind::Balanced,
        format!(
            "balanced: {} {:.0}% busy, {} in flight{samples} — neither the client's CPU nor waiting dominates yet",
            e.busiest_thread, e.busiest_percent, e.in_flight
        ),
    )
}

fn io_bound(e: &Evidence) -> Verdict {
    let advice = match e.strategy {
        Some(Strategy::Sync) => "switch to callbacks or pipeline",
        _ if e.in_flight + 1 >= e.in_flight_limit => "raise depth",
        _ => "raise depth or switch to callbacks",
    };
    Verdict {
        kind: VerdictKind::IoBound,
        text: format!(
            "I/O-bound: {} {:.0}% busy, {} in flight — {advice}",
            e.busiest_thread, e.busiest_percent, e.in_flight
        ),
    }
}

/// A verdict reached before a CPU profile finished, with the profile's evidence added: the share
/// of samples in the application's own work is what makes "CPU-bound" actionable.
pub fn with_profile(verdict: Verdict, application_share: f64) -> Verdict {
    if verdict.kind != VerdictKind::CpuBound || verdict.text.contains("of samples") {
        return verdict;
    }
    let text = verdict.text.replacen(
        " busy",
        &format!(
            " busy, {:.0}% of samples in application work",
            application_share * 100.0
        ),
        1,
    );
    Verdict { text, ..verdict }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence() -> Evidence {
        Evidence {
            strategy: Some(Strategy::Callbacks),
            ok_per_s: 10_000.0,
            in_flight: 128,
            in_flight_limit: 128,
            p50_us: 1_000,
            p99_us: 3_000,
            busiest_percent: 60.0,
            busiest_thread: "casstop-engine".into(),
            node_percent: Some(100.0),
            cores: 2,
            ..Evidence::default()
        }
    }

    #[test]
    fn cpu_bound_names_the_thread_and_the_samples() {
        let e = Evidence {
            busiest_percent: 97.0,
            application_share: Some(0.64),
            ..evidence()
        };
        let v = judge(&e);
        assert_eq!(v.kind, VerdictKind::CpuBound);
        assert_eq!(
            v.text,
            "CPU-bound: casstop-engine 97% busy, 64% of samples in application work — more depth won't help; less work per write will (or more threads)"
        );
    }

    #[test]
    fn a_late_profile_adds_its_evidence_once() {
        let v = judge(&Evidence {
            busiest_percent: 97.0,
            ..evidence()
        });
        let v = with_profile(v, 0.64);
        assert!(
            v.text.starts_with(
                "CPU-bound: casstop-engine 97% busy, 64% of samples in application work"
            ),
            "{}",
            v.text
        );
        assert_eq!(with_profile(v.clone(), 0.5), v);
    }

    #[test]
    fn io_bound_advice_depends_on_the_strategy() {
        let e = Evidence {
            strategy: Some(Strategy::Sync),
            busiest_percent: 14.0,
            in_flight: 1,
            in_flight_limit: 1,
            ..evidence()
        };
        let v = judge(&e);
        assert_eq!(v.kind, VerdictKind::IoBound);
        assert!(
            v.text.starts_with(
                "I/O-bound: casstop-engine 14% busy, 1 in flight — switch to callbacks"
            ),
            "{}",
            v.text
        );
        let e = Evidence {
            busiest_percent: 20.0,
            in_flight: 4,
            in_flight_limit: 4,
            ..evidence()
        };
        assert!(judge(&e).text.ends_with("raise depth"));
    }

    #[test]
    fn one_write_at_a_time_is_io_bound_even_when_the_node_is_busy() {
        let e = Evidence {
            strategy: Some(Strategy::Sync),
            busiest_percent: 18.0,
            in_flight: 1,
            in_flight_limit: 1,
            node_percent: Some(170.0),
            ..evidence()
        };
        assert_eq!(judge(&e).kind, VerdictKind::IoBound);
    }

    #[test]
    fn server_bound_when_the_node_fills_the_machine() {
        let e = Evidence {
            node_percent: Some(190.0),
            ..evidence()
        };
        let v = judge(&e);
        assert_eq!(v.kind, VerdictKind::ServerBound);
        assert!(
            v.text.starts_with("server-bound: node at 190% of 2 cores"),
            "{}",
            v.text
        );
    }

    #[test]
    fn head_of_line_only_for_strategies_that_wait_on_the_slowest() {
        let slow_tail = Evidence {
            p50_us: 1_000,
            p99_us: 9_000,
            ..evidence()
        };
        assert_eq!(judge(&slow_tail).kind, VerdictKind::Balanced);
        let pipeline = Evidence {
            strategy: Some(Strategy::Pipeline),
            ..slow_tail
        };
        let v = judge(&pipeline);
        assert_eq!(v.kind, VerdictKind::HeadOfLine);
        assert!(v.text.contains("9× p50"), "{}", v.text);
    }

    #[test]
    fn idle_and_failing() {
        assert_eq!(
            judge(&Evidence {
                paused: true,
                ..evidence()
            })
            .kind,
            VerdictKind::Idle
        );
        assert_eq!(
            judge(&Evidence {
                ok_per_s: 0.0,
                ..evidence()
            })
            .kind,
            VerdictKind::Idle
        );
        let failing = Evidence {
            ok_per_s: 0.0,
            errors_per_s: 50.0,
            ..evidence()
        };
        assert_eq!(judge(&failing).kind, VerdictKind::Failing);
    }

    #[test]
    fn a_saturated_shared_machine_names_the_node_unless_one_write_is_in_flight() {
        let shared = Evidence {
            busiest_percent: 30.0,
            node_percent: Some(120.0),
            machine_percent: Some(192.0),
            client_percent: 40.0,
            cores: 2,
            ..evidence()
        };
        let v = judge(&shared);
        assert_eq!(v.kind, VerdictKind::ServerBound, "{}", v.text);
        assert!(v.text.contains("96% busy"), "{}", v.text);
        assert!(v.text.contains("others 32%"), "{}", v.text);
        // Idle cores: the node could go faster, so it is not the limit.
        let idle = Evidence {
            machine_percent: Some(120.0),
            ..shared.clone()
        };
        assert_ne!(judge(&idle).kind, VerdictKind::ServerBound);
        // One write at a time waits on the round trip whatever the machine does.
        let sync = Evidence {
            strategy: Some(Strategy::Sync),
            in_flight: 1,
            in_flight_limit: 1,
            ..shared
        };
        assert_eq!(judge(&sync).kind, VerdictKind::IoBound);
    }

    /// Each threshold just below and at its value, written as numbers (not the constants), so
    /// moving or swapping a constant fails here. The base evidence is balanced: 60% busy,
    /// node at half of 2 cores, p99 3× p50.
    #[test]
    fn every_threshold_flips_the_verdict_exactly_at_its_value() {
        let at = |change: &dyn Fn(&mut Evidence)| {
            let mut e = evidence();
            change(&mut e);
            judge(&e).kind
        };
        use VerdictKind::*;
        assert_eq!(at(&|_| {}), Balanced);
        // CPU-bound from 85% of a core.
        assert_eq!(at(&|e| e.busiest_percent = 84.9), Balanced);
        assert_eq!(at(&|e| e.busiest_percent = 85.0), CpuBound);
        // I/O-bound below 50%.
        assert_eq!(at(&|e| e.busiest_percent = 49.9), IoBound);
        assert_eq!(at(&|e| e.busiest_percent = 50.0), Balanced);
        // Server-bound from a node at 80% of the machine's cores (160% of 2).
        assert_eq!(at(&|e| e.node_percent = Some(159.9)), Balanced);
        assert_eq!(at(&|e| e.node_percent = Some(160.0)), ServerBound);
        // Server-bound from a machine 90% busy (180% of 2), the node using more than casstop.
        let shared = |machine: f64| {
            move |e: &mut Evidence| {
                e.machine_percent = Some(machine);
                e.client_percent = 50.0;
            }
        };
        assert_eq!(at(&shared(179.9)), Balanced);
        assert_eq!(at(&shared(180.0)), ServerBound);
        // Head-of-line from p99 at 5× p50, for pipeline.
        let pipeline = |p99: u64| {
            move |e: &mut Evidence| {
                e.strategy = Some(Strategy::Pipeline);
                e.p99_us = p99;
            }
        };
        assert_eq!(at(&pipeline(4_999)), Balanced);
        assert_eq!(at(&pipeline(5_000)), HeadOfLine);
        // Failing once errors outnumber successes.
        assert_eq!(at(&|e| e.errors_per_s = 10_000.0), Balanced);
        assert_eq!(at(&|e| e.errors_per_s = 10_001.0), Failing);
    }
}
