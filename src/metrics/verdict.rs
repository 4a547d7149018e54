//! The verdict: is the client waiting on I/O, burning its core, held up by the server, or
//! waiting head-of-line? A pure function of one interval's evidence, so its thresholds are tested.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::evidence::{Evidence, Outlier};
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
/// A pipeline or batches run whose slots spend at least this share of their time held by
/// finished writes (waiting on an older one, or on the round's slowest) is head-of-line bound.
pub const HEAD_OF_LINE_PERCENT: f64 = 10.0;
/// Under a target rate, at least this share of it succeeding per interval is holding it.
pub const RATE_HELD_SHARE: f64 = 0.95;
/// Requests the servers hold queued (MutationStage and Native-Transport-Requests pending, over
/// all nodes) at an interval's end from which they, not the client, are the limit.
pub const SERVER_QUEUED: u64 = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    Idle,
    Failing,
    CpuBound,
    ServerBound,
    HeadOfLine,
    IoBound,
    Balanced,
    /// Under a target rate, holding it: the limit is the rate the user set.
    RateHeld,
    /// Under a target rate, not holding it: `Verdict::limit` names what holds it back.
    RateNotHeld,
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
            VerdictKind::RateHeld => "rate held",
            VerdictKind::RateNotHeld => "rate not held",
        })
    }
}

/// A verdict and the evidence for it, in one line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub text: String,
    /// For a target rate not held: what holds it back (CPU-bound, I/O-bound, server-bound ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<VerdictKind>,
}

impl Default for Verdict {
    fn default() -> Self {
        Verdict {
            kind: VerdictKind::Idle,
            text: "idle: no writes yet".into(),
            limit: None,
        }
    }
}

fn verdict(kind: VerdictKind, text: String) -> Verdict {
    Verdict {
        kind,
        text,
        limit: None,
    }
}

pub fn judge(e: &Evidence) -> Verdict {
    if e.paused || (e.ok_per_s == 0.0 && e.errors_per_s == 0.0) {
        return verdict(
            VerdictKind::Idle,
            if e.paused {
                "idle: paused".into()
            } else {
                "idle: no writes this interval".into()
            },
        );
    }
    if e.errors_per_s > e.ok_per_s {
        let why = match &e.outlier {
            Some(Outlier::Down(node)) => {
                format!(
                    "node {} is down (the driver has no connection to it)",
                    node.ip()
                )
            }
            _ => "the node is down, overloaded or refusing".into(),
        };
        return verdict(
            VerdictKind::Failing,
            format!(
                "failing: {:.0} errors/s against {:.0} ok/s — {why}",
                e.errors_per_s, e.ok_per_s
            ),
        );
    }
    let mut judged = if e.target_rate > 0.0 {
        judge_rate(e)
    } else {
        limit(e)
    };
    // A node lost or slow while the others carry the load (a rate held, the client's own CPU
    // the limit) must not go unsaid.
    match &e.outlier {
        Some(Outlier::Down(node)) => judged.text += &format!("; node {} is down", node.ip()),
        Some(Outlier::Slow {
            node,
            ratio,
            p99_us,
            ..
        }) if !judged.text.contains(" is slow") => {
            judged.text += &format!(
                "; node {} is slow (p99 {}, {} the others')",
                node.ip(),
                crate::units::Micros(*p99_us as f64),
                times(*ratio)
            );
        }
        _ => {}
    }
    judged
}

/// Under a target rate: held, with the headroom left; or not held, and what holds it back.
fn judge_rate(e: &Evidence) -> Verdict {
    let rate = crate::units::PerSecond(e.target_rate);
    if e.ok_per_s >= RATE_HELD_SHARE * e.target_rate {
        // What the client could still give: its busiest thread's idle share, and the slots
        // the strategy has left; the smaller is the headroom.
        let cpu = 100.0 / e.busiest_percent.max(0.1);
        let slots = f64::from(e.in_flight_limit.max(1)) / e.in_flight_mean.max(0.01);
        let (headroom, by) = if cpu <= slots {
            (cpu, "CPU")
        } else {
            (slots, "writes in flight")
        };
        return verdict(
            VerdictKind::RateHeld,
            format!(
                "rate held: {rate}; {} {:.0}% busy, {:.1} in flight of {}: ~{} headroom ({by})",
                e.busiest_thread,
                e.busiest_percent,
                e.in_flight_mean,
                e.in_flight_limit,
                times(headroom)
            ),
        );
    }
    let held_back = limit(e);
    Verdict {
        kind: VerdictKind::RateNotHeld,
        text: format!(
            "rate not held: {} of {rate} — {}",
            crate::units::PerSecond(e.ok_per_s),
            held_back.text
        ),
        limit: Some(held_back.kind),
    }
}

/// "16×", "1.4×", "≥100×".
fn times(ratio: f64) -> String {
    if ratio >= 100.0 {
        "≥100×".into()
    } else if ratio >= 10.0 {
        format!("{ratio:.0}×")
    } else {
        format!("{ratio:.1}×")
    }
}

/// What limits the client running as fast as its strategy lets it.
fn limit(e: &Evidence) -> Verdict {
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
    if let Some(Outlier::Slow {
        node,
        ratio,
        p99_us,
        mutation_pending,
    }) = &e.outlier
    {
        let queue = mutation_pending
            .map(|n| format!(", MutationStage pending {}", crate::units::Count(n)))
            .unwrap_or_default();
        return verdict(
            VerdictKind::ServerBound,
            format!(
                "server-bound: node {} is slow (p99 {}, {} the others'{queue}) — the writes it \
                 coordinates wait on it; look at that node (GC, disk, compaction, network)",
                node.ip(),
                crate::units::Micros(*p99_us as f64),
                times(*ratio)
            ),
        );
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
    // The servers' own queues: what stands in for the node's CPU on a cluster casstop did not
    // start (the local node's CPU, above, says more where it is known).
    if let Some(queued) = e.server_queued.filter(|n| *n >= SERVER_QUEUED) {
        return verdict(
            VerdictKind::ServerBound,
            format!(
                "server-bound: the nodes hold {} requests queued (MutationStage, \
                 Native-Transport-Requests pending), p99 {} — the servers are the limit; more \
                 depth only adds latency",
                crate::units::Count(queued),
                crate::units::Micros(e.p99_us as f64)
            ),
        );
    }
    if let Some(sat) = &e.saturation {
        // Little's law: X = L / W. L grew, X did not: W grew by as much.
        let latency = (sat.in_flight_now / sat.throughput_now.max(1e-9))
            / (sat.in_flight_before / sat.throughput_before.max(1e-9));
        return verdict(
            VerdictKind::ServerBound,
            format!(
                "server-bound: {:.0} → {:.0} writes in flight gave {:+.0}% writes/s ({} → {}) and \
                 {} the latency (Little's law) — the servers serve a fixed rate; more depth only \
                 queues",
                sat.in_flight_before,
                sat.in_flight_now,
                (sat.throughput_now / sat.throughput_before - 1.0) * 100.0,
                crate::units::PerSecond(sat.throughput_before),
                crate::units::PerSecond(sat.throughput_now),
                times(latency)
            ),
        );
    }
    let waits_on_slowest = matches!(e.strategy, Some(Strategy::Pipeline | Strategy::Batches));
    if waits_on_slowest && e.head_of_line_percent >= HEAD_OF_LINE_PERCENT {
        return head_of_line(e);
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

/// The slots' time held by finished writes is time callbacks at the same depth would give to new
/// writes: with the slots full, throughput would grow by 1 / (1 − share).
fn head_of_line(e: &Evidence) -> Verdict {
    let share = (e.head_of_line_percent / 100.0).min(0.99);
    let gain = 1.0 / (1.0 - share);
    let (strategy, waits_on) = match e.strategy {
        Some(Strategy::Batches) => ("batches", "the round's slowest"),
        _ => ("pipeline", "the oldest"),
    };
    verdict(
        VerdictKind::HeadOfLine,
        format!(
            "head-of-line: {:.0}% of slot time is finished writes waiting on {waits_on} \
             ({strategy}) — callbacks at the same depth could do up to ~{:+.0}% (~{}) if \
             latency holds",
            e.head_of_line_percent,
            (gain - 1.0) * 100.0,
            crate::units::PerSecond(e.ok_per_s * gain)
        ),
    )
}

/// Waiting on the network: the advice is the next step from the strategy in force, never the
/// strategy itself.
fn io_bound(e: &Evidence) -> Verdict {
    let at_limit = e.in_flight + 1 >= e.in_flight_limit;
    let advice = match e.strategy {
        Some(Strategy::Sync) => "switch to callbacks or pipeline",
        Some(Strategy::Callbacks) => "raise depth",
        Some(Strategy::Batches) => "raise batch or switch to callbacks",
        Some(Strategy::Throttle) if at_limit => "raise throttle_cap",
        Some(Strategy::Throttle) => "raise workers",
        _ if at_limit => "raise depth",
        _ => "raise depth or switch to callbacks",
    };
    verdict(
        VerdictKind::IoBound,
        format!(
            "I/O-bound: {} {:.0}% busy, {} in flight — {advice}",
            e.busiest_thread, e.busiest_percent, e.in_flight
        ),
    )
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
    use crate::metrics::evidence::Saturation;

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
        // Each strategy's next step, never the strategy already in force.
        let advice = |strategy, in_flight| {
            judge(&Evidence {
                strategy: Some(strategy),
                busiest_percent: 20.0,
                in_flight,
                in_flight_limit: 64,
                ..evidence()
            })
            .text
        };
        assert!(advice(Strategy::Callbacks, 10).ends_with("— raise depth"));
        assert!(advice(Strategy::Pipeline, 64).ends_with("— raise depth"));
        assert!(advice(Strategy::Pipeline, 10).ends_with("— raise depth or switch to callbacks"));
        assert!(advice(Strategy::Batches, 64).ends_with("— raise batch or switch to callbacks"));
        assert!(advice(Strategy::Throttle, 64).ends_with("— raise throttle_cap"));
        for strategy in <Strategy as strum::IntoEnumIterator>::iter() {
            let text = advice(strategy, 10);
            assert!(!text.contains(&format!("to {}", strategy.name())), "{text}");
        }
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
    fn head_of_line_is_measured_and_names_the_gain_of_callbacks() {
        // A slow tail alone is not head-of-line: callbacks have a tail too.
        let slow_tail = Evidence {
            p50_us: 1_000,
            p99_us: 9_000,
            ..evidence()
        };
        assert_eq!(judge(&slow_tail).kind, VerdictKind::Balanced);
        // 13% of pipeline's slot time held by finished writes: callbacks ~+15%.
        let pipeline = Evidence {
            strategy: Some(Strategy::Pipeline),
            ok_per_s: 14_700.0,
            head_of_line_percent: 13.0,
            ..evidence()
        };
        let v = judge(&pipeline);
        assert_eq!(v.kind, VerdictKind::HeadOfLine);
        assert_eq!(
            v.text,
            "head-of-line: 13% of slot time is finished writes waiting on the oldest (pipeline) — callbacks at the same depth could do up to ~+15% (~16.9k/s) if latency holds"
        );
        // Callbacks never hold a finished write, whatever the number says.
        let callbacks = Evidence {
            strategy: Some(Strategy::Callbacks),
            ..pipeline
        };
        assert_eq!(judge(&callbacks).kind, VerdictKind::Balanced);
    }

    #[test]
    fn a_held_rate_gives_the_headroom_and_no_advice() {
        // 2,000/s held, the load thread 6% busy, 0.4 of 128 in flight: CPU is the nearer limit.
        let held = Evidence {
            target_rate: 2_000.0,
            ok_per_s: 1_990.0,
            busiest_percent: 6.0,
            in_flight: 3,
            in_flight_mean: 0.4,
            ..evidence()
        };
        let v = judge(&held);
        assert_eq!(v.kind, VerdictKind::RateHeld);
        assert_eq!(
            v.text,
            "rate held: 2000/s; casstop-engine 6% busy, 0.4 in flight of 128: ~17× headroom (CPU)"
        );
        assert!(
            !v.text.contains("raise") && !v.text.contains("switch"),
            "{}",
            v.text
        );
        assert_eq!(v.limit, None);
    }

    #[test]
    fn a_rate_not_held_names_what_holds_it_back() {
        let short = Evidence {
            target_rate: 20_000.0,
            ok_per_s: 9_000.0,
            busiest_percent: 97.0,
            ..evidence()
        };
        let v = judge(&short);
        assert_eq!(v.kind, VerdictKind::RateNotHeld);
        assert_eq!(v.limit, Some(VerdictKind::CpuBound));
        assert!(
            v.text
                .starts_with("rate not held: 9000/s of 20.0k/s — CPU-bound: casstop-engine 97%"),
            "{}",
            v.text
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["kind"], "rate-not-held");
        assert_eq!(json["limit"], "cpu-bound");
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
        // Head-of-line from 10% of pipeline's slot time held by finished writes.
        let pipeline = |share: f64| {
            move |e: &mut Evidence| {
                e.strategy = Some(Strategy::Pipeline);
                e.head_of_line_percent = share;
            }
        };
        assert_eq!(at(&pipeline(9.9)), Balanced);
        assert_eq!(at(&pipeline(10.0)), HeadOfLine);
        // Under a rate, held from 95% of it.
        let paced = |ok: f64| {
            move |e: &mut Evidence| {
                e.target_rate = 10_000.0;
                e.ok_per_s = ok;
            }
        };
        assert_eq!(at(&paced(9_499.0)), RateNotHeld);
        assert_eq!(at(&paced(9_500.0)), RateHeld);
        // Failing once errors outnumber successes.
        assert_eq!(at(&|e| e.errors_per_s = 10_000.0), Balanced);
        assert_eq!(at(&|e| e.errors_per_s = 10_001.0), Failing);
    }

    #[test]
    fn more_in_flight_for_flat_throughput_is_server_bound_by_littles_law() {
        let e = Evidence {
            node_percent: None,
            saturation: Some(Saturation {
                in_flight_before: 60.0,
                in_flight_now: 250.0,
                throughput_before: 10_000.0,
                throughput_now: 10_400.0,
            }),
            ..evidence()
        };
        let v = judge(&e);
        assert_eq!(v.kind, VerdictKind::ServerBound);
        assert_eq!(
            v.text,
            "server-bound: 60 → 250 writes in flight gave +4% writes/s (10.0k/s → 10.4k/s) and \
             4.0× the latency (Little's law) — the servers serve a fixed rate; more depth only \
             queues"
        );
    }

    #[test]
    fn a_slow_node_or_queueing_servers_are_named_for_clusters_casstop_did_not_start() {
        let node = std::net::SocketAddr::from(([127, 0, 0, 3], 9042));
        // A remote cluster: no node CPU, but the per-node view and the servers' pools.
        let remote = Evidence {
            node_percent: None,
            ..evidence()
        };
        let slow = Evidence {
            outlier: Some(Outlier::Slow {
                node,
                ratio: 9.2,
                p99_us: 9_200,
                mutation_pending: Some(1_200),
            }),
            ..remote.clone()
        };
        let v = judge(&slow);
        assert_eq!(v.kind, VerdictKind::ServerBound);
        assert_eq!(
            v.text,
            "server-bound: node 127.0.0.3 is slow (p99 9.20 ms, 9.2× the others', MutationStage \
             pending 1,200) — the writes it coordinates wait on it; look at that node (GC, disk, \
             compaction, network)"
        );
        // The client's own CPU still comes first.
        let busy = Evidence {
            busiest_percent: 97.0,
            ..slow
        };
        let v = judge(&busy);
        assert_eq!(v.kind, VerdictKind::CpuBound);
        assert!(
            v.text
                .ends_with("; node 127.0.0.3 is slow (p99 9.20 ms, 9.2× the others')"),
            "{}",
            v.text
        );
        // Queues in the servers' pools: server-bound from SERVER_QUEUED on.
        let queued = |n| Evidence {
            server_queued: Some(n),
            ..remote.clone()
        };
        assert_eq!(
            judge(&queued(SERVER_QUEUED - 1)).kind,
            VerdictKind::Balanced
        );
        let v = judge(&queued(SERVER_QUEUED));
        assert_eq!(v.kind, VerdictKind::ServerBound);
        assert!(v.text.contains("hold 32 requests queued"), "{}", v.text);
        // A node down beside the others: said whatever the limit, and named when writes fail.
        let down = Evidence {
            outlier: Some(Outlier::Down(node)),
            ..remote.clone()
        };
        assert!(judge(&down).text.ends_with("; node 127.0.0.3 is down"));
        let failing = Evidence {
            errors_per_s: 20_000.0,
            ..down
        };
        let v = judge(&failing);
        assert_eq!(v.kind, VerdictKind::Failing);
        assert!(
            v.text
                .ends_with("node 127.0.0.3 is down (the driver has no connection to it)"),
            "{}",
            v.text
        );
    }
}
