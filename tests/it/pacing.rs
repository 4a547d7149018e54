//! A target rate and the verdicts about it, against the real node: paced writes leave on time
//! (so response time is the system's, not casstop's lateness), a rate far below capacity is called
//! held with its headroom, one above capacity is called not held with what holds it back, and
//! head-of-line waiting is measured from the slots, through the hop with jitter.

use crate::common;

use std::time::Duration;

use casstop::config::Settings;
use casstop::hop::HopSettings;
use casstop::knobs::Strategy;
use casstop::metrics::verdict::VerdictKind;
use casstop::run::summary::BenchResult;

fn run(settings: &Settings) -> BenchResult {
    casstop::run::run_one(settings, Some(common::node_pid()), true, None).expect("the run")
}

#[test]
fn paced_writes_leave_on_time_and_a_rate_far_below_capacity_is_held() {
    let _alone = common::measuring();
    let mut settings = common::settings("paced_on_time");
    settings.knobs.strategy = Strategy::Callbacks;
    settings.knobs.depth = 128;
    settings.knobs.rate = 2_000.0;
    settings.knobs.duration = Duration::from_secs(6);
    let result = run(&settings);
    let late = result
        .pacer_late_us
        .expect("a paced run reports the pacer's lateness");
    let response = result
        .response_latency_us
        .expect("a paced run reports response time");
    let service = result.latency_us;
    eprintln!(
        "2,000/s: pacer late p50 {} µs p99 {} µs mean {:.0} µs; service p50 {} µs mean {:.0} µs, \
         response p50 {} µs mean {:.0} µs; {}",
        late.p50,
        late.p99,
        late.mean,
        service.p50,
        service.mean,
        response.p50,
        response.mean,
        result.verdict.text
    );
    assert_eq!(result.errors_total, 0, "{}", result.errors);
    assert_eq!(late.count, result.issued, "every write's lateness is timed");
    // The bound is generous for a shared two-core machine; a millisecond timer gave 0.5-0.9 ms.
    assert!(late.p50 < 100, "median pacer lateness {} µs", late.p50);
    // What response time adds to service time is the pacer's lateness, nothing of its own. Per
    // write, response = lateness + service exactly, so the means add up (to the histograms'
    // 3 significant digits, 25 µs + 1 %); medians need not — a long tail of lateness moves the
    // response median more than the lateness median (CI saw 166 µs against a p50 of 70 µs).
    let gap = response.mean - service.mean;
    assert!(
        (gap - late.mean).abs() <= 25.0 + 0.01 * response.mean,
        "response mean {:.0} − service mean {:.0} = {gap:.0} µs against a mean lateness of {:.0} µs",
        response.mean,
        service.mean,
        late.mean
    );
    assert!(
        (1_900.0..=2_100.0).contains(&result.throughput_ops_s),
        "{}",
        result.throughput_ops_s
    );
    assert_eq!(
        result.verdict.kind,
        VerdictKind::RateHeld,
        "{}",
        result.verdict.text
    );
    assert!(
        result.verdict.text.starts_with("rate held: 2000/s;")
            && result.verdict.text.contains("headroom"),
        "{}",
        result.verdict.text
    );
    assert!(
        !result.verdict.text.contains("raise") && !result.verdict.text.contains("switch"),
        "no advice about a limit the user set: {}",
        result.verdict.text
    );
}

#[test]
fn a_rate_above_capacity_is_not_held_and_the_lateness_shows_it() {
    let _alone = common::measuring();
    let mut settings = common::settings("paced_not_held");
    // One write at a time cannot come near a million a second.
    settings.knobs.strategy = Strategy::Sync;
    settings.knobs.rate = 1_000_000.0;
    settings.knobs.duration = Duration::from_secs(4);
    let result = run(&settings);
    let late = result.pacer_late_us.expect("paced");
    eprintln!(
        "sync at 1M/s: {:.0}/s, pacer late p50 {} µs; {}",
        result.throughput_ops_s, late.p50, result.verdict.text
    );
    assert_eq!(
        result.verdict.kind,
        VerdictKind::RateNotHeld,
        "{}",
        result.verdict.text
    );
    assert_eq!(
        result.verdict.limit,
        Some(VerdictKind::IoBound),
        "{}",
        result.verdict.text
    );
    assert!(
        result.verdict.text.starts_with("rate not held: ")
            && result
                .verdict
                .text
                .ends_with("switch to callbacks or pipeline"),
        "{}",
        result.verdict.text
    );
    // Falling behind the schedule is the client's own lateness, and it is shown as such.
    assert!(late.p50 > 100_000, "pacer late p50 {} µs", late.p50);
}

#[test]
fn head_of_line_is_measured_from_the_slots_and_callbacks_have_none() {
    let _alone = common::measuring();
    let hop = common::start_hop(HopSettings {
        rtt: Duration::from_millis(2),
        jitter: Duration::from_millis(2),
        ..HopSettings::default()
    });
    let run_as = |strategy: Strategy| {
        let mut settings = common::through(common::settings("head_of_line"), &hop);
        settings.knobs.duration = Duration::from_secs(5);
        settings.knobs.strategy = strategy;
        settings.knobs.depth = 64;
        settings.knobs.batch = 64;
        let result = run(&settings);
        eprintln!(
            "{strategy} at 64 through 2 ms ± 2 ms: {:.0}/s, head-of-line {:.1}%, {:.1} in flight; {}",
            result.throughput_ops_s,
            result.head_of_line_percent,
            result.in_flight_mean,
            result.verdict.text
        );
        result
    };
    // A round of 64 waits for its slowest: its finished writes hold their slots meanwhile.
    let batches = run_as(Strategy::Batches);
    assert!(
        batches.head_of_line_percent >= 10.0,
        "{}",
        batches.head_of_line_percent
    );
    assert_eq!(
        batches.verdict.kind,
        VerdictKind::HeadOfLine,
        "{}",
        batches.verdict.text
    );
    assert!(
        batches
            .verdict
            .text
            .contains("callbacks at the same depth could do up to"),
        "{}",
        batches.verdict.text
    );
    // Pipeline waits on the oldest only when answers come back out of order: some, not none.
    let pipeline = run_as(Strategy::Pipeline);
    assert!(
        pipeline.head_of_line_percent > 0.0
            && pipeline.head_of_line_percent < batches.head_of_line_percent,
        "{} vs batches {}",
        pipeline.head_of_line_percent,
        batches.head_of_line_percent
    );
    let callbacks = run_as(Strategy::Callbacks);
    assert_eq!(callbacks.head_of_line_percent, 0.0);
    assert_ne!(
        callbacks.verdict.kind,
        VerdictKind::HeadOfLine,
        "{}",
        callbacks.verdict.text
    );
    // Little's law, measured: callbacks keep their 64 in flight nearly all the time.
    assert!(
        callbacks.in_flight_mean > 50.0 && callbacks.in_flight_mean <= 64.0,
        "{}",
        callbacks.in_flight_mean
    );
}
